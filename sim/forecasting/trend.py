"""A site's referral trend estimated from the days of its observed referrals.

The rate is the scenario's shape (opening day, linear ramp-up) times exp(k t), t the days
since opening. The full rate is profiled out (its maximum-likelihood value given k is the
count over the exposure), and k maximises the profile log-likelihood

    l(k) = k * sum(t_i) - n * log(I(k)),  I(k) = integral over [0, T] of ramp(s) exp(k s) ds,

with a standard error from its curvature. A forecast that fits the trend draws each
replication's k from the normal approximation and, given it, the site's rate from its gamma
posterior, so the trend's uncertainty carries into the forecast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.core.intensity import YEAR_DAYS
from sim.core.referral import cumulative_intensity
from sim.core.schema import DAYS_PER_MONTH, TREND_LIMITS, Site

K_LOW, K_HIGH = (math.log1p(t) / YEAR_DAYS for t in TREND_LIMITS)
"""The trends the schema allows (:data:`sim.core.schema.TREND_LIMITS`), as exponential
rates per day."""
MIN_REFERRALS = 5
MIN_DAYS = 90.0
"""Fewer referrals, or a shorter time open, give no fit (the trend stays the scenario's)."""


@dataclass(frozen=True)
class TrendFit:
    """The fitted trend of one site: k per day, its standard error, and per year."""

    k: float
    se: float

    @property
    def per_year(self) -> float:
        return math.expm1(self.k * YEAR_DAYS)

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        """The 95% interval of the change per year."""
        lo, hi = self.k - z * self.se, self.k + z * self.se
        return math.expm1(lo * YEAR_DAYS), math.expm1(hi * YEAR_DAYS)

    def draw(self, z: float) -> float:
        """The change per year at the standard normal quantile ``z`` (within the schema's
        bounds)."""
        return math.expm1(min(max(self.k + z * self.se, K_LOW), K_HIGH) * YEAR_DAYS)


def with_trend(site: Site, per_year: float) -> Site:
    return site.model_copy(update={"trend_per_year": per_year})


def exposure_months(site: Site, day: float, per_year: float) -> float:
    """Months of full-rate exposure by ``day`` of the site with that trend."""
    return cumulative_intensity(with_trend(site, per_year), day, 1.0 / DAYS_PER_MONTH)


def _profile(site: Site, total: float, n: int, end: float, k: float) -> float:
    exposure = cumulative_intensity(with_trend(site, math.expm1(k * YEAR_DAYS)), end, 1.0)
    return k * total - n * math.log(exposure) if exposure > 0 else -math.inf


def fit_trend(site: Site, days: np.ndarray, end: float) -> TrendFit | None:
    """The trend of ``site`` from its referral ``days`` observed up to ``end`` (None when
    there are too few to tell)."""
    days = np.asarray(days, dtype=float)
    n = int(days.size)
    if n < MIN_REFERRALS or end - site.opens_day < MIN_DAYS:
        return None
    total = float(np.sum(days - site.opens_day))

    def ll(k: float) -> float:
        return _profile(site, total, n, end, k)

    a, b = K_LOW, K_HIGH  # golden-section search: the profile is concave in k
    g = (math.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = ll(c), ll(d)
    for _ in range(200):
        if b - a < 1e-12:
            break
        if fc >= fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = ll(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = ll(d)
    k = (a + b) / 2
    h = 1e-3 / YEAR_DAYS
    curvature = (ll(k + h) - 2 * ll(k) + ll(k - h)) / (h * h)
    se = 1 / math.sqrt(-curvature) if curvature < 0 else math.inf
    return TrendFit(k, se)
