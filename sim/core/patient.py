"""The patient record: milestone days, attempts and one terminal outcome; and the state of
patients already inside the pathway when a simulation starts late (a forecast)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    """The one terminal outcome of every referred patient."""

    INFUSED = "infused"
    DECLINED_CONSENT = "declined_consent"
    SCREEN_FAILED = "screen_failed"
    DETERIORATED = "deteriorated"
    APHERESIS_FAILED = "apheresis_failed"
    MANUFACTURING_FAILED = "manufacturing_failed"
    IN_PATHWAY = "in_pathway"


OUTCOMES = tuple(o.value for o in Outcome)


class Patient:
    """One referred patient: milestone days (NaN = not reached), attempts, outcome."""

    __slots__ = (
        "apheresed",
        "apheresis_attempts",
        "apheresis_start",
        "bed_booked",
        "bridging_start",
        "bsa_m2",
        "collection_start",
        "conditioned",
        "consented",
        "cyclophosphamide_mg",
        "death",
        "discharged",
        "dose_per_kg",
        "enrolled",
        "exit",
        "fludarabine_mg",
        "icu",
        "id",
        "infused",
        "manufacturing_attempts",
        "manufacturing_start",
        "outcome",
        "referred",
        "released",
        "screened",
        "site",
    )

    def __init__(self, pid: int, site: int, referred: float, death: float) -> None:
        nan = math.nan
        self.id = pid
        self.site = site
        self.referred = referred
        self.death = death
        self.consented = self.screened = self.enrolled = nan
        self.apheresis_start = self.collection_start = self.apheresed = nan
        self.bridging_start = nan
        self.manufacturing_start = self.released = nan
        self.bed_booked = self.conditioned = self.infused = self.discharged = nan
        self.exit = nan
        self.apheresis_attempts = self.manufacturing_attempts = 0
        self.bsa_m2 = self.dose_per_kg = nan
        self.fludarabine_mg = self.cyclophosphamide_mg = 0.0
        self.icu = False
        self.outcome = Outcome.IN_PATHWAY


STAGES = ("screening", "apheresis", "manufacturing", "release", "hospital")


@dataclass(frozen=True)
class InPathway:
    """A patient already inside the pathway when a simulation starts late (a forecast).

    ``stage`` is where the patient stands, ``since`` the day that stage began; the milestone
    days already passed are kept so tables and counts stay whole. Days from the start date.
    """

    site: int
    referred: float
    stage: str
    since: float
    consented: float = math.nan
    screened: float = math.nan
    apheresed: float = math.nan
    released: float = math.nan
    infused: float = math.nan


@dataclass(frozen=True)
class Remaining:
    """Days left of the stage a resumed patient stands in when a forecast starts, drawn
    from its duration's distribution given the time the stage has already lasted: ``days``
    of screening, of manufacturing in the suite (0: the batch has left it) or of the stay,
    and ``qc`` of QC testing after manufacturing (NaN: not this patient's stage)."""

    days: float = math.nan
    qc: float = math.nan


@dataclass(frozen=True)
class Observed:
    """The trial as observed up to ``start_day``: finished patients and those still inside."""

    start_day: float
    in_pathway: tuple[InPathway, ...] = ()
    finished: tuple[Patient, ...] = ()
    reached: tuple[tuple[str, float], ...] = ()
    """(milestone, day) of every milestone already reached, for target counting."""
