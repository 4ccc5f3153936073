"""The optional costs block of a scenario: the price of each thing a simulated trial uses, in
one currency.

Absent, a scenario has no costs and its summary none; present, every price is optional (0
when not given). The prices change no simulated figure: costs are a pure function of a
run's per-replication rows and this block (:mod:`sim.run.costs`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from sim.core.fields import Block, NonNeg, ui

PRICE_FIELDS = (
    "suite_day",
    "slot_day",
    "batch",
    "collection",
    "bed_day",
    "icu_day",
    "fludarabine_mg",
    "cyclophosphamide_mg",
    "month_late",
)
"""The prices of a costs block, in the order of its fields (each a cost category)."""

_MONEY = "currency"


class Costs(Block):
    """What the trial's resources and patients cost, in one currency (every price 0 or more,
    0 when not given)."""

    currency: Annotated[str | None, Field(min_length=1, max_length=12), ui("Currency", "code")] = (
        None
    )
    """The currency of every price below, e.g. CNY; empty: amounts in no named currency."""
    suite_day: Annotated[NonNeg, ui("Per suite-day available", _MONEY, step=100.0)] = 0.0
    """Price of one manufacturing suite for one day it is in force (staff, cleanroom
    running, monitoring), whether it makes a batch or not: times the suite-days of the
    simulated trial (its capacity schedule over its days)."""
    slot_day: Annotated[NonNeg, ui("Per apheresis slot-day available", _MONEY, step=100.0)] = 0.0
    """Price of one apheresis slot held for the trial for one day (a cell separator and its
    staff kept free), whether it collects or not: times the slot-days of the simulated
    trial. 0 when the trial pays per collection only."""
    batch: Annotated[NonNeg, ui("Per batch started", _MONEY, step=1000.0)] = 0.0
    """Price of one manufacturing batch started in a suite (materials, vector, QC), a failed
    one included."""
    collection: Annotated[NonNeg, ui("Per apheresis collection started", _MONEY, step=100.0)] = 0.0
    """Price of one apheresis collection started (kit, staff), a failed one included."""
    bed_day: Annotated[NonNeg, ui("Per occupied bed-day", _MONEY, step=100.0)] = 0.0
    """Price of one day an infused patient occupies a bed, from infusion to discharge."""
    icu_day: Annotated[NonNeg, ui("Per intensive-care day, extra", _MONEY, step=100.0)] = 0.0
    """Extra price of one day in intensive care, over the bed-day it is also counted as."""
    fludarabine_mg: Annotated[NonNeg, ui("Per mg of fludarabine", _MONEY, step=0.1)] = 0.0
    """Price of one mg of fludarabine given in conditioning."""
    cyclophosphamide_mg: Annotated[NonNeg, ui("Per mg of cyclophosphamide", _MONEY, step=0.01)] = (
        0.0
    )
    """Price of one mg of cyclophosphamide given in conditioning."""
    month_late: Annotated[NonNeg, ui("Per month late", _MONEY, step=1000.0)] = 0.0
    """Cost of each month (365.25/12 days) the target is reached after the end of the
    deadline day; a trial that never reaches it is late until the horizon, so its cost is a
    lower bound. Without a deadline nothing is late (the summary says so)."""
