"""Capacity sweeps: the main figures at every point of a grid of scenario values.

Every point runs with the same master seed, so replication ``r`` of each point meets the same
patients at the same times (common random numbers): differences between points are caused by
the values swept, not by chance, and more capacity never hurts on the same seeds.

:class:`ScenarioPool` runs the replications of many scenarios on one executor (serial, a
process pool, or a Dask cluster) that stays open across calls; sizing and sensitivity use it
too. The figures of a point are a pure function of its per-replication rows
(:func:`point_figures`).
"""

from __future__ import annotations

import itertools
import math
import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.core.errors import InputError
from sim.core.model import RESOURCES
from sim.core.scenario import Scenario, with_overrides
from sim.core.yamlio import parse_yaml
from sim.run.executors import ExecutorSpec, WorkerPool, parse_executor, rows_block, runs_in_process
from sim.run.results import RowTable
from sim.run.stats import censored_percentiles, prob_by, rounded, wilson_interval

MAX_GRID_POINTS = 10_000
"""A sweep of more points than this is refused (split it, or narrow the grid)."""

Progress = Callable[[int], None] | None


# --- running many scenarios -----------------------------------------------------------------


class ScenarioPool:
    """Runs the replications of many scenarios on one executor, kept open across calls.

    ``run(scenarios, reps, seed)[i]`` has the same rows as
    ``run_replications(scenarios[i], reps, seed).table``, whatever the executor and the
    number of workers: replication ``r`` is seeded by the master seed and ``r`` only.
    Use it as a context manager so the worker processes (or the Dask cluster) are closed.
    """

    def __init__(
        self,
        executor: str | ExecutorSpec = "serial",
        workers: int | None = None,
        progress: Progress = None,
    ) -> None:
        self.spec = (
            executor if isinstance(executor, ExecutorSpec) else parse_executor(executor, workers)
        )
        self._workers = WorkerPool(self.spec, workers)
        self.workers = self._workers.workers
        self.progress = progress
        self.runs = 0
        """Scenarios simulated so far (each of ``reps`` replications)."""

    def __enter__(self) -> ScenarioPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._workers.close()

    def run(self, scenarios: Sequence[Scenario], reps: int, seed: int) -> list[RowTable]:
        """The per-replication rows of each scenario, in order."""
        return list(self.imap(scenarios, reps, seed))

    def imap(self, scenarios: Iterable[Scenario], reps: int, seed: int) -> Iterator[RowTable]:
        """Like :meth:`run`, one table at a time; only a window of scenarios is in flight,
        so memory stays bounded however many scenarios there are."""
        if reps < 1:
            raise ValueError("reps must be at least 1")
        scenarios = list(scenarios)
        if not scenarios:
            return
        if runs_in_process(self._workers.spec, reps * len(scenarios)):
            for sc in scenarios:
                yield self._serial(sc, reps, seed)
            return

        def submit(*args: Any) -> Any:
            return self._workers.submit(rows_block, *args)

        bounds = _bounds(reps, len(scenarios), self.workers)
        in_flight = max(4 * self.workers, len(bounds))
        pending: deque[list[tuple[Any, int]]] = deque()
        todo = iter(scenarios)

        def fill() -> None:
            while sum(len(p) for p in pending) < in_flight:
                sc = next(todo, None)
                if sc is None:
                    return
                pending.append([(submit(sc, seed, a, b), b - a) for a, b in bounds])

        fill()
        while pending:
            parts = []
            for fut, n in pending.popleft():
                parts.append(fut.result())
                if self.progress is not None:
                    self.progress(n)
            self.runs += 1
            yield RowTable.concat(parts)
            fill()

    def _serial(self, scenario: Scenario, reps: int, seed: int) -> RowTable:
        parts = []
        step = 50 if self.progress is not None else reps
        for a in range(0, reps, step):
            b = min(a + step, reps)
            parts.append(rows_block(scenario, seed, a, b))
            if self.progress is not None:
                self.progress(b - a)
        self.runs += 1
        return RowTable.concat(parts)


def _bounds(reps: int, n_scenarios: int, workers: int) -> list[tuple[int, int]]:
    """Blocks of replications of one scenario: enough blocks in all to keep workers busy."""
    per = max(1, math.ceil(4 * workers / n_scenarios))
    size = min(250, max(1, math.ceil(reps / per)))
    return [(a, min(a + size, reps)) for a in range(0, reps, size)]


# --- the figures of one point ------------------------------------------------------------------


def point_figures(scenario: Scenario, table: RowTable) -> dict[str, Any]:
    """The main figures of one scenario from its per-replication rows (a pure function).

    The same definitions as the ``run`` summary: the probability of reaching the target by
    the deadline with its Wilson 95% interval (None without a deadline), censored percentiles
    of the days to target (None where they fall beyond the horizon), means per replication,
    the pooled mean vein-to-vein days, and per resource the mean utilisation and the mean
    wait over all granted requests.
    """
    ttt = table["time_to_target_days"]
    n = len(table)
    pct = censored_percentiles(ttt)
    prob = low = high = hits = None
    if scenario.deadline_day is not None:
        hits, _ = prob_by(ttt, scenario.deadline_day)
        prob = hits / n
        low, high = wilson_interval(hits, n)
    v2v = table.vein_to_vein.astype(float)
    out: dict[str, Any] = {
        "prob_target_by_deadline": prob,
        "prob_ci95_low": low,
        "prob_ci95_high": high,
        "reached_by_deadline": hits,
        "replications": n,
        "time_to_target_p10_days": pct["p10"],
        "time_to_target_p50_days": pct["p50"],
        "time_to_target_p90_days": pct["p90"],
        "reached_fraction": float(np.mean(~np.isnan(ttt))),
        "infused_mean": float(np.mean(table["infused"])),
        "deteriorated_mean": float(np.mean(table["outcome.deteriorated"])),
        "vein_to_vein_mean_days": float(v2v.mean()) if v2v.size else None,
    }
    for res in RESOURCES:
        granted = float(table[f"{res}.granted"].sum())
        wait = float(table[f"{res}.wait_sum_days"].sum())
        out[f"{res}_capacity"] = int(table[f"{res}.capacity"][0])
        out[f"{res}_utilization"] = float(np.mean(table[f"{res}.utilization"]))
        out[f"{res}_mean_wait_days"] = wait / granted if granted else None
    return out


# --- the grid ----------------------------------------------------------------------------------


def parse_grid(texts: Sequence[str]) -> dict[str, list[Any]]:
    """``["manufacturing.suites=1,2,3", "apheresis.slots=1..3"]`` -> key -> values.

    Values are YAML scalars separated by commas; ``A..B`` is every whole number from A to B.
    """
    grid: dict[str, list[Any]] = {}
    for text in texts:
        if not isinstance(text, str) or "=" not in text:
            raise InputError(
                "a grid axis is dotted.key=V1,V2,... or dotted.key=A..B, "
                "e.g. manufacturing.suites=1,2,3",
                source="--grid",
                field=str(text),
            )
        key, _, raw = text.partition("=")
        key = key.strip()
        if not key or any(not part.strip() for part in key.split(".")):
            raise InputError(
                "a grid axis is dotted.key=V1,V2,..., e.g. manufacturing.suites=1,2,3",
                source="--grid",
                field=text,
            )
        if key in grid:
            raise InputError("is given twice; give each key one --grid", source="--grid", field=key)
        values = _grid_values(key, raw)
        grid[key] = values
    n = math.prod(len(v) for v in grid.values()) if grid else 0
    if n > MAX_GRID_POINTS:
        raise InputError(
            f"the grid has {n:,} points; at most {MAX_GRID_POINTS:,} are allowed in one sweep",
            source="--grid",
        )
    return grid


def _grid_values(key: str, raw: str) -> list[Any]:
    raw = raw.strip()
    if ".." in raw and "," not in raw:
        a, _, b = raw.partition("..")
        try:
            lo, hi = int(a), int(b)
        except ValueError:
            raise InputError(
                "a range is A..B with whole numbers A <= B",
                source="--grid",
                field=key,
                value=raw,
                has_value=True,
            ) from None
        if lo > hi or hi - lo >= MAX_GRID_POINTS:
            raise InputError(
                f"a range is A..B with A <= B and at most {MAX_GRID_POINTS:,} values",
                source="--grid",
                field=key,
                value=raw,
                has_value=True,
            )
        return list(range(lo, hi + 1))
    parts = [p.strip() for p in raw.split(",")]
    if not raw or any(not p for p in parts):
        raise InputError(
            "needs values separated by commas, e.g. 1,2,3",
            source="--grid",
            field=key,
            value=raw,
            has_value=True,
        )
    values = []
    for p in parts:
        v = parse_yaml(p, f"--grid {key}")
        if v in values:
            raise InputError("repeats a value", source="--grid", field=key, value=p, has_value=True)
        values.append(v)
    return values


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination, the last key varying fastest."""
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def point_scenario(scenario: Scenario, point: dict[str, Any], source: str = "--grid") -> Scenario:
    """``scenario`` with the point's values, validated (errors name ``source``)."""
    overrides = [f"{k}={_yaml_scalar(v)}" for k, v in point.items()]
    try:
        return with_overrides(scenario, overrides, source=source)
    except InputError as exc:
        raise exc.with_source(source) if exc.source == "--set" else exc from None


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


# --- the sweep ---------------------------------------------------------------------------------


def sweep(
    scenario: Scenario,
    grid: dict[str, list[Any]],
    reps: int,
    seed: int = 1,
    executor: str | ExecutorSpec = "serial",
    workers: int | None = None,
    progress: Progress = None,
) -> dict[str, Any]:
    """The main figures at every grid point, all on the same seed (common random numbers).

    Returns plain data: the scenario name, replications, seed, target, the grid, and
    ``points``: one dict a point with ``set`` (the point's values) and the figures of
    :func:`point_figures`.
    """
    if not grid:
        raise InputError("give at least one --grid axis, e.g. manufacturing.suites=1,2,3")
    points = grid_points(grid)
    scenarios = [point_scenario(scenario, p) for p in points]  # all validated before running
    rows = []
    with ScenarioPool(executor, workers, progress) as pool:
        for point, sc, table in zip(
            points, scenarios, pool.imap(scenarios, reps, seed), strict=True
        ):
            rows.append({"set": point, **point_figures(sc, table)})
    return rounded(
        {
            "scenario": scenario.name,
            "replications": reps,
            "seed": seed,
            "target": scenario.target.as_dict(),
            "grid": grid,
            "points": rows,
        }
    )


def sweep_frame(result: dict[str, Any]) -> pd.DataFrame:
    """One row a grid point: the swept keys, then the figures."""
    keys = list(result["grid"])
    records = [
        {**{k: p["set"][k] for k in keys}, **{k: v for k, v in p.items() if k != "set"}}
        for p in result["points"]
    ]
    return pd.DataFrame.from_records(records)


def write_sweep(result: dict[str, Any], out: Path) -> list[Path]:
    """Write ``sweep.json`` and ``sweep.csv`` into ``out``; each file appears whole or not at
    all."""
    import json

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder ({exc.strerror})", source=str(out)) from None
    files = {
        "sweep.json": lambda f: f.write(json.dumps(result, indent=2) + "\n"),
        "sweep.csv": lambda f: sweep_frame(result).to_csv(f, index=False),
    }
    written = []
    for name, write in files.items():
        target = out / name
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out)
            with os.fdopen(fd, "w", newline="") as fh:
                write(fh)
            os.replace(tmp, target)
        except OSError as exc:
            raise InputError(f"cannot write ({exc.strerror})", source=str(target)) from None
        written.append(target)
    return written


def format_sweep(result: dict[str, Any]) -> str:
    """A readable table of the sweep, one line a grid point."""
    t = result["target"]
    deadline = f" by {t['deadline']}" if t["deadline"] else ""
    lines = [
        f"Sweep of {result['scenario']} ({result['replications']} replications a point, seed "
        f"{result['seed']}, common random numbers); target {t['count']} {t['milestone']}"
        f"{deadline}.",
        "",
    ]
    keys = list(result["grid"])
    heads = [*keys, "P(deadline)", "95% interval", "median d", "p10-p90 d", "reached"]
    heads += ["infused", "deteriorated", "vein-to-vein d"]
    heads += [f"{r} util/wait" for r in RESOURCES]
    table = []
    for p in result["points"]:
        row = [str(p["set"][k]) for k in keys]
        row += [
            _pct(p["prob_target_by_deadline"]),
            _interval(p["prob_ci95_low"], p["prob_ci95_high"]),
            _num(p["time_to_target_p50_days"], ".0f"),
            f"{_num(p['time_to_target_p10_days'], '.0f')}-"
            f"{_num(p['time_to_target_p90_days'], '.0f')}",
            _pct(p["reached_fraction"]),
            _num(p["infused_mean"]),
            _num(p["deteriorated_mean"]),
            _num(p["vein_to_vein_mean_days"]),
        ]
        row += [
            f"{_pct(p[f'{r}_utilization'])}/{_num(p[f'{r}_mean_wait_days'], '.2f')}"
            for r in RESOURCES
        ]
        table.append(row)
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(heads)]
    lines.append("  ".join(h.rjust(w) for h, w in zip(heads, widths, strict=True)))
    for row in table:
        lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    lines += [
        "",
        "P(deadline): share of trials reaching the target by the deadline (Wilson 95% interval);"
        " days to target n/a = beyond the horizon; util/wait = mean utilisation / mean wait in"
        " days.",
    ]
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def _num(x: float | None, fmt: str = ".1f") -> str:
    return "n/a" if x is None else format(x, fmt)


def _interval(lo: float | None, hi: float | None) -> str:
    return "n/a" if lo is None or hi is None else f"{100 * lo:.0f}-{100 * hi:.0f}%"
