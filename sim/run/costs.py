"""What simulated trials cost: a pure function of a run's per-replication rows and the
scenario's costs block (:class:`sim.core.prices.Costs`).

Each category is a price times a quantity the rows already hold: suite-days and slot-days
in force over the trial's simulated days (the capacity schedule integrated), batches and
collections started, occupied bed-days, intensive-care days, mg of each drug given, and
months late. A month late is 365.25/12 days after the end of the deadline day; a trial that
never reaches the target is late until the horizon, so its lateness (and the total) is then
a lower bound.

In a facility (:mod:`sim.core.facility`) a shared resource's availability is the facility's
cost, not any one trial's: each trial's rows still hold the shared units' unit-days over its
days (so that its utilisation is its share of them), but its costs leave them out (``shared``
below: their quantity is 0) and keep everything it uses. The facility's costs
(:func:`facility_cost_summary`) are the shared units' unit-days over the facility's days
times the facility's own prices, plus every trial's costs, replication by replication.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from sim.core.facility import AVAILABILITY, Facility
from sim.core.fields import DAYS_PER_MONTH
from sim.core.prices import PRICE_FIELDS, Costs
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


SHARED_NOTE = "shared: the facility's cost"
"""Said of a trial's availability category whose units a facility shares."""


def quantities(
    scenario: Scenario, rows: Rows, shared: Collection[str] = ()
) -> dict[str, np.ndarray]:
    """Each category's quantity per replication, by price field; 0 for the availability of
    a resource in ``shared`` (a facility's shared units, priced by the facility)."""
    out = {}
    excluded = {AVAILABILITY[r] for r in shared if r in AVAILABILITY}
    for price, (column, _) in QUANTITIES.items():
        if price in excluded:
            out[price] = np.zeros(len(rows["infused"]))
        elif column:
            out[price] = np.asarray(rows[column], dtype=float)
        else:
            out[price] = months_late(scenario, rows["time_to_target_days"])
    return out


def _with_total(amounts: dict[str, np.ndarray], infused: Any) -> dict[str, np.ndarray]:
    """The amounts by category, their ``total`` and its ``per_infused`` (NaN where none was
    infused)."""
    total = np.sum(list(amounts.values()), axis=0)
    infused = np.asarray(infused, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_infused = np.where(infused > 0, total / infused, np.nan)
    return {**amounts, "total": total, "per_infused": per_infused}


def replication_costs(
    scenario: Scenario, rows: Rows, shared: Collection[str] = ()
) -> dict[str, np.ndarray]:
    """The cost of each replication by category (price field), its ``total`` and its
    ``per_infused`` (total over infused patients; NaN where none was infused). Empty when
    the scenario has no costs block. ``shared``: resources whose availability a facility
    pays (left out here)."""
    costs = scenario.costs
    if costs is None:
        return {}
    qty = quantities(scenario, rows, shared)
    return _with_total({k: getattr(costs, k) * q for k, q in qty.items()}, rows["infused"])


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


def _per_infused(total: np.ndarray, ratio: np.ndarray, infused: Any) -> dict[str, Any]:
    """Cost per infused patient: the mean of the replications' ratios (over those with at
    least one infused; p10, p90) and the ratio of the means."""
    spread = _spread(ratio)
    mean_infused = float(np.mean(np.asarray(infused, dtype=float)))
    return {
        "mean_of_trial_ratios": spread["mean"],
        "p10": spread["p10"],
        "p90": spread["p90"],
        "trials_counted": int(np.sum(~np.isnan(ratio))),
        "trials_without_infused": int(np.sum(np.isnan(ratio))),
        "ratio_of_means": float(total.mean()) / mean_infused if mean_infused > 0 else None,
    }


def _never_reached(rows: Rows) -> float:
    return float(np.mean(np.isnan(np.asarray(rows["time_to_target_days"], dtype=float))))


def _lower_bound(scenario: Scenario, rows: Rows) -> bool:
    """Whether priced lateness runs only to the horizon in some replication."""
    costs = scenario.costs
    return bool(
        costs is not None
        and costs.month_late > 0
        and scenario.deadline_day is not None
        and _never_reached(rows) > 0
    )


def cost_summary(
    scenario: Scenario, rows: Rows, shared: Collection[str] = ()
) -> dict[str, Any] | None:
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
      (nothing is late, so it costs nothing);
    - ``shared_availability``: only for a trial of a facility that shares some resources:
      their names; their availability is the facility's cost, so this trial's
      ``suite_day``/``slot_day`` categories leave them out (quantity 0).
    """
    costs = scenario.costs
    if costs is None:
        return None
    by_rep = replication_costs(scenario, rows, shared)
    qty = quantities(scenario, rows, shared)
    excluded = {AVAILABILITY[r] for r in shared if r in AVAILABILITY}
    out = {
        "currency": costs.currency,
        "per_trial": _spread(by_rep["total"]),
        "by_category": {
            k: {
                "price": getattr(costs, k),
                "quantity": QUANTITIES[k][1] + (f" ({SHARED_NOTE})" if k in excluded else ""),
                "quantity_mean": float(qty[k].mean()),
                **_spread(by_rep[k]),
            }
            for k in PRICE_FIELDS
        },
        "per_infused_patient": _per_infused(
            by_rep["total"], by_rep["per_infused"], rows["infused"]
        ),
        "lower_bound": _lower_bound(scenario, rows),
        "never_reached_fraction": _never_reached(rows),
        "lateness_not_counted": costs.month_late > 0 and scenario.deadline_day is None,
    }
    if shared:
        out["shared_availability"] = sorted(shared)
    return out


# --- a facility ----------------------------------------------------------------------------


def shared_resources(facility: Facility) -> list[str]:
    """The resources a facility shares (their availability is its cost, not a trial's)."""
    return [r for r in AVAILABILITY if facility.schedule(r) is not None]


def _trial_costs(facility: Facility, trial_rows: Sequence[Rows]) -> list[dict[str, np.ndarray]]:
    """Each trial's :func:`replication_costs`, without the shared units' availability."""
    shared = shared_resources(facility)
    return [
        replication_costs(sc, rows, shared)
        for sc, rows in zip(facility.trials, trial_rows, strict=True)
    ]


def facility_replication_costs(
    facility: Facility,
    facility_rows: Rows,
    trial_rows: Sequence[Rows],
    trial_costs: list[dict[str, np.ndarray]] | None = None,
) -> dict[str, np.ndarray]:
    """The cost of each replication of a facility by category (price field): the shared
    units' availability (the facility's unit-days times its prices) plus every trial's
    costs (each without the shared availability; ``trial_costs`` when already computed);
    its ``total``, ``per_infused`` (over the facility's infused patients) and
    ``shared_availability``. Empty when neither the facility nor any trial has a costs
    block."""
    prices: Costs | None = facility.spec.costs
    if prices is None and all(sc.costs is None for sc in facility.trials):
        return {}
    shared = shared_resources(facility)
    n = len(facility_rows["infused"])
    amounts = {k: np.zeros(n) for k in PRICE_FIELDS}
    for r in shared:
        price = getattr(prices, AVAILABILITY[r]) if prices is not None else 0.0
        amounts[AVAILABILITY[r]] += price * np.asarray(facility_rows[f"{r}.unit_days"], float)
    availability = sum(amounts[AVAILABILITY[r]] for r in shared) + np.zeros(n)
    for own in _trial_costs(facility, trial_rows) if trial_costs is None else trial_costs:
        for k, v in own.items():
            if k in amounts:
                amounts[k] += v
    return {**_with_total(amounts, facility_rows["infused"]), "shared_availability": availability}


def facility_cost_summary(
    facility: Facility, facility_rows: Rows, trial_rows: Sequence[Rows]
) -> dict[str, Any] | None:
    """The costs block of a facility's summary (None when neither the facility nor any
    trial has a costs block), per facility run (all its trials over the facility's days):

    - ``per_facility``: the total, mean and 80% interval (p10-p90) over the replications;
    - ``shared_availability``: the shared units' availability at the facility's prices
      (mean, p10, p90), ``priced`` (whether the facility has a costs block) and, for each
      shared resource, its price and mean unit-days in force;
    - ``by_category``: each price field's cost (facility and trials together), mean, p10,
      p90; the means add up to the total's;
    - ``by_trial``: each trial's own costs (its total without the shared availability),
      mean, p10, p90, or None without its costs block;
    - ``per_infused_patient``: as a trial's, over the facility's infused patients (None
      when a trial has no costs block: its patients would count, its costs not);
    - ``lower_bound``: some trial's priced lateness runs only to the horizon;
    - ``notes``: what is not counted (shared availability unpriced, trials without costs).
    """
    trial_costs = _trial_costs(facility, trial_rows)
    by_rep = facility_replication_costs(facility, facility_rows, trial_rows, trial_costs)
    if not by_rep:
        return None
    prices = facility.spec.costs
    shared = shared_resources(facility)
    currency = next(
        c.currency for c in [prices, *(sc.costs for sc in facility.trials)] if c is not None
    )
    notes = []
    if shared and prices is None:
        notes.append(
            f"the shared units' availability ({', '.join(shared)}) is not priced: the facility "
            "file has no costs block"
        )
    missing = [lab for lab, sc in zip(facility.labels, facility.trials, strict=True)
               if sc.costs is None]  # fmt: skip
    if missing:
        notes.append(
            f"not counted (no costs block): the use of {', '.join(missing)}; so no cost per "
            "infused patient (their patients would count, their costs not)"
        )
    by_trial = [
        {"label": label, "cost": _spread(own["total"]) if own else None}
        for label, own in zip(facility.labels, trial_costs, strict=True)
    ]
    return {
        "currency": currency,
        "per_facility": _spread(by_rep["total"]),
        "shared_availability": {
            "priced": prices is not None,
            **_spread(by_rep["shared_availability"]),
            "resources": {
                r: {
                    "price": getattr(prices, AVAILABILITY[r]) if prices is not None else None,
                    "quantity": QUANTITIES[AVAILABILITY[r]][1],
                    "quantity_mean": float(np.mean(facility_rows[f"{r}.unit_days"])),
                }
                for r in shared
            },
        },
        "by_category": {k: _spread(by_rep[k]) for k in PRICE_FIELDS},
        "by_trial": by_trial,
        "per_infused_patient": None
        if missing
        else _per_infused(by_rep["total"], by_rep["per_infused"], facility_rows["infused"]),
        "lower_bound": any(
            _lower_bound(sc, rows) for sc, rows in zip(facility.trials, trial_rows, strict=True)
        ),
        "notes": notes,
    }
