"""A resource of identical units with a FIFO queue, keeping its own time-weighted usage."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import simpy
from simpy.events import Event

from sim.core.patient import Patient

RESOURCES = ("apheresis", "manufacturing", "beds")
"""The stations of a trial, by name: apheresis slots, manufacturing suites, bed bookings."""


class Station:
    """Identical units (apheresis slots, manufacturing suites, bed bookings), a FIFO queue.

    Keeps its own time-weighted usage: the area under the queue-length curve, the area under
    the in-use curve, and the waits of granted requests (ready to start of use).
    """

    __slots__ = (
        "_busy_since",
        "_waiting_since",
        "busy_area",
        "capacity",
        "env",
        "free",
        "n_granted",
        "name",
        "on_renege",
        "queue",
        "queue_area",
        "wait_sum",
    )

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        capacity: int,
        on_renege: Callable[[Patient, Station], None],
    ) -> None:
        self.env = env
        self.name = name
        self.capacity = capacity
        self.free = capacity
        self.queue: deque[tuple[Patient, Event]] = deque()
        self.on_renege = on_renege
        self._waiting_since: dict[int, float] = {}
        self._busy_since: dict[int, float] = {}
        self.wait_sum = self.queue_area = self.busy_area = 0.0
        self.n_granted = 0

    # capacity
    def request(self, p: Patient) -> Event | None:
        """Take a unit now (returns None) or join the queue (returns the grant event)."""
        if self.free > 0:
            self.free -= 1
            return None
        ev = Event(self.env)
        self.queue.append((p, ev))
        return ev

    def release(self) -> None:
        """Free a unit: the first waiting patient still in the pathway takes it."""
        if self.free < 0:  # a unit held above capacity (see :meth:`take`) goes away
            self.free += 1
            return
        now = self.env.now
        queue = self.queue
        while queue:
            p, ev = queue.popleft()
            if p.death < now:  # deteriorated while waiting: left at p.death
                self.on_renege(p, self)
                continue
            ev.succeed()
            return
        self.free += 1

    def take(self, p: Patient) -> None:
        """Hold a unit without queueing, above capacity if need be: a forecast's patient who
        already held one when the simulation starts (the log may show more than ``capacity``)."""
        self.free -= 1

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
        self._busy_since[p.id] = self.env.now

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
