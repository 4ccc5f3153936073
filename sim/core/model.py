"""The trial pathway as SimPy processes: referral to infusion, one process per patient.

Time is in days from the scenario's ``start_date``. The processes read like the protocol:
:meth:`Trial.patient` walks consent and screening, :meth:`Trial.apheresis`,
:meth:`Trial.manufacturing`, :meth:`Trial.conditioning_and_infusion`.

Deterioration is a latent time per patient (DESIGN.md section 3.5). A patient whose time
comes while it waits or holds a resource leaves at that moment. Holding is a timeout cut
short at that time; waiting in a queue is resolved when a unit frees (the patient's exit is
recorded at its own time), so no patient carries a condition event or a watcher process.
"""

from __future__ import annotations

import gc
import math
from dataclasses import dataclass

import numpy as np
import simpy
from simpy.events import Event

from sim.core.calendar import stage_calendars
from sim.core.draws import PatientDraws
from sim.core.pacing import DoseFinding
from sim.core.patient import Observed, Outcome, Patient, Remaining
from sim.core.referral import referral_days
from sim.core.resume import resume
from sim.core.scenario import Scenario
from sim.core.station import Station, Units
from sim.core.streams import Streams

INF = math.inf


@dataclass(frozen=True)
class Shared:
    """What a trial of a facility shares with the others: the event loop, the units of the
    shared resources (by resource name; the others are the trial's own), the priority of
    its patients in their queues (lower first) and the prefix of its random streams ("" for
    the first trial, so that a facility of one trial is that trial alone)."""

    env: simpy.Environment
    units: dict[str, Units]
    priority: int = 0
    streams_prefix: str = ""


class Trial:
    """One replication of the trial: resources, patients and the pathway processes."""

    def __init__(
        self,
        scenario: Scenario,
        seed: np.random.SeedSequence | int,
        keep_log: bool = True,
        observed: Observed | None = None,
        shared: Shared | None = None,
    ) -> None:
        sc = self.scenario = scenario
        self.observed = observed
        self.start = start = observed.start_day if observed else 0.0
        """Day the simulation starts: 0, or a forecast's as-of day."""
        if shared is None:
            self.env = env = simpy.Environment(initial_time=start)
            self.streams = streams = Streams(seed)
        else:  # one trial of a facility: its clock, its units and its own streams
            self.env = env = shared.env
            self.streams = streams = Streams(seed, shared.streams_prefix)
        days, sites = referral_days(sc, streams)
        if observed:  # referrals up to the start are the observed ones
            keep = days > start
            days, sites = days[keep], sites[keep]
        self.referral_days, self.referral_sites = days, sites
        self.first_new = len(observed.in_pathway) if observed else 0
        self.draws = PatientDraws(sc, self.first_new + len(days), streams)
        self.patients: list[Patient] = []
        self.log: list[tuple[int, float, str, str]] | None = [] if keep_log else None

        units = shared.units if shared else {}
        priority = shared.priority if shared else 0

        def station(name: str) -> Station:
            return Station(
                env, name, sc.capacity_schedule(name), self._renege, units.get(name), priority
            )

        self.apheresis_slots = station("apheresis")
        self.suites = station("manufacturing")
        self.bed_bookings = station("beds")
        self.stations = (self.apheresis_slots, self.suites, self.bed_bookings)

        self.milestone = sc.target.milestone
        self.target_count = sc.target.count
        self.reached = {"enrolled": 0, "apheresed": 0, "infused": 0}
        self.time_to_target = math.nan
        self.closed = False
        self.active = 0
        self.end = math.nan
        self.done = env.event()
        self.calendars = stage_calendars(sc)
        """Each stage's working days (None: any day)."""
        self.pacing = DoseFinding(self, sc.phase1) if sc.phase1 is not None else None
        """The dose-finding phase 1, if the scenario has one."""
        self.stopped = False
        """Whether phase 1 stopped the trial for toxicity."""

    # --- running ---------------------------------------------------------------------------
    def run(self) -> Trial:
        self.begin()
        self.env.run(until=self.done)
        return self.finish()

    def begin(self) -> None:
        """Start referral and the horizon's clock (the event loop is run by the caller)."""
        env = self.env
        if self.observed is not None:
            resume(self, self.observed)
        env.process(self.referral())
        horizon = self.scenario.horizon_days
        env.timeout(max(0.0, horizon - env.now)).callbacks.append(self._at_horizon)

    def finish(self) -> Trial:
        """Close the books once the trial has ended (or the horizon came)."""
        if math.isnan(self.end):
            self.end = self.scenario.horizon_days
        self._finish()
        return self

    def _at_horizon(self, _: Event) -> None:
        if not self.done.triggered:
            self.end = self.scenario.horizon_days
            self.done.succeed()

    def _finish(self) -> None:
        end = self.end
        for station in self.stations:
            for p in station.withdraw():  # deteriorated in the queue before the end
                if p.death < end:
                    self._renege(p, station)
            station.close(end)
        if self.stopped:  # everyone not yet infused leaves with the trial
            for p in self.patients:
                if p.outcome is Outcome.IN_PATHWAY and math.isnan(p.infused):
                    p.outcome, p.exit = Outcome.STOPPED, end
                    self._event(p, Outcome.STOPPED.value, at=end)

    def stop_for_toxicity(self) -> None:
        """Phase 1 cleared no dose level: the trial stops now."""
        self.closed = self.stopped = True
        if not self.done.triggered:
            self.end = self.env.now
            self.done.succeed()

    # --- bookkeeping -----------------------------------------------------------------------
    def _event(self, p: Patient, what: str, resource: str = "", at: float | None = None) -> None:
        if self.log is not None:
            self.log.append((p.id, self.env.now if at is None else at, what, resource))

    def _exit(self, p: Patient, outcome: Outcome, at: float | None = None) -> None:
        """The patient's pathway ends now (or at ``at``) with ``outcome``."""
        self._settle(p, outcome, at)
        self._leave(p, at)
        if self.pacing is not None:
            self.pacing.left(p)

    def _settle(self, p: Patient, outcome: Outcome, at: float | None = None) -> None:
        """The patient's one terminal outcome is known now (or at ``at``): for ``infused``,
        at day 0 of the infusion, though the patient stays in hospital."""
        p.outcome = outcome
        self._event(p, outcome.value, at=at)

    def _leave(self, p: Patient, at: float | None = None) -> None:
        """The patient leaves the pathway (and the trial, once closed, may end)."""
        p.exit = self.env.now if at is None else at
        self.active -= 1
        if self.closed and self.active == 0 and not self.done.triggered:
            self.end = self.env.now
            self.done.succeed()

    def _renege(self, p: Patient, station: Station) -> None:
        """``p`` deteriorated at ``p.death`` while waiting for ``station``."""
        station.leave_queue(p, p.death)
        self._event(p, "renege", station.name, at=p.death)
        self._exit(p, Outcome.DETERIORATED, at=p.death)

    def _reach(self, p: Patient, milestone: str) -> None:
        # day 0 is logged as the milestone "infusion"; "infused" is the outcome, logged then too
        self._event(p, "infusion" if milestone == "infused" else milestone)
        n = self.reached[milestone] = self.reached[milestone] + 1
        if milestone == self.milestone and n == self.target_count:
            self.time_to_target = self.env.now
            self.closed = True  # referral stops; patients inside finish the pathway

    def _spend(self, p: Patient, days: float):
        """Let ``days`` pass unless the patient deteriorates first; True if it did not."""
        env = self.env
        if p.death < env.now + days:
            yield env.timeout(p.death - env.now)
            return False
        if days > 0:
            yield env.timeout(days)
        return True

    def _acquire(self, station: Station, p: Patient):
        """Wait for a unit of ``station`` (the queue is left if the patient deteriorates)."""
        grant = station.request(p)
        if grant is not None:
            yield grant

    def _open_day(self, p: Patient, stage: str):
        """Wait, if need be, for the next day ``stage`` may start on; True unless the patient
        deteriorated first."""
        cal = self.calendars[stage]
        if cal is None:
            return True
        now = self.env.now
        start = cal.next_start(now)
        return start <= now or (yield from self._spend(p, start - now))

    def _hold_to_open_day(self, p: Patient, station: Station, stage: str):
        """Hold a granted unit of ``station`` until ``stage`` may start; False if the patient
        deteriorated first (the unit is freed; the request counts, with its wait)."""
        if not (yield from self._open_day(p, stage)):
            station.begin(p)
            self._event(p, "renege", station.name)
            station.release()
            return False
        return True

    # --- the pathway -----------------------------------------------------------------------
    def referral(self):
        """Referrals from every site, in time order, until the target closes the trial."""
        env, draws = self.env, self.draws
        for pid, (day, site) in enumerate(
            zip(self.referral_days.tolist(), self.referral_sites.tolist(), strict=True),
            start=self.first_new,
        ):
            if day > env.now:
                yield env.timeout(day - env.now)
            if self.closed:
                return
            now = env.now  # the referral day, as the clock has it (not a rounding away)
            p = Patient(pid, site, now, now + draws.deterioration_days[pid])
            self.patients.append(p)
            self.active += 1
            self._event(p, "referred")
            env.process(self.patient(p))

    def patient(self, p: Patient, stage: str = "referral", left: Remaining | None = None):
        """One patient's path from referral to discharge (or from ``stage``, with ``left``
        days of it to go, for a patient already inside when a forecast starts)."""
        sc, draws, i = self.scenario, self.draws, p.id
        left = left or Remaining()
        if stage == "referral":
            if draws.consent_u[i] < sc.screening.consent_decline_prob:
                return self._exit(p, Outcome.DECLINED_CONSENT)
            p.consented = self.env.now
            self._event(p, "consented")
            stage = "screening"
        if stage == "screening":
            screening = draws.screen_days[i] if math.isnan(left.days) else left.days
            if not (yield from self._spend(p, screening)):
                return self._exit(p, Outcome.DETERIORATED)
            p.screened = self.env.now
            self._event(p, "screened")
            if draws.screen_fails[i]:
                return self._exit(p, Outcome.SCREEN_FAILED)
            p.enrolled = p.screened
            self._reach(p, "enrolled")
            if self.pacing is not None and not (yield from self.pacing.enrol(p)):
                return
            stage = "apheresis"
        if stage in ("apheresis", "manufacturing"):
            if not (yield from self.collect_and_make(p, stage == "manufacturing", left)):
                return
            stage = "release"
        if stage == "release":
            yield from self.conditioning_and_infusion(p)
        elif stage == "hospital":
            yield from self.hospital_stay(p, left.days)

    def collect_and_make(self, p: Patient, collected: bool = False, left: Remaining | None = None):
        """Apheresis then manufacturing, collecting again after a failed batch where the
        scenario says so. True once a batch is released (False: the patient has left).
        ``left``: what remains of a resumed patient's first batch."""
        mf = self.scenario.manufacturing
        cycles = mf.max_attempts if mf.recollect_on_failure else 1
        for _ in range(cycles):
            if not collected and not (yield from self.apheresis(p)):
                return False
            if (yield from self.manufacturing(p, left)):
                return True
            if p.outcome is not Outcome.IN_PATHWAY:
                return False
            collected, left = False, None
        self._exit(p, Outcome.MANUFACTURING_FAILED)
        return False

    def apheresis(self, p: Patient):
        """Collect cells on a slot; retry a failed collection. True once collected."""
        ap, draws, env = self.scenario.apheresis, self.draws, self.env
        slots = self.apheresis_slots
        for attempt in range(1, ap.max_attempts + 1):
            k = p.apheresis_attempts
            p.apheresis_attempts += 1
            slots.ready(p)
            self._event(p, "queue", "apheresis")
            yield from self._acquire(slots, p)
            if not (yield from self._hold_to_open_day(p, slots, "apheresis")):
                return self._exit(p, Outcome.DETERIORATED)
            slots.begin(p)
            slots.occupy(p)
            self._event(p, "start", "apheresis")
            p.collection_start = env.now
            if math.isnan(p.apheresis_start):
                p.apheresis_start = env.now
            collected = yield from self._spend(p, draws.at("apheresis_days", p.id, k))
            slots.vacate(p)
            self._event(p, "end", "apheresis")
            slots.release()
            if not collected:
                return self._exit(p, Outcome.DETERIORATED)
            if not draws.at("apheresis_fails", p.id, k):
                break
            self._event(p, "collection_failed")
            if attempt == ap.max_attempts:
                return self._exit(p, Outcome.APHERESIS_FAILED)
            if not (yield from self._spend(p, draws.at("apheresis_retry_days", p.id, k))):
                return self._exit(p, Outcome.DETERIORATED)
        if math.isnan(p.apheresed):
            p.apheresed = env.now
            self._reach(p, "apheresed")
            self._start_bridging(p)
        return True

    def _start_bridging(self, p: Patient) -> None:
        """Bridging therapy from now stretches the time left to deterioration."""
        det = self.scenario.deterioration
        if det is None or det.bridging is None or not self.draws.bridging[p.id]:
            return
        now = self.env.now
        p.bridging_start = now
        p.death = now + (p.death - now) * det.bridging.time_ratio
        self._event(p, "bridging_start")

    def manufacturing(self, p: Patient, left: Remaining | None = None):
        """Make and release a batch; remake from stored cells on failure unless the scenario
        says to collect again. True once a batch is released. ``left``: what remains of the
        first batch of a patient already inside when a forecast starts (it holds its suite)."""
        mf, draws, env = self.scenario.manufacturing, self.draws, self.env
        suites = self.suites
        resumed = left is not None and not math.isnan(left.days)
        while p.manufacturing_attempts < mf.max_attempts:
            k = p.manufacturing_attempts
            p.manufacturing_attempts += 1
            if resumed:
                make, qc = left.days, left.qc
            else:
                make, qc = draws.at("manufacturing_days", p.id, k), draws.at("qc_days", p.id, k)
            made = True
            if make > 0:
                if resumed:  # in production already: its suite, above capacity if need be
                    suites.take(p)
                else:
                    suites.ready(p)
                    self._event(p, "queue", "manufacturing")
                    yield from self._acquire(suites, p)
                    if not (yield from self._hold_to_open_day(p, suites, "manufacturing")):
                        self._exit(p, Outcome.DETERIORATED)
                        return False
                    suites.begin(p)
                    suites.occupy(p)
                self._event(p, "start", "manufacturing")
                if math.isnan(p.manufacturing_start):
                    p.manufacturing_start = env.now
                made = yield from self._spend(p, make)
                suites.vacate(p)
                self._event(p, "end", "manufacturing")
                suites.release()
            resumed = False
            if (
                not made
                or not (yield from self._spend(p, qc))
                or not (yield from self._open_day(p, "release"))
            ):
                self._exit(p, Outcome.DETERIORATED)
                return False
            if not self._batch_failed(p, k):
                p.released = env.now
                self._event(p, "released")
                return True
            self._event(p, "batch_failed")
            if mf.recollect_on_failure:
                if p.manufacturing_attempts >= mf.max_attempts:
                    break
                return False
        self._exit(p, Outcome.MANUFACTURING_FAILED)
        return False

    def _batch_failed(self, p: Patient, k: int) -> bool:
        """QC release fails the batch by chance or when its yield is below the minimum dose;
        a released batch sets the patient's dose (cells/kg), capped at the maximum."""
        draws, dose = self.draws, self.scenario.dose
        if draws.at("batch_fails", p.id, k):
            return True
        if not draws.has_yield:
            return False
        weight = draws.weight_kg[p.id]
        cells = draws.at("yield_cells", p.id, k)
        least = dose.min_per_kg
        if p.phase == 1 and self.pacing.phase == 1:  # the dose of its level (phase 1)
            least = self.pacing.level_dose(p)
        if cells < least * weight:
            return True
        p.dose_per_kg = min(cells / weight, dose.max_per_kg)
        return False

    def conditioning_and_infusion(self, p: Patient):
        """Book a bed, condition from day -L, infuse on day 0, stay; discharge. Day 0 falls on
        an infusion day (conditioning then starts L days before it) and, in phase 1, no
        earlier than the patient's turn allows."""
        sc, draws, env = self.scenario, self.draws, self.env
        cond, beds = sc.conditioning, self.bed_bookings
        lead = cond.days_before_infusion
        earliest = -INF
        if self.pacing is not None:
            earliest = yield from self.pacing.turn(p)
            if earliest is None:
                return
            if earliest - lead > env.now and not (
                yield from self._spend(p, earliest - lead - env.now)
            ):
                return self._exit(p, Outcome.DETERIORATED)
        stay = draws.stay_days[p.id]
        beds.ready(p)
        self._event(p, "queue", "beds")
        # A booking unit is taken when a bed will be free by day 0, and handed on once the
        # next patient's day 0 would fall after this patient's discharge.
        yield from self._acquire(beds, p)
        beds.begin(p)
        p.bed_booked = booked = env.now
        self._event(p, "bed_booked", "beds")
        day0 = self._infusion_day(booked + lead, earliest)
        if day0 > booked + lead and not (yield from self._spend(p, day0 - lead - env.now)):
            self._event(p, "booking_cancelled", "beds")  # before conditioning: no drugs
            beds.release()
            return self._exit(p, Outcome.DETERIORATED)
        p.conditioned = start = env.now
        self._condition(p)
        if not (yield from self._spend(p, lead if day0 == booked + lead else day0 - start)):
            self._event(p, "booking_cancelled", "beds")
            beds.release()
            self._dose_given(p, start, env.now)
            return self._exit(p, Outcome.DETERIORATED)
        p.infused = env.now
        beds.occupy(p)
        self._event(p, "start", "beds")
        p.icu = draws.icu[p.id]
        self._reach(p, "infused")
        self._settle(p, Outcome.INFUSED)
        if self.pacing is not None and p.phase == 1 and self.pacing.phase == 1:
            self.pacing.infused(p)
        yield from self._stay(p, stay)

    def _infusion_day(self, day0: float, earliest: float) -> float:
        """Day 0 for a booking whose day 0 would be ``day0``: no earlier than ``earliest``,
        on the next infusion day."""
        day0 = max(day0, earliest)
        cal = self.calendars["infusion"]
        return day0 if cal is None else cal.next_start(day0)

    def hospital_stay(self, p: Patient, left: float):
        """The rest (``left`` days) of the stay of a patient infused before a forecast."""
        beds = self.bed_bookings
        beds.take(p)  # already in the bed: no queue, not a request
        self._settle(p, Outcome.INFUSED, at=p.infused)
        self._event(p, "start", "beds")
        yield from self._stay(p, left)

    def _stay(self, p: Patient, days: float):
        """``days`` in the bed from now; the booking is handed on ``days_before_infusion``
        days before discharge, so the next patient's day 0 is never before it."""
        env, beds = self.env, self.bed_bookings
        handover = max(days - self.scenario.conditioning.days_before_infusion, 0.0)
        if handover > 0:
            yield env.timeout(handover)
        self._event(p, "handover", "beds")
        beds.release()
        if days - handover > 0:
            yield env.timeout(days - handover)
        p.discharged = env.now
        beds.vacate(p)
        self._event(p, "end", "beds")
        self._event(p, "discharged")
        self._leave(p)

    def _condition(self, p: Patient) -> None:
        """Lymphodepletion starts now: Mosteller body surface area, planned drug amounts."""
        i = self.draws
        p.bsa_m2 = math.sqrt(i.height_cm[p.id] * i.weight_kg[p.id] / 3600.0)
        self._dose_given(p, self.env.now, math.inf)
        self._event(p, "conditioning_start")

    def _dose_given(self, p: Patient, start: float, stop: float) -> None:
        """Fludarabine and cyclophosphamide (mg) of the treatment days begun before ``stop``."""
        cond = self.scenario.conditioning
        days = cond.treatment_days
        if stop < math.inf:
            days = min(days, max(0, math.ceil(stop - start)))
        p.fludarabine_mg = cond.fludarabine_mg_per_m2_per_day * p.bsa_m2 * days
        p.cyclophosphamide_mg = cond.cyclophosphamide_mg_per_m2_per_day * p.bsa_m2 * days


def run_trial(
    scenario: Scenario,
    seed: np.random.SeedSequence | int,
    keep_log: bool = True,
    observed: Observed | None = None,
) -> Trial:
    """Simulate one replication and return the finished :class:`Trial`.

    Python's cycle collector is paused while the replication runs: the event loop makes
    hundreds of thousands of short-lived objects, freed by reference counting, and the
    collector's passes over them cost a fifth of the time. The few cycles (the trial and its
    processes) are collected once it is switched back on.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return Trial(scenario, seed, keep_log=keep_log, observed=observed).run()
    finally:
        if paused:
            gc.enable()
