"""The model against queueing theory and the referral process's known distributions."""

from __future__ import annotations

import math

import numpy as np
from conftest import make_scenario

from sim.core.referral import referral_days
from sim.core.streams import Streams, replication_seed
from sim.run.runner import run_replications

MONTH = 365.25 / 12


def _queue_scenario(*extra: str):
    """Instant screening, no losses, ample downstream capacity: a pure queue at one stage."""
    return make_scenario(
        "screening.duration_days=0", "screening.consent_decline_prob=0",
        "screening.criteria={}", "deterioration=null", "apheresis.failure_prob=0",
        "apheresis.weekdays_only=false", "manufacturing.failure_prob=0",
        "manufacturing.yield_cells=null", "manufacturing.qc_release_days=0",
        "infusion.beds=10000", "target.count=1000000", "target.deadline=null", *extra,
    )


def _per_rep_waits(res, resource: str) -> np.ndarray:
    return res.table[f"{resource}.wait_sum_days"] / res.table[f"{resource}.granted"]


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c (Erlang C), days."""
    a = lam / mu
    rho = a / c
    terms = sum(a**k / math.factorial(k) for k in range(c))
    last = a**c / (math.factorial(c) * (1 - rho))
    p_wait = last / (terms + last)
    return p_wait / (c * mu - lam)


def test_apheresis_wait_matches_mm1():
    """Poisson referrals into one slot with exponential collection: Wq = rho / (mu - lambda)."""
    lam, mean_service = 0.5, 1.0  # per day; days
    sc = _queue_scenario(f"referral.sites.0.rate_per_month={lam * MONTH}",
                         f"apheresis.duration_days={{dist: exponential, mean: {mean_service}}}",
                         "apheresis.slots=1", "manufacturing.suites=10000",
                         "horizon_days=4000")
    res = run_replications(sc, 12, seed=2)
    waits = _per_rep_waits(res, "apheresis")
    expected = (lam / (1 / mean_service)) / (1 / mean_service - lam)
    se = waits.std(ddof=1) / math.sqrt(len(waits))
    assert abs(waits.mean() - expected) < 4 * se + 0.02 * expected, (waits.mean(), expected, se)


def test_manufacturing_wait_matches_erlang_c():
    """Poisson arrivals (instant apheresis on ample slots) into c suites: Erlang C wait."""
    lam, mean_service, c = 0.25, 10.0, 3  # per day; days; suites
    sc = _queue_scenario(f"referral.sites.0.rate_per_month={lam * MONTH}",
                         "apheresis.duration_days=0", "apheresis.slots=10000",
                         f"manufacturing.duration_days={{dist: exponential, mean: {mean_service}}}",
                         f"manufacturing.suites={c}", "horizon_days=6000")
    res = run_replications(sc, 12, seed=5)
    waits = _per_rep_waits(res, "manufacturing")
    expected = erlang_c_wait(lam, 1 / mean_service, c)
    se = waits.std(ddof=1) / math.sqrt(len(waits))
    assert abs(waits.mean() - expected) < 4 * se + 0.02 * expected, (waits.mean(), expected, se)
    # Little's law on the same runs: mean queue length = arrival rate x mean wait
    row_q = res.table["manufacturing.mean_queue_length"]
    row_rate = res.table["manufacturing.granted"] / res.table["end_days"]
    np.testing.assert_allclose(row_q, row_rate * waits, rtol=0.05)  # end effects


def test_utilisation_matches_offered_load():
    """Time-weighted utilisation of c suites approaches lambda x mean service / c."""
    lam, mean_service, c = 0.25, 10.0, 4
    sc = _queue_scenario(f"referral.sites.0.rate_per_month={lam * MONTH}",
                         "apheresis.duration_days=0", "apheresis.slots=10000",
                         f"manufacturing.duration_days={{dist: exponential, mean: {mean_service}}}",
                         f"manufacturing.suites={c}", "horizon_days=6000")
    res = run_replications(sc, 8, seed=6)
    util = res.table["manufacturing.utilization"]
    se = util.std(ddof=1) / math.sqrt(len(util))
    assert abs(util.mean() - lam * mean_service / c) < 4 * se + 0.005


def _counts(sc, reps: int, until: float) -> np.ndarray:
    return np.array([
        int(np.sum(referral_days(sc, Streams(replication_seed(9, r)))[0] < until))
        for r in range(reps)
    ])


def test_referral_counts_are_poisson():
    """Referrals in [0, t): mean and variance rate x t (a homogeneous Poisson process)."""
    rate_month, t = 2.0, 600.0
    sc = make_scenario(f"referral.sites.0.rate_per_month={rate_month}", "horizon_days=1000")
    n = _counts(sc, 3000, t)
    m = rate_month / MONTH * t
    assert abs(n.mean() - m) < 4 * math.sqrt(m / len(n))
    # variance of the sample variance of a Poisson is about 2 m^2 / n for large m
    assert abs(n.var(ddof=1) - m) < 4 * math.sqrt(2 * m * m / len(n))


def test_referral_counts_with_rate_shape_are_negative_binomial():
    """With a gamma rate of shape k: variance m + m^2 / k (negative binomial)."""
    rate_month, t, k = 2.0, 600.0, 3.0
    sc = make_scenario(f"referral.sites.0.rate_per_month={rate_month}",
                       f"referral.rate_shape={k}", "horizon_days=1000")
    n = _counts(sc, 3000, t)
    m = rate_month / MONTH * t
    var = m + m * m / k
    assert abs(n.mean() - m) < 4 * math.sqrt(var / len(n))
    assert abs(n.var(ddof=1) / var - 1) < 0.12


def test_ramp_up_halves_the_expected_count_over_the_ramp():
    """A linear ramp over R days yields rate x R / 2 referrals during the ramp."""
    sc = make_scenario("referral.sites=[{name: A, rate_per_month: 6, opens_day: 100, "
                       "ramp_up_days: 300}]", "horizon_days=400")
    n = _counts(sc, 2000, 400.0)
    m = 6 / MONTH * 300 / 2
    assert abs(n.mean() - m) < 4 * math.sqrt(m / len(n))
