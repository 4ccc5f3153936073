"""The summary across replications (DESIGN.md section 6) and the fan chart's data: pure
functions of the per-replication rows."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.core.patient import outcomes_of
from sim.core.scenario import DAYS_PER_MONTH, Scenario
from sim.core.station import RESOURCES
from sim.core.version import __version__
from sim.run.costs import cost_summary
from sim.run.results import FUNNEL, RowTable
from sim.run.stats import (
    censored_percentiles,
    day_to_date,
    mean_ci,
    pooled_quantiles,
    prob_by,
    ratio_ci,
    rounded,
    wilson_interval,
)

if TYPE_CHECKING:  # pandas is imported where tables are built, not for summary-only runs
    import pandas as pd


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


def resource_figures(
    table: RowTable, res: str, schedule: list[list[float]] | None
) -> dict[str, Any]:
    """One resource's figures from per-replication rows: its units at the start and
    ``schedule`` (as given), the mean utilisation, the mean wait of granted requests (days),
    the mean queue length, the granted requests per replication, and the 95% intervals of
    the three means."""
    granted = table[f"{res}.granted"]
    wait = ratio_ci(table[f"{res}.wait_sum_days"], granted)
    util = mean_ci(table[f"{res}.utilization"])
    queue = mean_ci(table[f"{res}.mean_queue_length"])
    return {
        "capacity": int(table[f"{res}.capacity"][0]),
        "schedule": schedule,
        "utilization": util["mean"],
        "mean_wait_days": wait["ratio"],
        "mean_queue_length": queue["mean"],
        "requests_granted": float(granted.sum()) / len(table),
        "utilization_ci95": [util["ci_low"], util["ci_high"]],
        "mean_wait_days_ci95": [wait["ci_low"], wait["ci_high"]],
        "mean_queue_length_ci95": [queue["ci_low"], queue["ci_high"]],
    }


def summarize(
    scenario: Scenario, seed: int, table: RowTable, shared: Collection[str] = ()
) -> dict[str, Any]:
    """The summary JSON of DESIGN.md section 6 from per-replication rows (a pure function);
    ``shared``: in a facility, the resources it shares, whose availability its costs leave
    to the facility (:func:`sim.run.costs.cost_summary`)."""
    sc = scenario
    n = len(table)
    start = sc.start_date
    ttt = table["time_to_target_days"]
    reached = ~np.isnan(ttt)
    pct = censored_percentiles(ttt)
    pcomp = censored_percentiles(ttt + sc.follow_up_days)
    ci = mean_ci(ttt[reached])
    all_reached = bool(reached.all())

    deadline_day = sc.deadline_day
    prob = interval = None
    if deadline_day is not None:
        hits, total = prob_by(ttt, deadline_day)
        prob = hits / total
        interval = wilson_interval(hits, total)

    resources = {
        res: resource_figures(table, res, [list(step) for step in sc.capacity_schedule(res)])
        for res in RESOURCES
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
            # the mean over every trial exists only when every trial reaches the target
            "mean": ci["mean"] if all_reached else None,
            "mean_ci95": [ci["ci_low"], ci["ci_high"]] if all_reached else [None, None],
            **pct,
            "reached_fraction": float(reached.mean()),
            "mean_if_reached": ci["mean"],
            "mean_if_reached_ci95": [ci["ci_low"], ci["ci_high"]],
        },
        "target_date": {k: day_to_date(start, v) for k, v in pct.items()},
        "primary_completion_date": {k: day_to_date(start, v) for k, v in pcomp.items()},
        "prob_target_by_deadline": prob,
        "prob_target_by_deadline_ci95": list(interval) if interval else None,
        "funnel": {k: _mean(table, k) for k in FUNNEL},
        "outcomes": {k: _mean(table, f"outcome.{k}") for k in outcomes_of(sc.phase1 is not None)},
        "in_hospital": _mean(table, "in_hospital"),
        "share_enrolled_infused": infused / enrolled if enrolled else None,
        "screen_fail_by_criterion": {
            k: _mean(table, f"criterion.{k}") for k in sc.screening.criteria
        },
        "resources": resources,
        "vein_to_vein_days": pooled_quantiles(table.vein_to_vein.astype(float)),
        "overrun": {
            "days_mean_if_reached": float(np.nanmean(overrun)) if reached.any() else None,
            "beyond_target_mean": _mean(table, "beyond_target"),
        },
        "bed_days": _mean(table, "bed_days"),
        "icu_days": _mean(table, "icu_days"),
        "icu_patients": _mean(table, "icu_patients"),
        "fludarabine_mg": _mean(table, "fludarabine_mg"),
        "cyclophosphamide_mg": _mean(table, "cyclophosphamide_mg"),
        "end_days_mean": _mean(table, "end_days"),
    }
    if sc.phase1 is not None:
        summary["phase1"] = phase1_summary(sc, table)
    if sc.costs is not None:
        summary["costs"] = cost_summary(sc, table, shared)
    return rounded(summary)


def phase1_summary(scenario: Scenario, table: RowTable) -> dict[str, Any]:
    """The dose-finding phase across replications: mean patients infused in it, cohorts
    decided and DLTs per trial; the chance that it stopped the trial for toxicity (Wilson
    95% interval); the share of trials recommending each level (1-based; ``none``: stopped,
    ``unfinished``: phase 1 not over when the trial ended); and the days from its first
    infusion to its end, censored percentiles (a trial whose phase 1 never ended counts as
    beyond)."""
    n = len(table)
    stopped = int(table["phase1.stopped"].sum())
    level = table["phase1.recommended_level"]
    levels = scenario.phase1.dose_levels
    shares = {"none": float(np.mean(level == -1))}
    for k in range(len(levels)):
        shares[str(k + 1)] = float(np.mean(level == k))
    shares["unfinished"] = float(np.mean(np.isnan(level)))
    return {
        "patients_mean": _mean(table, "phase1.patients"),
        "cohorts_mean": _mean(table, "phase1.cohorts"),
        "dlts_mean": _mean(table, "phase1.dlts"),
        "prob_stopped_for_toxicity": stopped / n,
        "prob_stopped_for_toxicity_ci95": list(wilson_interval(stopped, n)),
        "recommended_level": shares,
        "dose_levels_per_kg": [lv.dose_per_kg for lv in levels],
        "days_first_infusion_to_end": censored_percentiles(table["phase1.days"]),
        "finished_fraction": float(np.mean(~np.isnan(level))),
    }
