"""The one scheduler of replications: every command that simulates goes through it.

A :class:`Job` is a run of replications ``start`` to ``stop - 1`` of one block function
(the plain replication of a scenario, or a forecast's). :class:`Scheduler` cuts jobs into
blocks, keeps a bounded window of blocks in flight on its executor (so finished rows are
never held longer than needed, whatever the number of jobs), and yields each job's rows in
order. Each replication's seed depends only on the master seed and its index, so the rows
are the same whatever the executor, the number of workers or the block sizes.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from sim.core.model import run_trial
from sim.core.scenario import Scenario
from sim.core.streams import replication_seed
from sim.run.executors import ExecutorSpec, WorkerPool, as_spec, runs_in_process
from sim.run.results import RowTable, summary_row

Progress = Callable[[int], None] | None
"""Called with the number of replications just finished."""

MAX_BLOCK = 250
"""Replications in one block at most (a block is what a worker runs at a time)."""
BLOCKS_PER_WORKER = 4
"""Blocks in flight per worker: enough to keep every worker busy, few enough to bound memory."""

T = TypeVar("T")


def rows_block(scenario: Scenario, seed: int, start: int, stop: int) -> RowTable:
    """Summary rows of replications ``start`` to ``stop - 1`` of ``scenario`` (run in a
    worker)."""
    return RowTable.from_rows(
        [
            summary_row(run_trial(scenario, replication_seed(seed, r), keep_log=False), r)
            for r in range(start, stop)
        ]
    )


Block = Callable[[int, int], RowTable]
"""Rows of replications ``start`` to ``stop - 1``; picklable (a partial of a module-level
function) so that it can run in worker processes."""


@dataclass(frozen=True)
class Job:
    """Replications ``start`` to ``stop - 1`` of ``block``."""

    block: Block
    start: int
    stop: int

    @classmethod
    def of(cls, scenario: Scenario, reps: int, seed: int, start: int = 0) -> Job:
        """The plain replications ``start`` to ``reps - 1`` of a scenario."""
        return cls(partial(rows_block, scenario, seed), start, reps)

    @property
    def reps(self) -> int:
        return max(0, self.stop - self.start)


class _Builder:
    """Collects a job's blocks into one table of the blocks' own kind (a :class:`RowTable`,
    or a facility's set of tables): each kind says how with its ``builder(total)``."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.filled = 0
        self._inner: Any = None

    def add(self, part: Any) -> None:
        if self._inner is None:
            self._inner = part.builder(self.total)
        self._inner.add(part)
        self.filled = self._inner.filled

    def table(self) -> Any:
        if self._inner is None:
            raise ValueError(f"0 of {self.total} rows filled")
        return self._inner.table()


def _cuts(start: int, stop: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(a + size, stop)) for a in range(start, stop, size)]


class Scheduler:
    """Runs jobs on one executor (this process, worker processes, or Dask), kept open
    across calls until closed; use it as a context manager.

    ``runs`` counts the jobs finished (a sizing reports how many configurations it
    simulated).
    """

    def __init__(
        self,
        executor: str | ExecutorSpec = "serial",
        workers: int | None = None,
        progress: Progress = None,
    ) -> None:
        self.spec = as_spec(executor, workers)
        self._pool = WorkerPool(self.spec, workers)
        self.workers = self._pool.workers
        self.progress = progress
        self.runs = 0

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self._pool.close(abort=exc_type is not None)  # interrupted: stop the workers now

    def close(self) -> None:
        self._pool.close()

    # --- replications ----------------------------------------------------------------------

    def run(self, jobs: Sequence[Job]) -> Iterator[RowTable]:
        """The rows of each job, in order (each job's rows in replication order)."""
        jobs = list(jobs)
        total = sum(j.reps for j in jobs)
        if total == 0:
            return
        if runs_in_process(self.spec, total):
            yield from self._here(jobs)
        else:
            yield from self._spread(jobs)

    def tables(self, scenarios: Iterable[Scenario], reps: int, seed: int) -> Iterator[RowTable]:
        """The rows of ``reps`` plain replications of each scenario (common random numbers:
        the same seed for all), one table a scenario, in order."""
        if reps < 1:
            raise ValueError("reps must be at least 1")
        return self.run([Job.of(sc, reps, seed) for sc in scenarios])

    def rows(self, job: Job) -> RowTable | None:
        """The rows of one job (None if it has no replication)."""
        return next(self.run([job]), None)

    def _here(self, jobs: Sequence[Job]) -> Iterator[RowTable]:
        # small blocks when someone watches the progress, one block otherwise
        size = 50 if self.progress is not None else MAX_BLOCK
        for job in jobs:
            if job.reps == 0:
                continue
            builder = _Builder(job.reps)
            for a, b in _cuts(job.start, job.stop, size):
                builder.add(job.block(a, b))
                self._done(b - a)
            self.runs += 1
            yield builder.table()

    def _spread(self, jobs: Sequence[Job]) -> Iterator[RowTable]:
        jobs = [j for j in jobs if j.reps]
        window = BLOCKS_PER_WORKER * self.workers
        # blocks of about total / window replications, so that even one job keeps every
        # worker busy
        size = max(1, min(MAX_BLOCK, math.ceil(sum(j.reps for j in jobs) / window)))
        todo = deque((job, a, b) for job in jobs for a, b in _cuts(job.start, job.stop, size))
        pending: deque[tuple[Any, int]] = deque()
        for job in jobs:
            builder = _Builder(job.reps)
            while builder.filled < builder.total:
                while todo and len(pending) < window:  # blocks go out in job order, so the
                    owner, a, b = todo.popleft()  # first pending one is always this job's
                    pending.append((self._pool.submit(owner.block, a, b), b - a))
                fut, n = pending.popleft()
                builder.add(fut.result())
                self._done(n)
            self.runs += 1
            yield builder.table()

    def _done(self, n: int) -> None:
        if self.progress is not None:
            self.progress(n)

    # --- any other work --------------------------------------------------------------------

    def map(self, fn: Callable[..., T], items: Sequence[Any]) -> Iterator[T]:
        """``fn(item)`` for each item, in order: here when the executor is serial, else on the
        workers with a bounded window in flight."""
        if self.spec.kind == "serial" or self.workers <= 1 or len(items) <= 1:
            for item in items:
                yield fn(item)
            return
        todo = deque(items)
        pending: deque[Any] = deque()
        while todo or pending:
            while todo and len(pending) < BLOCKS_PER_WORKER * self.workers:
                pending.append(self._pool.submit(fn, todo.popleft()))
            yield pending.popleft().result()


def run_rows(
    scenario: Scenario,
    seed: int,
    start: int,
    stop: int,
    *,
    executor: str | ExecutorSpec = "serial",
    progress: Progress = None,
    block: Block | None = None,
) -> RowTable | None:
    """Rows of replications ``start`` to ``stop - 1``, in order (None if there are none).
    ``block`` replaces the plain replication (a forecast passes its own)."""
    job = Job(block or partial(rows_block, scenario, seed), start, stop)
    with Scheduler(executor, progress=progress) as scheduler:
        return scheduler.rows(job)
