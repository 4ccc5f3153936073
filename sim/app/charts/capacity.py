"""Capacity: utilisation, waits and queues of each resource across the simulated
trials, the queues over one trial, and the vein-to-vein time."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd

from .theme import (
    MEANINGS,
    OKABE_ITO,
    RESOURCE_COLOURS,
    RESOURCE_LABELS,
    WAITING,
    _date_tip,
    _date_x,
    as_datetime,
)

RESOURCE_METRICS = (
    ("utilization", "Utilisation", "Busy time (% of capacity)"),
    ("wait", "Mean wait", "Wait for the resource (days)"),
    ("queue", "Mean queue length", "Waiting (patients, mean)"),
)


def resource_table(
    rows: pd.DataFrame,
    summary_resources: Mapping[str, Mapping[str, float | None]],
    resources: Sequence[str] = ("apheresis", "manufacturing", "beds"),
) -> pd.DataFrame:
    """Per resource and metric: the summary value and the 10th-90th percentile across
    simulated trials. Utilisation in percent, waits in days, queues in patients."""
    out = []
    for r in resources:
        s = summary_resources.get(r, {})
        util = rows[f"{r}.utilization"].to_numpy(float) * 100
        granted = rows[f"{r}.granted"].to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            wait = np.where(
                granted > 0, rows[f"{r}.wait_sum_days"].to_numpy(float) / granted, np.nan
            )
        queue = rows[f"{r}.mean_queue_length"].to_numpy(float)
        values = {
            "utilization": (_pct_or_none(s.get("utilization")), util),
            "wait": (s.get("mean_wait_days"), wait),
            "queue": (s.get("mean_queue_length"), queue),
        }
        for key, (value, per_trial) in values.items():
            finite = per_trial[np.isfinite(per_trial)]
            p10, p90 = np.percentile(finite, [10, 90]) if finite.size else (np.nan, np.nan)
            out.append(
                (
                    r,
                    RESOURCE_LABELS.get(r, r),
                    key,
                    np.nan if value is None else float(value),
                    float(p10),
                    float(p90),
                )
            )
    return pd.DataFrame(out, columns=["resource", "label", "metric", "value", "p10", "p90"])


def _pct_or_none(x: float | None) -> float | None:
    return None if x is None else 100.0 * x


def resource_charts(
    rows: pd.DataFrame, summary_resources: Mapping[str, Mapping[str, float | None]]
) -> list[alt.LayerChart]:
    """Utilisation, mean wait and mean queue length of each resource (a chart each): bars at
    the summary value, whiskers from the 10th to the 90th percentile across trials."""
    data = resource_table(rows, summary_resources)
    labels = [RESOURCE_LABELS[r] for r in RESOURCE_COLOURS]
    colour = alt.Color(
        "label:N",
        title="Resource",
        scale=alt.Scale(domain=labels, range=list(RESOURCE_COLOURS.values())),
        legend=None,
    )
    out = []
    for key, name, axis_title in RESOURCE_METRICS:
        sub = data[data["metric"] == key]
        base = alt.Chart(sub)
        y = alt.Y("label:N", title=None, sort=labels, axis=alt.Axis(labelLimit=160))
        bars = base.mark_bar(height={"band": 0.6}).encode(
            y=y,
            x=alt.X("value:Q", title=axis_title),
            color=colour,
            tooltip=[
                alt.Tooltip("label:N", title="resource"),
                alt.Tooltip("value:Q", title=name.lower(), format=".2f"),
                alt.Tooltip("p10:Q", title="10th percentile of trials", format=".2f"),
                alt.Tooltip("p90:Q", title="90th percentile of trials", format=".2f"),
            ],
        )
        whiskers = base.mark_rule(color=OKABE_ITO["black"], strokeWidth=1.5).encode(
            y=y, x="p10:Q", x2="p90:Q"
        )
        out.append(
            alt.layer(bars, whiskers).properties(
                height=alt.Step(42),
                title=alt.TitleParams(name, subtitle="whisker: 10th to 90th percentile"),
            )
        )
    return out


def queue_table(timeline: pd.DataFrame, start_date: dt.date, end_day: float) -> pd.DataFrame:
    """Units in use and patients waiting (counts) at each resource over one replication, as
    steps: one row per change, plus day 0 and ``end_day`` (days since ``start_date``). Long
    format: resource, label, measure, day, date, patients."""
    frames = []
    for resource, sub in timeline.groupby("resource", sort=False):
        sub = sub.sort_values("time", kind="stable").drop_duplicates("time", keep="last")
        times = np.concatenate([[0.0], sub["time"].to_numpy(float), [end_day]])
        for measure, column in (("in use", "in_use"), ("queue", "queue_length")):
            vals = sub[column].to_numpy(float)
            values = np.concatenate([[0.0], vals, [vals[-1] if vals.size else 0.0]])
            frames.append(
                pd.DataFrame(
                    {
                        "resource": resource,
                        "label": RESOURCE_LABELS.get(resource, resource),
                        "measure": measure,
                        "day": times,
                        "date": as_datetime(start_date, times),
                        "patients": values,
                    }
                )
            )
    if not frames:
        return pd.DataFrame(columns=["resource", "label", "measure", "day", "date", "patients"])
    return pd.concat(frames, ignore_index=True)


def queue_charts(
    timeline: pd.DataFrame,
    *,
    start_date: dt.date,
    end_day: float,
    capacities: Mapping[str, int],
) -> list[alt.LayerChart]:
    """Per resource, a chart of its units in use (shaded, in a tint of its colour), the
    patients waiting for it (a line in its colour) and its capacity (a dashed black rule,
    labelled) over one simulated trial, as steps (counts; ``end_day`` in days since
    ``start_date``; ``capacities``: units of each resource)."""
    data = queue_table(timeline, start_date, end_day)
    tooltip = [
        _date_tip("date"),
        alt.Tooltip("measure:N"),
        alt.Tooltip("patients:Q", format=".0f"),
    ]
    out = []
    for i, (resource, label) in enumerate(RESOURCE_LABELS.items()):
        sub = data[data["resource"] == resource]
        cap = capacities.get(resource)
        colour = alt.Color(
            "measure:N",
            title=None,
            scale=alt.Scale(
                domain=["in use", "queue"],
                range=[WAITING[resource], RESOURCE_COLOURS[resource]],
            ),
            legend=alt.Legend(
                orient="top",
                direction="horizontal",
                labelExpr="datum.label == 'queue' ? 'waiting' : 'in use'",
            ),
        )
        x = _date_x(title="Date")
        y = alt.Y("patients:Q", title="Patients (count)", axis=alt.Axis(tickMinStep=1))
        used = (
            alt.Chart(sub[sub["measure"] == "in use"])
            .mark_area(interpolate="step-after", opacity=0.9)
            .encode(x=x, y=y, color=colour, tooltip=tooltip)
        )
        queue = (
            alt.Chart(sub[sub["measure"] == "queue"])
            .mark_line(interpolate="step-after", strokeWidth=1.8)
            .encode(x=x, y=y, color=colour, tooltip=tooltip)
        )
        layers: list[alt.Chart] = [used, queue]
        if cap is not None:
            rule = pd.DataFrame({"patients": [cap], "label": [f"capacity {cap}"]})
            layers.append(
                alt.Chart(rule)
                .mark_rule(color=MEANINGS["reference"], strokeDash=[6, 3], strokeWidth=1.5)
                .encode(y="patients:Q")
            )
            layers.append(
                alt.Chart(rule)
                .mark_text(align="left", baseline="bottom", dx=4, dy=-2, fontWeight="bold")
                .encode(x=alt.value(0), y="patients:Q", text="label:N")
            )
        # the height is the whole chart's (title and axes included)
        out.append(alt.layer(*layers).properties(height=250 if i == 0 else 230, title=label))
    return out


def vein_to_vein_table(days: Sequence[float], bin_days: float = 1.0) -> pd.DataFrame:
    """Histogram of vein-to-vein time: bin start and end (days, bins ``bin_days`` wide),
    count and percent of all values."""
    arr = np.asarray(days, dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return pd.DataFrame(columns=["start", "end", "count", "percent"])
    lo = math.floor(arr.min() / bin_days) * bin_days
    hi = math.floor(arr.max() / bin_days) * bin_days + bin_days
    edges = np.arange(lo, hi + bin_days / 2, bin_days)
    counts, edges = np.histogram(arr, bins=edges)
    return pd.DataFrame(
        {
            "start": edges[:-1],
            "end": edges[1:],
            "count": counts,
            "percent": 100.0 * counts / arr.size,
        }
    )


def vein_to_vein_chart(days: Sequence[float], *, per_trial_means: bool = False) -> alt.LayerChart:
    """Distribution of vein-to-vein time (apheresis to infusion), with its median and 90th
    percentile marked; the rare longest (above the 99th percentile) are counted in the
    subtitle rather than stretching the axis. ``per_trial_means``: the values are each
    trial's mean (a saved run keeps those, not every patient's)."""
    arr = np.asarray(days, dtype=float)
    arr = arr[np.isfinite(arr)]
    n = arr.size
    cut = float(np.percentile(arr, 99)) if n else 0.0
    shown = arr[arr <= cut] if n else arr
    data = vein_to_vein_table(shown, 1.0)
    if n:
        data["percent"] = 100.0 * data["count"] / n  # of all values, the hidden included
    who = "Simulated trials" if per_trial_means else "Infused patients"
    x_title = (
        "Mean vein-to-vein time of a trial (days, apheresis to infusion)"
        if per_trial_means
        else "Vein-to-vein time (days, apheresis to infusion)"
    )
    bars = (
        alt.Chart(data)
        .mark_bar(color=MEANINGS["neutral"], stroke="white", strokeWidth=0.3)
        .encode(
            x=alt.X("start:Q", title=x_title, bin="binned"),
            x2="end:Q",
            y=alt.Y("percent:Q", title=f"{who} (% of all)"),
            tooltip=[
                alt.Tooltip("start:Q", title="from (days)", format=".0f"),
                alt.Tooltip("end:Q", title="to (days)", format=".0f"),
                alt.Tooltip("percent:Q", title="% of all", format=".1f"),
            ],
        )
    )
    layers: list[alt.Chart] = [bars]
    if n:
        p50, p90 = np.percentile(arr, [50, 90])
        marks = pd.DataFrame(
            {
                "x": [p50, p90],
                "label": [f"median {p50:.1f} d", f"90th percentile {p90:.1f} d"],
                "y": [4, 22],
            }
        )
        base = alt.Chart(marks)
        layers.append(base.mark_rule(color=OKABE_ITO["black"], strokeDash=[4, 3]).encode(x="x:Q"))
        layers.append(
            base.mark_text(align="left", dx=4, baseline="top", color=OKABE_ITO["black"]).encode(
                x="x:Q", y=alt.Y("y:Q", scale=None), text="label:N"
            )
        )
    hidden = int((arr > cut).sum()) if n else 0
    unit = "trials" if per_trial_means else "infusions"
    subtitle = [f"{n:,} {unit} pooled over the simulated trials."]
    if hidden:
        subtitle.append(f"{hidden:,} above {cut:.0f} days are not drawn.")
    return alt.layer(*layers).properties(
        height=300, title=alt.TitleParams("Vein-to-vein time", subtitle=subtitle)
    )
