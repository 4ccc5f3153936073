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

import datetime as dt
import functools
import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.core.distributions import Duration, Fixed, NonNegQuantity, PositiveQuantity
from sim.core.yamlio import dump_yaml

DAYS_PER_MONTH = 365.25 / 12
"""A month, in days, everywhere in the project."""

MILESTONES = ("enrolled", "apheresed", "infused")

Prob = Annotated[float, Field(ge=0, le=1)]
NonNeg = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Count = Annotated[int, Field(ge=1, le=10_000)]
"""A count of units (slots, suites, beds): 1 to 10,000."""
Attempts = Annotated[int, Field(ge=1, le=100)]
"""Attempts in all, the first included: 1 to 100."""
MAX_HORIZON_DAYS = 36525.0
MAX_DAYS = MAX_HORIZON_DAYS
"""The longest fixed number of days a scenario may give (an opening day, a ramp-up, the
follow-up, the conditioning lead): a hundred years."""
Days = Annotated[float, Field(ge=0, le=MAX_DAYS)]
"""A number of days from 0 to a hundred years."""
FIRST_DATE = dt.date(1900, 1, 1)
LAST_DATE = dt.date(2200, 12, 31)
"""The dates a scenario may hold (its start and its deadline): every date computed from them
(up to a horizon and a follow-up of a hundred years each later) is still a calendar date,
and the dashboard's date inputs span exactly this range."""
MAX_REFERRALS = 1_000_000
"""Referrals a simulated trial may expect up to its horizon. A replication draws every
referral up to the horizon when it starts (about 600 bytes each), so this bounds its memory
(about 0.6 GB)."""
MAX_DRUG_MG_PER_M2 = 100_000.0
"""The largest daily drug dose a scenario may give, mg/m² (far above any protocol's; it keeps
every amount a finite number)."""
MAX_CELLS_PER_KG = 1e12
"""The largest cell dose a scenario may give, cells/kg."""


def _representable(day: dt.date) -> dt.date:
    if not FIRST_DATE <= day <= LAST_DATE:
        raise ValueError(f"must be from {FIRST_DATE} to {LAST_DATE}")
    return day


Date = Annotated[dt.date, Field(strict=False), AfterValidator(_representable)]
"""A calendar date from FIRST_DATE to LAST_DATE (YYYY-MM-DD in a file)."""

STAGES = (
    "Referral",
    "Screening",
    "Apheresis",
    "Manufacturing",
    "Deterioration and bridging",
    "Conditioning",
    "Infusion",
    "Target and horizon",
)
"""The pathway stages of the dashboard's form, in its order."""
_REFERRAL, _SCREENING, _APHERESIS, _MANUFACTURING, _DETERIORATION, _CONDITIONING = STAGES[:6]
_INFUSION, _TARGET = STAGES[6:]
_PROB = "probability 0-1"
_ATTEMPTS = "count, first included"
_MG_M2_DAY = "mg/m² per day"
DrugDose = Annotated[float, Field(ge=0, le=MAX_DRUG_MG_PER_M2)]


def ui(
    label: str = "",
    unit: str = "",
    *,
    stage: str | None = None,
    step: float | None = None,
    fmt: str | None = None,
    toggle: str | None = None,
    rank: int | None = None,
    start: Any = None,
) -> Any:
    """How the dashboard's form shows a field: a pydantic ``Field`` for ``Annotated``.

    ``label`` and ``unit`` name its input (its help is the field's docstring); ``stage`` is
    the pathway stage whose part of the form holds it (given on a block, it holds for the
    block's fields); ``step`` is its input's step; ``fmt`` its printf number format (``%g``
    when not given); ``toggle`` labels the checkbox that switches an optional value on;
    ``rank`` places it among its stage's fields where the schema's order is not the form's
    (lower first, 0 when not given; a block's holds for its fields); ``start`` is the value
    the form starts from when neither the scenario nor the baseline sets it.
    """
    given = {
        "label": label,
        "unit": unit,
        "stage": stage,
        "step": step,
        "fmt": fmt,
        "toggle": toggle,
        "rank": rank,
        "start": start,
    }
    form = {k: v for k, v in given.items() if v is not None and v != ""}
    return Field(json_schema_extra={"form": form})


@functools.cache
def field_docs(model: type[BaseModel]) -> dict[str, str]:
    """The docstring under each field of ``model`` and of its bases, by field name.

    Read from the source when first asked (the dashboard's form asks), not when the schema
    is imported: pydantic's own reading of them would slow every command's start.
    """
    import ast
    import inspect
    import itertools
    import textwrap

    docs: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls is BaseModel:
            continue
        try:
            body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
        except (OSError, TypeError):  # a class made at run time has no source: no help
            continue
        for node, after in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs


class _Block(BaseModel):
    """A part of a scenario; the docstring under each field is the form's help of its input
    (:func:`field_docs`)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        allow_inf_nan=False,
        populate_by_name=True,
    )


class Target(_Block):
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


class Site(_Block):
    """A referring site (a row of the form's table of sites)."""

    name: Annotated[str, Field(min_length=1), ui("Site")]
    rate_per_month: Annotated[float, Field(ge=0, le=100_000), ui("Rate", "referrals/month")]
    """Mean referrals per month at full rate"""
    opens_day: Annotated[Days, ui("Opens", "day")] = 0.0
    """Days from the trial start"""
    ramp_up_days: Annotated[Days, ui("Ramp-up", "days")] = 0.0  # the rate rises linearly
    """Days from opening to the full rate"""
    rate_shape: Annotated[Positive | None, ui("Own gamma shape")] = None  # a forecast sets it
    """This site's rate uncertainty (gamma shape); empty: the shape set below for all sites"""

    def referrals_by(self, day: float, rate_per_day: float | None = None) -> float:
        """Expected referrals in [0, ``day``] at the full rate ``rate_per_day`` (default:
        this site's own, ``rate_per_month`` a month), rising linearly over the ramp-up."""
        rate = self.rate_per_month / DAYS_PER_MONTH if rate_per_day is None else rate_per_day
        t = day - self.opens_day
        if t <= 0 or rate <= 0:
            return 0.0
        ramp = self.ramp_up_days
        if t <= ramp:
            return rate * t * t / (2 * ramp)
        return rate * (t - ramp / 2)


class Referral(_Block):
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


class Screening(_Block):
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


class Patients(_Block):
    """Body size of the patients (for doses): weight in kg, height in cm."""

    weight_kg: Annotated[PositiveQuantity, ui("Patient weight", "kg", step=1.0)]
    """Body weight: body surface area for the drug doses, and the minimum cell dose."""
    height_cm: Annotated[PositiveQuantity, ui("Patient height", "cm", step=1.0)]
    """Height: body surface area for the drug doses."""


class Apheresis(_Block):
    """Cell collection: slots, duration (days), failures and retries."""

    slots: Annotated[Count, ui("Apheresis slots", "count")]
    """Collections that can run at once."""
    duration_days: Annotated[Duration, ui("Apheresis duration", "days", step=1.0)]
    """How long one collection holds a slot."""
    weekdays_only: Annotated[bool, ui("Collect on weekdays only")] = False
    """Collections start Monday to Friday only."""
    failure_prob: Annotated[Prob, ui("Collection failure", _PROB)]
    """Chance that one collection fails (too few cells)."""
    max_attempts: Annotated[Attempts, ui("Collection attempts", _ATTEMPTS)]
    """All collection attempts allowed, the first included (1 = no retry)."""
    retry_after_days: Annotated[Duration, ui("Retry after", "days", step=1.0)]
    """Delay before another collection after a failed one."""


class Manufacturing(_Block):
    """Making the product: suites, duration and QC release (days), failures and yield."""

    suites: Annotated[Count, ui("Manufacturing suites", "count")]
    """Batches that can be made at once."""
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


class Dose(_Block):
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


class Bridging(_Block):
    """Bridging therapy after apheresis, which slows deterioration."""

    prob: Annotated[Prob, ui("Patients bridged", _PROB, start=0.5)]
    """Share of patients given bridging therapy after apheresis."""
    time_ratio: Annotated[Positive, ui("Time stretch by bridging", "ratio", step=0.1, start=1.2)]
    """Factor on the time left to deterioration from the start of bridging."""


class Deterioration(_Block):
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


class Conditioning(_Block):
    """Lymphodepleting chemotherapy before infusion: timing (days) and daily doses."""

    days_before_infusion: Annotated[
        Days, ui("Conditioning starts before infusion", "days", step=1.0)
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


class Infusion(_Block):
    """Infusion and the hospital stay after it: beds, stay and intensive care (days)."""

    beds: Annotated[Count, ui("Beds", "count")]
    """Beds for infused patients, each held from infusion to discharge."""
    stay_days: Annotated[Duration, ui("Inpatient stay", "days from infusion", step=1.0)]
    """Bed days from infusion (day 0) to discharge."""
    icu_prob: Annotated[Prob, ui("Intensive care needed", _PROB)]
    """Share of infused patients who need intensive care."""
    icu_days: Annotated[Duration, ui("Intensive-care stay", "days", step=1.0)] = Fixed(value=0.0)
    """Intensive-care days of a patient who needs them (part of the stay)."""


class Scenario(_Block):
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
    follow_up_days: Annotated[Days, ui("Follow-up", "days", stage=_TARGET, step=1.0)] = 0.0
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

    @property
    def deadline_day(self) -> float | None:
        """The deadline as days from the start, or None."""
        d = self.target.deadline
        return None if d is None else float((d - self.start_date).days)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that validates back to an equal scenario."""
        return self.model_dump(mode="python", by_alias=True, exclude_none=False)

    def to_yaml(self) -> str:
        """The scenario as YAML that loads back to an equal scenario."""
        return dump_yaml(self.to_dict())

    def digest(self) -> str:
        """SHA-256 of the scenario's canonical JSON: same digest, same scenario."""
        data = self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        text = json.dumps(data, sort_keys=True)  # defaults left out: new optional fields
        # leave the digests of existing scenarios unchanged
        return hashlib.sha256(text.encode()).hexdigest()
