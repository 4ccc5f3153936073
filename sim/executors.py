"""Where replications run: in this process, or in a pool of worker processes.

Each replication's seed depends only on the master seed and its index, so the rows (and
the summary) are the same whatever the executor and the number of workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from sim.errors import InputError
from sim.model import run_trial
from sim.results import summary_row
from sim.scenario import Scenario

EXECUTORS = ("serial", "process")


def _rows(scenario: Scenario, seed: int, start: int, stop: int) -> list[dict[str, Any]]:
    from sim.runner import replication_seed

    return [
        summary_row(run_trial(scenario, replication_seed(seed, r), keep_log=False), r)
        for r in range(start, stop)
    ]


def parse_executor(text: str) -> str:
    name = text.split(":", 1)[0]
    if name not in EXECUTORS:
        raise InputError(
            f"unknown executor; allowed: {', '.join(EXECUTORS)}",
            field="--executor",
            value=text,
            has_value=True,
        )
    return name


def run_rows(
    scenario: Scenario,
    seed: int,
    start: int,
    stop: int,
    executor: str = "serial",
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Summary rows of replications ``start`` to ``stop - 1``, in order."""
    n = stop - start
    if n <= 0:
        return []
    workers = workers or os.cpu_count() or 1
    if executor == "serial" or workers == 1 or n < 2 * workers:
        rows = []
        for r in range(start, stop):
            rows.extend(_rows(scenario, seed, r, r + 1))
            if progress:
                progress(1)
        return rows
    chunk = max(1, min(200, n // (workers * 8) or 1))
    bounds = [(a, min(a + chunk, stop)) for a in range(start, stop, chunk)]
    rows: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_rows, scenario, seed, a, b) for a, b in bounds]
        for fut, (a, b) in zip(futures, bounds, strict=True):
            rows.extend(fut.result())
            if progress:
                progress(b - a)
    return rows
