"""What simulated trials cost: a pure function of a run's per-replication rows and the
scenario's costs block (:class:`sim.core.prices.Costs`).

Each category is a price times a quantity the rows already hold: suite-days and slot-days
in force over the trial's simulated days (the capacity schedule integrated), batches and
collections started, occupied bed-days, intensive-care days, mg of each drug given, and
months late. A month late is 365.25/12 days after the end of the deadline day; a trial that
never reaches the target is late until the horizon, so its lateness (and the total) is then
a lower bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sim.core.fields import DAYS_PER_MONTH
from sim.core.prices import PRICE_FIELDS
from sim.core.scenario import Scenario
from sim.run.results import RowTable
from sim.run.stats import percentiles

Rows = Mapping[str, np.ndarray] | RowTable
"""Per-replication rows by column: a run's :class:`RowTable` or plain columns."""

QUANTITIES: dict[str, tuple[str, str]] = {
    # price field: (the row's column, or "" for lateness; what the quantity counts)
    "suite_day": ("manufacturing.unit_days", "suite-days available"),
    "slot_day": ("apheresis.unit_days", "apheresis slot-days available"),
    "batch": ("manufacturing.started", "batches started"),
    "collection": ("apheresis.started", "collections started"),
    "bed_day": ("bed_days", "occupied bed-days"),
    "icu_day": ("icu_days", "intensive-care days"),
    "fludarabine_mg": ("fludarabine_mg", "mg of fludarabine"),
    "cyclophosphamide_mg": ("cyclophosphamide_mg", "mg of cyclophosphamide"),
    "month_late": ("", "months late (to the horizon if never reached)"),
}
"""What each price multiplies, in the order of :data:`sim.core.prices.PRICE_FIELDS`."""

COLUMN_PREFIX = "cost."
"""The per-replication cost columns (``cost.total``, ``cost.batch``...) added to a run's
table of replications when its scenario has costs."""


def months_late(scenario: Scenario, time_to_target: np.ndarray) -> np.ndarray:
    """Months (365.25/12 days) from the end of the deadline day to the target, 0 when on
    time; a trial that never reaches it (NaN) is late until the horizon. Zeros without a
    deadline."""
    ttt = np.asarray(time_to_target, dtype=float)
    deadline = scenario.deadline_day
    if deadline is None:
        return np.zeros(ttt.size)
    reached_at = np.where(np.isnan(ttt), scenario.horizon_days, ttt)
    return np.maximum(0.0, reached_at - (deadline + 1)) / DAYS_PER_MONTH


def quantities(scenario: Scenario, rows: Rows) -> dict[str, np.ndarray]:
    """Each category's quantity per replication, by price field."""
    out = {}
    for price, (column, _) in QUANTITIES.items():
        if column:
            out[price] = np.asarray(rows[column], dtype=float)
        else:
            out[price] = months_late(scenario, rows["time_to_target_days"])
    return out


def replication_costs(scenario: Scenario, rows: Rows) -> dict[str, np.ndarray]:
    """The cost of each replication by category (price field), its ``total`` and its
    ``per_infused`` (total over infused patients; NaN where none was infused). Empty when
    the scenario has no costs block."""
    costs = scenario.costs
    if costs is None:
        return {}
    amounts = {k: getattr(costs, k) * q for k, q in quantities(scenario, rows).items()}
    total = np.sum(list(amounts.values()), axis=0)
    infused = np.asarray(rows["infused"], dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_infused = np.where(infused > 0, total / infused, np.nan)
    return {**amounts, "total": total, "per_infused": per_infused}


def cost_columns(scenario: Scenario, rows: Rows) -> dict[str, np.ndarray]:
    """The per-replication costs as table columns: ``cost.total``, ``cost.per_infused`` and
    ``cost.<price field>`` (none without a costs block)."""
    return {COLUMN_PREFIX + k: v for k, v in replication_costs(scenario, rows).items()}


def _spread(values: np.ndarray) -> dict[str, float | None]:
    """Mean, 10th and 90th percentiles (None when there is no value)."""
    v = values[~np.isnan(values)]
    if v.size == 0:
        return {"mean": None, "p10": None, "p90": None}
    p10, p90 = percentiles(v, [10, 90])
    return {"mean": float(v.mean()), "p10": float(p10), "p90": float(p90)}


def cost_summary(scenario: Scenario, rows: Rows) -> dict[str, Any] | None:
    """The costs block of a run's summary (None without a costs block):

    - ``per_trial``: the total cost of a simulated trial, mean and 80% interval (p10-p90)
      over the replications;
    - ``by_category``: for each price, the price, what it multiplies, that quantity's mean
      per trial, and the category's cost per trial (mean, p10, p90); the categories' means
      add up to the total's;
    - ``per_infused_patient``: ``mean_of_trial_ratios`` (each replication's total over its
      infused patients, averaged over the replications with at least one), its p10 and p90
      over those replications, how many replications had none (left out), and
      ``ratio_of_means`` (the mean total over the mean infused, over every replication);
    - ``lower_bound``: True when lateness is priced and some trials never reach the target
      (their lateness runs only to the horizon, so every figure is a lower bound);
    - ``lateness_not_counted``: True when lateness is priced but the target has no deadline
      (nothing is late, so it costs nothing).
    """
    costs = scenario.costs
    if costs is None:
        return None
    by_rep = replication_costs(scenario, rows)
    qty = quantities(scenario, rows)
    infused = np.asarray(rows["infused"], dtype=float)
    ratio = by_rep["per_infused"]
    spread = _spread(ratio)
    never = float(np.mean(np.isnan(np.asarray(rows["time_to_target_days"], dtype=float))))
    mean_infused = float(infused.mean())
    return {
        "currency": costs.currency,
        "per_trial": _spread(by_rep["total"]),
        "by_category": {
            k: {
                "price": getattr(costs, k),
                "quantity": QUANTITIES[k][1],
                "quantity_mean": float(qty[k].mean()),
                **_spread(by_rep[k]),
            }
            for k in PRICE_FIELDS
        },
        "per_infused_patient": {
            "mean_of_trial_ratios": spread["mean"],
            "p10": spread["p10"],
            "p90": spread["p90"],
            "trials_counted": int(np.sum(~np.isnan(ratio))),
            "trials_without_infused": int(np.sum(np.isnan(ratio))),
            "ratio_of_means": float(by_rep["total"].mean()) / mean_infused
            if mean_infused > 0
            else None,
        },
        "lower_bound": bool(
            costs.month_late > 0 and never > 0 and scenario.deadline_day is not None
        ),
        "never_reached_fraction": never,
        "lateness_not_counted": costs.month_late > 0 and scenario.deadline_day is None,
    }
