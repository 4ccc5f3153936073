"""Replications: one simulated trial per seed (:func:`simulate`), many of them
(:func:`run_replications`), and their :class:`Results`."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.core.errors import InputError
from sim.core.model import Trial, run_trial
from sim.core.scenario import Scenario
from sim.core.streams import replication_seed
from sim.run.costs import cost_columns
from sim.run.executors import ExecutorSpec, as_spec
from sim.run.results import (
    RowTable,
    events_table,
    patients_table,
    resource_timeline,
    summary_row,
)
from sim.run.scheduler import run_rows
from sim.run.stats import median_interval, prob_by, rounded, wilson_interval
from sim.run.summary import fan_chart, summarize

if TYPE_CHECKING:  # pandas is imported where tables are built, not for summary-only runs
    import pandas as pd


@dataclass(frozen=True)
class Replication:
    """One simulated trial with its full tables."""

    row: dict[str, Any]
    patients: pd.DataFrame
    events: pd.DataFrame
    timeline: pd.DataFrame
    trial: Trial = field(repr=False)


def simulate(scenario: Scenario, seed: int = 0, replication: int = 0) -> Replication:
    """Replication ``replication`` of ``run_replications(scenario, reps, seed)``, with tables:
    patients (one row a patient), events (replication, patient, time, event, resource) and
    the resource timeline (time, resource, in use, queue length). Times in days."""
    trial = run_trial(scenario, replication_seed(seed, replication), keep_log=True)
    events = events_table(trial, replication)
    return Replication(
        row=summary_row(trial, replication),
        patients=patients_table(trial, replication),
        events=events,
        timeline=resource_timeline(events),
        trial=trial,
    )


@dataclass
class Results:
    """Rows of many replications (and the full tables of the first ``len(kept)``)."""

    scenario: Scenario
    seed: int
    table: RowTable
    kept: list[Replication] = field(default_factory=list)

    @property
    def replications(self) -> int:
        return len(self.table)

    def frame(self) -> pd.DataFrame:
        """Per-replication scalar rows as a table; with a costs block, each replication's
        costs follow (``cost.total``, ``cost.per_infused``, ``cost.<price>``)."""
        frame = self.table.frame()
        for name, values in cost_columns(self.scenario, self.table).items():
            frame[name] = values
        return frame

    def patients(self) -> pd.DataFrame:
        import pandas as pd

        return pd.concat([r.patients for r in self.kept], ignore_index=True)

    def events(self) -> pd.DataFrame:
        import pandas as pd

        return pd.concat([r.events for r in self.kept], ignore_index=True)

    def timeline(self) -> pd.DataFrame:
        import pandas as pd

        return pd.concat([r.timeline for r in self.kept], ignore_index=True)

    def fan(self) -> pd.DataFrame:
        """Percentiles of cumulative enrolled and infused at each month end (fan-chart data)."""
        return fan_chart(self.scenario, self.table)

    def summary(self) -> dict[str, Any]:
        """The forecast across replications: every key of DESIGN.md section 6, and more."""
        return summarize(self.scenario, self.seed, self.table)


def run_replications(
    scenario: Scenario,
    reps: int,
    seed: int = 0,
    keep_logs: int = 0,
    progress: Callable[[int], None] | None = None,
    executor: str | ExecutorSpec = "serial",
    workers: int | None = None,
) -> Results:
    """Run ``reps`` independent replications; keep full tables of the first ``keep_logs``.

    Replication ``r`` is seeded by ``SeedSequence(seed).spawn(reps)[r]``, so the results do
    not depend on the executor (serial, process, dask) or on the number of workers.
    """
    if reps < 1:
        raise ValueError("reps must be at least 1")
    spec = as_spec(executor, workers)
    keep = min(keep_logs, reps)
    kept = []
    for r in range(keep):
        kept.append(simulate(scenario, seed, r))
        if progress is not None:
            progress(1)
    tables = [RowTable.from_rows([k.row for k in kept])] if kept else []
    rest = run_rows(scenario, seed, keep, reps, executor=spec, progress=progress)
    if rest is not None:
        tables.append(rest)
    return Results(scenario=scenario, seed=seed, table=RowTable.concat(tables), kept=kept)


def extend(
    results: Results,
    reps: int,
    spec: ExecutorSpec | None = None,
    progress: Callable[[int], None] | None = None,
) -> Results:
    """``results`` with replications added up to ``reps`` in all (the same as running
    ``reps`` from the start)."""
    have = results.replications
    rest = run_rows(
        results.scenario, results.seed, have, reps, executor=spec or "serial", progress=progress
    )
    if rest is None:
        return results
    return Results(
        results.scenario, results.seed, RowTable.concat([results.table, rest]), results.kept
    )


PRECISION_OF = ("probability", "median")
"""The figures ``run_to_precision`` can aim at: the chance of reaching the target by the
deadline (an absolute half-width, in probability) or the median days to target (a
half-width relative to the median)."""


def precision(scenario: Scenario, table: RowTable, figure: str) -> tuple[float | None, float]:
    """The figure's value and its 95% half-width (absolute for the chance, relative to the
    median for the median; infinite where an end of the interval lies beyond the horizon)."""
    ttt = table["time_to_target_days"]
    if figure == "probability":
        hits, n = prob_by(ttt, scenario.deadline_day)
        lo, hi = wilson_interval(hits, n) or (0.0, 1.0)
        return hits / n, (hi - lo) / 2
    med, lo, hi = median_interval(ttt)
    if med is None or lo is None or hi is None or med == 0:
        return med, math.inf
    return med, (hi - lo) / 2 / med


def run_to_precision(
    scenario: Scenario,
    wanted: float,
    max_reps: int,
    seed: int = 0,
    keep_logs: int = 0,
    executor: str | ExecutorSpec = "serial",
    progress: Callable[[int], None] | None = None,
    first: int = 50,
    figure: str = "probability",
) -> tuple[Results, dict[str, Any]]:
    """Add replications until the 95% half-width of ``figure`` (:data:`PRECISION_OF`) is at
    most ``wanted``, or ``max_reps`` are done (the sequential replications method: each step
    aims at n x (half-width / wanted)^2). Returns the results and what was reached."""
    if figure not in PRECISION_OF:
        raise ValueError(f"figure must be one of {PRECISION_OF}")
    if figure == "probability" and scenario.deadline_day is None:
        raise InputError(
            "aims at the chance of reaching the target by the deadline, and the scenario has "
            "no deadline; set target.deadline or use --precision-of median",
            field="--precision-of",
            value=figure,
            has_value=True,
        )
    spec = as_spec(executor)
    n = min(first, max_reps)
    results = run_replications(
        scenario, n, seed, keep_logs=keep_logs, progress=progress, executor=spec
    )
    while True:
        value, half = precision(scenario, results.table, figure)
        n = results.replications
        if half <= wanted or n >= max_reps:
            break
        grow = (half / wanted) ** 2 if math.isfinite(half) else 2.0
        target = min(max_reps, max(n + 10, math.ceil(n * min(grow, 10.0))))
        results = extend(results, target, spec, progress)
    report = {
        "figure": figure,
        "relative": figure == "median",
        "value": value,
        "wanted_half_width": wanted,
        "half_width": half if math.isfinite(half) else None,
        "met": bool(half <= wanted),
        "replications_used": results.replications,
        "max_replications": max_reps,
    }
    return results, rounded(report)
