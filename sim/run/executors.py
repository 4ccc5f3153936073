"""Where work runs: this process, a pool of worker processes, or a Dask cluster.

:class:`WorkerPool` is the one place that starts and stops worker processes, a local Dask
cluster or the connection to a scheduler; :mod:`sim.run.scheduler` decides what to send.
"""

from __future__ import annotations

import os
import re
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


DASK_SCHEMES = ("tcp", "tls", "ws", "wss")
_ADDRESS = re.compile(
    r"^(?:(?P<scheme>[a-z]+)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(?P<port>[0-9]{1,5})$"
)
CONNECT_TIMEOUT_S = 10.0
"""Seconds a Dask scheduler has to answer before the command gives up."""


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
    if address:
        _check_address(text, address)
    return ExecutorSpec(kind, address or None, workers)


def _check_address(text: str, address: str) -> None:
    """A Dask scheduler address: ``tcp://HOST:PORT`` (or tls, ws, wss; the scheme may be left
    out), the port from 1 to 65535."""
    match = _ADDRESS.match(address)
    scheme = match and (match.group("scheme") or "tcp")
    if match is None or scheme not in DASK_SCHEMES or not 0 < int(match.group("port")) < 65536:
        raise InputError(
            "not a Dask scheduler address; give dask:tcp://HOST:PORT (schemes: "
            f"{', '.join(DASK_SCHEMES)}; port 1 to 65535)",
            field="--executor",
            value=text,
            has_value=True,
        )


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

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(abort=exc_type is not None)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self.spec.kind == "dask":
            if self._client is None:
                self._client, self._cluster = _dask_client(self.spec, self.workers)
            return self._client.submit(fn, *args, pure=False)
        if self._pool is None:
            from concurrent.futures import ProcessPoolExecutor  # not for a run done here

            self._pool = ProcessPoolExecutor(max_workers=self.workers, initializer=_worker_signals)
        with _signals_deferred():  # a submit may start the workers
            return self._pool.submit(fn, *args)

    def close(self, abort: bool = False) -> None:
        """Stop the workers: after their work (``abort`` false), or at once (the work was
        interrupted: Ctrl-C, SIGTERM, an error), so that no worker outlives the command."""
        if self._pool is not None:
            if abort:
                _terminate_workers(self._pool)
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


SIGNALS_HELD = {signal.SIGINT, signal.SIGTERM}
"""Held back while workers are started (see :func:`_signals_deferred`)."""


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back while workers are started. A Ctrl-C that lands while a
    worker is being forked is lost in the fork's handlers (the command would then wait for
    ever), and a new worker would run the command's own SIGTERM handler until its
    initializer replaces it. Held back, each arrives just after, where it should."""
    block = getattr(signal, "pthread_sigmask", None)
    if block is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    held = block(signal.SIG_BLOCK, SIGNALS_HELD)
    try:
        yield
    finally:
        block(signal.SIG_SETMASK, held)


def _worker_signals() -> None:
    """In a worker process: Ctrl-C is the parent's to handle (it stops the workers), and
    SIGTERM ends the worker at once. A worker starts with both held back (see
    :func:`_signals_deferred`); with its own handlers set, they are let through."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS_HELD)


def _terminate_workers(pool: Any) -> None:
    """End a process pool's workers now (``terminate_workers`` where Python has it). Work
    still queued for them is dropped: the queue's feeder thread is not waited for, since
    with no worker left to read it, a full pipe would block the pool's shutdown for ever."""
    calls = getattr(pool, "_call_queue", None)
    if calls is not None:
        calls.cancel_join_thread()
    stop = getattr(pool, "terminate_workers", None)
    if stop is not None:  # Python 3.14 and later
        stop()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.join(timeout=5)


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
    if spec.address:
        return _connect(Client, spec.address), None
    try:
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
    except OSError as exc:
        raise InputError(
            f"cannot start a local Dask cluster ({exc})", field="--executor", value="dask"
        ) from None
    return Client(cluster), cluster


def _connect(client: Callable[..., Any], address: str) -> Any:
    """A client of the scheduler at ``address``, or one line within
    :data:`CONNECT_TIMEOUT_S` (a listener that is not Dask's may never answer at all, so the
    connection is made in a thread that is left behind if it hangs)."""
    result: dict[str, Any] = {}

    def attempt() -> None:
        try:
            result["client"] = client(address, timeout=f"{CONNECT_TIMEOUT_S:g}s")
        except Exception as exc:  # reported below, in the command's thread
            result["error"] = exc

    thread = threading.Thread(target=attempt, name="dask-connect", daemon=True)
    thread.start()
    deadline = 1.5 * CONNECT_TIMEOUT_S  # Dask's own limit, then a margin for its handshake
    thread.join(deadline)
    if "client" in result:
        return result["client"]
    detail = result.get("error")
    reason = (
        f"({' '.join(str(detail).split())[:160]})"
        if detail is not None
        else f"within {deadline:g} s"
    )
    raise InputError(
        f"nothing Dask-like answered at {address} {reason}",
        field="--executor",
        value=f"dask:{address}",
        has_value=True,
    )
