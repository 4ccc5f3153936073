"""Phase 1 pacing: cohort slots, the order and stagger of infusions, DLT windows and the
dose-escalation decisions (3+3 or fixed).

A patient takes a cohort slot when it passes screening (or waits for one, or leaves:
``when_full``). Within a cohort, patients are infused in slot order, each no earlier than
the previous one's infusion plus ``stagger_days``; a cohort's first infusion waits for the
previous cohort's DLT decision, made ``dlt_window_days`` after its last infusion, and its
conditioning starts no earlier than that decision. A patient who leaves before infusion
frees its slot for the next one (a replacement, last in the cohort's order). The decision
escalates, repeats the level, ends phase 1 (then phase 2 starts: no pacing, the ``dose``
block) or stops the trial for toxicity (no level cleared).
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

from simpy.events import Event

from sim.core.patient import Outcome, Patient
from sim.core.protocol import Phase1

if TYPE_CHECKING:
    from sim.core.model import Trial

INF = math.inf
FOLLOW_UP_EVENTS = ("dlt", "no_dlt")
"""Events of a phase 1 patient's DLT decision: follow-up, logged when the cohort's window
ends, which may be after the patient's discharge (its exit from the pathway)."""


class Cohort:
    """One cohort: its dose level (None until decided), its slot holders in slot order,
    and its infusions."""

    __slots__ = ("decided_day", "gate", "index", "infused", "last_infusion", "level", "members")

    def __init__(self, index: int, level: int | None, gate: float) -> None:
        self.index = index
        self.level = level
        self.gate = gate
        """Day from which its first patient may start conditioning (the previous decision)."""
        self.members: list[Patient] = []
        self.infused = 0
        self.last_infusion = math.nan
        self.decided_day = math.nan


def escalation(rule: str, dlts: int, earlier: list[int]) -> str:
    """The 3+3 decision on a cohort with ``dlts`` DLTs, after ``earlier`` cohorts' DLTs at
    its level: ``escalate``, ``repeat`` (another cohort at the level) or ``stop``.

    A cohort first at its level: none escalates, one repeats, more stop; the second at a
    level: at most one DLT over both escalates, more stop. ``fixed`` always repeats.
    """
    if rule == "fixed":
        return "repeat"
    if not earlier:
        return "escalate" if dlts == 0 else "repeat" if dlts == 1 else "stop"
    return "escalate" if dlts + sum(earlier) <= 1 else "stop"


class DoseFinding:
    """The phase 1 of one replication: slots, turns, decisions. ``phase`` is 1, then 2 (or
    ``stopped``)."""

    def __init__(self, trial: Trial, spec: Phase1) -> None:
        self.trial = trial
        self.spec = spec
        self.phase: int | str = 1
        self.cohorts: list[Cohort] = [Cohort(0, 0, 0.0)]
        self.slot_queue: deque[tuple[Patient, Event]] = deque()
        self._turns: dict[int, Event] = {}
        self.dlts_at: dict[int, list[int]] = {}
        """Level -> DLTs of each decided cohort at that level."""
        self.recommended = math.nan
        """0-based level recommended at the end of phase 1; -1: none (stopped); NaN: not yet."""
        self.first_infusion = math.nan
        self.end_day = math.nan

    # --- slots ---------------------------------------------------------------------------
    def _open(self) -> Cohort | None:
        """The first cohort open for enrolment with a free slot, if any."""
        for c in self.cohorts:
            if len(c.members) < self.spec.cohort_size:
                return c
        return None

    def _take(self, p: Patient, c: Cohort) -> None:
        p.phase, p.cohort = 1, c.index
        p.slot_day = self.trial.env.now
        c.members.append(p)
        self.trial._event(p, "slot", "phase1")

    def enrol(self, p: Patient):
        """At enrolment: take a slot, wait for one, or leave (no_slot). True to go on."""
        trial = self.trial
        if self.phase != 1:
            p.phase = 2
            return True
        c = self._open()
        if c is not None:
            self._take(p, c)
            return True
        if self.spec.when_full == "refer_elsewhere":
            trial._exit(p, Outcome.NO_SLOT)
            return False
        ev = Event(trial.env)
        self.slot_queue.append((p, ev))
        trial._event(p, "slot_wait", "phase1")
        if not (yield from self._wait(p, ev)):
            self.slot_queue.remove((p, ev))
            trial._exit(p, Outcome.DETERIORATED)
            return False
        return True

    def _wait(self, p: Patient, ev: Event):
        """Wait for ``ev`` unless the patient deteriorates first; True if ``ev`` came."""
        env = self.trial.env
        if p.death == INF:
            yield ev
            return True
        yield ev | env.timeout(max(0.0, p.death - env.now))
        return ev.triggered

    def _fill(self) -> None:
        """Give free slots to the patients waiting for one, in order."""
        while self.slot_queue:
            c = self._open()
            if c is None:
                return
            p, ev = self.slot_queue.popleft()
            self._take(p, c)
            ev.succeed()

    def left(self, p: Patient) -> None:
        """A phase 1 patient left the pathway before infusion: its slot is free again."""
        if p.phase != 1 or not math.isnan(p.infused) or self.phase != 1:
            return
        c = self.cohorts[p.cohort]
        if p in c.members:
            c.members.remove(p)
        self._turns.pop(p.id, None)
        self._fill()
        self._pass_turn(c)

    # --- turns -----------------------------------------------------------------------------
    def _next_in(self, c: Cohort) -> Patient | None:
        return next((m for m in c.members if math.isnan(m.infused)), None)

    def _pass_turn(self, c: Cohort) -> None:
        """Wake the cohort's next patient in slot order if it is waiting and may go."""
        if c.level is None:
            return
        nxt = self._next_in(c)
        if nxt is not None and nxt.id in self._turns:
            self._turns.pop(nxt.id).succeed()

    def turn(self, p: Patient):
        """Wait for the patient's turn; the earliest day 0 it may have (-inf: none, as a
        patient of phase 2), or None if it deteriorated while waiting (it has left)."""
        trial = self.trial
        if p.phase == 1 and self.phase == 1:
            c = self.cohorts[p.cohort]
            if c.level is None or self._next_in(c) is not p:
                ev = self._turns[p.id] = Event(trial.env)
                if not (yield from self._wait(p, ev)):
                    self._turns.pop(p.id, None)
                    trial._exit(p, Outcome.DETERIORATED)
                    return None
        if p.phase != 1:  # phase 1 ended while it waited
            return -INF
        c = self.cohorts[p.cohort]
        p.level = c.level
        p.turn_day = trial.env.now
        trial._event(p, "turn", "phase1")
        if c.infused:
            return c.last_infusion + self.spec.stagger_days
        return c.gate + trial.scenario.conditioning.days_before_infusion

    def level_dose(self, p: Patient) -> float:
        """The dose (cells/kg) a phase 1 patient's batch must reach: its cohort's level, or
        for a cohort whose level is not yet decided the level above the last one (the
        highest it may get)."""
        c = self.cohorts[p.cohort]
        levels = self.spec.dose_levels
        level = c.level
        if level is None:
            level = min(self.cohorts[c.index - 1].level + 1, len(levels) - 1)
        return levels[level].dose_per_kg

    # --- infusions and decisions --------------------------------------------------------------
    def infused(self, p: Patient) -> None:
        """Day 0 of a phase 1 patient: its dose is its level's; its DLT is drawn now (known at
        the decision). A full cohort opens the next (enrol_ahead) and awaits its decision."""
        trial, spec = self.trial, self.spec
        now = trial.env.now
        c = self.cohorts[p.cohort]
        p.dose_per_kg = spec.dose_levels[c.level].dose_per_kg
        p.dlt = trial.draws.dlt_u[p.id] < spec.dose_levels[c.level].dlt_prob
        if math.isnan(self.first_infusion):
            self.first_infusion = now
        c.infused += 1
        c.last_infusion = now
        if c.infused < spec.cohort_size:
            self._pass_turn(c)
            return
        if spec.enrol_ahead:
            self.cohorts.append(Cohort(c.index + 1, None, INF))
            self._fill()
        trial.env.timeout(spec.dlt_window_days).callbacks.append(lambda _: self._decide(c))

    def _decide(self, c: Cohort) -> None:
        """The DLT decision on cohort ``c``, at the end of its window."""
        trial, spec = self.trial, self.spec
        if trial.done.triggered:
            return
        now = trial.env.now
        c.decided_day = now
        dlts = 0
        for m in c.members:
            m.dlt_day = now
            dlts += m.dlt
            trial._event(m, "dlt" if m.dlt else "no_dlt", "phase1")
        earlier = self.dlts_at.setdefault(c.level, [])
        verdict = escalation(spec.rule, dlts, earlier)
        earlier.append(dlts)
        top = len(spec.dose_levels) - 1
        if spec.rule == "fixed":
            if len(earlier) >= spec.cohorts:
                return self._end(c.level)
            level = c.level
        elif verdict == "stop":
            return self._end(c.level - 1)
        elif verdict == "escalate":
            if c.level == top:
                return self._end(top)
            level = c.level + 1
        else:
            level = c.level
        if len(self.cohorts) == c.index + 1:
            self.cohorts.append(Cohort(c.index + 1, level, now))
        nxt = self.cohorts[c.index + 1]
        nxt.level, nxt.gate = level, now
        self._fill()
        self._pass_turn(nxt)

    def _end(self, level: int) -> None:
        """Phase 1 ends at ``level`` (-1: none cleared, the trial stops for toxicity)."""
        trial = self.trial
        self.recommended = level
        self.end_day = trial.env.now
        if level < 0:
            self.phase = "stopped"
            trial.stop_for_toxicity()
            return
        self.phase = 2
        for c in self.cohorts:  # slots of a cohort that will not be infused: phase 2
            for m in c.members:
                if math.isnan(m.infused):
                    m.phase = 2
                    trial._event(m, "phase2", "phase1")
        while self.slot_queue:
            p, ev = self.slot_queue.popleft()
            p.phase = 2
            trial._event(p, "phase2", "phase1")
            ev.succeed()
        for ev in self._turns.values():
            ev.succeed()
        self._turns.clear()
