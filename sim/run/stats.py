"""Statistics of many replications: pure functions of the per-replication rows."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sim.core.special import norm_ppf, t_ppf

PERCENTILES = (10, 50, 90)


def percentiles(values: Sequence[float] | np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Percentiles ``qs`` (0 to 100) of ``values`` (no NaN), interpolating linearly between
    order statistics: the very numbers of ``numpy.percentile``'s default method, computed
    the same way, without the import of ``numpy.ma`` that it makes (8 ms of every run)."""
    a = np.sort(np.asarray(values, dtype=float).ravel())
    n = a.size
    q = np.true_divide(np.asarray(qs, dtype=float), 100)
    virtual = (n - 1) * q
    below = np.floor(virtual)
    gamma = virtual - below
    top = virtual >= n - 1  # at (or past) the last value: take it
    lo = np.where(top, n - 1, below).astype(np.intp)
    hi = np.where(top, n - 1, below + 1).astype(np.intp)
    diff = a[hi] - a[lo]
    out = a[lo] + diff * gamma
    return np.where(gamma >= 0.5, a[hi] - diff * (1 - gamma), out)


def censored_percentiles(
    times: Sequence[float], qs: Sequence[float] = PERCENTILES
) -> dict[str, float | None]:
    """Percentiles of times where NaN means "never reached" (beyond the horizon).

    Unreached replications count as +infinity, so a percentile that falls among them (or
    interpolates towards them) is None, never a number computed from the reached ones only.
    """
    arr = np.asarray(times, dtype=float)
    if arr.size == 0:
        return {f"p{q:g}": None for q in qs}
    reached = arr[~np.isnan(arr)]
    if reached.size == 0:
        return {f"p{q:g}": None for q in qs}
    top = float(reached.max())
    # unreached as a finite value above every reached one: a percentile that lands exactly
    # on the last reached trial stays a number; one drawn towards the unreached is None
    arr = np.where(np.isnan(arr), top + 1.0 + abs(top), arr)
    vals = percentiles(arr, qs)
    return {f"p{q:g}": (float(v) if v <= top else None) for q, v in zip(qs, vals, strict=True)}


def mean_ci(values: Sequence[float], level: float = 0.95) -> dict[str, float | None]:
    """Mean with a Student-t confidence interval (None where it cannot be computed)."""
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    n = arr.size
    if n == 0:
        return {"mean": None, "ci_low": None, "ci_high": None, "n": 0}
    mean = float(arr.mean())
    if n < 2:
        return {"mean": mean, "ci_low": None, "ci_high": None, "n": 1}
    half = float(t_ppf(0.5 + level / 2, n - 1) * arr.std(ddof=1) / math.sqrt(n))
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n": int(n)}


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval of a binomial proportion."""
    if n <= 0:
        return None
    z = norm_ppf(0.5 + level / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # at 0 or n successes the bound is exactly 0 or 1 (not a rounding error either side)
    lo = 0.0 if successes <= 0 else max(0.0, centre - half)
    hi = 1.0 if successes >= n else min(1.0, centre + half)
    return lo, hi


def day_to_date(start: dt.date, day: float | None) -> str | None:
    """The calendar date (ISO) of a day number counted from ``start``."""
    if day is None or not math.isfinite(day):
        return None
    return (start + dt.timedelta(days=math.floor(day))).isoformat()


def prob_by(times: Sequence[float], day: float) -> tuple[int, int]:
    """(replications reaching the target before the end of ``day``, replications)."""
    arr = np.asarray(times, dtype=float)
    return int(np.sum(arr < day + 1)), int(arr.size)  # NaN compares False: not reached


def pooled_quantiles(values: np.ndarray, qs: Sequence[float] = (50, 90)) -> dict[str, Any]:
    """Mean and percentiles of values pooled over replications (None when empty)."""
    if values.size == 0:
        out: dict[str, Any] = {"mean": None}
        out.update({f"p{q:g}": None for q in qs})
        return out
    out = {"mean": float(values.mean())}
    out.update({f"p{q:g}": float(v) for q, v in zip(qs, percentiles(values, qs), strict=True)})
    return out


def rounded(obj: Any, digits: int = 4) -> Any:
    """Floats rounded for display and stable JSON; NaN and infinity become None."""
    if isinstance(obj, float | np.floating):
        x = float(obj)
        return round(x, digits) if math.isfinite(x) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, dict):
        return {k: rounded(v, digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [rounded(v, digits) for v in obj]
    return obj


def paired_difference(
    a: Sequence[float], b: Sequence[float], level: float = 0.95
) -> dict[str, Any]:
    """Mean of ``b - a`` over pairs where both are numbers, with a t interval."""
    x = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    ci = mean_ci(x, level)
    return {"mean": ci["mean"], "ci95": [ci["ci_low"], ci["ci_high"]], "n": ci["n"]}


def welch_interval(
    a: Sequence[float], b: Sequence[float], level: float = 0.95
) -> list[float | None]:
    """Interval of ``mean(b) - mean(a)`` treating the samples as independent (Welch)."""
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if x.size < 2 or y.size < 2:
        return [None, None]
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(vx + vy)
    diff = float(y.mean() - x.mean())
    if se == 0:
        return [diff, diff]
    dof = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    half = t_ppf(0.5 + level / 2, dof) * se
    return [diff - half, diff + half]


def ratio_ci(
    numerators: Sequence[float], denominators: Sequence[float], level: float = 0.95
) -> dict[str, float | None]:
    """Ratio of sums (e.g. total wait over requests granted, pooled over replications) with
    the delta-method t interval of a ratio estimator: var = s^2(x - R y) / (n ybar^2)."""
    x = np.asarray(numerators, dtype=float)
    y = np.asarray(denominators, dtype=float)
    n = x.size
    if n == 0 or y.sum() == 0:
        return {"ratio": None, "ci_low": None, "ci_high": None}
    ratio = float(x.sum() / y.sum())
    if n < 2:
        return {"ratio": ratio, "ci_low": None, "ci_high": None}
    resid = x - ratio * y
    se = math.sqrt(resid.var(ddof=1) / n) / y.mean()
    half = float(t_ppf(0.5 + level / 2, n - 1)) * se
    return {"ratio": ratio, "ci_low": ratio - half, "ci_high": ratio + half}


def median_interval(
    times: Sequence[float], level: float = 0.95
) -> tuple[float | None, float | None, float | None]:
    """(median, low, high) of times where NaN means never reached, with the distribution-free
    interval of the median between two order statistics (the binomial's normal
    approximation); a value that falls among the unreached trials is None."""
    arr = np.sort(np.where(np.isnan(np.asarray(times, dtype=float)), np.inf, times))
    n = arr.size
    if n == 0:
        return None, None, None
    z = norm_ppf(0.5 + level / 2)
    lo = max(1, math.floor(n / 2 - z * math.sqrt(n) / 2))
    hi = min(n, math.ceil(1 + n / 2 + z * math.sqrt(n) / 2))
    med = censored_percentiles(times, (50,))["p50"]

    def finite(x: float) -> float | None:
        return float(x) if math.isfinite(x) else None

    return med, finite(arr[lo - 1]), finite(arr[hi - 1])
