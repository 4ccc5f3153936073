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

Every figure carries its Monte Carlo error: the tornado's ends their 95% intervals, Morris and
Sobol their sampling error, with warnings (:func:`sobol_checks`, :func:`morris_checks`) when
the indices contradict themselves and how many samples would settle them.

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
from sim.run.stats import (
    median_interval,
    paired_difference,
    percentiles,
    prob_by,
    rounded,
    wilson_interval,
)

METHODS = ("oat", "morris", "sobol")
MORRIS_INDICES = ("mu_star", "mu_star_conf", "sigma", "mu")
SOBOL_INDICES = ("S1", "S1_conf", "ST", "ST_conf")
RANK_BY = {MORRIS_INDICES: "mu_star", SOBOL_INDICES: "ST"}
"""The SALib indices reported by each method, and the one that ranks the parameters."""
SOBOL_TOLERANCE = 0.05
"""Sampling error (95% half-width, share of variance) at which Sobol indices are settled."""
MORRIS_TOLERANCE = 0.25
"""Relative sampling error of mu* (95% half-width over mu*) at which a Morris rank is settled;
only parameters with at least :data:`MORRIS_SCREEN` of the largest mu* are judged."""
MORRIS_SCREEN = 0.1
NOISE_SHARE = 0.1
"""Share of a figure's variance across the sampled points that replication noise may take
before the indices are said to carry it."""
OUTPUTS = {
    "median_time_to_target_days": "median days to target (unreached counted at the horizon)",
    "prob_target_by_deadline": "probability of reaching the target by the deadline",
}


# --- running -----------------------------------------------------------------------------------


def responses(scenario: Scenario, table: RowTable) -> dict[str, Any]:
    """The two figures of one run and, under ``<figure>_ci95``, their 95% Monte Carlo
    intervals (distribution-free for the median, Wilson for the probability); a pure function
    of its rows."""
    ttt = np.asarray(table["time_to_target_days"], dtype=float)
    capped = np.where(np.isnan(ttt), scenario.horizon_days, ttt)
    _, lo, hi = median_interval(capped)
    out: dict[str, Any] = {
        "median_time_to_target_days": float(np.median(capped)),
        "median_time_to_target_days_ci95": [lo, hi],
        "prob_target_by_deadline": None,
        "prob_target_by_deadline_ci95": [None, None],
    }
    if scenario.deadline_day is not None:
        hits, n = prob_by(ttt, scenario.deadline_day)
        out["prob_target_by_deadline"] = hits / n
        out["prob_target_by_deadline_ci95"] = list(wilson_interval(hits, n) or (None, None))
    return out


def variant(scenario: Scenario, params: Sequence[Parameter], values: Sequence[float]) -> Scenario:
    """``scenario`` with each parameter at the given value (whole counts rounded)."""
    return point_scenario(
        scenario,
        {p.key: cast(v, p.integer) for p, v in zip(params, values, strict=True)},
        source="ranges",
    )


def _run_all(
    scenarios: Sequence[Scenario], reps: int, seed: int, pool: Scheduler
) -> list[dict[str, Any]]:
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
    base: dict[str, Any],
    at_low: Sequence[dict[str, Any]],
    at_high: Sequence[dict[str, Any]],
) -> dict[str, list[dict[str, Any]]]:
    """Per figure, one row a parameter, largest swing first (a pure function).

    The swing is the spread of the figure over the low end, the scenario's value and the high
    end, so a parameter whose ends both move the figure the same way still counts in full.
    Each end keeps its 95% Monte Carlo interval (``at_low_ci95``, ``at_high_ci95``, from the
    responses' ``<figure>_ci95``) and the paired 95% interval of its change from the
    scenario's values (``effect_low_ci95``, ``effect_high_ci95``, from the responses'
    ``effects_ci95``, see :func:`paired_effects`); ``within_noise`` is true when both
    changes' intervals hold 0, so the swing cannot be told from chance.
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
            ci_lo = lo.get(f"{name}_ci95", [None, None])
            ci_hi = hi.get(f"{name}_ci95", [None, None])
            eff_lo = list(lo.get("effects_ci95", {}).get(name, [None, None]))
            eff_hi = list(hi.get("effects_ci95", {}).get(name, [None, None]))
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
                    "at_low_ci95": list(ci_lo),
                    "at_high_ci95": list(ci_hi),
                    "effect_low_ci95": eff_lo,
                    "effect_high_ci95": eff_hi,
                    "within_noise": _holds(eff_lo, 0.0) and _holds(eff_hi, 0.0),
                }
            )
        rows.sort(key=lambda r: (-r["swing"], r["parameter"]))
        out[name] = rows
    return out


def _holds(ci: Sequence[float | None], y: float) -> bool:
    """Whether a 95% interval (ends None where unknown) holds ``y``."""
    lo, hi = ci
    return lo is not None and hi is not None and lo <= y <= hi


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
    res, times = [], []
    for sc, table in zip(scenarios, pool.tables(scenarios, reps, seed), strict=True):
        res.append(responses(sc, table))
        times.append(_capped(sc, table))
    for k in range(len(res)):
        res[k]["effects_ci95"] = paired_effects(times[0], times[k], scenario, seed)
    rows = tornado(params, res[0], [res[i] for i, _ in index], [res[j] for _, j in index])
    return {"runs": len(scenarios), "base": _figures(res[0]), "tornado": rows}


def _figures(r: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in r.items() if k != "effects_ci95"}


def _capped(scenario: Scenario, table: RowTable) -> np.ndarray:
    """Times to target by replication number, unreached at the horizon (days)."""
    order = np.argsort(np.asarray(table["replication"]), kind="stable")
    ttt = np.asarray(table["time_to_target_days"], dtype=float)[order]
    return np.where(np.isnan(ttt), scenario.horizon_days, ttt)


def paired_effects(
    base: np.ndarray, other: np.ndarray, scenario: Scenario, seed: int, resamples: int = 1000
) -> dict[str, list[float | None]]:
    """95% intervals of the change of each figure from ``base`` to ``other``, two runs on
    common random numbers (times to target by replication, days, unreached at the horizon):
    a paired bootstrap for the median (replications resampled together, a fixed stream from
    ``seed``) and a paired t interval for the probability (a pure function)."""
    rng = np.random.default_rng([seed, 17])
    idx = rng.integers(0, base.size, size=(resamples, base.size))
    diff = np.median(other[idx], axis=1) - np.median(base[idx], axis=1)
    lo, hi = percentiles(diff, (2.5, 97.5))
    out: dict[str, list[float | None]] = {
        "median_time_to_target_days": [float(lo), float(hi)],
        "prob_target_by_deadline": [None, None],
    }
    if scenario.deadline_day is not None:
        by = scenario.deadline_day
        paired = paired_difference(base <= by, other <= by)["ci95"]
        out["prob_target_by_deadline"] = [0.0, 0.0] if paired[0] is None else paired
    return out


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


def _outputs_matrix(res: list[dict[str, Any]]) -> dict[str, np.ndarray]:
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
    indices, noise = _indices(
        scenario, params, x, (reps, seed, pool), MORRIS_INDICES,
        lambda y: analyze.analyze(problem, x, y, num_levels=levels, seed=salt),
    )  # fmt: skip
    checks = {
        name: morris_checks(rows, trajectories, noise[name], reps) for name, rows in indices.items()
    }
    return {
        "runs": len(x),
        "trajectories": trajectories,
        "levels": levels,
        "indices": indices,
        "checks": checks,
    }


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
    indices, noise = _indices(scenario, params, x, (reps, seed, pool), SOBOL_INDICES, analyse)
    checks = {
        name: sobol_checks(rows, samples, noise[name], reps) for name, rows in indices.items()
    }
    return {"runs": len(x), "samples": samples, "indices": indices, "checks": checks}


def _indices(
    scenario: Scenario,
    params: Sequence[Parameter],
    x: np.ndarray,
    run: tuple[int, int, Scheduler],
    fields: Sequence[str],
    analyse: Callable[[np.ndarray], Any],
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, float | None]]:
    """Run the sampled points ``x`` (replications, seed, scheduler in ``run``), then for each
    output one row a parameter with the SALib indices ``fields``, ranked largest first, and
    the share of the output's variance that is replication noise (:func:`noise_share`)."""
    res = _run_all([variant(scenario, params, row) for row in x], *run)
    indices, noise = {}, {}
    for name, y in _outputs_matrix(res).items():
        noise[name] = noise_share(y, [r[f"{name}_ci95"] for r in res])
        with np.errstate(all="ignore"):
            a = analyse(y)
        rows = [
            {"parameter": p.key, **{f: float(a[f][i]) for f in fields}}
            for i, p in enumerate(params)
        ]
        rows.sort(key=lambda r: (-_key(r[RANK_BY[tuple(fields)]]), r["parameter"]))
        indices[name] = rows
    return indices, noise


# --- checks (pure) -----------------------------------------------------------------------------


def noise_share(y: Sequence[float], ci95: Sequence[Sequence[float | None]]) -> float | None:
    """Share of the variance of a figure across sampled points (``y``) that the replication
    noise of each point explains: the mean squared standard error (95% half-width / 1.96)
    over the sample variance. With common random numbers the noise of nearby points is
    shared, so this is an upper bound. None when the figure does not vary or an interval is
    unknown."""
    arr = np.asarray(y, dtype=float)
    if arr.size < 2 or any(lo is None or hi is None for lo, hi in ci95):
        return None
    var = float(arr.var(ddof=1))
    if var <= 0:
        return None
    se2 = [((hi - lo) / (2 * 1.959964)) ** 2 for lo, hi in ci95]  # type: ignore[operator]
    return float(np.mean(se2)) / var


def _power_of_two(n: float) -> int:
    return 1 << max(1, math.ceil(math.log2(max(n, 2))))


def _reps_needed(noise: float | None, reps: int, limit: float) -> int | None:
    """Replications that bring a noise share to ``limit`` (noise falls as 1/reps)."""
    if noise is None or noise <= limit:
        return None
    return math.ceil(reps * noise / limit)


def sobol_checks(
    rows: Sequence[dict[str, Any]],
    samples: int,
    noise: float | None = None,
    reps: int | None = None,
    tolerance: float = SOBOL_TOLERANCE,
) -> dict[str, Any]:
    """Sampling error of one output's Sobol indices and warnings (a pure function).

    Warns when a first-order index is negative beyond its 95% interval (a true index is not
    below 0), when the first-order indices sum above 1 by more than their error (the root sum
    of squared half-widths), and when replication noise (``noise``, :func:`noise_share`)
    exceeds :data:`NOISE_SHARE`. ``samples_needed``: the power of two that would bring the
    largest error seen (a half-width, or the size of a contradiction) to ``tolerance``,
    since the error falls as 1/sqrt(samples); None when the indices are settled.
    """
    s1 = [float(r["S1"]) for r in rows]
    conf = [float(r["S1_conf"]) for r in rows] + [float(r["ST_conf"]) for r in rows]
    error = max((c for c in conf if math.isfinite(c)), default=0.0)
    total = sum(s1)
    total_error = math.sqrt(sum(float(r["S1_conf"]) ** 2 for r in rows))
    negative = [r["parameter"] for r in rows if float(r["S1"]) + float(r["S1_conf"]) < 0]
    warnings = []
    worst = error
    if negative:
        low = min(s1)
        worst = max(worst, -low)
        warnings.append(
            f"{len(negative)} first-order {_plural(len(negative), 'index', 'indices')} "
            f"negative beyond {_plural(len(negative), 'its', 'their')} 95% interval "
            f"(lowest {low:.2f}; a true index is not below 0): "
            f"{', '.join(negative)}"
        )
    if total - 1 > total_error:
        worst = max(worst, total - 1)
        warnings.append(
            f"the first-order indices sum to {total:.2f}, above 1 by more than their "
            f"error ({total_error:.2f})"
        )
    needed = _power_of_two(samples * (worst / tolerance) ** 2) if worst > tolerance else None
    if warnings and needed is None:
        needed = samples * 4
    reps_needed = _reps_needed(noise, reps or 0, NOISE_SHARE / 2) if reps else None
    if noise is not None and noise > NOISE_SHARE:
        warnings.append(
            f"replication noise is up to {100 * noise:.0f}% of the figure's variance across "
            "the samples; the indices carry it"
        )
    return {
        "error": error,
        "sum_S1": total,
        "sum_S1_error": total_error,
        "noise_share": noise,
        "tolerance": tolerance,
        "warnings": warnings,
        "samples_needed": needed,
        "reps_needed": reps_needed if noise is not None and noise > NOISE_SHARE else None,
    }


def morris_checks(
    rows: Sequence[dict[str, Any]],
    trajectories: int,
    noise: float | None = None,
    reps: int | None = None,
    tolerance: float = MORRIS_TOLERANCE,
) -> dict[str, Any]:
    """Sampling error of one output's Morris screening and warnings (a pure function).

    ``error``: the largest relative 95% half-width of mu* (mu_star_conf / mu_star) among the
    parameters that matter (mu* at least :data:`MORRIS_SCREEN` of the largest). Warns when it
    exceeds ``tolerance`` (their order is not settled) and when replication noise exceeds
    :data:`NOISE_SHARE`; ``samples_needed``: the trajectories that would bring it to
    ``tolerance`` (the error falls as 1/sqrt(trajectories)).
    """
    top = max((float(r["mu_star"]) for r in rows), default=0.0)
    judged = [r for r in rows if top > 0 and float(r["mu_star"]) >= MORRIS_SCREEN * top]
    rel = {r["parameter"]: float(r["mu_star_conf"]) / float(r["mu_star"]) for r in judged}
    error = max(rel.values(), default=0.0)
    warnings = []
    needed = None
    if error > tolerance:
        loose = [k for k, v in rel.items() if v > tolerance]
        needed = math.ceil(trajectories * (error / tolerance) ** 2)
        warnings.append(
            f"mu* known only to within {100 * error:.0f}% (95%) for "
            f"{', '.join(loose)}: the order of these parameters is not settled"
        )
    if noise is not None and noise > NOISE_SHARE:
        warnings.append(
            f"replication noise is up to {100 * noise:.0f}% of the figure's variance across "
            "the samples; the effects carry it"
        )
    reps_needed = _reps_needed(noise, reps or 0, NOISE_SHARE / 2) if reps else None
    return {
        "error": error,
        "noise_share": noise,
        "tolerance": tolerance,
        "warnings": warnings,
        "samples_needed": needed,
        "reps_needed": reps_needed if noise is not None and noise > NOISE_SHARE else None,
    }


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


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
