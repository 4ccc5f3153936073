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
    NO_SLOT = "no_slot"
    """Phase 1: passed screening when no cohort slot was open, and went elsewhere."""
    STOPPED = "stopped"
    """Phase 1: still in the pathway when the trial stopped for toxicity."""


PHASE1_OUTCOMES = (Outcome.NO_SLOT.value, Outcome.STOPPED.value)
"""The outcomes only a scenario with a dose-finding phase can have."""
OUTCOMES = tuple(o.value for o in Outcome if o.value not in PHASE1_OUTCOMES)
"""The outcomes of every scenario (a scenario with phase 1 adds :data:`PHASE1_OUTCOMES`)."""
ALL_OUTCOMES = OUTCOMES + PHASE1_OUTCOMES


def outcomes_of(has_phase1: bool) -> tuple[str, ...]:
    """The outcomes a scenario's outputs list: with phase 1, two more."""
    return ALL_OUTCOMES if has_phase1 else OUTCOMES


class Patient:
    """One referred patient: milestone days (NaN = not reached), attempts, outcome."""

    __slots__ = (
        "apheresed",
        "apheresis_attempts",
        "apheresis_start",
        "bed_booked",
        "bridging_start",
        "bsa_m2",
        "cohort",
        "collection_start",
        "conditioned",
        "consented",
        "cyclophosphamide_mg",
        "death",
        "discharged",
        "dlt",
        "dlt_day",
        "dose_per_kg",
        "enrolled",
        "exit",
        "fludarabine_mg",
        "icu",
        "id",
        "infused",
        "level",
        "manufacturing_attempts",
        "manufacturing_start",
        "outcome",
        "phase",
        "referred",
        "released",
        "screened",
        "site",
        "slot_day",
        "turn_day",
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
        # phase 1: the cohort (-1: none) and dose level (0-based; -1: none) of its slot
        self.phase = 0  # 1 or 2 once enrolled in a scenario with phase 1
        self.cohort = self.level = -1
        self.slot_day = self.turn_day = self.dlt_day = nan
        self.dlt = False


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
