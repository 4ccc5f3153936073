"""Resources: :class:`Units` (identical units, their schedule and their queue) and
:class:`Station` (one trial's use of them, with its own time-weighted accounting).

A trial alone has one station over units of its own. In a facility several trials share the
units: each trial keeps its own station (its waits, its busy days) over the same
:class:`Units`, whose queue serves the lowest priority number first and, within it, first
come first served.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

import simpy
from simpy.events import Event

from sim.core.patient import Patient

RESOURCES = ("apheresis", "manufacturing", "beds")
"""The stations of a trial, by name: apheresis slots, manufacturing suites, bed bookings."""

Schedule = tuple[tuple[float, int], ...]
"""Units of a resource from given days: ``((0, 1), (365, 2))``, first from day 0, days rising."""


def units_at(schedule: Schedule, day: float) -> int:
    """The units in force on ``day``."""
    units = schedule[0][1]
    for start, n in schedule:
        if start > day:
            break
        units = n
    return units


def unit_days(schedule: Schedule, start: float, end: float) -> float:
    """Unit-days available over ``[start, end]`` (the integral of the units in force)."""
    if end <= start:
        return 0.0
    if len(schedule) == 1:
        return schedule[0][1] * (end - start)
    total = 0.0
    bounds = [d for d, _ in schedule[1:]] + [float("inf")]
    for (day, n), until in zip(schedule, bounds, strict=True):
        lo, hi = max(day, start), min(until, end)
        if hi > lo:
            total += n * (hi - lo)
    return total


class Units:
    """Identical units (apheresis slots, manufacturing suites, beds) following a schedule,
    with a queue served by priority (lower first), then first come first served."""

    __slots__ = ("_queues", "capacity", "env", "free", "name", "schedule")

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        schedule: Schedule,
        priorities: Sequence[int] = (0,),
    ) -> None:
        self.env = env
        self.name = name
        self.schedule = schedule
        self.capacity = units_at(schedule, env.now)
        self.free = self.capacity
        self._queues: list[tuple[int, deque[tuple[Patient, Event, Station]]]] = [
            (p, deque()) for p in sorted(set(priorities))
        ]
        if any(day > env.now for day, _ in schedule):
            env.process(self._follow_schedule())

    def queue(self, priority: int) -> deque[tuple[Patient, Event, Station]]:
        for p, q in self._queues:
            if p == priority:
                return q
        raise KeyError(priority)

    def waiting(self) -> list[tuple[Patient, Event, Station]]:
        """Everyone in the queue, in the order they would be served."""
        return [entry for _, q in self._queues for entry in q]

    def _follow_schedule(self):
        env = self.env
        for day, n in self.schedule:
            if day <= env.now:
                continue
            yield env.timeout(day - env.now)
            self.resize(n)

    def resize(self, units: int) -> None:
        """The units in force change now: new units serve the queue at once; units taken
        away go as they are released (those in use finish their work)."""
        self.free += units - self.capacity
        self.capacity = units
        while self.free > 0 and self._grant():
            self.free -= 1

    def request(self, p: Patient, station: Station) -> Event | None:
        """Take a unit now (returns None) or join the queue (returns the grant event)."""
        if self.free > 0:
            self.free -= 1
            return None
        ev = Event(self.env)
        self.queue(station.priority).append((p, ev, station))
        return ev

    def release(self) -> None:
        """Free a unit: the first waiting patient still in the pathway takes it."""
        if self.free < 0:  # a unit held above capacity (see :meth:`take`) goes away
            self.free += 1
            return
        if not self._grant():
            self.free += 1

    def _grant(self) -> bool:
        """Hand a unit to the first waiting patient still in the pathway; False if none."""
        now = self.env.now
        for _, queue in self._queues:
            while queue:
                p, ev, station = queue.popleft()
                if p.death < now:  # deteriorated while waiting: left at p.death
                    station.on_renege(p, station)
                    continue
                ev.succeed()
                return True
        return False

    def withdraw(self, station: Station) -> list[Patient]:
        """Take ``station``'s patients out of the queue (its trial has ended); returns them."""
        gone = []
        for _, queue in self._queues:
            kept = [e for e in queue if e[2] is not station]
            gone += [e[0] for e in queue if e[2] is station]
            queue.clear()
            queue.extend(kept)
        return gone


class Station:
    """One trial's use of a resource's units: requests go to the (possibly shared)
    :class:`Units`; the station keeps the trial's time-weighted usage: the area under its
    queue-length curve, under its in-use curve, the waits of its granted requests (ready to
    start of use) and the count of uses started (collections, batches, bed stays)."""

    __slots__ = (
        "_busy_since",
        "_waiting_since",
        "busy_area",
        "env",
        "n_granted",
        "n_started",
        "name",
        "on_renege",
        "priority",
        "queue_area",
        "units",
        "wait_sum",
    )

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        capacity: int | Schedule,
        on_renege: Callable[[Patient, Station], None],
        units: Units | None = None,
        priority: int = 0,
    ) -> None:
        self.env = env
        self.name = name
        schedule = ((0.0, capacity),) if isinstance(capacity, int) else tuple(capacity)
        self.units = units if units is not None else Units(env, name, schedule, (priority,))
        self.priority = priority
        self.on_renege = on_renege
        self._waiting_since: dict[int, float] = {}
        self._busy_since: dict[int, float] = {}
        self.wait_sum = self.queue_area = self.busy_area = 0.0
        self.n_granted = self.n_started = 0

    @property
    def capacity(self) -> int:
        """The units in force now."""
        return self.units.capacity

    @property
    def schedule(self) -> Schedule:
        return self.units.schedule

    # capacity
    def request(self, p: Patient) -> Event | None:
        """Take a unit now (returns None) or join the queue (returns the grant event)."""
        return self.units.request(p, self)

    def release(self) -> None:
        """Free a unit: the first waiting patient still in the pathway takes it."""
        self.units.release()

    def take(self, p: Patient) -> None:
        """Hold a unit without queueing, above capacity if need be, and use it from now: a
        forecast's patient who already held one when the simulation starts (the log may show
        more than ``capacity``). Its use began before the simulation: not counted as started."""
        self.units.free -= 1
        self._busy_since[p.id] = self.env.now

    def withdraw(self) -> list[Patient]:
        """This station's patients still queueing, taken out of the queue."""
        return self.units.withdraw(self)

    # usage accounting
    def ready(self, p: Patient) -> None:
        self._waiting_since[p.id] = self.env.now

    def begin(self, p: Patient) -> None:
        """The patient's wait ends now (it starts using, or has booked, a unit)."""
        wait = self.env.now - self._waiting_since.pop(p.id)
        self.wait_sum += wait
        self.queue_area += wait
        self.n_granted += 1

    def leave_queue(self, p: Patient, at: float) -> None:
        self.queue_area += at - self._waiting_since.pop(p.id)

    def occupy(self, p: Patient) -> None:
        """The patient starts using a unit now (a use started)."""
        self._busy_since[p.id] = self.env.now
        self.n_started += 1

    def vacate(self, p: Patient, at: float | None = None) -> None:
        at = self.env.now if at is None else at
        self.busy_area += at - self._busy_since.pop(p.id)

    def close(self, end: float) -> None:
        """Cut what is still waiting or in use at ``end`` (the replication's last day)."""
        for since in self._waiting_since.values():
            self.queue_area += max(0.0, end - since)
        for since in self._busy_since.values():
            self.busy_area += max(0.0, end - since)
        self._waiting_since.clear()
        self._busy_since.clear()
