"""Referral: each site a Poisson process with an optional linear ramp-up and gamma rate.

Arrival days are drawn up front by inverting the cumulative intensity of each site, so the
event loop only walks a sorted array.
"""

from __future__ import annotations

import math

import numpy as np

from sim.core import special
from sim.core.errors import InputError
from sim.core.intensity import trend_intensity
from sim.core.scenario import DAYS_PER_MONTH, MAX_REFERRALS, Scenario, Site
from sim.core.streams import Streams

MAX_DRAWN = 5 * MAX_REFERRALS
"""Referrals one replication may draw: five times the expected number a scenario may have,
so that only the far tail of an uncertain rate meets it (about 3 GB)."""


def cumulative_intensity(site: Site, day: float, rate_per_day: float) -> float:
    """Expected referrals from ``site`` in [0, day] at full rate ``rate_per_day``."""
    return site.referrals_by(day, rate_per_day)


def _invert(site: Site, y: np.ndarray, rate_per_day: float, horizon_days: float) -> np.ndarray:
    """Days at which the cumulative intensity reaches ``y`` (the inverse of the above)."""
    if site.trend_per_year:  # a smooth increasing curve: inverted on a fine grid
        grid = np.linspace(site.opens_day, horizon_days, 1 + 16 * max(1, math.ceil(horizon_days)))
        curve = trend_intensity(
            grid, rate_per_day, site.opens_day, site.ramp_up_days, site.trend_per_year
        )
        return np.interp(y, curve, grid)
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
    """All referrals of a replication up to the horizon: (days, site index), in time order.

    InputError when the rates this replication drew (an uncertain rate's far tail) would
    give more referrals than :data:`MAX_DRAWN` (the memory a replication may take).
    """
    rates = []
    for site in scenario.referral.sites:
        shape = site.rate_shape if site.rate_shape is not None else scenario.referral.rate_shape
        rates.append(site_rate_per_day(site, shape, streams))
    horizon = scenario.horizon_days
    sites_rates = list(zip(scenario.referral.sites, rates, strict=True))
    expected = sum(site.referrals_by(horizon, rate) for site, rate in sites_rates)
    if expected > MAX_DRAWN:
        raise InputError(
            f"a simulated trial drew referral rates that give {expected:,.0f} expected "
            f"referrals up to the horizon, beyond the {MAX_DRAWN:,} one trial can hold; "
            "lower the rates, the horizon or their uncertainty (a larger rate_shape)",
            field="referral",
        )
    days, sites = [], []
    for k, (site, rate) in enumerate(sites_rates):
        d = site_arrivals(site, rate, horizon, streams[f"referral:{site.name}"])
        days.append(d)
        sites.append(np.full(len(d), k, dtype=np.int64))
    all_days = np.concatenate(days)
    all_sites = np.concatenate(sites)
    order = np.argsort(all_days, kind="stable")
    return all_days[order], all_sites[order]
