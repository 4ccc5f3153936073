"""Where work runs: this process, a pool of worker processes, or a Dask cluster.

:class:`WorkerPool` is the one place that starts and stops worker processes, a local Dask
cluster or the connection to a scheduler; :mod:`sim.run.scheduler` decides what to send.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim.core.errors import InputError

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


def as_spec(executor: str | ExecutorSpec, workers: int | None = None) -> ExecutorSpec:
    """An executor given by name (``"process"``) or already parsed."""
    return executor if isinstance(executor, ExecutorSpec) else parse_executor(executor, workers)


def worker_count(spec: ExecutorSpec, workers: int | None = None) -> int:
    """Workers of ``spec``: its own number, else ``workers``, else every core."""
    return spec.workers or workers or os.cpu_count() or 1


def runs_in_process(spec: ExecutorSpec, n: int) -> bool:
    """True when ``n`` replications are better run here than shipped to workers."""
    workers = worker_count(spec)
    return spec.kind == "serial" or (spec.kind == "process" and (workers == 1 or n < 2 * workers))


class WorkerPool:
    """Runs picklable calls in worker processes or on a Dask cluster, kept open until closed.

    ``submit(fn, *args)`` returns a future with ``result()``; the pool or cluster starts on
    the first call.
    """

    def __init__(self, spec: ExecutorSpec, workers: int | None = None) -> None:
        self.spec = spec
        self.workers = worker_count(spec, workers)
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
            from concurrent.futures import ProcessPoolExecutor  # not for a run done here

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
