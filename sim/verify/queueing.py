"""Queueing theory: M/M/1, M/M/c (Erlang C) and M/D/1 (Pollaczek-Khinchine) stations, each
the model with every other stage switched off."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.core.scenario import DAYS_PER_MONTH
from sim.run.runner import run_replications
from sim.verify.records import CheckGroup, CheckResult, VerifyConfig, within_se
from sim.verify.scenarios import neutral


def _days(horizon: float) -> str:
    """``horizon 4,000 days``: a horizon for the method note."""
    return f"horizon {horizon:,.0f} days"


def _rate_per_month(per_day: float) -> float:
    """Referrals per month from referrals per day."""
    return per_day * DAYS_PER_MONTH


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c (Erlang C), in the time unit of ``lam`` and ``mu``."""
    a = lam / mu
    rho = a / c
    if rho >= 1:
        return math.inf
    terms = sum(a**k / math.factorial(k) for k in range(c))
    last = a**c / (math.factorial(c) * (1 - rho))
    return last / (terms + last) / (c * mu - lam)


def pk_wait(lam: float, mean_s: float, var_s: float) -> float:
    """Pollaczek-Khinchine mean wait in queue of M/G/1: lam E[S^2] / (2 (1 - rho))."""
    rho = lam * mean_s
    return math.inf if rho >= 1 else lam * (var_s + mean_s**2) / (2 * (1 - rho))


def _queue_rows(
    key: str,
    res: str,
    table: Any,
    lam: float,
    wq: float,
    util: float,
    label: str,
) -> list[CheckResult]:
    """Mean wait, time-weighted queue length and utilisation of ``res`` against theory."""
    reps = len(table)
    waits = table[f"{res}.wait_sum_days"] / table[f"{res}.granted"]
    queue = table[f"{res}.mean_queue_length"]
    used = table[f"{res}.utilization"]

    def se(x: np.ndarray) -> float:
        return float(np.std(x, ddof=1) / math.sqrt(reps))

    return [
        within_se(
            f"{key}_wait",
            f"{label}: mean wait for {res} over granted requests = Wq",
            float(waits.mean()),
            wq,
            se(waits),
            unit="days",
        ),
        within_se(
            f"{key}_queue_length",
            f"{label}: time-weighted mean queue length = Lq = lambda Wq",
            float(queue.mean()),
            lam * wq,
            se(queue),
        ),
        within_se(
            f"{key}_utilisation",
            f"{label}: time-weighted utilisation = rho = lambda E[S] / c",
            float(used.mean()),
            util,
            se(used),
        ),
    ]


def check_queueing(cfg: VerifyConfig) -> CheckGroup:
    """M/M/1 at apheresis, M/M/c (Erlang C) and M/D/1 (Pollaczek-Khinchine) at manufacturing."""
    rows: list[CheckResult] = []
    reps, seed = cfg.queue_reps, cfg.seed

    def with_rate(lam: float) -> dict[str, Any]:
        return {"sites": [{"name": "A", "rate_per_month": _rate_per_month(lam)}]}

    # M/M/1: the apheresis stage alone: one slot, exponential collection, nothing else.
    lam, mean_s = 0.5, 1.0
    sc = neutral(
        horizon_days=cfg.mm1_horizon_days,
        referral=with_rate(lam),
        apheresis={"slots": 1, "duration_days": {"dist": "exponential", "mean": mean_s}},
    )
    res = run_replications(sc, reps, seed)
    rho = lam * mean_s
    rows += _queue_rows("mm1", "apheresis", res.table, lam, rho * mean_s / (1 - rho), rho, "M/M/1")

    # M/M/c: the manufacturing stage alone: c suites, exponential batches.
    lam, mean_s, c = 0.2, 10.0, 3
    sc = neutral(
        horizon_days=cfg.mmc_horizon_days,
        referral=with_rate(lam),
        manufacturing={"suites": c, "duration_days": {"dist": "exponential", "mean": mean_s}},
    )
    res = run_replications(sc, reps, seed)
    wq = erlang_c_wait(lam, 1 / mean_s, c)
    rows += _queue_rows("mmc", "manufacturing", res.table, lam, wq, lam * mean_s / c, "M/M/3")

    # M/D/1: one suite, a fixed manufacturing time.
    lam, d = 0.1, 5.0
    sc = neutral(
        horizon_days=cfg.md1_horizon_days,
        referral=with_rate(lam),
        manufacturing={"suites": 1, "duration_days": d},
    )
    res = run_replications(sc, reps, seed)
    rows += _queue_rows(
        "md1", "manufacturing", res.table, lam, pk_wait(lam, d, 0.0), lam * d, "M/D/1"
    )

    method = (
        "Each queue is the model with every other stage switched off: instant screening, "
        "no consent declines, criteria, deterioration or failures, zero durations and "
        "10,000 units at the other stages, so Poisson referrals arrive unchanged at the stage "
        "under test. M/M/1: apheresis, lambda = 0.5/day, exponential collection of mean 1 day, "
        f"1 slot (rho = 0.5), {_days(cfg.mm1_horizon_days)}. M/M/3: manufacturing, "
        "lambda = 0.2/day, exponential batches of mean 10 days, 3 suites (rho = 0.67; Erlang C), "
        f"{_days(cfg.mmc_horizon_days)}. M/D/1: manufacturing, lambda = 0.1/day, fixed 5-day "
        "batches, 1 suite (rho = 0.5; Pollaczek-Khinchine Wq = lambda D^2 / (2 (1 - rho))), "
        f"{_days(cfg.md1_horizon_days)}. {reps} replications each (seed {seed}); the "
        "simulated value is the mean of the replications' values (waits per replication are "
        "over its granted requests; queue length and utilisation are time-weighted over the "
        "replication, as in the summary JSON) and SE is their standard deviation / "
        "sqrt(replications). Each replication starts empty; that bias is of the order of the "
        "relaxation time (tens of days) over the horizon, well inside the tolerance."
    )
    return CheckGroup("queueing", "Queueing theory", method, tuple(rows))
