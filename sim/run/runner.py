"""Replications: one simulated trial per seed, and the forecast summary across them."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.core.model import OUTCOMES, RESOURCES, Trial, run_trial
from sim.core.scenario import DAYS_PER_MONTH, Scenario
from sim.core.streams import replication_seed
from sim.core.version import __version__
from sim.run.executors import ExecutorSpec, parse_executor, run_rows
from sim.run.results import (
    FUNNEL,
    RowTable,
    events_table,
    patients_table,
    resource_timeline,
    summary_row,
)
from sim.run.stats import (
    censored_percentiles,
    day_to_date,
    half_width_ratio,
    mean_ci,
    pooled_quantiles,
    prob_by,
    ratio_ci,
    rounded,
    wilson_interval,
)

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
        """Per-replication scalar rows as a table."""
        return self.table.frame()

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
    spec = executor if isinstance(executor, ExecutorSpec) else parse_executor(executor, workers)
    keep = min(keep_logs, reps)
    kept = []
    for r in range(keep):
        kept.append(simulate(scenario, seed, r))
        if progress is not None:
            progress(1)
    tables = [RowTable.from_rows([k.row for k in kept])] if kept else []
    rest = run_rows(scenario, seed, keep, reps, spec, progress)
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
    rest = run_rows(results.scenario, results.seed, have, reps, spec, progress)
    if rest is None:
        return results
    return Results(
        results.scenario, results.seed, RowTable.concat([results.table, rest]), results.kept
    )


def run_to_precision(
    scenario: Scenario,
    rel: float,
    max_reps: int,
    seed: int = 0,
    keep_logs: int = 0,
    executor: str | ExecutorSpec = "serial",
    progress: Callable[[int], None] | None = None,
    first: int = 50,
) -> tuple[Results, dict[str, Any]]:
    """Add replications until the 95% half-width of the mean time to target is within
    ``rel`` of the mean, or ``max_reps`` are done (the sequential replications method:
    each step aims at n x (half-width / wanted)^2)."""
    spec = executor if isinstance(executor, ExecutorSpec) else parse_executor(executor)
    n = min(first, max_reps)
    results = run_replications(
        scenario, n, seed, keep_logs=keep_logs, progress=progress, executor=spec
    )
    while True:
        ttt = results.table["time_to_target_days"]
        ratio = half_width_ratio(ttt[~np.isnan(ttt)])
        n = results.replications
        if ratio <= rel or n >= max_reps:
            break
        grow = (ratio / rel) ** 2 if math.isfinite(ratio) else 2.0
        wanted = min(max_reps, max(n + 10, math.ceil(n * min(grow, 10.0))))
        results = extend(results, wanted, spec, progress)
    report = {
        "wanted_relative_half_width": rel,
        "relative_half_width": ratio if math.isfinite(ratio) else None,
        "met": bool(ratio <= rel),
        "replications_used": results.replications,
        "max_replications": max_reps,
    }
    return results, rounded(report)


FAN_PERCENTILES = (5, 25, 50, 75, 95)


def fan_chart(scenario: Scenario, table: RowTable) -> pd.DataFrame:
    """Month, date, series (enrolled|infused) and p5/p25/p50/p75/p95 of the cumulative count."""
    import pandas as pd

    frames = []
    months = np.arange(1, table.enrolled_by_month.shape[1] + 1)
    dates = [day_to_date(scenario.start_date, m * DAYS_PER_MONTH) for m in months]
    for series, matrix in (
        ("enrolled", table.enrolled_by_month),
        ("infused", table.infused_by_month),
    ):
        q = np.percentile(matrix, FAN_PERCENTILES, axis=0)
        frame = pd.DataFrame({"month": months, "date": dates, "series": series})
        for k, p in enumerate(FAN_PERCENTILES):
            frame[f"p{p}"] = q[k]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _mean(table: RowTable, key: str) -> float:
    return float(np.mean(table[key]))


def summarize(scenario: Scenario, seed: int, table: RowTable) -> dict[str, Any]:
    """The summary JSON of DESIGN.md section 6 from per-replication rows (a pure function)."""
    sc = scenario
    n = len(table)
    start = sc.start_date
    ttt = table["time_to_target_days"]
    reached = ~np.isnan(ttt)
    pct = censored_percentiles(ttt)
    pcomp = censored_percentiles(ttt + sc.follow_up_days)
    ci = mean_ci(ttt[reached])

    deadline_day = sc.deadline_day
    prob = interval = None
    if deadline_day is not None:
        hits, total = prob_by(ttt, deadline_day)
        prob = hits / total
        interval = wilson_interval(hits, total)

    resources = {}
    for res in RESOURCES:
        granted = table[f"{res}.granted"]
        wait = ratio_ci(table[f"{res}.wait_sum_days"], granted)
        util = mean_ci(table[f"{res}.utilization"])
        queue = mean_ci(table[f"{res}.mean_queue_length"])
        resources[res] = {
            "capacity": int(table[f"{res}.capacity"][0]),
            "utilization": util["mean"],
            "mean_wait_days": wait["ratio"],
            "mean_queue_length": queue["mean"],
            "requests_granted": float(granted.sum()) / n,
            "utilization_ci95": [util["ci_low"], util["ci_high"]],
            "mean_wait_days_ci95": [wait["ci_low"], wait["ci_high"]],
            "mean_queue_length_ci95": [queue["ci_low"], queue["ci_high"]],
        }

    enrolled = float(table["enrolled"].sum())
    infused = float(table["infused"].sum())
    overrun = table["overrun_days"]
    summary = {
        "scenario": sc.name,
        "scenario_digest": sc.digest(),
        "version": __version__,
        "replications": n,
        "seed": seed,
        "start_date": start.isoformat(),
        "target": sc.target.as_dict(),
        "time_to_target_days": {
            "mean": ci["mean"],
            "mean_ci95": [ci["ci_low"], ci["ci_high"]],
            **pct,
            "reached_fraction": float(reached.mean()),
        },
        "target_date": {k: day_to_date(start, v) for k, v in pct.items()},
        "primary_completion_date": {k: day_to_date(start, v) for k, v in pcomp.items()},
        "prob_target_by_deadline": prob,
        "prob_target_by_deadline_ci95": list(interval) if interval else None,
        "funnel": {k: _mean(table, k) for k in FUNNEL},
        "outcomes": {k: _mean(table, f"outcome.{k}") for k in OUTCOMES},
        "share_enrolled_infused": infused / enrolled if enrolled else None,
        "screen_fail_by_criterion": {
            k: _mean(table, f"criterion.{k}") for k in sc.screening.criteria
        },
        "resources": resources,
        "vein_to_vein_days": pooled_quantiles(table.vein_to_vein.astype(float)),
        "overrun": {
            "days_mean": float(np.nanmean(overrun)) if reached.any() else None,
            "beyond_target_mean": _mean(table, "beyond_target"),
        },
        "bed_days": _mean(table, "bed_days"),
        "icu_days": _mean(table, "icu_days"),
        "icu_patients": _mean(table, "icu_patients"),
        "fludarabine_mg": _mean(table, "fludarabine_mg"),
        "cyclophosphamide_mg": _mean(table, "cyclophosphamide_mg"),
        "end_days_mean": _mean(table, "end_days"),
    }
    return rounded(summary)
