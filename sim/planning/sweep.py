"""Capacity sweeps: the main figures at every point of a grid of scenario values.

Every point runs with the same master seed, so replication ``r`` of each point meets the same
patients at the same times (common random numbers): differences between points are caused by
the values swept, not by chance.

The points run on one :class:`sim.run.scheduler.Scheduler`; the figures of a point are a
pure function of its per-replication rows (:func:`point_figures`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from sim.core.errors import InputError
from sim.core.facility import Facility
from sim.core.scenario import Scenario
from sim.core.station import RESOURCES
from sim.planning.grid import grid_points, point_scenario, yaml_scalar
from sim.run.executors import ExecutorSpec
from sim.run.facility import FACILITY, TableSet, facility_job
from sim.run.results import RowTable
from sim.run.scheduler import Progress, Scheduler
from sim.run.stats import censored_percentiles, prob_by, rounded, wilson_interval

if TYPE_CHECKING:
    import pandas as pd


# --- the figures of one point ------------------------------------------------------------------


def point_figures(scenario: Scenario, table: RowTable) -> dict[str, Any]:
    """The main figures of one scenario from its per-replication rows (a pure function).

    The same definitions as the ``run`` summary: the probability of reaching the target by
    the deadline with its Wilson 95% interval (None without a deadline), censored percentiles
    of the days to target (None where they fall beyond the horizon), means per replication,
    the pooled mean vein-to-vein days, and per resource the mean utilisation and the mean
    wait over all granted requests.
    """
    ttt = table["time_to_target_days"]
    hits = None
    if scenario.deadline_day is not None:
        hits, _ = prob_by(ttt, scenario.deadline_day)
    return _figures(table, ttt, hits, float(np.mean(table["outcome.deteriorated"])))


def facility_figures(facility: Facility, tables: TableSet) -> dict[str, Any]:
    """The main figures of a facility from its rows (a pure function): the sweep's figures
    for the facility as a whole (the chance that every trial reaches its target by its
    deadline, the days until every target is reached, patients of all trials, each
    resource's utilisation and mean wait) and, under ``trials``, each trial's
    :func:`point_figures`."""
    fac = tables[FACILITY]
    each = [point_figures(sc, tables.trial(k)) for k, sc in enumerate(facility.trials)]
    deteriorated = float(sum(f["deteriorated_mean"] for f in each))
    out = _figures(fac, fac["all_targets_days"], int(fac["all_by_deadline"].sum()), deteriorated)
    out["trials"] = [{"label": label, **f} for label, f in zip(facility.labels, each, strict=True)]
    return out


def _figures(
    table: RowTable, days: np.ndarray, hits: int | None, deteriorated_mean: float
) -> dict[str, Any]:
    """The figures of :func:`point_figures` from the rows ``table``, the days to target of
    each replication (``days``, NaN where not reached), the replications that reached it by
    the deadline (``hits``; None without a deadline) and the mean deteriorated patients."""
    n = len(table)
    prob = low = high = None
    if hits is not None:
        prob = hits / n
        low, high = wilson_interval(hits, n) or (None, None)
    pct = censored_percentiles(days)
    v2v = table.vein_to_vein.astype(float)
    out: dict[str, Any] = {
        "prob_target_by_deadline": prob,
        "prob_ci95_low": low,
        "prob_ci95_high": high,
        "reached_by_deadline": hits,
        "replications": n,
        "time_to_target_p10_days": pct["p10"],
        "time_to_target_p50_days": pct["p50"],
        "time_to_target_p90_days": pct["p90"],
        "reached_fraction": float(np.mean(~np.isnan(days))),
        "infused_mean": float(np.mean(table["infused"])),
        "deteriorated_mean": deteriorated_mean,
        "vein_to_vein_mean_days": float(v2v.mean()) if v2v.size else None,
    }
    for res in RESOURCES:
        granted = float(table[f"{res}.granted"].sum())
        wait = float(table[f"{res}.wait_sum_days"].sum())
        out[f"{res}_capacity"] = int(table[f"{res}.capacity"][0])
        out[f"{res}_utilization"] = float(np.mean(table[f"{res}.utilization"]))
        out[f"{res}_mean_wait_days"] = wait / granted if granted else None
    return out


# --- the sweep ---------------------------------------------------------------------------------


def sweep(
    scenario: Scenario | Facility,
    grid: dict[str, list[Any]],
    reps: int,
    seed: int = 1,
    executor: str | ExecutorSpec = "serial",
    workers: int | None = None,
    progress: Progress = None,
) -> dict[str, Any]:
    """The main figures at every grid point, all on the same seed (common random numbers).

    Returns plain data: the scenario name, replications, seed, target, the grid, and
    ``points``: one dict a point with ``set`` (the point's values) and the figures of
    :func:`point_figures`. A facility's grid keys are those of its file
    (``resources.manufacturing``, ``trials.1.opens_day``); its points carry
    :func:`facility_figures`.
    """
    if not grid:
        raise InputError("give at least one --grid axis, e.g. manufacturing.suites=1,2,3")
    points = grid_points(grid)
    if isinstance(scenario, Facility):
        return _sweep_facility(scenario, grid, points, reps, seed, executor, workers, progress)
    scenarios = [point_scenario(scenario, p) for p in points]  # all validated before running
    rows = []
    with Scheduler(executor, workers, progress) as scheduler:
        for point, sc, table in zip(
            points, scenarios, scheduler.tables(scenarios, reps, seed), strict=True
        ):
            rows.append({"set": point, **point_figures(sc, table)})
    return rounded(
        {
            "scenario": scenario.name,
            "replications": reps,
            "seed": seed,
            "target": scenario.target.as_dict(),
            "grid": grid,
            "points": rows,
        }
    )


def _sweep_facility(
    facility: Facility,
    grid: dict[str, list[Any]],
    points: list[dict[str, Any]],
    reps: int,
    seed: int,
    executor: str | ExecutorSpec,
    workers: int | None,
    progress: Progress,
) -> dict[str, Any]:
    variants = [  # all validated before running
        facility.with_overrides([f"{k}={yaml_scalar(v)}" for k, v in p.items()], "--grid")
        for p in points
    ]
    rows = []
    with Scheduler(executor, workers, progress) as scheduler:
        jobs = [facility_job(f, reps, seed) for f in variants]
        for point, f, tables in zip(points, variants, scheduler.run(jobs), strict=True):
            rows.append({"set": point, **facility_figures(f, tables)})
    return rounded(
        {
            "scenario": facility.name,
            "kind": "facility",
            "trials": list(facility.labels),
            "replications": reps,
            "seed": seed,
            "target": None,
            "grid": grid,
            "points": rows,
        }
    )


def sweep_frame(result: dict[str, Any]) -> pd.DataFrame:
    """One row a grid point: the swept keys, then the figures."""
    import pandas as pd

    keys = list(result["grid"])
    records = []
    for p in result["points"]:
        record = {**{k: p["set"][k] for k in keys}}
        record.update({k: v for k, v in p.items() if k not in ("set", "trials")})
        for k, t in enumerate(p.get("trials", []), start=1):  # a facility: each trial's
            record.update({f"trial{k}_{name}": v for name, v in t.items() if name != "label"})
        records.append(record)
    return pd.DataFrame.from_records(records)
