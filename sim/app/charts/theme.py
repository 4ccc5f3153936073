"""What every chart shares: the colour of each meaning (:mod:`sim.report.palette`, also
the report's), the calendar-date axis and tooltip, and a labelled rule at a day (the
deadline)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from sim.report.palette import CATEGORIES, MEANINGS, OKABE_ITO, WAITING, category_colours
from sim.report.palette import GREY as PALETTE_GREY
from sim.report.text import date_label

__all__ = ["MEANINGS", "OKABE_ITO", "WAITING"]

GREY = PALETTE_GREY
"""Neutral (declined consent, the chart furniture)."""
CYCLE = CATEGORIES
"""Colours for an open-ended set of categories (scenarios in a comparison), in order."""

SERIES_COLOURS = {"enrolled": MEANINGS["enrolled"], "infused": MEANINGS["infused"]}
RESOURCE_COLOURS = {r: MEANINGS[r] for r in ("apheresis", "manufacturing", "beds")}
RESOURCE_LABELS = {
    "apheresis": "Apheresis slots",
    "manufacturing": "Manufacturing suites",
    "beds": "Beds",
}
DEADLINE_COLOUR = MEANINGS["reference"]

_UTC = alt.Scale(type="utc")  # dates are calendar days: no shift by the viewer's time zone
_DATE_AXIS = alt.Axis(format="%b %Y", labelAngle=0)


def _date_x(field: str = "date", title: str = "Date", **kwargs: Any) -> alt.X:
    """A calendar-date x axis (UTC, month and year labels)."""
    return alt.X(f"{field}:T", title=title, scale=_UTC, axis=_DATE_AXIS, **kwargs)


def _date_tip(field: str, title: str | None = None) -> alt.Tooltip:
    """A tooltip showing a calendar day (UTC, as the axes)."""
    kw = {} if title is None else {"title": title}
    return alt.Tooltip(f"{field}:T", format="%d %b %Y", timeUnit="utcyearmonthdate", **kw)


def as_datetime(start_date: dt.date, days: Sequence[float] | np.ndarray) -> pd.Series:
    """Calendar times of day numbers (days) counted from ``start_date`` (NaN stays NaT)."""
    arr = np.asarray(days, dtype=float)
    return pd.Series(pd.Timestamp(start_date) + pd.to_timedelta(arr, unit="D"))


def _category_colour(field: str, title: str, categories: list[str]) -> alt.Color:
    """Colour by an open-ended set of categories (sites, runs), in the given order through
    :data:`CYCLE`, with the legend on top, one a line."""
    return alt.Color(
        f"{field}:N",
        title=title,
        sort=categories,
        scale=alt.Scale(domain=categories, range=category_colours(len(categories))),
        legend=alt.Legend(orient="top", columns=1, labelLimit=600),
    )


def _fixed_colour(
    field: str, title: str, domain: Sequence[str], colours: Mapping[str, str], legend: alt.Legend
) -> alt.Color:
    """Colour by a fixed set of categories, each in its own colour, in the given order."""
    return alt.Color(
        f"{field}:N",
        title=title,
        sort=list(domain),
        scale=alt.Scale(domain=list(domain), range=[colours[k] for k in domain]),
        legend=legend,
    )


def _day_rule(
    day: dt.date, label: str, *, rule: Mapping[str, Any], text: Mapping[str, Any]
) -> list[alt.Chart]:
    """A vertical rule at a calendar day and its label at the top of the chart; ``rule`` and
    ``text`` are the properties of the two marks."""
    base = alt.Chart(pd.DataFrame({"date": [pd.Timestamp(day)], "label": [label]}))
    x = alt.X("date:T", scale=_UTC)
    return [
        base.mark_rule(**rule).encode(x=x),
        base.mark_text(**text).encode(x=x, y=alt.value(0), text="label:N"),
    ]


def _deadline_layer(deadline: dt.date | None) -> list[alt.Chart]:
    """A dashed vertical rule at the deadline, labelled (none without a deadline)."""
    if deadline is None:
        return []
    return _day_rule(
        deadline,
        f"deadline {date_label(deadline)}",
        rule={"color": DEADLINE_COLOUR, "strokeDash": [6, 3], "strokeWidth": 2},
        text={
            "align": "left",
            "baseline": "top",
            "dx": 4,
            "dy": 4,
            "color": DEADLINE_COLOUR,
            "fontWeight": "bold",
        },
    )
