"""Referral: each site a Poisson process with an optional linear ramp-up and gamma rate.

Arrival days are drawn up front by inverting the cumulative intensity of each site, so the
event loop only walks a sorted array.
"""

from __future__ import annotations

import math

import numpy as np

from sim.core import special
from sim.core.scenario import DAYS_PER_MONTH, Scenario, Site
from sim.core.streams import Streams

YEAR_DAYS = 365.25


def _growth(site: Site) -> float:
    """The trend's exponential rate per day (0 for a steady rate)."""
    return math.log1p(site.trend_per_year) / YEAR_DAYS


def _trend_intensity(site: Site, t: np.ndarray, rate_per_day: float) -> np.ndarray:
    """Expected referrals by days ``t`` of a site whose rate changes by ``trend_per_year``
    (the closed form of the ramp times the exponential trend)."""
    k, ramp = _growth(site), site.ramp_up_days
    x = np.maximum(np.asarray(t, dtype=float) - site.opens_day, 0.0)

    def ramped(z: np.ndarray) -> np.ndarray:  # integral of (s / ramp) e^(k s) over [0, z]
        kz = k * z
        with np.errstate(divide="ignore", invalid="ignore"):
            exact = (z / k * np.exp(kz) - np.expm1(kz) / k**2) / ramp
        # near k z = 0 the closed form cancels: its series instead
        series = z * z / ramp * (1 / 2 + kz / 3 + kz * kz / 8 + kz**3 / 30)
        return np.where(np.abs(kz) < 1e-3, series, exact)

    flat = np.expm1(k * x) / k
    if ramp <= 0:
        return rate_per_day * flat
    top = ramped(np.float64(ramp))
    past = top + math.exp(k * ramp) * np.expm1(k * (x - ramp)) / k
    return rate_per_day * np.where(x <= ramp, ramped(np.minimum(x, ramp)), past)


def cumulative_intensity(site: Site, day: float, rate_per_day: float) -> float:
    """Expected referrals from ``site`` in [0, day] at full rate ``rate_per_day``."""
    t = day - site.opens_day
    if t <= 0 or rate_per_day <= 0:
        return 0.0
    if site.trend_per_year:
        return float(_trend_intensity(site, np.array([day]), rate_per_day)[0])
    ramp = site.ramp_up_days
    if t <= ramp:
        return rate_per_day * t * t / (2 * ramp)
    return rate_per_day * (t - ramp / 2)


def _invert(site: Site, y: np.ndarray, rate_per_day: float, horizon_days: float) -> np.ndarray:
    """Days at which the cumulative intensity reaches ``y`` (the inverse of the above)."""
    if site.trend_per_year:  # a smooth increasing curve: inverted on a fine grid
        grid = np.linspace(site.opens_day, horizon_days, 1 + 16 * max(1, math.ceil(horizon_days)))
        return np.interp(y, _trend_intensity(site, grid, rate_per_day), grid)
    ramp = site.ramp_up_days
    in_ramp = y <= rate_per_day * ramp / 2
    on_ramp = site.opens_day + np.sqrt(2 * ramp * np.maximum(y, 0) / rate_per_day)
    full = site.opens_day + y / rate_per_day + ramp / 2
    return np.where(in_ramp, on_ramp, full)


def site_rate_per_day(site: Site, rate_shape: float | None, streams: Streams) -> float:
    """The site's rate in this replication: the scenario's, or a gamma draw with that mean."""
    rate = site.rate_per_month / DAYS_PER_MONTH
    if rate_shape is None or rate == 0:
        return rate
    u = streams[f"referral.rate:{site.name}"].random()
    return rate * float(special.gammaincinv(rate_shape, u)) / rate_shape


def site_arrivals(
    site: Site, rate_per_day: float, horizon_days: float, rng: np.random.Generator
) -> np.ndarray:
    """Referral days of one site in [0, horizon_days), sorted."""
    total = cumulative_intensity(site, horizon_days, rate_per_day)
    if total <= 0:
        return np.empty(0)
    chunk = int(total + 5 * math.sqrt(total) + 16)
    parts, reached = [], 0.0
    while reached < total:
        steps = -np.log1p(-rng.random(chunk))
        cum = reached + np.cumsum(steps)
        parts.append(cum)
        reached = float(cum[-1])
    y = np.concatenate(parts)
    y = y[y < total]
    return _invert(site, y, rate_per_day, horizon_days)


def referral_days(scenario: Scenario, streams: Streams) -> tuple[np.ndarray, np.ndarray]:
    """All referrals of a replication up to the horizon: (days, site index), in time order."""
    days, sites = [], []
    for k, site in enumerate(scenario.referral.sites):
        shape = site.rate_shape if site.rate_shape is not None else scenario.referral.rate_shape
        rate = site_rate_per_day(site, shape, streams)
        d = site_arrivals(site, rate, scenario.horizon_days, streams[f"referral:{site.name}"])
        days.append(d)
        sites.append(np.full(len(d), k, dtype=np.int64))
    all_days = np.concatenate(days)
    all_sites = np.concatenate(sites)
    order = np.argsort(all_days, kind="stable")
    return all_days[order], all_sites[order]
