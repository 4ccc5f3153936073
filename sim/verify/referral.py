"""Referral counts: a Poisson process, a Poisson-gamma (negative binomial) one, and a
linear ramp-up, drawn by the model's own referral module."""

from __future__ import annotations

import math

import numpy as np

from sim.core.referral import referral_days
from sim.core.scenario import DAYS_PER_MONTH, Scenario
from sim.core.streams import Streams, replication_seed
from sim.report.text import sig
from sim.verify.records import CheckGroup, VerifyConfig, within_se
from sim.verify.scenarios import neutral


def _variance_se(n: int, var: float, mu4: float) -> float:
    """Standard error of the sample variance (ddof=1) of ``n`` values."""
    return math.sqrt(max(0.0, (mu4 - var * var * (n - 3) / (n - 1)) / n))


def negbin_moments(mean: float, shape: float | None) -> tuple[float, float]:
    """(variance, fourth central moment) of a Poisson count with mean ``mean`` whose rate is
    gamma with shape ``shape`` (None: plain Poisson). Cumulants from the factorial cumulants
    of the gamma mixture."""
    if shape is None:
        k2 = k4 = mean
    else:
        th = mean / shape  # gamma scale, in counts
        k2 = mean + mean * th
        k4 = mean + 7 * mean * th + 12 * mean * th**2 + 6 * mean * th**3
    return k2, k4 + 3 * k2 * k2


def referral_counts(sc: Scenario, draws: int, seed: int, until: float) -> np.ndarray:
    """Referrals before day ``until`` in each of ``draws`` replications of ``sc``."""
    return np.array(
        [
            int(np.sum(referral_days(sc, Streams(replication_seed(seed, r)))[0] < until))
            for r in range(draws)
        ]
    )


def check_referral_counts(cfg: VerifyConfig) -> CheckGroup:
    """Counts of a Poisson process, of a Poisson-gamma one, and over a linear ramp-up."""
    n, seed = cfg.count_draws, cfg.seed
    rate_month, t, shape = 2.0, 600.0, 3.0
    m = rate_month / DAYS_PER_MONTH * t
    rows = []
    for label, k in (("poisson", None), ("negbin", shape)):
        sc = neutral(
            horizon_days=1000,
            referral={"sites": [{"name": "A", "rate_per_month": rate_month}], "rate_shape": k},
        )
        counts = referral_counts(sc, n, seed, t)
        var, mu4 = negbin_moments(m, k)
        kind = "Poisson" if k is None else f"negative binomial (gamma rate, shape {k:g})"
        rows.append(
            within_se(
                f"referral_{label}_mean",
                f"{kind}: mean referrals in {t:g} days = rate x t",
                float(counts.mean()),
                m,
                math.sqrt(var / n),
                unit="patients",
            )
        )
        formula = "rate x t" if k is None else "m + m^2 / shape"
        rows.append(
            within_se(
                f"referral_{label}_variance",
                f"{kind}: variance of the count = {formula}",
                float(counts.var(ddof=1)),
                var,
                _variance_se(n, var, mu4),
            )
        )
    # a linear ramp from zero over R days: rate x R / 2 referrals in the ramp
    ramp = {"name": "A", "rate_per_month": 6.0, "opens_day": 100, "ramp_up_days": 300}
    sc = neutral(horizon_days=400, referral={"sites": [ramp], "rate_shape": None})
    counts = referral_counts(sc, n, seed, 400.0)
    m_ramp = 6.0 / DAYS_PER_MONTH * 300 / 2
    rows.append(
        within_se(
            "referral_ramp_mean",
            "ramp-up: a site opening on day 100 and ramping linearly over 300 days gives "
            "rate x 300 / 2 referrals by day 400",
            float(counts.mean()),
            m_ramp,
            math.sqrt(m_ramp / n),
            unit="patients",
        )
    )
    method = (
        f"Referral days drawn by the model's own referral module for {n} replications "
        f"(seed {seed}); counts in [0, {t:g}) days at 2 referrals/month (m = {sig(m)}). "
        "With rate_shape set, each replication's rate is a gamma draw of that shape and the "
        "same mean, so the count is negative binomial with variance m + m^2 / shape. SE of a "
        "mean is sqrt(variance / n); SE of a sample variance is "
        "sqrt((mu4 - sigma^4 (n - 3) / (n - 1)) / n) with the exact fourth central moment "
        "(Poisson: m + 3 m^2; negative binomial: from its cumulants)."
    )
    return CheckGroup("referral", "Referral counts", method, tuple(rows))
