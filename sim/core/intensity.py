"""A referring site's cumulative intensity: the expected referrals by a day, with a linear
ramp-up and an optional compounding trend (pure functions of numbers, days and per day)."""

from __future__ import annotations

import math

import numpy as np

YEAR_DAYS = 365.25


def growth(trend_per_year: float) -> float:
    """The trend's exponential rate per day (0 for a steady rate)."""
    return math.log1p(trend_per_year) / YEAR_DAYS


def trend_intensity(
    t: np.ndarray, rate_per_day: float, opens_day: float, ramp_up_days: float, trend: float
) -> np.ndarray:
    """Expected referrals by days ``t`` of a site whose rate changes by ``trend`` a year
    (the closed form of the ramp times the exponential trend)."""
    k, ramp = growth(trend), ramp_up_days
    x = np.maximum(np.asarray(t, dtype=float) - opens_day, 0.0)

    def ramped(z: np.ndarray) -> np.ndarray:  # integral of (s / ramp) e^(k s) over [0, z]
        kz = k * z
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            exact = (z / k * np.exp(kz) - np.expm1(kz) / k**2) / ramp
        # near k z = 0 the closed form cancels: its series instead
        series = z * z / ramp * (1 / 2 + kz / 3 + kz * kz / 8 + kz**3 / 30)
        return np.where(np.abs(kz) < 1e-3, series, exact)

    with np.errstate(over="ignore"):
        flat = np.expm1(k * x) / k
    if ramp <= 0:
        return rate_per_day * flat
    top = ramped(np.float64(ramp))
    with np.errstate(over="ignore"):
        past = top + math.exp(k * ramp) * np.expm1(k * (x - ramp)) / k
    return rate_per_day * np.where(x <= ramp, ramped(np.minimum(x, ramp)), past)


def expected_referrals(
    day: float, rate_per_day: float, opens_day: float, ramp_up_days: float, trend: float = 0.0
) -> float:
    """Expected referrals in [0, ``day``] at the full rate ``rate_per_day``, rising linearly
    over the ramp-up from ``opens_day``, compounding by ``trend`` a year."""
    t = day - opens_day
    if t <= 0 or rate_per_day <= 0:
        return 0.0
    if trend:
        return float(trend_intensity(np.array([day]), rate_per_day, opens_day, ramp_up_days,
                                     trend)[0])  # fmt: skip
    ramp = ramp_up_days
    if t <= ramp:
        return rate_per_day * t * t / (2 * ramp)
    return rate_per_day * (t - ramp / 2)
