"""Two runs side by side, figure by figure, so that the difference subtracts: the means of
both runs and their difference are over the same replications (the pairs where both
figures exist, on common random numbers when the seeds match), chances in percent, times
in days (shared by the dashboard's Compare tab and the report)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.planning.compare import cost_metrics, per_replication
from sim.report.text import interval
from sim.run.runner import Results
from sim.run.stats import paired_difference, welch_interval

FIGURES: dict[str, tuple[str, str, float]] = {
    # key of sim.planning.compare.METRICS: (figure, unit, scale)
    "reached_by_deadline": ("chance of the target by the deadline", "%", 100.0),
    "time_to_target_days": ("days to reach the target", "days", 1.0),
    "infused": ("patients infused per trial", "patients", 1.0),
    "deteriorated": ("patients lost to deterioration per trial", "patients", 1.0),
    "vein_to_vein_mean_days": ("mean vein-to-vein time per trial", "days", 1.0),
    "apheresis_mean_wait_days": ("mean wait for apheresis", "days", 1.0),
    "manufacturing_mean_wait_days": ("mean wait for a suite", "days", 1.0),
    "beds_mean_wait_days": ("mean wait for a bed", "days", 1.0),
}
"""The figures compared, in words, with their unit and the factor to it."""

COST_FIGURES: dict[str, str] = {
    "cost_per_trial": "cost per trial",
    "cost_per_infused": "cost per infused patient (trials with infused; paired: in both)",
}
"""The cost figures compared when both runs have costs in one currency (their unit)."""


def _figures(reference: Results, other: Results) -> dict[str, tuple[str, str, float]]:
    """The figures to compare: :data:`FIGURES`, and the costs when both runs price them in
    one currency."""
    extra, _ = cost_metrics([reference.scenario, other.scenario])
    if not extra:
        return FIGURES
    currency = reference.scenario.costs.currency or "money"
    return {**FIGURES, **{k: (COST_FIGURES[k], currency, 1.0) for k in extra}}


def _by_replication(results: Results) -> tuple[dict[str, np.ndarray], np.ndarray]:
    return per_replication(results), np.asarray(results.table["replication"], dtype=np.int64)


def comparison_rows(reference: Results, other: Results) -> list[dict[str, Any]]:
    """``other`` minus ``reference``, one row a figure: ``figure`` (with which trials it
    counts), ``unit``, ``reference`` and ``this run`` (means over the same trials), their
    ``difference`` (this run minus reference, so it subtracts), the paired 95% interval
    (same seed: replication by replication) and the unpaired (Welch) one for contrast, and
    the ``pairs`` used, and whether the figure is ``money`` (its unit a currency). With
    different seeds the trials are not paired: each mean is over its own run, and there is
    no paired interval. The costs (per trial, per infused patient)
    are compared when both runs have them in one currency."""
    a, ia = _by_replication(reference)
    b, ib = _by_replication(other)
    paired = reference.seed == other.seed
    _, xa, xb = np.intersect1d(ia, ib, return_indices=True) if paired else ([], [], [])
    out = []
    for key, (figure, unit, scale) in _figures(reference, other).items():
        x, y = a[key] * scale, b[key] * scale
        if paired:
            x, y = x[xa], y[xb]
            both = np.isfinite(x) & np.isfinite(y)
            x, y = x[both], y[both]
            n = int(both.sum())
            d = paired_difference(x, y) if n else {"ci95": [None, None]}
            lo, hi = d["ci95"]
        else:
            x, y = x[np.isfinite(x)], y[np.isfinite(y)]
            n, lo, hi = 0, None, None
        mean_a = float(x.mean()) if x.size else math.nan
        mean_b = float(y.mean()) if y.size else math.nan
        some = key == "time_to_target_days" and (x.size < len(a[key]) or y.size < len(b[key]))
        is_money = key in COST_FIGURES
        fmt = ",.0f" if is_money else ".3g"
        out.append(
            {
                "figure": f"{figure} (trials where both reach it)" if some and paired else figure,
                "unit": unit,
                "money": is_money,
                "reference": mean_a,
                "this run": mean_b,
                "difference": mean_b - mean_a,
                "paired 95% CI": interval(lo, hi, fmt),
                "unpaired 95% CI": interval(*welch_interval(x, y), fmt),
                "pairs": n,
            }
        )
    return out
