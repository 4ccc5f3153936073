"""Backtest of the forecast: simulate a known trial, cut its log at a date, forecast, and
count how often the forecast's 80% interval holds the truth."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from sim.core.errors import InputError
from sim.core.scenario import Scenario
from sim.forecasting.forecast import plan
from sim.forecasting.observed import log_from_patients, parse_log
from sim.forecasting.posterior import Priors
from sim.run.executors import ExecutorSpec
from sim.run.runner import Results, simulate
from sim.run.scheduler import Scheduler
from sim.run.stats import rounded, wilson_interval

TRUTH_SEED_OFFSET = 1_000_000
"""Truth trials use seeds from here, so they never share streams with the forecasts."""
BATCH = 32
"""Truths whose forecasts are in flight together (bounds memory for many truths)."""


def _bound(x: float | None) -> float:
    return math.inf if x is None else x


def _truth(
    scenario: Scenario, truth_scenario: Scenario, as_of: dt.date, seed: int, k: int, priors: Priors
) -> dict[str, Any]:
    """Truth ``k`` (a trial of ``truth_scenario``): its time to target and, unless reached
    by the as-of date, the plan of the forecast ``scenario`` makes from its log cut at that
    date."""
    truth = simulate(truth_scenario, TRUTH_SEED_OFFSET + seed, replication=k)
    t_true = truth.row["time_to_target_days"]
    t_true = math.inf if math.isnan(t_true) else t_true
    cut = float((as_of - scenario.start_date).days) + 1.0
    if t_true < cut:  # reached before the as-of date: nothing left to forecast
        return {"trial": k, "already_reached": True}
    text = log_from_patients(truth.patients, scenario, as_of)
    log = parse_log(text, scenario, as_of, source=f"<truth {k}>")
    return {
        "trial": k,
        "already_reached": False,
        "truth": t_true,
        "plan": plan(scenario, log, priors),
    }


def _same_trial(scenario: Scenario, truth: Scenario) -> None:
    """The truth must be a trial the forecast can read: the same start and sites."""
    names = [s.name for s in scenario.referral.sites]
    if truth.start_date != scenario.start_date or [s.name for s in truth.referral.sites] != names:
        raise InputError(
            "the truth must start on the same date and have the same referring sites as the "
            "scenario it tests",
            field="--truth-set",
        )


def _judge(case: dict[str, Any], updated: Results) -> dict[str, Any]:
    t = updated.summary()["time_to_target_days"]
    lo, hi = _bound(t["p10"]), _bound(t["p90"])
    t_true = case["truth"]
    return {
        "trial": case["trial"],
        "already_reached": False,
        "truth": t_true,
        "p10": t["p10"],
        "p90": t["p90"],
        "covered": lo <= t_true <= hi,
        "below": t_true < lo,
        "above": t_true > hi,
    }


def backtest(
    scenario: Scenario,
    as_of: dt.date,
    trials: int,
    reps: int,
    seed: int = 0,
    executor: ExecutorSpec | str = "serial",
    progress: Callable[[int], None] | None = None,
    truth: Scenario | None = None,
    priors: Priors | None = None,
) -> dict[str, Any]:
    """Coverage of the forecast's p10-p90 interval of the time to target over ``trials``
    truths (a truth that never reaches the target lies beyond the horizon, as does an
    interval bound that is None). The truths are trials of ``truth`` (default: the forecast's
    own ``scenario``; another model measures how the forecast fares when it is wrong). Truth
    ``k`` is forecast with seed ``seed + k``; the forecasts of a batch of truths run
    together on one scheduler."""
    truth, priors = truth or scenario, priors or Priors()
    _same_trial(scenario, truth)
    cases: list[dict[str, Any]] = []
    with Scheduler(executor) as scheduler:
        for start in range(0, trials, BATCH):
            ks = range(start, min(start + BATCH, trials))
            batch = [_truth(scenario, truth, as_of, seed, k, priors) for k in ks]
            todo = [c for c in batch if not c["already_reached"]]
            jobs = [c["plan"].job(reps, seed + c["trial"]) for c in todo]
            judged = {
                c["trial"]: _judge(c, Results(c["plan"].scenario, seed + c["trial"], table))
                for c, table in zip(todo, scheduler.run(jobs), strict=True)
            }
            for c in batch:
                cases.append(judged.get(c["trial"], c))
                if progress:
                    progress(1)
    judged_cases = [c for c in cases if not c["already_reached"]]
    covered = sum(c["covered"] for c in judged_cases)
    n = len(judged_cases)
    interval = wilson_interval(covered, n) if n else None
    return rounded(
        {
            "scenario": scenario.name,
            "truth": truth.name,
            "as_of": as_of.isoformat(),
            "trials": trials,
            "judged": n,
            "already_reached": trials - n,
            "forecast_replications": reps,
            "nominal": 0.8,
            "coverage": covered / n if n else None,
            "coverage_ci95": list(interval) if interval else None,
            "truth_below_p10": sum(c["below"] for c in judged_cases),
            "truth_above_p90": sum(c["above"] for c in judged_cases),
            "cases": cases,
        }
    )
