"""The number formats every output shares: numbers, percentages, intervals, days and dates.

A missing value (None or NaN) reads ``n/a`` unless the caller says what it means (a
percentile of the time to target that falls among the trials that never reach the target
reads ``beyond the horizon``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

MISSING = "n/a"
BEYOND = "beyond the horizon"
"""Where a percentile of the time to target falls among trials that never reach it."""


def missing(x: Any) -> bool:
    """None, NaN, or a pandas missing value."""
    if x is None:
        return True
    try:
        return bool(math.isnan(x))
    except TypeError:
        return x != x  # pandas.NA and NaT are not equal to themselves


def num(x: float | None, fmt: str = ".1f", none: str = MISSING) -> str:
    """``x`` in the given format (``.1f``, ``.3g``, ``,.0f``), or ``none`` when missing."""
    return none if missing(x) else format(x, fmt)


def sig(x: float | None, digits: int = 4) -> str:
    """``digits`` significant figures; whole numbers as integers; an exponent without
    padding (``1.2e-5``, ``3e7``)."""
    if missing(x):
        return MISSING
    x = float(x)  # type: ignore[arg-type]
    if x == 0:
        return "0"
    if x.is_integer() and abs(x) < 1e7:
        return f"{int(x):d}"
    text = f"{x:.{digits}g}"
    return text.replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")


def short(x: float) -> str:
    """Four significant figures, or two with an exponent for very large or small values
    (``1.5e9``)."""
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        mantissa, _, exp = f"{x:.2g}".partition("e")
        return f"{mantissa}e{int(exp)}"
    return f"{x:.4g}"


def plain(x: Any) -> str:
    """A number as a person writes it (``3``, ``0.05``, ``1.5e+09``); anything else as text."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return str(x)
    return f"{x:g}"


def pct(x: float | None, digits: int = 0, none: str = MISSING) -> str:
    """A share as a percentage: ``0.523`` -> ``52%`` (``52.3%`` with ``digits=1``)."""
    return none if missing(x) else f"{100 * float(x):.{digits}f}%"  # type: ignore[arg-type]


def interval(lo: float | None, hi: float | None, fmt: str = ".3g", sep: str = " to ") -> str:
    """``lo to hi`` in the given format; ``n/a`` unless both ends are finite numbers."""
    if missing(lo) or missing(hi) or not (math.isfinite(lo) and math.isfinite(hi)):  # type: ignore[arg-type]
        return MISSING
    return f"{format(lo, fmt)}{sep}{format(hi, fmt)}"


def pct_interval(lo: float | None, hi: float | None, digits: int = 0, sep: str = " to ") -> str:
    """An interval of shares in percent: ``45% to 59%``."""
    if missing(lo) or missing(hi):
        return MISSING
    return f"{pct(lo, digits)}{sep}{pct(hi, digits)}"


def chance(p: float, ci: tuple[float, float] | list[float], digits: int = 0) -> str:
    """A probability with its 95% interval: ``52% (95% interval 45% to 59%)``."""
    lo, hi = ci
    return f"{pct(p, digits)} (95% interval {pct_interval(lo, hi, digits)})"


def days(x: float | None, fmt: str = ".1f") -> str:
    """Days to the target, or where a percentile falls among trials that never reach it."""
    return num(x, fmt, none=BEYOND)


def date_label(d: dt.date | str | None) -> str:
    """``31 Dec 2020`` (``n/a`` when missing)."""
    if d is None:
        return MISSING
    if isinstance(d, str):
        d = dt.date.fromisoformat(d)
    return f"{d.day} {d:%b %Y}"


def assignments(values: Mapping[str, Any]) -> str:
    """``key=value`` pairs: ``manufacturing.suites=2, infusion.beds=3``."""
    return ", ".join(f"{k}={v}" for k, v in values.items())


def money(x: float | None, currency: str | None = None, none: str = MISSING) -> str:
    """An amount of money, with its currency when it has one: ``CNY 27,922,847``; whole
    units from 100 up (and 0), two decimals below (``CNY 0.10``)."""
    if missing(x):
        return none
    whole = x == 0 or abs(x) >= 100  # type: ignore[arg-type]
    body = f"{x:,.0f}" if whole else f"{x:,.2f}"
    return f"{currency} {body}" if currency else body
