"""Replications of a facility (several trials sharing resources on one clock): each trial's
rows, the facility's own row, and their summaries.

Each trial's rows are those of a trial alone (:func:`sim.run.results.summary_row`), so each
trial's summary is :func:`sim.run.summary.summarize` of them. The facility's row adds up the
trials' use of each resource: busy unit-days over the unit-days in force, waits of granted
requests, time-weighted queues; and whether every trial reached its target, and when.
With prices (the facility's costs block or a trial's), the summary's ``costs`` are the
facility's: the shared units' availability at the facility's prices plus every trial's
costs, each trial's without the shared availability (:mod:`sim.run.costs`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from sim.core.facility import Facility, FacilityRun, run_facility
from sim.core.station import RESOURCES, unit_days, units_at
from sim.core.streams import replication_seed
from sim.core.version import __version__
from sim.run.costs import facility_cost_summary, shared_resources
from sim.run.executors import ExecutorSpec
from sim.run.results import RowTable, RowTableBuilder, summary_row
from sim.run.scheduler import Job, Scheduler
from sim.run.stats import (
    censored_percentiles,
    rounded,
    wilson_interval,
)
from sim.run.summary import resource_figures, summarize

FACILITY = "facility"
"""The name of the facility's own table in a :class:`TableSet`."""
RESOURCE_KEYS = (
    "capacity",
    "schedule",
    "utilization",
    "utilization_ci95",
    "mean_wait_days",
    "mean_wait_days_ci95",
    "mean_queue_length",
    "mean_queue_length_ci95",
    "requests_granted",
)
"""The order of a resource's figures in the facility's summary (each mean beside its 95%
interval)."""


class TableSet:
    """The rows of a facility's replications: one :class:`RowTable` a trial (``trial0``,
    ``trial1``, ...) and the facility's own (:data:`FACILITY`)."""

    def __init__(self, tables: dict[str, RowTable]) -> None:
        self.tables = tables

    def __len__(self) -> int:
        return len(self.tables[FACILITY])

    def __getitem__(self, name: str) -> RowTable:
        return self.tables[name]

    def trial(self, k: int) -> RowTable:
        return self.tables[f"trial{k}"]

    def trials(self) -> list[RowTable]:
        """Every trial's rows, in the facility's order."""
        return [self.trial(k) for k in range(len(self.tables) - 1)]

    @staticmethod
    def builder(total: int) -> TableSetBuilder:
        return TableSetBuilder(total)

    @classmethod
    def concat(cls, sets: list[TableSet]) -> TableSet:
        """The replications of several sets, in order."""
        return cls(
            {name: RowTable.concat([s.tables[name] for s in sets]) for name in sets[0].tables}
        )


class TableSetBuilder:
    """Fills a :class:`TableSet` of ``total`` replications from blocks as they arrive."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.filled = 0
        self._parts: dict[str, RowTableBuilder] = {}

    def add(self, part: TableSet) -> None:
        for name, table in part.tables.items():
            self._parts.setdefault(name, RowTableBuilder(self.total)).add(table)
        self.filled += len(part)

    def table(self) -> TableSet:
        return TableSet({name: b.table() for name, b in self._parts.items()})


# --- one replication -----------------------------------------------------------------------


def facility_row(facility: Facility, run: FacilityRun, replication: int) -> dict[str, Any]:
    """The facility's figures of one replication (days; counts)."""
    end = run.end
    row: dict[str, Any] = {"replication": replication, "end_days": end}
    for res in RESOURCES:
        stations = [t.stations[RESOURCES.index(res)] for t in run.trials]
        schedule = facility.schedule(res)
        if schedule is not None:  # shared: the facility's units over its whole window
            available = unit_days(schedule, 0.0, end)
            capacity = units_at(schedule, 0.0)
        else:  # each trial's own units over its own window
            available = sum(unit_days(s.schedule, t.start, t.end) for s, t in
                            zip(stations, run.trials, strict=True))  # fmt: skip
            capacity = sum(units_at(s.schedule, 0.0) for s in stations)
        busy = sum(s.busy_area for s in stations)
        queue = sum(s.queue_area for s in stations)
        row[f"{res}.capacity"] = capacity
        row[f"{res}.unit_days"] = available
        row[f"{res}.busy_days"] = busy
        row[f"{res}.utilization"] = busy / available if available > 0 else 0.0
        row[f"{res}.queue_days"] = queue
        row[f"{res}.mean_queue_length"] = queue / end if end > 0 else 0.0
        row[f"{res}.wait_sum_days"] = sum(s.wait_sum for s in stations)
        row[f"{res}.granted"] = sum(s.n_granted for s in stations)
    times = [t.time_to_target for t in run.trials]
    row["all_targets_days"] = max(times) if not any(map(math.isnan, times)) else math.nan
    row["all_by_deadline"] = float(
        all(
            not math.isnan(t.time_to_target)
            and (t.scenario.deadline_day is None or t.time_to_target <= t.scenario.deadline_day)
            for t in run.trials
        )
    )
    rows = [summary_row(t, replication) for t in run.trials]
    for key in ("referred", "enrolled", "infused", "lost_while_waiting"):
        row[key] = sum(r[key] for r in rows)
    row["vein_to_vein_days"] = np.concatenate([r["vein_to_vein_days"] for r in rows])
    for key in ("enrolled_by_month", "infused_by_month"):
        row[key] = np.sum([r[key] for r in rows], axis=0).astype(np.int32)
    row["_trials"] = rows
    return row


def facility_block(facility: Facility, seed: int, start: int, stop: int) -> TableSet:
    """Rows of replications ``start`` to ``stop - 1`` of a facility (run in a worker)."""
    facility_rows, trial_rows = [], [[] for _ in facility.trials]
    for r in range(start, stop):
        run = run_facility(facility, replication_seed(seed, r), keep_log=False)
        row = facility_row(facility, run, r)
        for k, trial in enumerate(row.pop("_trials")):
            trial_rows[k].append(trial)
        facility_rows.append(row)
    tables = {f"trial{k}": RowTable.from_rows(rows) for k, rows in enumerate(trial_rows)}
    tables[FACILITY] = RowTable.from_rows(facility_rows)
    return TableSet(tables)


def facility_job(facility: Facility, reps: int, seed: int, start: int = 0) -> Job:
    """The replications ``start`` to ``reps - 1`` of a facility, for the scheduler."""
    return Job(partial(facility_block, facility, seed), start, reps)


# --- many replications ---------------------------------------------------------------------


@dataclass
class FacilityResults:
    """The rows of a facility's replications, with its summary."""

    facility: Facility
    seed: int
    tables: TableSet

    def summary(self) -> dict[str, Any]:
        return summarize_facility(self.facility, self.seed, self.tables)


def run_facility_replications(
    facility: Facility,
    reps: int,
    seed: int = 0,
    *,
    executor: str | ExecutorSpec = "serial",
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> FacilityResults:
    """``reps`` replications of a facility (replication ``r`` seeded as a trial alone's)."""
    if reps < 1:
        raise ValueError("reps must be at least 1")
    with Scheduler(executor, workers, progress) as pool:
        tables = pool.rows(facility_job(facility, reps, seed))
    assert tables is not None
    return FacilityResults(facility, seed, tables)


def summarize_facility(facility: Facility, seed: int, tables: TableSet) -> dict[str, Any]:
    """The facility's summary: each trial's whole summary, and the facility's resources
    and targets (a pure function of the rows)."""
    fac = tables[FACILITY]
    n = len(fac)
    resources = {}
    for res in RESOURCES:
        schedule = facility.schedule(res)
        figures = resource_figures(
            fac, res, [list(step) for step in schedule] if schedule else None
        )
        resources[res] = {"shared": schedule is not None} | {k: figures[k] for k in RESOURCE_KEYS}
    hits = int(fac["all_by_deadline"].sum())
    every = censored_percentiles(fac["all_targets_days"])
    shared = shared_resources(facility)
    trials = []
    for k, (scenario, entry) in enumerate(zip(facility.trials, facility.spec.trials, strict=True)):
        trials.append(
            {
                "label": facility.labels[k],
                "file": entry.file,
                "opens_day": entry.opens_day,
                "priority": entry.priority,
                "summary": summarize(scenario, seed, tables.trial(k), shared),
            }
        )
    costs = facility_cost_summary(facility, fac, tables.trials())
    return rounded(
        {
            "facility": facility.name,
            "facility_digest": facility.digest(),
            "version": __version__,
            "replications": n,
            "seed": seed,
            "start_date": facility.start_date.isoformat(),
            "horizon_days": facility.horizon_days,
            "resources": resources,
            "every_target": {
                "prob_all_by_deadline": hits / n,
                "prob_all_by_deadline_ci95": list(wilson_interval(hits, n) or (None, None)),
                "days_until_all_reached": every,
                "reached_fraction": float(np.mean(~np.isnan(fac["all_targets_days"]))),
            },
            "patients_per_trial": {
                key: float(np.mean(fac[key]))
                for key in ("referred", "enrolled", "infused", "lost_while_waiting")
            },
            "trials": trials,
            **({"costs": costs} if costs is not None else {}),
        }
    )
