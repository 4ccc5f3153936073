"""Replications: one simulated trial per seed, and the forecast summary across them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim import __version__
from sim.executors import run_rows
from sim.model import OUTCOMES, RESOURCES, Trial, run_trial
from sim.results import (
    FUNNEL,
    events_table,
    patients_table,
    resource_timeline,
    summary_row,
)
from sim.scenario import Scenario
from sim.stats import (
    censored_percentiles,
    day_to_date,
    mean_ci,
    pooled_quantiles,
    prob_by,
    rounded,
    wilson_interval,
)


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """Seed of replication ``r``: the same as ``SeedSequence(seed).spawn(n)[r]`` for any n."""
    return np.random.SeedSequence(seed, spawn_key=(replication,))


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
    rows: list[dict[str, Any]]
    kept: list[Replication] = field(default_factory=list)

    @property
    def replications(self) -> int:
        return len(self.rows)

    def frame(self) -> pd.DataFrame:
        """Per-replication rows as a table (vein-to-vein lists left out)."""
        return pd.DataFrame(
            [{k: v for k, v in r.items() if k != "vein_to_vein_days"} for r in self.rows]
        )

    def patients(self) -> pd.DataFrame:
        return pd.concat([r.patients for r in self.kept], ignore_index=True)

    def events(self) -> pd.DataFrame:
        return pd.concat([r.events for r in self.kept], ignore_index=True)

    def timeline(self) -> pd.DataFrame:
        return pd.concat([r.timeline for r in self.kept], ignore_index=True)

    def summary(self) -> dict[str, Any]:
        """The forecast across replications: every key of DESIGN.md section 6, and more."""
        return summarize(self.scenario, self.seed, self.rows)


def run_replications(
    scenario: Scenario,
    reps: int,
    seed: int = 0,
    keep_logs: int = 0,
    progress: Callable[[int], None] | None = None,
    executor: str = "serial",
    workers: int | None = None,
) -> Results:
    """Run ``reps`` independent replications; keep full tables of the first ``keep_logs``.

    Replication ``r`` is seeded by ``SeedSequence(seed).spawn(reps)[r]``, so the rows do not
    depend on the executor (``serial`` or ``process``) or on the number of workers.
    """
    if reps < 1:
        raise ValueError("reps must be at least 1")
    keep = min(keep_logs, reps)
    kept = []
    for r in range(keep):
        kept.append(simulate(scenario, seed, r))
        if progress is not None:
            progress(1)
    rows = [k.row for k in kept]
    rows += run_rows(
        scenario, seed, keep, reps, executor=executor, workers=workers, progress=progress
    )
    return Results(scenario=scenario, seed=seed, rows=rows, kept=kept)


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    return float(np.mean([r[key] for r in rows]))


def summarize(scenario: Scenario, seed: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary JSON of DESIGN.md section 6 from per-replication rows (a pure function)."""
    sc = scenario
    n = len(rows)
    start = sc.start_date
    ttt = np.array([r["time_to_target_days"] for r in rows], dtype=float)
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
        granted = sum(r[f"{res}.granted"] for r in rows)
        wait = sum(r[f"{res}.wait_sum_days"] for r in rows)
        resources[res] = {
            "capacity": int(rows[0][f"{res}.capacity"]),
            "utilization": _mean(rows, f"{res}.utilization"),
            "mean_wait_days": wait / granted if granted else None,
            "mean_queue_length": _mean(rows, f"{res}.mean_queue_length"),
            "requests_granted": granted / n,
        }

    v2v = np.concatenate([np.asarray(r["vein_to_vein_days"], dtype=float) for r in rows])
    enrolled = sum(r["enrolled"] for r in rows)
    infused = sum(r["infused"] for r in rows)
    overrun = np.array([r["overrun_days"] for r in rows], dtype=float)
    summary = {
        "scenario": sc.name,
        "scenario_digest": sc.digest(),
        "version": __version__,
        "replications": n,
        "seed": seed,
        "start_date": start.isoformat(),
        "target": {
            "count": sc.target.count,
            "milestone": sc.target.milestone,
            "deadline": sc.target.deadline.isoformat() if sc.target.deadline else None,
        },
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
        "funnel": {k: _mean(rows, k) for k in FUNNEL},
        "outcomes": {k: _mean(rows, f"outcome.{k}") for k in OUTCOMES},
        "share_enrolled_infused": infused / enrolled if enrolled else None,
        "screen_fail_by_criterion": {
            k: _mean(rows, f"criterion.{k}") for k in sc.screening.criteria
        },
        "resources": resources,
        "vein_to_vein_days": pooled_quantiles(v2v),
        "overrun": {
            "days_mean": float(np.nanmean(overrun)) if reached.any() else None,
            "beyond_target_mean": _mean(rows, "beyond_target"),
        },
        "bed_days": _mean(rows, "bed_days"),
        "icu_days": _mean(rows, "icu_days"),
        "icu_patients": _mean(rows, "icu_patients"),
        "fludarabine_mg": _mean(rows, "fludarabine_mg"),
        "cyclophosphamide_mg": _mean(rows, "cyclophosphamide_mg"),
        "end_days_mean": _mean(rows, "end_days"),
    }
    return rounded(summary)
