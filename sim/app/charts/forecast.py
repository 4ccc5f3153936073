"""The dashboard's charts: pure functions, data in, Altair chart out (no Streamlit here).

One chart library (Altair, Vega-Lite) and one colour-blind-safe palette (Okabe and Ito,
"Color Universal Design", 2008) throughout. Time axes show calendar dates (the model counts
days from the scenario's start date); every axis title carries its unit. Each chart has a
table builder beside it (``*_table``) so the numbers drawn can be tested without a browser.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

# --- palette ---------------------------------------------------------------------------------

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
GREY = "#9E9E9E"
"""Waiting, in the patient timeline (grey reads the same to every kind of colour vision)."""
CYCLE = [
    OKABE_ITO[k]
    for k in (
        "blue",
        "orange",
        "bluish_green",
        "vermillion",
        "reddish_purple",
        "sky_blue",
        "yellow",
        "black",
    )
]
"""Colours for an open-ended set of categories (scenarios in a comparison), in order."""

SERIES_COLOURS = {"enrolled": OKABE_ITO["orange"], "infused": OKABE_ITO["blue"]}
RESOURCE_COLOURS = {
    "apheresis": OKABE_ITO["orange"],
    "manufacturing": OKABE_ITO["blue"],
    "beds": OKABE_ITO["bluish_green"],
}
RESOURCE_LABELS = {
    "apheresis": "Apheresis slots",
    "manufacturing": "Manufacturing suites",
    "beds": "Beds",
}
DEADLINE_COLOUR = OKABE_ITO["black"]

_UTC = alt.Scale(type="utc")  # dates are calendar days: no shift by the viewer's time zone
_DATE_AXIS = alt.Axis(format="%b %Y", labelAngle=0)


def _date_x(field: str = "date", title: str = "Date", **kwargs) -> alt.X:
    return alt.X(f"{field}:T", title=title, scale=_UTC, axis=_DATE_AXIS, **kwargs)


def _date_tip(field: str, title: str | None = None) -> alt.Tooltip:
    """A tooltip showing a calendar day (UTC, as the axes)."""
    kw = {} if title is None else {"title": title}
    return alt.Tooltip(f"{field}:T", format="%d %b %Y", timeUnit="utcyearmonthdate", **kw)


def as_datetime(start_date: dt.date, days: Sequence[float] | np.ndarray) -> pd.Series:
    """Calendar times of day numbers counted from ``start_date`` (NaN stays NaT)."""
    arr = np.asarray(days, dtype=float)
    return pd.Series(pd.Timestamp(start_date) + pd.to_timedelta(arr, unit="D"))


def _day_label(d: dt.date | pd.Timestamp) -> str:
    return f"{d.day} {d:%b %Y}"


def _deadline_layer(deadline: dt.date | None) -> list[alt.Chart]:
    """A dashed vertical rule at the deadline, labelled."""
    if deadline is None:
        return []
    frame = pd.DataFrame(
        {"date": [pd.Timestamp(deadline)], "label": [f"deadline {_day_label(deadline)}"]}
    )
    base = alt.Chart(frame)
    rule = base.mark_rule(color=DEADLINE_COLOUR, strokeDash=[6, 3], strokeWidth=2).encode(
        x=alt.X("date:T", scale=_UTC)
    )
    text = base.mark_text(
        align="left", baseline="top", dx=4, dy=4, color=DEADLINE_COLOUR, fontWeight="bold"
    ).encode(
        x=alt.X("date:T", scale=_UTC),
        y=alt.value(0),
        text="label:N",
    )
    return [rule, text]


# --- the scenario as set ---------------------------------------------------------------------


def referrals_chart(expected: pd.DataFrame, *, deadline: dt.date | None) -> alt.LayerChart:
    """Expected referrals per month of each site as the scenario sets them (stacked), from
    a table of site, date and referrals (see ``app_state.expected_referrals``)."""
    sites = list(dict.fromkeys(expected["site"]))
    colour = alt.Color(
        "site:N",
        title="Referring site",
        sort=sites,
        scale=alt.Scale(domain=sites, range=[CYCLE[i % len(CYCLE)] for i in range(len(sites))]),
        legend=alt.Legend(orient="top", columns=1, labelLimit=600),
    )
    area = (
        alt.Chart(expected)
        .mark_area(opacity=0.8, interpolate="step-before")
        .encode(
            x=_date_x(title="Date (end of month)"),
            y=alt.Y(
                "sum(referrals):Q", title="Expected referrals (patients per month)", stack=True
            ),
            color=colour,
            tooltip=[
                alt.Tooltip("site:N"),
                _date_tip("date", "month to"),
                alt.Tooltip("sum(referrals):Q", title="referrals", format=".2f"),
            ],
        )
    )
    return alt.layer(area, *_deadline_layer(deadline)).properties(
        height=380,  # the whole chart's: title, legend and axes included
        title=alt.TitleParams(
            "Referrals the scenario expects, before any simulation",
            subtitle="Mean rate of each site from its opening day, rising over its ramp-up; "
            "the simulation stops referrals once the target is reached.",
        ),
    )


# --- forecast ------------------------------------------------------------------------------


def fan_table(fan: pd.DataFrame) -> pd.DataFrame:
    """The fan-chart frame (month, date, series, p5...p95) with ``date`` as a datetime."""
    out = fan.copy()
    out["date"] = pd.to_datetime(out["date"])
    return out


def _fan_layers(fan: pd.DataFrame, target_count: int, milestone: str) -> list[alt.Chart]:
    """The fan's bands and lines, and the target count (a labelled horizontal rule)."""
    data = fan_table(fan)
    series = [s for s in SERIES_COLOURS if s in set(data["series"])]
    colour = alt.Color(
        "series:N",
        title="Patients",
        scale=alt.Scale(domain=series, range=[SERIES_COLOURS[s] for s in series]),
    )
    x = _date_x(title="Date (end of month)")
    y_title = "Patients (cumulative count)"
    shaded = data[data["series"] == "infused"]
    lined = data[data["series"] != "infused"]
    outer = (
        alt.Chart(shaded)
        .mark_area(opacity=0.2)
        .encode(x=x, y=alt.Y("p5:Q", title=y_title), y2="p95:Q", color=colour)
    )
    inner = (
        alt.Chart(shaded).mark_area(opacity=0.4).encode(x=x, y="p25:Q", y2="p75:Q", color=colour)
    )
    edges = [
        alt.Chart(lined)
        .mark_line(strokeWidth=1.2, strokeDash=[4, 3])
        .encode(x=x, y=alt.Y(f"{p}:Q", title=y_title), color=colour, detail="series:N")
        for p in ("p5", "p95")
    ]
    median = (
        alt.Chart(data)
        .mark_line(strokeWidth=2.5)
        .encode(
            x=x,
            y=alt.Y("p50:Q", title=y_title),
            color=colour,
            tooltip=[
                _date_tip("date", "month end"),
                alt.Tooltip("series:N", title="patients"),
                alt.Tooltip("p50:Q", title="median", format=".0f"),
                alt.Tooltip("p5:Q", title="5th percentile", format=".0f"),
                alt.Tooltip("p95:Q", title="95th percentile", format=".0f"),
            ],
        )
    )
    target = pd.DataFrame({"y": [target_count], "label": [f"target: {target_count} {milestone}"]})
    t_base = alt.Chart(target)
    target_rule = t_base.mark_rule(color=OKABE_ITO["black"], strokeDash=[2, 2]).encode(y="y:Q")
    target_text = t_base.mark_text(align="left", baseline="bottom", dx=4, dy=-3).encode(
        x=alt.value(0), y="y:Q", text="label:N"
    )
    return [outer, inner, *edges, median, target_rule, target_text]


FAN_SUBTITLE = (
    "Solid lines: median of the simulated trials. Infused: dark band 25th to 75th percentile, "
    "light band 5th to 95th. Enrolled: dashed lines 5th and 95th."
)


def fan_chart(
    fan: pd.DataFrame,
    *,
    target_count: int,
    milestone: str,
    deadline: dt.date | None,
    title: str = "Cumulative patients enrolled and infused",
) -> alt.LayerChart:
    """Percentile bands of cumulative infused (shaded) and enrolled (lines) by calendar
    month, with the target count (horizontal) and the deadline (vertical) marked."""
    layers = [*_fan_layers(fan, target_count, milestone), *_deadline_layer(deadline)]
    return alt.layer(*layers).properties(
        height=380, title=alt.TitleParams(title, subtitle=FAN_SUBTITLE)
    )


def target_date_table(
    time_to_target_days: Sequence[float], start_date: dt.date, deadline: dt.date | None
) -> pd.DataFrame:
    """Simulated trials by calendar quarter of reaching the target (NaN = not reached):
    quarter start and end, ``when`` (by or after the deadline), trials and percent of all."""
    ttt = np.asarray(time_to_target_days, dtype=float)
    total = ttt.size
    reached = ttt[~np.isnan(ttt)]
    columns = ["start", "end", "when", "trials", "percent"]
    if reached.size == 0:
        return pd.DataFrame(columns=columns)
    dates = as_datetime(start_date, reached)
    if deadline is None:
        when = pd.Series("no deadline set", index=dates.index)
    else:
        # by the deadline = before the end of the deadline day (as in the summary)
        by = reached < (deadline - start_date).days + 1
        when = pd.Series(np.where(by, "by the deadline", "after the deadline"))
    quarter = dates.dt.to_period("Q")
    frame = pd.DataFrame({"quarter": quarter, "when": when})
    counts = frame.groupby(["quarter", "when"], observed=True).size().reset_index(name="trials")
    counts["start"] = counts["quarter"].dt.start_time
    counts["end"] = (counts["quarter"] + 1).dt.start_time
    counts["percent"] = 100.0 * counts["trials"] / total
    return counts[columns].sort_values(["start", "when"]).reset_index(drop=True)


def target_date_chart(
    time_to_target_days: Sequence[float],
    *,
    start_date: dt.date,
    deadline: dt.date | None,
    horizon_days: float,
    target_label: str,
) -> alt.LayerChart:
    """When the simulated trials reach the target: a histogram by calendar quarter, coloured
    by the deadline, with the trials that never reach it within the horizon in the subtitle."""
    ttt = np.asarray(time_to_target_days, dtype=float)
    data = target_date_table(ttt, start_date, deadline)
    missed = int(np.isnan(ttt).sum())
    horizon = start_date + dt.timedelta(days=math.floor(horizon_days))
    subtitle = (
        f"{missed} of {ttt.size} simulated trials ({100 * missed / max(ttt.size, 1):.0f}%) "
        f"do not reach it by the end of the horizon ({_day_label(horizon)})."
    )
    colours = {
        "by the deadline": OKABE_ITO["blue"],
        "after the deadline": GREY,
        "no deadline set": OKABE_ITO["blue"],
    }
    domain = [k for k in colours if k in set(data["when"])]
    colour = alt.Color(
        "when:N",
        title="Target reached",
        scale=alt.Scale(domain=domain, range=[colours[k] for k in domain]),
    )
    bars = (
        alt.Chart(data)
        .mark_bar(stroke="white", strokeWidth=0.5)
        .encode(
            x=_date_x("start", title="Date the target is reached (calendar quarter)"),
            x2="end:T",
            y=alt.Y("sum(percent):Q", title="Simulated trials (% of all)", stack=True),
            color=colour,
            tooltip=[
                _date_tip("start", "quarter from"),
                alt.Tooltip("when:N", title="target reached"),
                alt.Tooltip("sum(trials):Q", title="trials"),
                alt.Tooltip("sum(percent):Q", title="% of trials", format=".1f"),
            ],
        )
    )
    return alt.layer(bars, *_deadline_layer(deadline)).properties(
        height=320,
        title=alt.TitleParams(f"When the target ({target_label}) is reached", subtitle=subtitle),
    )


# --- patient flow ----------------------------------------------------------------------------

FUNNEL_STEPS = (
    ("referred", "Referred"),
    ("consented", "Consented"),
    ("enrolled", "Enrolled (passed screening)"),
    ("apheresed", "Apheresed (cells collected)"),
    ("manufactured", "Product released"),
    ("conditioned", "Conditioned"),
    ("infused", "Infused"),
)
# The loss a step's own failure explains; the rest of a step's loss left by deterioration
# (or was still in the pathway at the end of the horizon).
STEP_LOSS_REASON = {
    "referred": ("declined_consent", "declined consent"),
    "consented": ("screen_failed", "failed screening"),
    "enrolled": ("apheresis_failed", "apheresis failed"),
    "apheresed": ("manufacturing_failed", "manufacturing failed"),
}
CONTINUES = "went on to the next step"
DETERIORATED = "deteriorated or still in pathway"
SEGMENT_COLOURS = {
    CONTINUES: OKABE_ITO["blue"],
    "declined consent": GREY,
    "failed screening": OKABE_ITO["yellow"],
    "apheresis failed": OKABE_ITO["sky_blue"],
    "manufacturing failed": OKABE_ITO["reddish_purple"],
    DETERIORATED: OKABE_ITO["vermillion"],
    "infused": OKABE_ITO["bluish_green"],
}


def funnel_table(funnel: Mapping[str, float], outcomes: Mapping[str, float]) -> pd.DataFrame:
    """The funnel as bar segments: for each step, the patients (mean per trial) who went on
    to the next step, and those lost before it by reason. Columns: step, order, segment,
    start, end, patients."""
    rows = []
    keys = [k for k, _ in FUNNEL_STEPS]
    for i, (key, label) in enumerate(FUNNEL_STEPS):
        here = float(funnel.get(key) or 0.0)
        if i == len(keys) - 1:
            rows.append((label, i, "infused", 0.0, here, here))
            break
        nxt = min(float(funnel.get(keys[i + 1]) or 0.0), here)
        rows.append((label, i, CONTINUES, 0.0, nxt, nxt))
        lost = here - nxt
        x = nxt
        if key in STEP_LOSS_REASON:
            outcome, reason = STEP_LOSS_REASON[key]
            own = min(float(outcomes.get(outcome) or 0.0), lost)
            if own > 0:
                rows.append((label, i, reason, x, x + own, own))
                x += own
                lost -= own
        if lost > 1e-9:
            rows.append((label, i, DETERIORATED, x, x + lost, lost))
    return pd.DataFrame(rows, columns=["step", "order", "segment", "start", "end", "patients"])


def funnel_chart(funnel: Mapping[str, float], outcomes: Mapping[str, float]) -> alt.Chart:
    """Referred to infused: each bar is the patients reaching a step (mean per simulated
    trial), split into those who went on and those lost before the next step, by reason."""
    data = funnel_table(funnel, outcomes)
    order = [label for _, label in FUNNEL_STEPS]
    present = [s for s in SEGMENT_COLOURS if s in set(data["segment"])]
    return (
        alt.Chart(data)
        .mark_bar(height={"band": 0.75})
        .encode(
            y=alt.Y("step:N", sort=order, title=None, axis=alt.Axis(labelLimit=220)),
            x=alt.X("start:Q", title="Patients (mean per simulated trial)"),
            x2="end:Q",
            color=alt.Color(
                "segment:N",
                title="At this step",
                sort=present,
                scale=alt.Scale(domain=present, range=[SEGMENT_COLOURS[s] for s in present]),
                legend=alt.Legend(orient="bottom", columns=2, labelLimit=260),
            ),
            tooltip=[
                alt.Tooltip("step:N"),
                alt.Tooltip("segment:N", title="patients who"),
                alt.Tooltip("patients:Q", title="patients per trial", format=".2f"),
            ],
        )
        .properties(
            height=alt.Step(40),
            title=alt.TitleParams(
                "Patient flow, referral to infusion",
                subtitle="Bar length: patients reaching the step; coloured end: lost before "
                "the next step, by reason.",
            ),
        )
    )


def criteria_table(by_criterion: Mapping[str, float]) -> pd.DataFrame:
    """Screen failures by criterion (mean patients per trial), largest first."""
    frame = pd.DataFrame(
        {
            "criterion": [k.replace("_", " ") for k in by_criterion],
            "patients": [float(v or 0.0) for v in by_criterion.values()],
        }
    )
    return frame.sort_values("patients", ascending=False, kind="stable").reset_index(drop=True)


def criteria_chart(by_criterion: Mapping[str, float]) -> alt.Chart:
    """Patients failing each screening criterion (a patient may fail several)."""
    data = criteria_table(by_criterion)
    return (
        alt.Chart(data)
        .mark_bar(color=OKABE_ITO["orange"])
        .encode(
            y=alt.Y(
                "criterion:N",
                sort=list(data["criterion"]),
                title=None,
                axis=alt.Axis(labelLimit=260),
            ),
            x=alt.X("patients:Q", title="Patients failing it (mean per simulated trial)"),
            tooltip=[
                alt.Tooltip("criterion:N"),
                alt.Tooltip("patients:Q", title="patients per trial", format=".2f"),
            ],
        )
        .properties(
            height=alt.Step(22),
            title=alt.TitleParams(
                "Screen failures by criterion",
                subtitle="A patient may fail several criteria; each is counted.",
            ),
        )
    )


# --- capacity --------------------------------------------------------------------------------

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
                title=alt.TitleParams(name, subtitle="whisker: 10th to 90th percentile of trials"),
            )
        )
    return out


def queue_table(timeline: pd.DataFrame, start_date: dt.date, end_day: float) -> pd.DataFrame:
    """Units in use and queue length of each resource over time in one replication, as
    steps (one row per change, plus the start and the end), in long format."""
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
    """Per resource, a chart of its units in use (shaded) and patients waiting for it
    (line) over one simulated trial, as steps."""
    data = queue_table(timeline, start_date, end_day)
    colour = alt.Color(
        "measure:N",
        title=None,
        scale=alt.Scale(
            domain=["in use", "queue"], range=[OKABE_ITO["sky_blue"], OKABE_ITO["vermillion"]]
        ),
        legend=alt.Legend(
            orient="top",
            direction="horizontal",
            labelExpr="datum.label == 'queue' ? 'waiting' : 'in use'",
        ),
    )
    tooltip = [
        _date_tip("date"),
        alt.Tooltip("measure:N"),
        alt.Tooltip("patients:Q", format=".0f"),
    ]
    out = []
    for i, (resource, label) in enumerate(RESOURCE_LABELS.items()):
        sub = data[data["resource"] == resource]
        cap = capacities.get(resource)
        if i:
            colour = colour.legend(None)  # one legend, on the first chart
        x = _date_x(title="Date")
        y = alt.Y("patients:Q", title="Patients (count)", axis=alt.Axis(tickMinStep=1))
        used = (
            alt.Chart(sub[sub["measure"] == "in use"])
            .mark_area(interpolate="step-after", opacity=0.75)
            .encode(x=x, y=y, color=colour, tooltip=tooltip)
        )
        queue = (
            alt.Chart(sub[sub["measure"] == "queue"])
            .mark_line(interpolate="step-after", strokeWidth=1.5)
            .encode(x=x, y=y, color=colour, tooltip=tooltip)
        )
        head = f"{label} (capacity {cap})" if cap is not None else label
        # the height is the whole chart's (title and axes included)
        out.append(alt.layer(used, queue).properties(height=250 if i == 0 else 220, title=head))
    return out


def vein_to_vein_table(days: Sequence[float], bin_days: float = 1.0) -> pd.DataFrame:
    """Histogram of vein-to-vein days: bin start, end, count and percent of all values."""
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
        .mark_bar(color=OKABE_ITO["blue"], stroke="white", strokeWidth=0.3)
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
    subtitle = f"{n:,} {unit} pooled over the simulated trials"
    if hidden:
        subtitle += f"; {hidden:,} above {cut:.0f} days not drawn"
    return alt.layer(*layers).properties(
        height=300, title=alt.TitleParams("Vein-to-vein time", subtitle=subtitle + ".")
    )


# --- patients (one replication) --------------------------------------------------------------

# (stage, from column, to column): a bar from the first day to the second (or to the exit
# day when the patient left during the stage)
GANTT_STAGES = (
    ("screening", "referred_day", "screened_day"),
    ("waiting for apheresis", "enrolled_day", "apheresis_start_day"),
    ("apheresis", "apheresis_start_day", "apheresed_day"),
    ("waiting for a suite", "apheresed_day", "manufacturing_start_day"),
    ("manufacturing and QC", "manufacturing_start_day", "released_day"),
    ("waiting for a bed", "released_day", "conditioning_start_day"),
    ("conditioning", "conditioning_start_day", "infused_day"),
    ("inpatient stay", "infused_day", "discharged_day"),
)
STAGE_COLOURS = {
    "screening": OKABE_ITO["sky_blue"],
    "waiting for apheresis": GREY,
    "apheresis": OKABE_ITO["orange"],
    "waiting for a suite": GREY,
    "manufacturing and QC": OKABE_ITO["blue"],
    "waiting for a bed": GREY,
    "conditioning": OKABE_ITO["reddish_purple"],
    "inpatient stay": OKABE_ITO["bluish_green"],
}
OUTCOME_SHAPES = {
    "infused": "circle",
    "declined_consent": "triangle-down",
    "screen_failed": "square",
    "deteriorated": "cross",
    "apheresis_failed": "diamond",
    "manufacturing_failed": "triangle-up",
    "in_pathway": "triangle-right",
}


def _patient_label(pid: int) -> str:
    return f"patient {pid + 1}"


def gantt_table(patients: pd.DataFrame, start_date: dt.date) -> pd.DataFrame:
    """One row per patient and stage reached: patient, label, stage, start and end (dates),
    days. A stage cut short (the patient left) ends at the exit day; waits of no length and
    stages never reached are left out."""
    out = []
    for rec in patients.itertuples(index=False):
        r = rec._asdict()
        exit_day = r.get("exit_day", math.nan)
        for stage, a, b in GANTT_STAGES:
            start = r.get(a, math.nan)
            end = r.get(b, math.nan)
            if start is None or math.isnan(start):
                continue
            if end is None or math.isnan(end):
                if exit_day is None or math.isnan(exit_day) or exit_day < start:
                    continue
                if stage == "inpatient stay" and exit_day <= start:
                    continue
                end = exit_day
            if end - start <= 1e-9:
                continue
            out.append((int(r["patient"]), stage, float(start), float(end)))
    frame = pd.DataFrame(out, columns=["patient", "stage", "start_day", "end_day"])
    frame["label"] = frame["patient"].map(_patient_label)
    frame["start"] = as_datetime(start_date, frame["start_day"]).to_numpy()
    frame["end"] = as_datetime(start_date, frame["end_day"]).to_numpy()
    frame["days"] = frame["end_day"] - frame["start_day"]
    return frame[["patient", "label", "stage", "start", "end", "days"]]


def outcome_table(patients: pd.DataFrame, start_date: dt.date) -> pd.DataFrame:
    """Each patient's outcome and the date the patient left the pathway (NaT if still in)."""
    frame = pd.DataFrame(
        {
            "patient": patients["patient"].astype(int),
            "label": patients["patient"].astype(int).map(_patient_label),
            "outcome": patients["outcome"].astype(str),
            "date": as_datetime(start_date, patients["exit_day"]).to_numpy(),
        }
    )
    frame["outcome_label"] = frame["outcome"].str.replace("_", " ")
    return frame


def gantt_chart(patients: pd.DataFrame, *, start_date: dt.date, title: str) -> alt.LayerChart:
    """A row per patient (in order of referral), a bar per stage coloured by stage, and the
    patient's outcome marked where the patient left the pathway."""
    bars_data = gantt_table(patients, start_date)
    marks_data = outcome_table(patients, start_date).dropna(subset=["date"])
    order = [_patient_label(p) for p in patients.sort_values("referred_day")["patient"]]
    stages = [s for s, _, _ in GANTT_STAGES]
    outcomes = [o.replace("_", " ") for o in OUTCOME_SHAPES]
    y = alt.Y(
        "label:N",
        sort=order,
        title="Patient (in order of referral)",
        axis=alt.Axis(labelFontSize=9, labelLimit=90),
    )
    bars = (
        alt.Chart(bars_data)
        .mark_bar(height={"band": 0.8})
        .encode(
            x=_date_x("start", title="Date"),
            x2="end:T",
            y=y,
            color=alt.Color(
                "stage:N",
                title="Stage",
                sort=stages,
                scale=alt.Scale(domain=stages, range=[STAGE_COLOURS[s] for s in stages]),
                legend=alt.Legend(orient="right", labelLimit=200),
            ),
            tooltip=[
                alt.Tooltip("label:N", title="patient"),
                alt.Tooltip("stage:N"),
                _date_tip("start"),
                _date_tip("end"),
                alt.Tooltip("days:Q", format=".1f", title="days"),
            ],
        )
    )
    marks = (
        alt.Chart(marks_data)
        .mark_point(filled=True, size=42, color=OKABE_ITO["black"], opacity=0.9)
        .encode(
            x=alt.X("date:T", scale=_UTC),
            y=y,
            shape=alt.Shape(
                "outcome_label:N",
                title="Outcome (where the patient left)",
                scale=alt.Scale(domain=outcomes, range=list(OUTCOME_SHAPES.values())),
                legend=alt.Legend(orient="right", labelLimit=200, titleLimit=260),
            ),
            tooltip=[
                alt.Tooltip("label:N", title="patient"),
                alt.Tooltip("outcome_label:N", title="outcome"),
                _date_tip("date", "left on"),
            ],
        )
    )
    n = max(len(order), 1)
    row = 12 if n <= 120 else max(3, 1440 // n)
    return (
        alt.layer(bars, marks)
        .resolve_legend(color="independent", shape="independent")
        .properties(
            height=alt.Step(row),
            title=alt.TitleParams(
                title, subtitle="Scroll on the chart to zoom in time, drag to move along it."
            ),
        )
        .interactive(bind_y=False)
    )


# --- comparison ------------------------------------------------------------------------------


def compare_fan_chart(
    fans: Sequence[tuple[str, pd.DataFrame]],
    *,
    series: str = "infused",
    target_count: int | None = None,
    deadline: dt.date | None = None,
) -> alt.LayerChart:
    """The fan of one series (cumulative infused, by default) of several runs overlaid: the
    median and the 5th to 95th percentile band of each, a colour a run."""
    frames = []
    for label, fan in fans:
        f = fan_table(fan)
        f = f[f["series"] == series].copy()
        f["run"] = label
        frames.append(f)
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    labels = [label for label, _ in fans]
    colour = alt.Color(
        "run:N",
        title="Run",
        sort=labels,
        scale=alt.Scale(domain=labels, range=[CYCLE[i % len(CYCLE)] for i in range(len(labels))]),
        legend=alt.Legend(orient="top", columns=1, labelLimit=600),
    )
    x = _date_x(title="Date (end of month)")
    y_title = f"Patients {series} (cumulative count)"
    base = alt.Chart(data)
    edges = [
        base.mark_line(strokeWidth=1.2, strokeDash=[4, 3]).encode(
            x=x, y=alt.Y(f"{p}:Q", title=y_title), color=colour, detail="run:N"
        )
        for p in ("p5", "p95")
    ]
    line = base.mark_line(strokeWidth=2.5).encode(
        x=x,
        y=alt.Y("p50:Q", title=y_title),
        color=colour,
        tooltip=[
            alt.Tooltip("run:N"),
            _date_tip("date", "month end"),
            alt.Tooltip("p50:Q", title="median", format=".0f"),
            alt.Tooltip("p5:Q", title="5th percentile", format=".0f"),
            alt.Tooltip("p95:Q", title="95th percentile", format=".0f"),
        ],
    )
    layers: list[alt.Chart] = [*edges, line]
    if target_count is not None:
        layers.append(
            alt.Chart(pd.DataFrame({"y": [target_count]}))
            .mark_rule(color=OKABE_ITO["black"], strokeDash=[2, 2])
            .encode(y="y:Q")
        )
    layers += _deadline_layer(deadline)
    return alt.layer(*layers).properties(
        height=440,  # the whole chart's: title, legend and axes included
        title=alt.TitleParams(
            f"Cumulative patients {series}, run by run",
            subtitle="Solid line: median of the simulated trials; dashed: 5th and 95th percentile.",
        ),
    )


# --- planning: capacity sizing ---------------------------------------------------------------

HEAT_LOW = "white"
"""The low end of the heat map's scale (white to Okabe-Ito blue: one hue, light to dark, so
the order reads the same to every kind of colour vision)."""


def sizing_heatmap_table(
    points: pd.DataFrame,
    *,
    rows: str,
    columns: str,
    chosen: Mapping[str, int] | None,
    wanted: float | None,
) -> pd.DataFrame:
    """One cell a configuration, from a sweep's table (one row a point, the swept keys and
    ``prob_target_by_deadline`` with its ``prob_ci95_low``/``_high``): ``row`` and ``column``
    (the two swept counts), ``percent`` and ``low``/``high`` (the probability and its Wilson
    95% interval, in %), ``meets`` (at least ``wanted``), ``chosen`` and the cell's text."""
    out = pd.DataFrame(
        {
            "row": points[rows].astype(int).to_numpy(),
            "column": points[columns].astype(int).to_numpy(),
            "percent": 100.0 * points["prob_target_by_deadline"].astype(float).to_numpy(),
            "low": 100.0 * points["prob_ci95_low"].astype(float).to_numpy(),
            "high": 100.0 * points["prob_ci95_high"].astype(float).to_numpy(),
        }
    )
    if wanted is None:
        out["meets"] = False
    else:
        out["meets"] = out["percent"] >= 100.0 * wanted - 1e-9
    if chosen is None:
        out["chosen"] = False
    else:
        out["chosen"] = (out["row"] == chosen.get(rows)) & (out["column"] == chosen.get(columns))
    out["text"] = [
        f"{p:.0f}%" + (" ✓" if m else "") for p, m in zip(out["percent"], out["meets"], strict=True)
    ]
    out["interval"] = [
        f"{lo:.0f}–{hi:.0f}%" for lo, hi in zip(out["low"], out["high"], strict=True)
    ]
    out["mark"] = np.where(out["chosen"], "chosen", "")
    return out


def sizing_heatmap_chart(
    points: pd.DataFrame,
    *,
    rows: str,
    columns: str,
    row_title: str,
    column_title: str,
    chosen: Mapping[str, int] | None,
    wanted: float | None,
    title: str,
    subtitle: str | Sequence[str] = "",
    chosen_label: str = "chosen",
) -> alt.LayerChart:
    """The probability of reaching the target by the deadline over a grid of two capacities
    (rows x columns): the cell's colour and text are the probability, with its 95% interval
    beneath; cells meeting the wanted probability carry a tick; the chosen configuration is
    outlined in black."""
    data = sizing_heatmap_table(points, rows=rows, columns=columns, chosen=chosen, wanted=wanted)
    data["mark"] = np.where(data["chosen"], chosen_label, "")
    x = alt.X("column:O", title=column_title, axis=alt.Axis(labelAngle=0))
    y = alt.Y("row:O", title=row_title, sort="descending")
    tooltip = [
        alt.Tooltip("row:O", title=row_title),
        alt.Tooltip("column:O", title=column_title),
        alt.Tooltip("percent:Q", title="chance by the deadline (%)", format=".1f"),
        alt.Tooltip("interval:N", title="95% interval"),
    ]
    base = alt.Chart(data)
    cells = base.mark_rect(stroke=GREY, strokeWidth=1).encode(  # a white cell still shows
        x=x,
        y=y,
        color=alt.Color(
            "percent:Q",
            title=["Chance by the", "deadline (%)"],
            scale=alt.Scale(
                domain=[0, 100], range=[HEAT_LOW, OKABE_ITO["blue"]], interpolate="rgb"
            ),
            legend=alt.Legend(orient="bottom", direction="horizontal", gradientLength=220),
        ),
        tooltip=tooltip,
    )
    ink = alt.condition("datum.percent > 55", alt.value("white"), alt.value(OKABE_ITO["black"]))
    value = base.mark_text(fontSize=16, fontWeight="bold", dy=-8).encode(
        x=x, y=y, text="text:N", color=ink, tooltip=tooltip
    )
    interval = base.mark_text(fontSize=11, dy=10).encode(
        x=x, y=y, text="interval:N", color=ink, tooltip=tooltip
    )
    marked = data[data["chosen"]]
    layers: list[alt.Chart] = [cells, value, interval]
    if not marked.empty:
        outline = (
            alt.Chart(marked)
            .mark_rect(fillOpacity=0, stroke=OKABE_ITO["black"], strokeWidth=4)
            .encode(x=x, y=y)
        )
        word = (
            alt.Chart(marked)
            .mark_text(fontSize=10, dy=25, fontStyle="italic")
            .encode(x=x, y=y, text="mark:N", color=ink)
        )
        layers += [outline, word]
    sub = subtitle if isinstance(subtitle, str) else list(subtitle)
    return alt.layer(*layers).properties(
        width=alt.Step(96),
        height=alt.Step(72),
        title=alt.TitleParams(title, subtitle=sub or alt.Undefined),
    )


# --- planning: sensitivity -------------------------------------------------------------------

TORNADO_ROW_PX = 32
"""Height of one parameter's pair of bars, in pixels."""
TORNADO_ENDS = {
    "low end of its range": OKABE_ITO["orange"],
    "high end of its range": OKABE_ITO["blue"],
}


def tornado_table(
    rows: Sequence[Mapping[str, Any]],
    base: float,
    *,
    scale: float = 1.0,
    top: int | None = None,
) -> pd.DataFrame:
    """Two bars a parameter, from the figure at the scenario's values (``base``) to the
    figure with the parameter at the low and at the high end of its range; parameters by
    swing, largest first (``top``: only the first so many). ``rows`` are those of
    :func:`sim.planning.sensitivity.tornado` (``parameter``, ``low``, ``high``, ``at_low``,
    ``at_high``, ``swing``; ``label`` if given names the parameter). Figures times ``scale``
    (100: a probability in %). Columns: parameter, label, order, end, setting, start, stop,
    change, swing."""
    ordered = sorted(rows, key=lambda r: (-float(r["swing"]), str(r["parameter"])))
    if top is not None:
        ordered = ordered[:top]
    out = []
    b = float(base) * scale
    for i, r in enumerate(ordered):
        label = str(r.get("label") or r["parameter"])
        for end, setting, at in (
            ("low end of its range", r["low"], r["at_low"]),
            ("high end of its range", r["high"], r["at_high"]),
        ):
            v = float(at) * scale
            out.append(
                (
                    str(r["parameter"]),
                    label,
                    i,
                    end,
                    float(setting),
                    b,
                    v,
                    v - b,
                    float(r["swing"]) * scale,
                )
            )
    columns = ["parameter", "label", "order", "end", "setting", "start", "stop", "change", "swing"]
    return pd.DataFrame(out, columns=columns)


def tornado_chart(
    rows: Sequence[Mapping[str, Any]],
    base: float,
    *,
    x_title: str,
    title: str,
    scale: float = 1.0,
    fmt: str = ".0f",
    unit: str = "",
    top: int | None = 15,
) -> alt.LayerChart:
    """One-at-a-time sensitivity as a tornado: for each parameter (largest swing on top) a
    bar to the figure at the low end of its range and one to the figure at the high end,
    both from the figure at the scenario's values (the vertical rule, its value labelled
    with ``unit``); ``top``: only the parameters of the largest swings."""
    data = tornado_table(rows, base, scale=scale, top=top)
    b = float(base) * scale
    order = list(dict.fromkeys(data["label"]))
    y = alt.Y(
        "label:N",
        sort=order,
        title=None,
        scale=alt.Scale(paddingInner=0.35),
        axis=alt.Axis(labelLimit=420, labelFontSize=12),
    )
    ends = list(TORNADO_ENDS)
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=y,
            yOffset=alt.YOffset("end:N", sort=ends),
            x=alt.X("start:Q", title=x_title, scale=alt.Scale(zero=False)),
            x2="stop:Q",
            color=alt.Color(
                "end:N",
                title="Parameter at the",
                sort=ends,
                scale=alt.Scale(domain=ends, range=list(TORNADO_ENDS.values())),
                legend=alt.Legend(orient="top", direction="horizontal"),
            ),
            tooltip=[
                alt.Tooltip("label:N", title="parameter"),
                alt.Tooltip("parameter:N", title="scenario key"),
                alt.Tooltip("end:N", title="at the"),
                alt.Tooltip("setting:Q", title="set to", format=".4g"),
                alt.Tooltip("stop:Q", title="figure there", format=fmt),
                alt.Tooltip("change:Q", title="change", format="+" + fmt),
            ],
        )
    )
    ref = pd.DataFrame({"x": [b], "label": [f"scenario's values: {format(b, fmt)}{unit}"]})
    rule = (
        alt.Chart(ref)
        .mark_rule(color=OKABE_ITO["black"], strokeWidth=1.5)
        .encode(x=alt.X("x:Q", title=x_title))
    )
    text = (
        alt.Chart(ref)
        .mark_text(align="left", baseline="bottom", dx=4, dy=-2, color=OKABE_ITO["black"])
        .encode(x="x:Q", y=alt.value(0), text="label:N")
    )
    hidden = max(0, len(rows) - len(order))
    subtitle = [
        "Each parameter moved alone to the low and the high end of its range, the others at "
        "the scenario's values; largest swing first."
    ]
    if hidden:
        subtitle.append(f"{hidden} more parameters with smaller swings are not drawn.")
    return alt.layer(bars, rule, text).properties(
        height=TORNADO_ROW_PX * max(len(order), 1) + 40,
        title=alt.TitleParams(title, subtitle=subtitle),
    )


# --- planning: forecast from observed data ---------------------------------------------------


def observed_table(
    observed: Mapping[str, Sequence[float]], start_date: dt.date, as_of: dt.date
) -> pd.DataFrame:
    """Observed cumulative counts as steps, for drawing over a fan: per series, 0 at the
    start, one step on each day a patient reached the milestone, and the last count held to
    the as-of date. Columns: series, day, date, patients."""
    end_day = float((as_of - start_date).days)
    frames = []
    for series, days in observed.items():
        arr = np.sort(np.asarray(days, dtype=float))
        arr = arr[np.isfinite(arr)]
        uniq, counts = np.unique(arr, return_counts=True)
        day = np.concatenate([[0.0], uniq, [max(end_day, uniq[-1] if uniq.size else 0.0)]])
        cum = np.concatenate([[0], np.cumsum(counts), [counts.sum()]]).astype(float)
        frames.append(
            pd.DataFrame(
                {
                    "series": series,
                    "day": day,
                    "date": as_datetime(start_date, day),
                    "patients": cum,
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["series", "day", "date", "patients"])
    return pd.concat(frames, ignore_index=True)


def observed_fan_chart(
    fan: pd.DataFrame,
    observed: Mapping[str, Sequence[float]],
    *,
    start_date: dt.date,
    as_of: dt.date,
    target_count: int,
    milestone: str,
    deadline: dt.date | None,
    title: str = "Updated forecast: cumulative patients enrolled and infused",
) -> alt.LayerChart:
    """The updated fan (simulated from the as-of date on, the observed patients in place)
    with the observed cumulative counts drawn over it as black steps, the as-of date, the
    target and the deadline marked."""
    steps = observed_table(observed, start_date, as_of)
    x = _date_x(title="Date (end of month)")
    line = (
        alt.Chart(steps)
        .mark_line(interpolate="step-after", color=OKABE_ITO["black"], strokeWidth=2)
        .encode(
            x=x,
            y=alt.Y("patients:Q", title="Patients (cumulative count)"),
            detail="series:N",
            tooltip=[
                _date_tip("date", "date"),
                alt.Tooltip("series:N", title="observed"),
                alt.Tooltip("patients:Q", title="patients", format=".0f"),
            ],
        )
    )
    mark = pd.DataFrame(
        {"date": [pd.Timestamp(as_of)], "label": [f"observed to {_day_label(as_of)}"]}
    )
    m_base = alt.Chart(mark)
    as_of_rule = m_base.mark_rule(color=GREY, strokeWidth=2).encode(x=alt.X("date:T", scale=_UTC))
    as_of_text = m_base.mark_text(
        align="right", baseline="top", dx=-4, dy=4, color=OKABE_ITO["black"]
    ).encode(x=alt.X("date:T", scale=_UTC), y=alt.value(0), text="label:N")
    counts = ", ".join(
        f"{int(steps[steps['series'] == s]['patients'].max())} {s}"
        for s in observed
        if (steps["series"] == s).any()
    )
    layers = [
        *_fan_layers(fan, target_count, milestone),
        as_of_rule,
        as_of_text,
        line,
        *_deadline_layer(deadline),
    ]
    subtitle = [
        f"Black steps: observed to {_day_label(as_of)} ({counts}); after it, the simulated "
        "trials continue from where each observed patient stands.",
        FAN_SUBTITLE,
    ]
    return alt.layer(*layers).properties(
        height=420, title=alt.TitleParams(title, subtitle=subtitle)
    )
