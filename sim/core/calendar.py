"""Working days: the days on which each stage may start an activity.

A stage restricted to some weekdays, by public holidays or by a closure starts an activity
at the beginning of the next day it may (or at once, on such a day). Holidays apply to every
stage; a closure to the stages it names. Stages: ``apheresis`` (collection starts),
``manufacturing`` (batch starts), ``release`` (QC releases), ``infusion`` (day 0).

Days count from the scenario's ``start_date``; day ``d`` is the calendar date
``start_date + d``. Public holidays come from the ``holidays`` package, imported only when
a scenario names a country.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.core.schema import Scenario

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
"""Weekday names as a scenario writes them, Monday first (Python's ``date.weekday()``)."""
CLOSURE_STAGES = ("apheresis", "manufacturing", "release", "infusion")
"""What a closure can stop: collections, batch starts, QC releases, infusions."""
MARGIN_DAYS = 400
"""Days beyond the horizon a calendar covers (an activity planned near the end)."""


class WorkingDays:
    """The days one stage may start on: ``allowed[d]`` for day ``d`` from the start date."""

    __slots__ = ("_next", "allowed")

    def __init__(self, allowed: np.ndarray) -> None:
        self.allowed = allowed
        n = len(allowed)
        nxt = np.full(n + 1, n, dtype=np.int64)  # n: none before the calendar's end
        idx = np.flatnonzero(allowed)
        if idx.size:  # each day's next allowed day: the first allowed index at or after it
            pos = np.searchsorted(idx, np.arange(n), side="left")
            ok = pos < idx.size
            nxt[:n][ok] = idx[pos[ok]]
        self._next = nxt.tolist()

    def is_allowed(self, day: int) -> bool:
        """Whether whole day ``day`` may start an activity (beyond the calendar: yes)."""
        return bool(self.allowed[day]) if 0 <= day < len(self.allowed) else True

    def next_start(self, t: float) -> float:
        """``t`` if its day is allowed, else the start (00:00) of the next allowed day."""
        d = math.floor(t)
        if d < 0 or d >= len(self.allowed):
            return t
        n = self._next[d]
        return t if n == d else float(n)


def check_country(country: str, subdivision: str | None) -> None:
    """Raise ValueError unless the ``holidays`` package knows the country (and region)."""
    holidays = _package()
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise ValueError(
            f"unknown country {country!r} for public holidays; use an ISO 3166 code such as "
            "CN, US or GB"
        )
    regions = supported[country]
    if subdivision is not None and subdivision not in regions:
        shown = ", ".join(regions[:12]) + (", ..." if len(regions) > 12 else "")
        raise ValueError(f"unknown region {subdivision!r} of {country}; allowed: {shown or 'none'}")


def _package():
    try:
        import holidays
    except ImportError:  # pragma: no cover - a dependency; a clear message if it is missing
        raise ValueError(
            "public holidays need the holidays package (pip install holidays)"
        ) from None
    return holidays


@functools.lru_cache(maxsize=32)
def holiday_dates(
    country: str, subdivision: str | None, first_year: int, last_year: int
) -> frozenset[dt.date]:
    """The public holidays of a country (and region) in the years given, inclusive."""
    table = _package().country_holidays(
        country, subdiv=subdivision, years=range(first_year, last_year + 1)
    )
    return frozenset(table.keys())


def stage_days(sc: Scenario) -> dict[str, list[str] | None]:
    """The weekdays each stage may start on (None: every weekday)."""
    return {
        "apheresis": sc.apheresis.collection_days(),
        "manufacturing": sc.manufacturing.start_days,
        "release": sc.manufacturing.release_days,
        "infusion": sc.infusion.days,
    }


def stage_calendars(sc: Scenario) -> dict[str, WorkingDays | None]:
    """Each stage's working days, or None for a stage that may start on any day (so a
    scenario without calendars runs exactly as before they existed)."""
    cal = sc.calendar
    days_of = stage_days(sc)
    if cal is None and all(d is None for d in days_of.values()):
        return dict.fromkeys(CLOSURE_STAGES)
    n = math.ceil(sc.horizon_days) + MARGIN_DAYS
    start = sc.start_date
    weekday = (start.weekday() + np.arange(n)) % 7
    off = np.zeros(n, dtype=bool)  # holidays: every stage
    if cal is not None and cal.holidays is not None:
        last = start + dt.timedelta(days=n - 1)
        for date in holiday_dates(
            cal.holidays.country, cal.holidays.subdivision, start.year, last.year
        ):
            d = (date - start).days
            if 0 <= d < n:
                off[d] = True
    out: dict[str, WorkingDays | None] = {}
    for stage, days in days_of.items():
        closures = [
            c for c in (cal.closures if cal else ()) if c.stages is None or stage in c.stages
        ]
        if days is None and not off.any() and not closures:
            out[stage] = None
            continue
        allowed = ~off
        if days is not None:
            allowed &= np.isin(weekday, [WEEKDAYS.index(x) for x in days])
        for c in closures:
            a, b = (c.from_ - start).days, (c.to - start).days
            allowed[max(a, 0) : max(min(b + 1, n), 0)] = False
        out[stage] = WorkingDays(allowed)
    return out
