"""Sensitivity of the forecast to the scenario's parameters.

Two figures respond: the median time to target (unreached replications counted at the
horizon, so the median is always a number) and the probability of reaching the target by the
deadline. Every run uses the same master seed (common random numbers); distributions sample
by inversion, so moving a parameter moves each draw monotonically and differences between
runs are the parameter's effect, not chance.

Methods:
- ``oat``: one at a time, each parameter at the low and the high end of its range with the
  others at the scenario's values: a tornado of swings, largest first.
- ``morris``: Morris elementary-effects screening (SALib): mu* (mean absolute effect of moving
  a parameter across its range, in the figure's units) and sigma (interactions, curvature).
- ``sobol``: Sobol variance indices (SALib, Saltelli sampling): first-order S1 and total ST
  with their 95% bootstrap half-widths.

The ranges come from :mod:`sim.planning.ranges`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict
from functools import partial
from typing import Any

import numpy as np

from sim.core.errors import InputError
from sim.core.scenario import Scenario
from sim.planning.grid import point_scenario
from sim.planning.ranges import Parameter, cast, default_ranges
from sim.run.executors import ExecutorSpec
from sim.run.results import RowTable
from sim.run.scheduler import Progress, Scheduler
from sim.run.stats import prob_by, rounded

METHODS = ("oat", "morris", "sobol")
MORRIS_INDICES = ("mu_star", "mu_star_conf", "sigma", "mu")
SOBOL_INDICES = ("S1", "S1_conf", "ST", "ST_conf")
RANK_BY = {MORRIS_INDICES: "mu_star", SOBOL_INDICES: "ST"}
"""The SALib indices reported by each method, and the one that ranks the parameters."""
OUTPUTS = {
    "median_time_to_target_days": "median days to target (unreached counted at the horizon)",
    "prob_target_by_deadline": "probability of reaching the target by the deadline",
}


# --- running -----------------------------------------------------------------------------------


def responses(scenario: Scenario, table: RowTable) -> dict[str, float | None]:
    """The two figures of one run (a pure function of its rows)."""
    ttt = np.asarray(table["time_to_target_days"], dtype=float)
    capped = np.where(np.isnan(ttt), scenario.horizon_days, ttt)
    prob = None
    if scenario.deadline_day is not None:
        hits, n = prob_by(ttt, scenario.deadline_day)
        prob = hits / n
    return {"median_time_to_target_days": float(np.median(capped)), "prob_target_by_deadline": prob}


def variant(scenario: Scenario, params: Sequence[Parameter], values: Sequence[float]) -> Scenario:
    """``scenario`` with each parameter at the given value (whole counts rounded)."""
    return point_scenario(
        scenario,
        {p.key: cast(v, p.integer) for p, v in zip(params, values, strict=True)},
        source="ranges",
    )


def _run_all(
    scenarios: Sequence[Scenario], reps: int, seed: int, pool: Scheduler
) -> list[dict[str, float | None]]:
    return [
        responses(sc, table)
        for sc, table in zip(scenarios, pool.tables(scenarios, reps, seed), strict=True)
    ]


def runs_needed(method: str, params: Sequence[Parameter], samples: int) -> int:
    """Scenario runs a method makes (each of ``reps`` replications)."""
    if method == "oat":
        return 1 + sum((p.low != p.base) + (p.high != p.base) for p in params)
    if method == "morris":
        return samples * (len(params) + 1)
    return samples * (len(params) + 2)


def tornado(
    params: Sequence[Parameter],
    base: dict[str, float | None],
    at_low: Sequence[dict[str, float | None]],
    at_high: Sequence[dict[str, float | None]],
) -> dict[str, list[dict[str, Any]]]:
    """Per figure, one row a parameter, largest swing first (a pure function).

    The swing is the spread of the figure over the low end, the scenario's value and the high
    end, so a parameter whose ends both move the figure the same way still counts in full.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for name in OUTPUTS:
        y0 = base[name]
        if y0 is None:
            continue
        rows = []
        for p, lo, hi in zip(params, at_low, at_high, strict=True):
            ylo, yhi = lo[name], hi[name]
            assert ylo is not None and yhi is not None
            rows.append(
                {
                    "parameter": p.key,
                    "base_value": p.base,
                    "low": p.low,
                    "high": p.high,
                    "at_low": ylo,
                    "at_high": yhi,
                    "effect_low": ylo - y0,
                    "effect_high": yhi - y0,
                    "swing": max(ylo, yhi, y0) - min(ylo, yhi, y0),
                }
            )
        rows.sort(key=lambda r: (-r["swing"], r["parameter"]))
        out[name] = rows
    return out


def oat(
    scenario: Scenario, params: Sequence[Parameter], reps: int, seed: int, pool: Scheduler
) -> dict[str, Any]:
    """One at a time: the base run and each parameter at its low and high end."""
    scenarios = [scenario]
    index: list[tuple[int, int]] = []
    for p in params:
        pair = []
        for v in (p.low, p.high):
            if v == p.base:
                pair.append(0)  # the base run itself (same seed, same figures)
            else:
                pair.append(len(scenarios))
                scenarios.append(variant(scenario, [p], [v]))
        index.append((pair[0], pair[1]))
    res = _run_all(scenarios, reps, seed, pool)
    return {
        "runs": len(scenarios),
        "base": res[0],
        "tornado": tornado(params, res[0], [res[i] for i, _ in index], [res[j] for _, j in index]),
    }


def _problem(params: Sequence[Parameter]) -> dict[str, Any]:
    return {
        "num_vars": len(params),
        "names": [p.key for p in params],
        "bounds": [[p.low, p.high] for p in params],
    }


def _salib() -> Any:
    try:
        import SALib  # noqa: F401
    except ImportError:
        raise InputError(
            "the morris and sobol methods need SALib: pip install 'cart-trial-sim[sensitivity]'",
            field="--method",
        ) from None


def _outputs_matrix(res: list[dict[str, float | None]]) -> dict[str, np.ndarray]:
    return {
        name: np.array([r[name] for r in res], dtype=float)
        for name in OUTPUTS
        if all(r[name] is not None for r in res)
    }


def morris(
    scenario: Scenario,
    params: Sequence[Parameter],
    reps: int,
    seed: int,
    pool: Scheduler,
    trajectories: int = 10,
    levels: int = 4,
) -> dict[str, Any]:
    """Morris screening: ``trajectories`` x (parameters + 1) runs."""
    _salib()
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    problem, salt = _problem(params), seed % 2**32
    x = sample.sample(problem, trajectories, num_levels=levels, seed=salt)
    indices = _indices(
        scenario, params, x, (reps, seed, pool), MORRIS_INDICES,
        lambda y: analyze.analyze(problem, x, y, num_levels=levels, seed=salt),
    )  # fmt: skip
    return {"runs": len(x), "trajectories": trajectories, "levels": levels, "indices": indices}


def sobol(
    scenario: Scenario,
    params: Sequence[Parameter],
    reps: int,
    seed: int,
    pool: Scheduler,
    samples: int = 64,
) -> dict[str, Any]:
    """Sobol indices from ``samples`` x (parameters + 2) runs (Saltelli's scheme, first and
    total order); ``samples`` must be a power of two."""
    if samples < 2 or samples & (samples - 1):
        raise InputError(
            "the sobol method needs a power of two (e.g. 64)",
            field="--samples",
            value=samples,
            has_value=True,
        )
    _salib()
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    problem, salt = _problem(params), seed % 2**32
    x = sample.sample(problem, samples, calc_second_order=False, seed=salt)
    analyse = partial(analyze.analyze, problem, calc_second_order=False, seed=salt)
    indices = _indices(scenario, params, x, (reps, seed, pool), SOBOL_INDICES, analyse)
    return {"runs": len(x), "samples": samples, "indices": indices}


def _indices(
    scenario: Scenario,
    params: Sequence[Parameter],
    x: np.ndarray,
    run: tuple[int, int, Scheduler],
    fields: Sequence[str],
    analyse: Callable[[np.ndarray], Any],
) -> dict[str, list[dict[str, Any]]]:
    """Run the sampled points ``x`` (replications, seed, scheduler in ``run``), then for each
    output one row a parameter with the SALib indices ``fields``, ranked largest first."""
    res = _run_all([variant(scenario, params, row) for row in x], *run)
    indices = {}
    for name, y in _outputs_matrix(res).items():
        with np.errstate(all="ignore"):
            a = analyse(y)
        rows = [
            {"parameter": p.key, **{f: float(a[f][i]) for f in fields}}
            for i, p in enumerate(params)
        ]
        rows.sort(key=lambda r: (-_key(r[RANK_BY[tuple(fields)]]), r["parameter"]))
        indices[name] = rows
    return indices


def _key(x: float) -> float:
    return x if math.isfinite(x) else -math.inf


def sensitivity(
    scenario: Scenario,
    method: str = "oat",
    params: Sequence[Parameter] | None = None,
    reps: int = 100,
    seed: int = 1,
    samples: int | None = None,
    executor: str | ExecutorSpec = "serial",
    workers: int | None = None,
    progress: Progress = None,
) -> dict[str, Any]:
    """Run a method over ``params`` (default: :func:`default_ranges`); plain JSON-ready data."""
    if method not in METHODS:
        raise InputError(
            f"unknown method; allowed: {', '.join(METHODS)}",
            field="--method",
            value=method,
            has_value=True,
        )
    params = (
        list(params) if params is not None else default_ranges(scenario, combined=method != "oat")
    )
    if not params:
        raise InputError("there is no parameter to vary", field="ranges")
    if method != "oat":
        _salib()
    with Scheduler(executor, workers, progress) as pool:
        if method == "oat":
            body = oat(scenario, params, reps, seed, pool)
        elif method == "morris":
            body = morris(scenario, params, reps, seed, pool, trajectories=samples or 10)
        else:
            body = sobol(scenario, params, reps, seed, pool, samples=samples or 64)
    return rounded(
        {
            "scenario": scenario.name,
            "method": method,
            "replications": reps,
            "seed": seed,
            "target": scenario.target.as_dict(),
            "outputs": OUTPUTS,
            "parameters": [asdict(p) for p in params],
            **body,
        }
    )
