"""Where replications run: this process, a pool of worker processes, or a Dask cluster.

Each replication's seed depends only on the master seed and its index, and chunks come back
in order, so the results are the same whatever the executor and the number of workers.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from sim.core.errors import InputError
from sim.core.model import run_trial
from sim.core.scenario import Scenario
from sim.core.streams import replication_seed
from sim.run.results import RowTable, RowTableBuilder, summary_row

EXECUTORS = ("serial", "process", "dask")


@dataclass(frozen=True)
class ExecutorSpec:
    """``serial``, ``process`` or ``dask`` (with an optional scheduler address)."""

    kind: str = "process"
    address: str | None = None
    workers: int | None = None


def parse_executor(text: str, workers: int | None = None) -> ExecutorSpec:
    """``"serial"``, ``"process"``, ``"dask"`` or ``"dask:tcp://host:port"``."""
    kind, _, address = text.partition(":")
    if kind not in EXECUTORS or (address and kind != "dask"):
        raise InputError(
            "unknown executor; allowed: serial, process, dask, dask:tcp://HOST:PORT",
            field="--executor",
            value=text,
            has_value=True,
        )
    return ExecutorSpec(kind, address or None, workers)


def rows_block(scenario: Scenario, seed: int, start: int, stop: int) -> RowTable:
    """Summary rows of replications ``start`` to ``stop - 1`` (run in a worker)."""
    return RowTable.from_rows(
        [
            summary_row(run_trial(scenario, replication_seed(seed, r), keep_log=False), r)
            for r in range(start, stop)
        ]
    )


def _chunks(start: int, stop: int, workers: int) -> list[tuple[int, int]]:
    n = stop - start
    size = max(1, min(250, n // (workers * 4) or 1))
    return [(a, min(a + size, stop)) for a in range(start, stop, size)]


Block = Callable[[int, int], RowTable]
"""Rows of replications ``start`` to ``stop - 1``; must be picklable (a partial of a
module-level function) to run in worker processes."""


def run_rows(
    scenario: Scenario,
    seed: int,
    start: int,
    stop: int,
    spec: ExecutorSpec | None = None,
    progress: Callable[[int], None] | None = None,
    block: Block | None = None,
) -> RowTable | None:
    """Rows of replications ``start`` to ``stop - 1``, in order (None if there are none).
    ``block`` replaces the plain replication (a forecast passes its own)."""
    spec = spec or ExecutorSpec("serial")
    if stop <= start:
        return None
    block = block or partial(rows_block, scenario, seed)
    builder = RowTableBuilder(stop - start)
    for part in _blocks(block, start, stop, spec, progress):
        builder.add(part)
    return builder.table()


class WorkerPool:
    """Runs picklable calls in worker processes or on a Dask cluster, kept open until closed.

    ``submit(fn, *args)`` returns a future with ``result()``. One place starts and stops
    the process pool, the local Dask cluster or the connection to a scheduler.
    """

    def __init__(self, spec: ExecutorSpec, workers: int | None = None) -> None:
        self.spec = spec
        self.workers = spec.workers or workers or os.cpu_count() or 1
        self._pool: Any = None
        self._client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self.spec.kind == "dask":
            if self._client is None:
                self._client, self._cluster = _dask_client(self.spec, self.workers)
            return self._client.submit(fn, *args, pure=False)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers)
        return self._pool.submit(fn, *args)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def runs_in_process(spec: ExecutorSpec, n: int) -> bool:
    """True when ``n`` replications are better run here than shipped to workers."""
    workers = spec.workers or os.cpu_count() or 1
    return spec.kind == "serial" or (spec.kind == "process" and (workers == 1 or n < 2 * workers))


def _blocks(
    block: Block,
    start: int,
    stop: int,
    spec: ExecutorSpec,
    progress: Callable[[int], None] | None,
) -> Iterator[RowTable]:
    n = stop - start
    if runs_in_process(spec, n):
        for a, b in _chunks(start, stop, 1 if n < 50 else 4):
            yield block(a, b)
            if progress:
                progress(b - a)
        return
    with WorkerPool(spec) as pool:
        todo = deque(_chunks(start, stop, pool.workers))
        pending: deque[tuple[Any, int]] = deque()
        while todo or pending:
            # a bounded window in flight: finished blocks are not held until the end
            while todo and len(pending) < 4 * pool.workers:
                a, b = todo.popleft()
                pending.append((pool.submit(block, a, b), b - a))
            fut, n_done = pending.popleft()
            yield fut.result()
            if progress:
                progress(n_done)


def _dask_client(spec: ExecutorSpec, workers: int) -> tuple[Any, Any]:
    """A Dask client: to the scheduler at the spec's address, or to a new local cluster."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise InputError(
            "the dask executor needs the optional extra: pip install 'cart-trial-sim[dask]'",
            field="--executor",
            value="dask",
            has_value=True,
        ) from None
    try:
        if spec.address:
            return Client(spec.address, timeout="10s"), None
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        return Client(cluster), cluster
    except OSError as exc:
        raise InputError(
            f"cannot reach the Dask scheduler ({exc})",
            field="--executor",
            value=spec.address,
            has_value=True,
        ) from None
