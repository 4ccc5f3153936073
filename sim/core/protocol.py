"""The protocol's pacing and the centre's working days, as parts of a scenario: the dose-
finding phase 1 (cohorts, stagger, DLT window, 3+3 or fixed), and the calendar (public
holidays, facility closures) with the weekdays each stage may start on.

Both are optional: a scenario without them has no dose-finding phase and works every day
(apart from ``apheresis.weekdays_only``), as before they existed. How the model uses them is
:mod:`sim.core.calendar` and :mod:`sim.core.pacing`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from sim.core.calendar import WEEKDAYS, check_country
from sim.core.fields import Block, NonNeg, Positive, Prob, ui

Weekday = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def unique_days(days: list[str] | None) -> list[str] | None:
    """A list of weekdays with none repeated (the validator of every ``*days`` field)."""
    if days is not None:
        repeated = sorted({d for d in days if days.count(d) > 1}, key=WEEKDAYS.index)
        if repeated:
            raise ValueError(f"weekdays must not repeat; repeated: {', '.join(repeated)}")
    return days


Days = Annotated[list[Weekday], Field(min_length=1), AfterValidator(unique_days)]
"""Weekdays an activity may start on, e.g. ``[Mon, Tue, Wed, Thu]``; at least one."""


class Holidays(Block):
    """Public holidays of a country (and region), from the ``holidays`` package."""

    country: Annotated[
        str, Field(min_length=2, max_length=3), ui("Country", "ISO 3166 code", start="CN")
    ]
    """ISO 3166 code of the country whose public holidays apply, e.g. CN."""
    subdivision: Annotated[str | None, ui("Region", "ISO 3166-2 code, empty: none")] = None
    """The region (ISO 3166-2 subdivision) whose own holidays apply too; empty: national."""

    @field_validator("country")
    @classmethod
    def _known_country(cls, country: str) -> str:
        check_country(country, None)
        return country

    @model_validator(mode="after")
    def _known_region(self) -> Holidays:
        check_country(self.country, self.subdivision)
        return self


class Closure(Block):
    """Dates a facility is closed, inclusive, for some or all stages."""

    from_: Annotated[dt.date, Field(alias="from", strict=False), ui("From")]
    """First day of the closure."""
    to: Annotated[dt.date, Field(strict=False), ui("To")]
    """Last day of the closure (inclusive)."""
    stages: Annotated[
        list[Literal["apheresis", "manufacturing", "release", "infusion"]] | None,
        ui("Stages"),
    ] = None
    """What stops: apheresis (collections), manufacturing (batch starts; batches already
    started run on), release (QC release), infusion; empty: all of them."""
    reason: Annotated[str | None, ui("Reason")] = None
    """Why (for the reader)."""

    @model_validator(mode="after")
    def _ordered(self) -> Closure:
        if self.to < self.from_:
            raise ValueError(f"a closure must not end ({self.to}) before it starts ({self.from_})")
        return self


class Calendar(Block):
    """The centre's calendar: public holidays and closures, on top of each stage's weekdays."""

    holidays: Annotated[Holidays | None, ui("Keep public holidays")] = None
    """No collection, batch start, QC release or infusion on a public holiday."""
    closures: Annotated[list[Closure], ui("Closures")] = Field(default_factory=list)
    """Facility closures (inclusive dates) of the stages they name."""


class DoseLevel(Block):
    """One dose level of the dose-finding phase."""

    dose_per_kg: Annotated[Positive, ui("Dose", "cells/kg", step=1e6, fmt="%.3e")]
    """The dose infused at this level, per kg of body weight (the batch's yield must reach
    it)."""
    dlt_prob: Annotated[Prob, ui("DLT probability", "0-1")]
    """Chance that a patient infused at this level has a dose-limiting toxicity."""


class Phase1(Block):
    """The dose-finding phase: cohorts infused in turn, each followed by a DLT window."""

    cohort_size: Annotated[int, Field(ge=1, le=100), ui("Cohort size", "patients")] = 3
    """Patients per cohort."""
    stagger_days: Annotated[NonNeg, ui("Stagger", "days", step=1.0)] = 0.0
    """Least days between two infusions within a cohort."""
    dlt_window_days: Annotated[NonNeg, ui("DLT window", "days", step=1.0, start=28.0)]
    """Days after a cohort's last infusion before the DLT decision and the next cohort's
    first infusion."""
    rule: Annotated[Literal["3+3", "fixed"], ui("Escalation rule")] = "3+3"
    """3+3: escalate after 0 DLTs of a cohort, add a cohort at the level after 1 (then
    escalate after at most 1 of the two), stop after more; fixed: every cohort at the first
    level, no escalation."""
    cohorts: Annotated[
        int | None,
        Field(ge=1, le=1000),
        ui("Cohorts", "count", toggle="A fixed number of cohorts (rule fixed)", start=2),
    ] = None
    """Rule fixed only: the number of cohorts before phase 2."""
    dose_levels: Annotated[list[DoseLevel], Field(min_length=1), ui("Dose levels")]
    """Dose levels, lowest first."""
    when_full: Annotated[Literal["wait", "refer_elsewhere"], ui("When no slot is open")] = "wait"
    """A patient who passes screening when no cohort slot is open waits for one, or leaves
    (outcome no_slot)."""
    enrol_ahead: Annotated[bool, ui("Enrol the next cohort during the window")] = True
    """The next cohort's slots open at the current cohort's last infusion (true) or at its
    DLT decision (false)."""

    @field_validator("dose_levels")
    @classmethod
    def _increasing(cls, levels: list[DoseLevel]) -> list[DoseLevel]:
        for k in range(1, len(levels)):
            if levels[k].dose_per_kg <= levels[k - 1].dose_per_kg:
                raise ValueError(
                    "dose levels must increase, lowest first; level "
                    f"{k + 1} ({levels[k].dose_per_kg:g}) is not above level {k} "
                    f"({levels[k - 1].dose_per_kg:g})"
                )
        return levels

    @model_validator(mode="after")
    def _cohorts_for_fixed(self) -> Phase1:
        if self.rule == "fixed" and self.cohorts is None:
            raise ValueError('rule "fixed" needs cohorts, the number of cohorts before phase 2')
        if self.rule == "3+3" and self.cohorts is not None:
            raise ValueError(
                'cohorts is for rule "fixed" only; under "3+3" the DLTs decide the cohorts'
            )
        return self
