"""What every chart shares: the Okabe-Ito palette and the colour of each series,
resource and mark, the calendar-date axis and tooltip, and the deadline rule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

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
