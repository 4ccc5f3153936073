"""Paired comparison of scenarios on common random numbers.

Every scenario runs with the same master seed, so replication ``r`` of each meets the same
patients at the same times; differences are taken replication by replication, which gives
far narrower intervals than comparing two independent sets of runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sim.core.errors import InputError
from sim.core.facility import Facility
from sim.core.scenario import Scenario
from sim.core.station import RESOURCES
from sim.run.costs import facility_replication_costs, replication_costs, shared_resources
from sim.run.executors import ExecutorSpec
from sim.run.facility import FACILITY, TableSet, run_facility_replications
from sim.run.results import RowTable
from sim.run.runner import Results, run_replications
from sim.run.stats import paired_difference, rounded, welch_interval

METRICS: dict[str, str] = {
    "time_to_target_days": "days to reach the target (pairs where both reach it)",
    "reached_by_deadline": "share of trials reaching the target by the deadline",
    "infused": "patients infused per trial",
    "deteriorated": "patients lost to deterioration per trial",
    "vein_to_vein_mean_days": "mean vein-to-vein days per trial",
    **{f"{r}_mean_wait_days": f"mean wait for {r} (days)" for r in RESOURCES},
}


def cost_metrics(scenarios: Sequence[Scenario]) -> tuple[dict[str, str], str | None]:
    """The cost figures compared, labelled with their currency, when every scenario has a
    costs block in one currency; otherwise none, and why (None when no scenario has costs)."""
    blocks = [sc.costs for sc in scenarios]
    if all(b is None for b in blocks):
        return {}, None
    missing = [sc.name for sc in scenarios if sc.costs is None]
    if missing:
        return {}, f"costs not compared: no costs block in {', '.join(missing)}"
    unit, note = _unit(blocks, "costs")
    if note:
        return {}, note
    return {
        "cost_per_trial": f"cost per trial{unit}",
        "cost_per_infused": f"cost per infused patient{unit} (pairs with infused in both)",
    }, None


def _unit(blocks: Sequence[Any], what: str) -> tuple[str, str | None]:
    """The currency of costs blocks as a label's suffix (``", CNY"``), or why ``what`` is
    not compared (the currencies differ)."""
    currencies = sorted({b.currency or "no currency" for b in blocks if b is not None})
    if len(currencies) > 1:
        return "", f"{what} not compared: the currencies differ ({', '.join(currencies)})"
    return ("" if currencies[0] == "no currency" else f", {currencies[0]}"), None


def per_replication(results: Results) -> dict[str, np.ndarray]:
    """The compared figures, one value per replication (NaN where undefined); with a costs
    block, the cost per trial and per infused patient too."""
    return figures_by_replication(results.scenario, results.table)


def figures_by_replication(
    scenario: Scenario, t: RowTable, shared: Sequence[str] = ()
) -> dict[str, np.ndarray]:
    """The compared figures of a scenario's rows, one value per replication (NaN where
    undefined); with a costs block, the cost per trial and per infused patient too (in a
    facility, without the availability of the ``shared`` resources, the facility's cost)."""
    ttt = t["time_to_target_days"]
    deadline = scenario.deadline_day
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "time_to_target_days": ttt,
            "reached_by_deadline": (
                (ttt < deadline + 1).astype(float)
                if deadline is not None
                else np.full(len(t), np.nan)
            ),
            "infused": t["infused"],
            "deteriorated": t["outcome.deteriorated"],
            "vein_to_vein_mean_days": t["vein_to_vein_mean_days"],
        }
    return _waits_and_costs(out, t, replication_costs(scenario, t, shared), "cost_per_trial")


def _waits_and_costs(
    out: dict[str, np.ndarray], t: Any, costs: dict[str, np.ndarray], total: str
) -> dict[str, np.ndarray]:
    """``out`` with the mean wait of each resource (NaN where none was granted) and, with
    costs, their ``total`` (under that name) and cost per infused patient."""
    with np.errstate(invalid="ignore", divide="ignore"):
        for r in RESOURCES:
            g = t[f"{r}.granted"]
            out[f"{r}_mean_wait_days"] = np.where(g > 0, t[f"{r}.wait_sum_days"] / g, np.nan)
    if costs:
        out[total] = costs["total"]
        out["cost_per_infused"] = costs["per_infused"]
    return out


def compare(
    scenarios: list[Scenario],
    reps: int,
    seed: int = 0,
    executor: ExecutorSpec | str = "serial",
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Summaries of every scenario and paired differences of each against the first (the
    costs too when every scenario has them, in one currency; else ``costs_note`` says why
    not)."""
    extra, note = cost_metrics(scenarios)
    metrics = {**METRICS, **extra}
    runs = [
        run_replications(sc, reps, seed, executor=executor, progress=progress) for sc in scenarios
    ]
    base = per_replication(runs[0])
    out: dict[str, Any] = {
        "reference": scenarios[0].name,
        "replications": reps,
        "seed": seed,
        "metrics": metrics,
        "summaries": [r.summary() for r in runs],
        "differences": [],
        "costs_note": note,
    }
    for run in runs[1:]:
        diffs = _paired(base, per_replication(run), metrics)
        out["differences"].append(
            {"scenario": run.scenario.name, "minus": scenarios[0].name, "paired": diffs}
        )
    return rounded(out)


FACILITY_METRICS: dict[str, str] = {
    "every_target_by_deadline": "share of runs where every trial meets its deadline",
    "infused": "patients infused per run, all trials",
    **{f"{r}_mean_wait_days": f"mean wait for {r} (days), all trials" for r in RESOURCES},
}


def facility_cost_metrics(facilities: Sequence[Facility]) -> tuple[dict[str, str], str | None]:
    """The facility-level cost figures compared, when every facility has costs (its own
    block or its trials'), all in one currency, and a cost per infused patient (every trial
    priced); otherwise none, and why (None when no facility has costs)."""

    def priced(f: Facility) -> list[Any]:
        return [b for b in (f.spec.costs, *(sc.costs for sc in f.trials)) if b is not None]

    if not any(priced(f) for f in facilities):
        return {}, None
    unpriced = [f.name for f in facilities if any(sc.costs is None for sc in f.trials)]
    if len({f.spec.costs is None for f in facilities}) > 1:
        note = "facility costs not compared: some facilities price their shared units, some not"
        return {}, note
    if unpriced:
        return {}, f"facility costs not compared: a trial without costs in {', '.join(unpriced)}"
    unit, note = _unit([b for f in facilities for b in priced(f)], "facility costs")
    if note:
        return {}, note
    return {
        "cost_per_run": f"facility cost per run{unit} (every trial, shared units once)",
        "cost_per_infused": f"facility cost per infused patient{unit} (pairs with infused in both)",
    }, None


def _facility_figures(facility: Facility, tables: TableSet) -> dict[str, np.ndarray]:
    f = tables[FACILITY]
    out = {"every_target_by_deadline": f["all_by_deadline"], "infused": f["infused"]}
    costs = facility_replication_costs(facility, f, tables.trials())
    return _waits_and_costs(out, f, costs, "cost_per_run")


def _paired(base: dict[str, np.ndarray], other: dict[str, np.ndarray], keys: Any) -> dict:
    diffs = {}
    for key in keys:
        d = paired_difference(base[key], other[key])
        d["unpaired_ci95"] = welch_interval(base[key], other[key])
        diffs[key] = d
    return diffs


def compare_facilities(
    facilities: list[Facility],
    reps: int,
    seed: int = 0,
    executor: ExecutorSpec | str = "serial",
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Summaries of every facility and paired differences of each against the first: for
    the facility as a whole (with its costs when every facility is priced in one currency,
    else ``costs_note`` says why not) and trial by trial (trial ``k`` of each meets the same
    patients, so the facilities must list the same number of trials; a trial's costs leave
    the shared units to the facility)."""
    counts = {len(f.trials) for f in facilities}
    if len(counts) > 1:
        raise InputError(
            "facilities compared trial by trial must list the same number of trials; these "
            f"list {', '.join(str(len(f.trials)) for f in facilities)}",
            field="scenarios",
        )
    runs = [
        run_facility_replications(f, reps, seed, executor=executor, progress=progress)
        for f in facilities
    ]
    ref = facilities[0]
    base = _facility_figures(ref, runs[0].tables)
    base_trials = [
        figures_by_replication(sc, runs[0].tables.trial(k), shared_resources(ref))
        for k, sc in enumerate(ref.trials)
    ]
    extra_facility, facility_note = facility_cost_metrics(facilities)
    facility_metrics = {**FACILITY_METRICS, **extra_facility}
    out: dict[str, Any] = {
        "kind": "facility",
        "reference": ref.name,
        "replications": reps,
        "seed": seed,
        "metrics": METRICS,
        "facility_metrics": facility_metrics,
        "summaries": [r.summary() for r in runs],
        "differences": [],
        "costs_note": facility_note,
    }
    for fac, run in zip(facilities[1:], runs[1:], strict=True):
        trials = []
        for k, sc in enumerate(fac.trials):
            other = figures_by_replication(sc, run.tables.trial(k), shared_resources(fac))
            extra, note = cost_metrics([ref.trials[k], sc])
            trials.append(
                {
                    "label": fac.labels[k],
                    "minus": ref.labels[k],
                    "paired": _paired(base_trials[k], other, {**METRICS, **extra}),
                    "costs_note": note,
                }
            )
        out["differences"].append(
            {
                "scenario": fac.name,
                "minus": ref.name,
                "paired": _paired(base, _facility_figures(fac, run.tables), facility_metrics),
                "trials": trials,
            }
        )
    return rounded(out)
