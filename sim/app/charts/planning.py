"""The planning pages' fans: several runs' fans overlaid, and the forecast updated
from observed patients drawn over the observed counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd

from sim.report.text import date_label

from .forecast import FAN_SUBTITLE, _fan_layers, _percentile_lines, _target_rule, fan_table
from .theme import (
    GREY,
    OKABE_ITO,
    _category_colour,
    _date_tip,
    _date_x,
    _day_rule,
    _deadline_layer,
    as_datetime,
)

# --- comparison of runs ----------------------------------------------------------------------


def compare_fan_chart(
    fans: Sequence[tuple[str, pd.DataFrame]],
    *,
    series: str = "infused",
    target_count: int | None = None,
    deadline: dt.date | None = None,
) -> alt.LayerChart:
    """The fan of one series (cumulative infused, by default; patients) of several runs
    overlaid: the median and the 5th to 95th percentile band of each, a colour a run, with
    the target count and the deadline when given."""
    frames = []
    for label, fan in fans:
        f = fan_table(fan)
        f = f[f["series"] == series].copy()
        f["run"] = label
        frames.append(f)
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    labels = [label for label, _ in fans]
    base = alt.Chart(data)
    layers = _percentile_lines(
        base,
        base,
        x=_date_x(title="Date (end of month)"),
        y_title=f"Patients {series} (cumulative count)",
        colour=_category_colour("run", "Run", labels),
        detail="run:N",
        tips=[alt.Tooltip("run:N"), _date_tip("date", "month end")],
    )
    if target_count is not None:
        layers.append(_target_rule(pd.DataFrame({"y": [target_count]})))
    layers += _deadline_layer(deadline)
    return alt.layer(*layers).properties(
        height=440,  # the whole chart's: title, legend and axes included
        title=alt.TitleParams(
            f"Cumulative patients {series}, run by run",
            subtitle=[
                "Solid line: median of the simulated trials;",
                "dashed: 5th and 95th percentile.",
            ],
        ),
    )


# --- forecast from observed data ------------------------------------------------------------


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
    target_count: int,
    milestone: str,
    deadline: dt.date | None,
    start_date: dt.date,
    as_of: dt.date,
    title: str = "Updated forecast: patients enrolled, infused",
) -> alt.LayerChart:
    """The updated fan (simulated from the as-of date on, the observed patients in place)
    with the observed cumulative counts (patients, from ``observed``: each series' days
    since ``start_date``) drawn over it as black steps, the as-of date, the target and the
    deadline marked; the fan's arguments as in :func:`fan_chart`."""
    steps = observed_table(observed, start_date, as_of)
    x = _date_x(title="Date (end of month)")
    ends = steps.groupby("series", sort=False).tail(1).copy()
    ends["label"] = [
        f"observed {s}: {p:.0f}" for s, p in zip(ends["series"], ends["patients"], strict=True)
    ]
    labels = (
        alt.Chart(ends)
        .mark_text(align="right", dx=-6, dy=-8, fontWeight="bold", color=OKABE_ITO["black"])
        .encode(x=x, y=alt.Y("patients:Q"), text="label:N")
    )
    line = (
        alt.Chart(steps)
        .mark_line(interpolate="step-after", color=OKABE_ITO["black"], strokeWidth=2)
        .encode(
            x=x,
            y=alt.Y("patients:Q", title="Patients (cumulative count)"),
            strokeDash=alt.StrokeDash(
                "series:N",
                title="Observed",
                scale=alt.Scale(domain=["enrolled", "infused"], range=[[6, 3], [1, 0]]),
                legend=alt.Legend(orient="top", symbolStrokeColor=OKABE_ITO["black"]),
            ),
            tooltip=[
                _date_tip("date", "date"),
                alt.Tooltip("series:N", title="observed"),
                alt.Tooltip("patients:Q", title="patients", format=".0f"),
            ],
        )
    )
    as_of_mark = _day_rule(
        as_of,
        f"observed to {date_label(as_of)}",
        rule={"color": GREY, "strokeWidth": 2},
        text={"align": "right", "baseline": "top", "dx": -4, "dy": 4, "color": OKABE_ITO["black"]},
    )
    counts = ", ".join(
        f"{int(steps[steps['series'] == s]['patients'].max())} {s}"
        for s in observed
        if (steps["series"] == s).any()
    )
    layers = [
        *_fan_layers(fan, target_count, milestone),
        *as_of_mark,
        line,
        labels,
        *_deadline_layer(deadline),
    ]
    subtitle = [
        f"Black steps: observed to {date_label(as_of)}",
        f"({counts});",
        "then the simulated trials go on from where",
        "each observed patient stands.",
        *FAN_SUBTITLE,
    ]
    return alt.layer(*layers).properties(
        height=420, title=alt.TitleParams(title, subtitle=subtitle)
    )
