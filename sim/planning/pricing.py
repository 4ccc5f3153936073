"""What "cheapest" means in a sizing: the cost of one unit of each sized resource, from the
unit costs given (``--cost``), else from the scenario's costs block, else one a unit.

With a costs block, a unit costs its availability price over the horizon: ``suite_day``
for a manufacturing suite, ``slot_day`` for an apheresis slot, times ``horizon_days``. A
unit the block gives no availability price (a bed, priced per occupied day; a slot when
``slot_day`` is 0) counts only to break ties, so that fewer of it is cheaper. The costs a
configuration chooses are the units it holds: per-use costs (batches, collections,
bed-days, drugs) follow the patients treated, nearly the same in every configuration that
is enough; the sizing reports each configuration's mean simulated total cost per trial
beside its price.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sim.core.prices import Costs

AVAILABILITY_PRICES = {
    "manufacturing.suites": "suite_day",
    "apheresis.slots": "slot_day",
    "resources.manufacturing": "suite_day",  # a facility's shared suites
    "resources.apheresis": "slot_day",  # a facility's shared apheresis slots
}
"""The price in a costs block (a scenario's, or a facility's for its shared counts) of one
unit of a sized count for a day it is in force."""
TIE_BREAK = 1e-6
"""With a costs block, each unit also costs this share of the least positive unit price, so
that among configurations of the same price the one with fewer units is cheaper."""


@dataclass(frozen=True)
class CostBasis:
    """What "cheapest" means in a sizing: the cost of one unit of each sized resource (as
    reported), the costs the search orders by (with the tie-break), and how they were set:
    ``--cost``, ``costs block`` or ``units``."""

    unit_costs: list[float]
    order_costs: list[float]
    basis: str
    note: str


def cost_basis(
    block: Costs | None,
    horizon_days: float,
    resources: Sequence[str],
    costs: dict[str, float] | None,
) -> CostBasis:
    """Unit costs from ``--cost`` when given, else from a costs block (each unit's
    availability price times the horizon, days), else 1 a unit."""
    n = len(resources)
    if costs:
        given = [costs[k] for k in resources]
        return CostBasis(given, given, "--cost", "unit costs as given (--cost)")
    if block is None:
        return CostBasis([1.0] * n, [1.0] * n, "units", "cheapest = fewest units")
    days = horizon_days
    prices = {
        k: getattr(block, AVAILABILITY_PRICES[k]) for k in resources if k in AVAILABILITY_PRICES
    }
    unit = [prices.get(k, 0.0) * days for k in resources]
    positive = [c for c in unit if c > 0]
    if not positive:
        return CostBasis(
            [0.0] * n,
            [1.0] * n,
            "costs block",
            "the costs block prices no sized unit's availability: cheapest = fewest units",
        )
    tie = TIE_BREAK * min(positive)
    unpriced = [k for k in resources if k not in prices or prices[k] == 0]
    note = (
        "cheapest by the costs block: each unit's availability price over the horizon ("
        + "; ".join(
            f"{k} {prices[k]:,.0f} a day x {days:g} days" for k in resources if prices.get(k)
        )
        + ")"
        + (
            f"; {', '.join(unpriced)}: no availability price (paid per use), so fewer only "
            "breaks ties"
            if unpriced
            else ""
        )
    )
    return CostBasis(unit, [c + tie for c in unit], "costs block", note)
