"""The forecast: the referrals the scenario expects, the fan of cumulative patients
enrolled and infused, and when the simulated trials reach the target."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from sim.report.text import date_label

from .theme import (
    MEANINGS,
    OKABE_ITO,
    SERIES_COLOURS,
    _category_colour,
    _date_tip,
    _date_x,
    _deadline_layer,
    as_datetime,
)

# --- the scenario as set ---------------------------------------------------------------------


def referrals_chart(expected: pd.DataFrame, *, deadline: dt.date | None) -> alt.LayerChart:
    """Expected referrals per month of each site as the scenario sets them (stacked), from
    a table of site, date and referrals (see ``app_state.expected_referrals``)."""
    sites = list(dict.fromkeys(expected["site"]))
    colour = _category_colour("site", "Referring site", sites)
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
            "Referrals the scenario expects",
            subtitle=[
                "Before any simulation: each site's mean rate from",
                "its opening day, rising over its ramp-up.",
            ],
        ),
    )


# --- forecast ------------------------------------------------------------------------------


def fan_table(fan: pd.DataFrame) -> pd.DataFrame:
    """The fan-chart frame (month, date, series, p5...p95: percentiles of the cumulative
    count, patients) with ``date`` as a datetime."""
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
    band_tips = [
        _date_tip("date", "month end"),
        alt.Tooltip("series:N", title="patients"),
        alt.Tooltip("p5:Q", title="5th percentile", format=".0f"),
        alt.Tooltip("p25:Q", title="25th percentile", format=".0f"),
        alt.Tooltip("p50:Q", title="median", format=".0f"),
        alt.Tooltip("p75:Q", title="75th percentile", format=".0f"),
        alt.Tooltip("p95:Q", title="95th percentile", format=".0f"),
    ]
    outer = (
        alt.Chart(shaded)
        .mark_area(opacity=0.2)
        .encode(x=x, y=alt.Y("p5:Q", title=y_title), y2="p95:Q", color=colour, tooltip=band_tips)
    )
    inner = (
        alt.Chart(shaded)
        .mark_area(opacity=0.4)
        .encode(x=x, y="p25:Q", y2="p75:Q", color=colour, tooltip=band_tips)
    )
    lines = _percentile_lines(
        alt.Chart(lined),
        alt.Chart(data),
        x=x,
        y_title=y_title,
        colour=colour,
        detail="series:N",
        tips=[_date_tip("date", "month end"), alt.Tooltip("series:N", title="patients")],
    )
    target = pd.DataFrame({"y": [target_count], "label": [f"target: {target_count} {milestone}"]})
    target_text = (
        alt.Chart(target)
        .mark_text(align="left", baseline="bottom", dx=4, dy=-3)
        .encode(x=alt.value(0), y="y:Q", text="label:N")
    )
    return [outer, inner, *lines, _target_rule(target), target_text]


def _percentile_lines(
    edges: alt.Chart,
    median: alt.Chart,
    *,
    x: alt.X,
    y_title: str,
    colour: alt.Color,
    detail: str,
    tips: list[alt.Tooltip],
) -> list[alt.Chart]:
    """Dashed lines at the 5th and the 95th percentile (of the data of ``edges``), then a
    solid line at the median (of the data of ``median``) whose tooltip is ``tips`` and the
    three percentiles (patients)."""
    dashed = [
        edges.mark_line(strokeWidth=1.2, strokeDash=[4, 3]).encode(
            x=x, y=alt.Y(f"{p}:Q", title=y_title), color=colour, detail=detail
        )
        for p in ("p5", "p95")
    ]
    solid = median.mark_line(strokeWidth=2.5).encode(
        x=x,
        y=alt.Y("p50:Q", title=y_title),
        color=colour,
        tooltip=[
            *tips,
            alt.Tooltip("p50:Q", title="median", format=".0f"),
            alt.Tooltip("p5:Q", title="5th percentile", format=".0f"),
            alt.Tooltip("p95:Q", title="95th percentile", format=".0f"),
        ],
    )
    return [*dashed, solid]


def _target_rule(target: pd.DataFrame) -> alt.Chart:
    """The target count (column ``y``, patients) as a dotted horizontal rule."""
    return alt.Chart(target).mark_rule(color=OKABE_ITO["black"], strokeDash=[2, 2]).encode(y="y:Q")


FAN_SUBTITLE = [
    "Solid lines: median of the simulated trials.",
    "Infused: dark band 25th-75th percentile, light 5th-95th.",
    "Enrolled: dashed lines, 5th and 95th percentile.",
]


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


BEYOND = "beyond the horizon"


def target_date_table(
    time_to_target_days: Sequence[float],
    start_date: dt.date,
    deadline: dt.date | None,
    horizon_days: float | None = None,
) -> pd.DataFrame:
    """Simulated trials by calendar quarter of reaching the target (NaN = not reached):
    quarter start and end, ``when`` (by or after the deadline), trials and percent of all.
    With ``horizon_days``, the trials that never reach it are a last bar, ``beyond the
    horizon``, a quarter wide from the quarter after the horizon's end (so the bars add up
    to 100%)."""
    ttt = np.asarray(time_to_target_days, dtype=float)
    total = ttt.size
    reached = ttt[~np.isnan(ttt)]
    columns = ["start", "end", "when", "trials", "percent"]
    missed = total - reached.size
    beyond = pd.DataFrame(columns=columns)
    if horizon_days is not None and missed:
        end = pd.Timestamp(start_date) + pd.Timedelta(days=math.floor(horizon_days))
        q = (end.to_period("Q") + 1).start_time
        beyond = pd.DataFrame(
            [(q, (q.to_period("Q") + 1).start_time, BEYOND, missed, 100.0 * missed / total)],
            columns=columns,
        )
    if reached.size == 0:
        return beyond
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
    out = counts[columns].sort_values(["start", "when"])
    if not beyond.empty:
        out = pd.concat([out, beyond])
    return out.reset_index(drop=True)


def target_date_chart(
    time_to_target_days: Sequence[float],
    *,
    start_date: dt.date,
    deadline: dt.date | None,
    horizon_days: float,
    target_label: str,
) -> alt.LayerChart:
    """When the simulated trials reach the target: a histogram by calendar quarter, coloured
    by the deadline, with the trials that never reach it within the horizon as a last bar
    (the bars add up to 100%)."""
    ttt = np.asarray(time_to_target_days, dtype=float)
    data = target_date_table(ttt, start_date, deadline, horizon_days)
    missed = int(np.isnan(ttt).sum())
    horizon = start_date + dt.timedelta(days=math.floor(horizon_days))
    subtitle = [
        f"{missed} of {ttt.size} simulated trials ({100 * missed / max(ttt.size, 1):.0f}%) "
        "do not reach it",
        f"by the end of the horizon ({date_label(horizon)}): the last bar.",
    ]
    colours = {
        "by the deadline": MEANINGS["infused"],
        "after the deadline": MEANINGS["after the deadline"],
        "no deadline set": MEANINGS["infused"],
        BEYOND: MEANINGS["beyond the horizon"],
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
        title=alt.TitleParams(f"When {target_label} is reached", subtitle=subtitle),
    )
