"""The scenario's schema: immutable, validated pydantic models of one trial's logistics.

Times are in days from ``start_date``; a month is 365.25/12 days. Every field name carries
its unit or kind (``_days``, ``_per_month``, ``_prob``, ``_kg``, ``slots``/``suites``/``beds``
for counts). Loading and validating a scenario file is :mod:`sim.core.scenario`.

Each field also says how the dashboard's form shows it, with :func:`ui`: its label, unit,
step, number format, pathway stage and, for an optional value, the label of the checkbox
that switches it on; its help is the docstring under it (:func:`field_docs`). The form
(``sim.app.form``) is built from these models, and takes its limits from the fields' own
constraints (``ge``, ``gt``, ``le``): a field or a limit is changed here only.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from sim.core.distributions import Duration, Fixed, NonNegQuantity, PositiveQuantity
from sim.core.fields import (
    DAYS_PER_MONTH,
    FIRST_DATE,
    LAST_DATE,
    MAX_CELLS_PER_KG,
    MAX_DAYS,
    MAX_DRUG_MG_PER_M2,
    MAX_HORIZON_DAYS,
    MAX_REFERRALS,
    MILESTONES,
    STAGES,
    Attempts,
    Block,
    Count,
    Date,
    DayCount,
    Positive,
    Prob,
    Units,
    field_docs,
    ui,
)
from sim.core.intensity import expected_referrals
from sim.core.prices import Costs
from sim.core.protocol import WEEKDAYS, Calendar, Days, Phase1
from sim.core.yamlio import dump_yaml

__all__ = [  # the field machinery, for the modules that import it from here
    "DAYS_PER_MONTH",
    "FIRST_DATE",
    "LAST_DATE",
    "MAX_HORIZON_DAYS",
    "MAX_REFERRALS",
    "MILESTONES",
    "STAGES",
    "field_docs",
]

_REFERRAL, _SCREENING, _APHERESIS, _MANUFACTURING, _DETERIORATION, _CONDITIONING = STAGES[:6]
_INFUSION, _CALENDAR, _PHASE1, _TARGET, _COSTS = STAGES[6:]
_PROB = "probability 0-1"
_ATTEMPTS = "count, first included"
_MG_M2_DAY = "mg/m² per day"
DrugDose = Annotated[float, Field(ge=0, le=MAX_DRUG_MG_PER_M2)]


class Target(Block):
    """How many patients must reach which milestone, and by when."""

    count: Annotated[int, Field(ge=1, le=1_000_000), ui("Target", "patients")]
    """Patients who must reach the milestone."""
    milestone: Annotated[Literal["enrolled", "apheresed", "infused"], ui("Target milestone")] = (
        "infused"
    )
    """The milestone the target counts."""
    deadline: Annotated[Date | None, ui("Deadline", "date", toggle="Set a deadline")] = None
    """The date by which the target should be reached."""

    def as_dict(self) -> dict[str, object]:
        """The target as plain data, for summaries: count, milestone, deadline (ISO)."""
        return {
            "count": self.count,
            "milestone": self.milestone,
            "deadline": self.deadline.isoformat() if self.deadline else None,
        }


TREND_LIMITS = (-0.9, 2.0)
"""The referral trends a site may have, as relative change per year: from -90% to +200% (a
rate that triples every year, already beyond any referral network; compounded over a
ten-year horizon a steeper one would draw millions of referrals)."""


class Site(Block):
    """A referring site (a row of the form's table of sites)."""

    name: Annotated[str, Field(min_length=1), ui("Site")]
    rate_per_month: Annotated[float, Field(ge=0, le=100_000), ui("Rate", "referrals/month")]
    """Mean referrals per month at full rate"""
    opens_day: Annotated[DayCount, ui("Opens", "day")] = 0.0
    """Days from the trial start"""
    ramp_up_days: Annotated[DayCount, ui("Ramp-up", "days")] = 0.0  # the rate rises linearly
    """Days from opening to the full rate"""
    rate_shape: Annotated[Positive | None, ui("Own gamma shape")] = None  # a forecast sets it
    """This site's rate uncertainty (gamma shape); empty: the shape set below for all sites"""
    trend_per_year: Annotated[
        float,
        Field(ge=TREND_LIMITS[0], le=TREND_LIMITS[1]),
        ui("Trend", "change per year", step=0.05),
    ] = 0.0
    """Relative change of the rate a year after opening, compounding (0.3: 30% more a year;
    -0.2: 20% less); 0: a steady rate"""

    def referrals_by(self, day: float, rate_per_day: float | None = None) -> float:
        """Expected referrals in [0, ``day``] at the full rate ``rate_per_day`` (default:
        this site's own, ``rate_per_month`` a month), rising linearly over the ramp-up and
        compounding by the trend."""
        rate = self.rate_per_month / DAYS_PER_MONTH if rate_per_day is None else rate_per_day
        return expected_referrals(day, rate, self.opens_day, self.ramp_up_days, self.trend_per_year)


class Referral(Block):
    """Where patients come from: the referring sites and the uncertainty of their rates."""

    sites: Annotated[list[Site], Field(min_length=1), ui("Referring sites")]
    """Each site refers patients as a Poisson process at its full rate, from the day it
    opens, rising linearly to that rate over its ramp-up days."""
    rate_shape: Annotated[
        Positive | None,
        ui(
            "Gamma shape of each site's rate",
            "no unit",
            step=0.5,
            toggle="Referral rates uncertain (Poisson-gamma)",
            start=4.0,
        ),
    ] = None
    """Uncertainty about the referral rates: each simulated trial draws each site's rate
    from a gamma with this shape and the site's rate as mean (Poisson-gamma model); smaller
    = more uncertain (coefficient of variation 1/sqrt(shape))."""

    @model_validator(mode="after")
    def _unique_names(self) -> Referral:
        names = [s.name for s in self.sites]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"site names must be unique; repeated: {', '.join(dupes)}")
        return self


class Screening(Block):
    """From referral to enrolment: screening time, consent and eligibility criteria."""

    duration_days: Annotated[Duration, ui("Screening duration", "days", step=1.0)]
    """From referral to the screening result."""
    consent_decline_prob: Annotated[Prob, ui("Consent declined", _PROB, rank=-1)]
    """Share of referred patients who decline consent."""
    criteria: Annotated[
        dict[Annotated[str, Field(min_length=1)], Prob],
        ui("Screening criteria", "failure probability 0-1"),
    ] = Field(default_factory=dict)
    """Each protocol criterion fails independently with its probability; every failing
    criterion is recorded. Add or remove rows to change the criteria."""
    criteria_labels: Annotated[dict[str, str], ui("Criterion labels")] = Field(default_factory=dict)
    """How charts and reports name each criterion (by its key; one left out is named by its
    key). Labels only: they change no figure."""

    @model_validator(mode="after")
    def _labels_of_criteria(self) -> Screening:
        unknown = sorted(set(self.criteria_labels) - set(self.criteria))
        if unknown:
            raise ValueError(f"labels of criteria the scenario does not have: {', '.join(unknown)}")
        return self


class Patients(Block):
    """Body size of the patients (for doses): weight in kg, height in cm."""

    weight_kg: Annotated[PositiveQuantity, ui("Patient weight", "kg", step=1.0)]
    """Body weight: body surface area for the drug doses, and the minimum cell dose."""
    height_cm: Annotated[PositiveQuantity, ui("Patient height", "cm", step=1.0)]
    """Height: body surface area for the drug doses."""


class UnitsFrom(Block):
    """A change of a resource's units on a given day."""

    from_day: Annotated[Positive, ui("Day", "from the start")]
    """Day from which the units below are in force (days from the start)."""
    units: Annotated[Units, ui("Units", "count")]
    """Units in force from that day (0: closed, e.g. planned downtime)."""


CAPACITY_FIELDS = {
    "apheresis": "slots",
    "manufacturing": "suites",
    "infusion": "beds",
}
"""Each block's count of units; ``<count>_changes`` lists changes of it over time."""


def _capacity_schedule(data: Any, field: str) -> Any:
    """Accept ``suites: [{from_day: 0, units: 1}, {from_day: 365, units: 2}]``: the first
    step (day 0) is the count, the rest its changes."""
    if not isinstance(data, dict) or not isinstance(data.get(field), list):
        return data
    steps = data[field]
    if not steps or not isinstance(steps[0], dict) or steps[0].get("from_day") not in (0, 0.0):
        raise ValueError(
            f"{field} as a schedule starts with {{from_day: 0, units: N}} (the units from "
            "the start)"
        )
    if data.get(f"{field}_changes"):
        raise ValueError(f"give {field} as a schedule or {field}_changes, not both")
    return {**data, field: steps[0].get("units"), f"{field}_changes": steps[1:] or None}


def _check_changes(changes: list[UnitsFrom] | None, field: str) -> None:
    days = [c.from_day for c in changes or ()]
    if any(b <= a for a, b in itertools.pairwise(days)):
        raise ValueError(f"{field}_changes: from_day must rise from one change to the next")


class CapacityBlock(Block):
    """A block with a count of units (:data:`UNITS`) that may change from given days
    (``<units>_changes``), or be given as a schedule (:func:`_capacity_schedule`)."""

    UNITS: ClassVar[str]
    """The name of the block's count of units (:data:`CAPACITY_FIELDS`)."""

    @model_validator(mode="before")
    @classmethod
    def _schedule(cls, data: Any) -> Any:
        return _capacity_schedule(data, cls.UNITS)

    @model_validator(mode="after")
    def _changes(self) -> Self:
        _check_changes(getattr(self, f"{self.UNITS}_changes"), self.UNITS)
        return self


class Apheresis(CapacityBlock):
    """Cell collection: slots, duration (days), failures and retries."""

    UNITS = CAPACITY_FIELDS["apheresis"]

    slots: Annotated[Count, ui("Apheresis slots", "count")]
    """Collections that can run at once."""
    slots_changes: Annotated[list[UnitsFrom] | None, ui("Slot changes")] = None
    """Changes of the slots from given days (planned openings, downtime); empty: the same
    slots throughout."""
    duration_days: Annotated[Duration, ui("Apheresis duration", "days", step=1.0)]
    """How long one collection holds a slot."""
    weekdays_only: Annotated[bool, ui("Collect on weekdays only")] = False
    """Collections start Monday to Friday only."""
    days: Annotated[Days | None, ui("Collection days")] = None
    """Weekdays a collection may start on (e.g. Mon to Fri); empty: every day, or Monday to
    Friday with weekdays only."""
    failure_prob: Annotated[Prob, ui("Collection failure", _PROB)]
    """Chance that one collection fails (too few cells)."""
    max_attempts: Annotated[Attempts, ui("Collection attempts", _ATTEMPTS)]
    """All collection attempts allowed, the first included (1 = no retry)."""
    retry_after_days: Annotated[Duration, ui("Retry after", "days", step=1.0)]
    """Delay before another collection after a failed one."""

    @model_validator(mode="after")
    def _weekdays(self) -> Apheresis:
        weekend = [d for d in self.days or () if WEEKDAYS.index(d) >= 5]
        if self.weekdays_only and weekend:
            raise ValueError(
                f"weekdays_only is true but days include {', '.join(weekend)}; give one or the "
                "other"
            )
        return self

    def collection_days(self) -> list[str] | None:
        """The weekdays a collection may start on (None: every day)."""
        if self.days is not None:
            return list(self.days)
        return list(WEEKDAYS[:5]) if self.weekdays_only else None


class Manufacturing(CapacityBlock):
    """Making the product: suites, duration and QC release (days), failures and yield."""

    UNITS = CAPACITY_FIELDS["manufacturing"]

    suites: Annotated[Count, ui("Manufacturing suites", "count")]
    """Batches that can be made at once."""
    suites_changes: Annotated[list[UnitsFrom] | None, ui("Suite changes")] = None
    """Changes of the suites from given days (a suite opening, planned downtime); empty: the
    same suites throughout."""
    duration_days: Annotated[Duration, ui("Manufacturing duration", "days", step=1.0)]
    """How long a batch holds its suite."""
    qc_release_days: Annotated[Duration, ui("QC release", "days", step=1.0)]
    """Quality-control release after the batch leaves its suite (does not hold the suite)."""
    failure_prob: Annotated[Prob, ui("Batch failure", _PROB)]
    """Chance that a batch fails (besides a yield below the minimum dose)."""
    max_attempts: Annotated[Attempts, ui("Manufacturing attempts", _ATTEMPTS)]
    """All batches allowed per patient, the first included (1 = no retry)."""
    yield_cells: Annotated[
        NonNegQuantity | None,
        ui(
            "Batch yield",
            "cells",
            step=1e8,
            fmt="%.3e",
            toggle="Check the yield against the minimum dose",
            rank=1,
            start={"dist": "lognormal", "mean": 1.5e9, "sd": 9.0e8},
        ),
    ] = None
    """Total cells of one batch; a batch below the minimum dose for the patient's weight
    fails."""
    recollect_on_failure: Annotated[bool, ui("Collect again after a failed batch")] = False
    """After a failed batch, collect cells again (checked) or remake from stored cells."""
    start_days: Annotated[Days | None, ui("Batch start days")] = None
    """Weekdays a batch may start in its suite (it then runs on calendar days); empty: every
    day."""
    release_days: Annotated[Days | None, ui("QC release days")] = None
    """Weekdays QC may release a batch (the first one at or after the end of QC testing);
    empty: every day."""


class Dose(Block):
    """The dose that may be infused, in cells per kg of body weight."""

    min_per_kg: Annotated[
        Positive, Field(le=MAX_CELLS_PER_KG), ui("Minimum dose", "cells/kg", step=1e6, fmt="%.3e")
    ]
    """Smallest dose per kg of body weight that may be infused."""
    max_per_kg: Annotated[
        Positive, Field(le=MAX_CELLS_PER_KG), ui("Maximum dose", "cells/kg", step=1e6, fmt="%.3e")
    ]
    """Largest dose per kg of body weight."""

    @model_validator(mode="after")
    def _ordered(self) -> Dose:
        if self.max_per_kg < self.min_per_kg:
            raise ValueError(
                f"max_per_kg ({self.max_per_kg:g}) must be at least min_per_kg "
                f"({self.min_per_kg:g})"
            )
        return self


class Bridging(Block):
    """Bridging therapy after apheresis, which slows deterioration."""

    prob: Annotated[Prob, ui("Patients bridged", _PROB, start=0.5)]
    """Share of patients given bridging therapy after apheresis."""
    time_ratio: Annotated[Positive, ui("Time stretch by bridging", "ratio", step=0.1, start=1.2)]
    """Factor on the time left to deterioration from the start of bridging."""


class Deterioration(Block):
    """Patients lost while they wait: a latent time from referral (days)."""

    time_to_event_days: Annotated[
        Duration,
        ui(
            "Time to deterioration",
            "days from referral",
            step=10.0,
            start={"dist": "exponential", "mean": 400.0},
        ),
    ]
    """Latent time from referral to death or loss of eligibility."""
    bridging: Annotated[Bridging | None, ui("Bridging therapy")] = None
    """Bridging therapy after apheresis stretches the time left to deterioration."""


class Conditioning(Block):
    """Lymphodepleting chemotherapy before infusion: timing (days) and daily doses."""

    days_before_infusion: Annotated[
        DayCount, ui("Conditioning starts before infusion", "days", step=1.0)
    ]
    """Lymphodepletion starts this many days before the infusion (day 0)."""
    fludarabine_mg_per_m2_per_day: Annotated[
        DrugDose, ui("Fludarabine", _MG_M2_DAY, step=1.0, rank=1)
    ]
    """Daily fludarabine dose per m² of body surface area."""
    cyclophosphamide_mg_per_m2_per_day: Annotated[
        DrugDose, ui("Cyclophosphamide", _MG_M2_DAY, step=10.0, rank=1)
    ]
    """Daily cyclophosphamide dose per m² of body surface area."""
    treatment_days: Annotated[
        int, Field(ge=0, le=int(MAX_DAYS)), ui("Conditioning treatment days", "days")
    ]
    """Days of fludarabine and cyclophosphamide."""

    @model_validator(mode="after")
    def _fits(self) -> Conditioning:
        if self.treatment_days > self.days_before_infusion:
            raise ValueError(
                f"treatment_days ({self.treatment_days}) must fit within days_before_infusion "
                f"({self.days_before_infusion:g})"
            )
        return self


class Infusion(CapacityBlock):
    """Infusion and the hospital stay after it: beds, stay and intensive care (days)."""

    UNITS = CAPACITY_FIELDS["infusion"]

    beds: Annotated[Count, ui("Beds", "count")]
    """Beds for infused patients, each held from infusion to discharge."""
    beds_changes: Annotated[list[UnitsFrom] | None, ui("Bed changes")] = None
    """Changes of the beds from given days; empty: the same beds throughout."""
    stay_days: Annotated[Duration, ui("Inpatient stay", "days from infusion", step=1.0)]
    """Bed days from infusion (day 0) to discharge."""
    icu_prob: Annotated[Prob, ui("Intensive care needed", _PROB)]
    """Share of infused patients who need intensive care."""
    icu_days: Annotated[Duration, ui("Intensive-care stay", "days", step=1.0)] = Fixed(value=0.0)
    """Intensive-care days of a patient who needs them (part of the stay)."""
    days: Annotated[Days | None, ui("Infusion days")] = None
    """Weekdays an infusion (day 0) may fall on; conditioning is planned back from it;
    empty: every day."""


LEFT_OUT_WHEN_ABSENT = (
    "apheresis.slots_changes",
    "manufacturing.suites_changes",
    "infusion.beds_changes",
    "apheresis.days",
    "manufacturing.start_days",
    "manufacturing.release_days",
    "infusion.days",
    "calendar",
    "phase1",
    "costs",
)
"""Optional fields that a scenario file written by :meth:`Scenario.to_yaml` leaves out when
they are absent (null)."""


class Scenario(Block):
    """One trial's logistics. Immutable; build variants with
    :func:`sim.core.scenario.with_overrides`."""

    name: Annotated[str, Field(min_length=1), ui("Scenario name", stage=_TARGET)]
    """A name for this scenario."""
    description: Annotated[str | None, ui("Description", stage=_TARGET)] = None
    """What the scenario is (optional)."""
    start_date: Annotated[Date, ui("Trial start", "date", stage=_TARGET)]
    """Day 0 of the simulation; all times count from it."""
    horizon_days: Annotated[
        float,
        Field(gt=0, le=MAX_HORIZON_DAYS),
        ui("Horizon", "days", stage=_TARGET, step=30.0, rank=1),
    ]
    """A simulated trial stops here even if the target is not reached."""
    target: Annotated[Target, ui(stage=_TARGET)]
    follow_up_days: Annotated[DayCount, ui("Follow-up", "days", stage=_TARGET, step=1.0)] = 0.0
    """Primary completion is the target-th milestone plus this follow-up."""
    referral: Annotated[Referral, ui(stage=_REFERRAL)]
    screening: Annotated[Screening, ui(stage=_SCREENING)]
    patients: Annotated[Patients, ui(stage=_CONDITIONING, rank=2)]
    apheresis: Annotated[Apheresis, ui(stage=_APHERESIS)]
    manufacturing: Annotated[Manufacturing, ui(stage=_MANUFACTURING)]
    dose: Annotated[Dose, ui(stage=_MANUFACTURING, rank=1)]
    deterioration: Annotated[
        Deterioration | None, ui("Patients deteriorate while they wait", stage=_DETERIORATION)
    ] = None
    """Each patient carries a latent time from referral to death or loss of eligibility;
    reached before infusion, the patient leaves the pathway."""
    conditioning: Annotated[Conditioning, ui(stage=_CONDITIONING)]
    infusion: Annotated[Infusion, ui(stage=_INFUSION)]
    calendar: Annotated[
        Calendar | None, ui("Keep a working calendar (holidays, closures)", stage=_CALENDAR)
    ] = None
    """Public holidays and facility closures: no collection, batch start, QC release or
    infusion on them; absent: every day is a working day."""
    phase1: Annotated[Phase1 | None, ui("Dose finding (phase 1) before phase 2", stage=_PHASE1)] = (
        None
    )
    """Dose finding before phase 2: cohorts infused in turn, each followed by a DLT window;
    absent: no dose-finding phase."""
    costs: Annotated[Costs | None, ui("Count costs", stage=_COSTS)] = None
    """The price of each thing a simulated trial uses (suite-days, batches, collections,
    bed-days, drugs, months late); the summary then gives the cost per trial and per
    infused patient. Prices change no simulated figure."""

    @field_validator("referral")
    @classmethod
    def _bounded_referrals(cls, referral: Referral, info: ValidationInfo) -> Referral:
        horizon = info.data.get("horizon_days")
        if horizon is None:
            return referral
        expected = sum(site.referrals_by(horizon) for site in referral.sites)
        if expected > MAX_REFERRALS:
            raise ValueError(
                f"the sites' rates give {expected:,.0f} expected referrals up to the horizon "
                f"({horizon:g} days); a simulated trial holds at most {MAX_REFERRALS:,}: lower "
                "the rates or the horizon"
            )
        return referral

    @field_validator("target")
    @classmethod
    def _deadline_after_start(cls, target: Target, info: ValidationInfo) -> Target:
        start = info.data.get("start_date")
        if start is not None and target.deadline is not None and target.deadline < start:
            raise ValueError(
                f"deadline ({target.deadline}) must not be before start_date ({start})"
            )
        return target

    def capacity_schedule(self, resource: str) -> tuple[tuple[float, int], ...]:
        """Units of ``resource`` (apheresis, manufacturing or beds) from day 0 and from each
        change: ``((0.0, 1), (365.0, 2))``."""
        block = getattr(self, "infusion" if resource == "beds" else resource)
        field = CAPACITY_FIELDS["infusion" if resource == "beds" else resource]
        changes = getattr(block, f"{field}_changes") or ()
        return ((0.0, getattr(block, field)), *((c.from_day, c.units) for c in changes))

    @property
    def deadline_day(self) -> float | None:
        """The deadline as days from the start, or None."""
        d = self.target.deadline
        return None if d is None else float((d - self.start_date).days)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that validates back to an equal scenario."""
        return self.model_dump(mode="python", by_alias=True, exclude_none=False)

    def to_yaml(self) -> str:
        """The scenario as YAML that loads back to an equal scenario. The optional fields
        added with calendars and phase 1 are left out when absent, so the file of a scenario
        without them is as it was before they existed."""
        data = self.to_dict()
        for path in LEFT_OUT_WHEN_ABSENT:
            *blocks, last = path.split(".")
            node = data
            for name in blocks:
                node = node[name]
            if node.get(last, 0) is None:
                del node[last]
        return dump_yaml(data)

    def digest(self) -> str:
        """SHA-256 of the scenario's canonical JSON: same digest, same scenario."""
        data = self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        text = json.dumps(data, sort_keys=True)  # defaults left out: new optional fields
        # leave the digests of existing scenarios unchanged
        return hashlib.sha256(text.encode()).hexdigest()
