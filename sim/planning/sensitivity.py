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

Ranges come from a YAML file of ``dotted.key: [low, high]`` or, by default, from the scenario:
+/-25% of every number that is not a count or a date and is not a probability at 0 or 1
(probabilities clipped to [0, 1], distribution parameters kept in order), and +/-1 for whole
counts; the start, horizon, target and follow-up define the question and are left out.
"""

from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sim.core.errors import InputError
from sim.core.scenario import Scenario
from sim.core.yamlio import parse_yaml, read_text
from sim.planning.sweep import point_scenario
from sim.run.executors import ExecutorSpec
from sim.run.results import RowTable
from sim.run.scheduler import Progress, Scheduler
from sim.run.stats import prob_by, rounded

METHODS = ("oat", "morris", "sobol")
OUTPUTS = {
    "median_time_to_target_days": "median days to target (unreached counted at the horizon)",
    "prob_target_by_deadline": "probability of reaching the target by the deadline",
}
DEFAULT_RELATIVE = 0.25
EXCLUDED = ("start_date", "horizon_days", "follow_up_days", "target")
"""Top-level keys that define the question rather than the trial's logistics."""
MAX_GROUP_CORNERS = 12
"""Ranges of up to this many keys of one block are checked at every corner."""


@dataclass(frozen=True)
class Parameter:
    """One varied scenario value: its dotted key, the scenario's value and the range."""

    key: str
    base: float
    low: float
    high: float
    integer: bool = False


# --- the scenario's numbers --------------------------------------------------------------------


def numeric_values(scenario: Scenario) -> dict[str, int | float]:
    """Every number of the scenario by dotted key (distribution parameters included;
    booleans, text and dates left out)."""
    out: dict[str, int | float] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}.{i}")
        elif isinstance(node, int | float) and not isinstance(node, bool):
            out[path] = node

    walk(scenario.to_dict(), "")
    return out


def _is_probability(key: str) -> bool:
    last = key.rsplit(".", 1)[-1]
    return last == "prob" or last.endswith("_prob") or key.startswith("screening.criteria.")


def _excluded(key: str) -> bool:
    return key.split(".", 1)[0] in EXCLUDED


def default_ranges(scenario: Scenario, relative: float = DEFAULT_RELATIVE) -> list[Parameter]:
    """+/-``relative`` of each number (whole counts +/-1), clipped to valid values; numbers
    at zero, probabilities at 0 or 1, and ranges that clip to nothing are left out."""
    values = numeric_values(scenario)
    params = []
    for key, base in values.items():
        if _excluded(key):
            continue
        integer = isinstance(base, int)
        if integer:
            low, high = base - 1, base + 1
        else:
            if base == 0 or (_is_probability(key) and base in (0.0, 1.0)):
                continue
            low, high = sorted((base * (1 - relative), base * (1 + relative)))
            if _is_probability(key):
                low, high = max(low, 0.0), min(high, 1.0)
            low, high = _clip_to_siblings(key, values, low, high)
        low = _shrink_to_valid(scenario, key, base, low, integer)
        high = _shrink_to_valid(scenario, key, base, high, integer)
        if high - low > 0:
            params.append(Parameter(key, float(base), float(low), float(high), integer))
    return params


def _clip_to_siblings(
    key: str, values: dict[str, int | float], low: float, high: float
) -> tuple[float, float]:
    """Keep a distribution's low <= mode <= high when one of them moves."""
    parent, _, name = key.rpartition(".")
    sib = {n: values.get(f"{parent}.{n}") for n in ("low", "mode", "high")}
    if name == "low":
        cap = sib["mode"] if sib["mode"] is not None else sib["high"]
        high = min(high, cap) if cap is not None else high
    elif name == "mode":
        low = max(low, sib["low"]) if sib["low"] is not None else low
        high = min(high, sib["high"]) if sib["high"] is not None else high
    elif name == "high":
        floor = sib["mode"] if sib["mode"] is not None else sib["low"]
        low = max(low, floor) if floor is not None else low
    return low, high


def _valid(scenario: Scenario, assignment: dict[str, float]) -> str | None:
    """None if the scenario with these values is valid, else the reason."""
    try:
        point_scenario(scenario, assignment, source="ranges")
    except InputError as exc:
        return exc.problem
    return None


def _shrink_to_valid(scenario: Scenario, key: str, base: float, end: float, integer: bool) -> float:
    """``end``, or the value nearest to it on the way to ``base`` that keeps the scenario
    valid (the last resort after the explicit clips)."""
    if _valid(scenario, {key: _cast(end, integer)}) is None:
        return end
    if integer:
        step = 1 if end < base else -1
        v = int(end)
        while v != base and _valid(scenario, {key: v}) is not None:
            v += step
        return float(v)
    good, bad = base, end
    for _ in range(40):
        mid = (good + bad) / 2
        if _valid(scenario, {key: mid}) is None:
            good = mid
        else:
            bad = mid
    return good


def _cast(value: float, integer: bool) -> int | float:
    return int(np.rint(value)) if integer else float(value)


# --- ranges files ------------------------------------------------------------------------------


def load_ranges(path: str, scenario: Scenario, method: str = "oat") -> list[Parameter]:
    """Read and validate a ranges file (YAML of ``dotted.key: [low, high]``)."""
    return parse_ranges(read_text(str(path)), str(path), scenario, method)


def parse_ranges(
    text: str, source: str, scenario: Scenario, method: str = "oat"
) -> list[Parameter]:
    """Validate ranges against ``scenario``; every error is one line naming ``source`` and the
    key: unknown keys, ends that are not numbers, low above high, and values that make the
    scenario invalid (for the global methods, any combination within one block)."""
    data = parse_yaml(text, source)
    if not isinstance(data, dict) or not data:
        raise InputError(
            "must be a YAML mapping of dotted.key: [low, high], e.g. "
            "manufacturing.duration_days.mode: [8, 11]",
            source=source,
        )
    values = numeric_values(scenario)
    dicts = _distribution_keys(scenario)
    params = []
    for raw_key, rng in data.items():
        key = str(raw_key)
        if key in dicts:
            if dicts[key] is None:
                key = f"{key}.value"
            else:
                raise InputError(
                    f"is a distribution; give its parameters instead: {dicts[key]}",
                    source=source,
                    field=key,
                )
        if key not in values:
            close = difflib.get_close_matches(key, list(values), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InputError(
                f"is not a number of the scenario{hint}; keys are dotted paths such as "
                "manufacturing.duration_days.mode or referral.sites.0.rate_per_month",
                source=source,
                field=key,
            )
        if _excluded(key):
            raise InputError(
                "defines the question (start, horizon, target, follow-up), not a parameter to vary",
                source=source,
                field=key,
            )
        if (
            not isinstance(rng, list)
            or len(rng) != 2
            or any(isinstance(v, bool) or not isinstance(v, int | float) for v in rng)
            or not all(math.isfinite(v) for v in rng)
        ):
            raise InputError(
                "must be [low, high], two numbers",
                source=source,
                field=key,
                value=rng,
                has_value=True,
            )
        low, high = float(rng[0]), float(rng[1])
        if low > high:
            raise InputError(
                "low is above high", source=source, field=key, value=rng, has_value=True
            )
        integer = isinstance(values[key], int)
        if integer and not (low.is_integer() and high.is_integer()):
            raise InputError(
                "is a whole count: its range needs whole numbers",
                source=source,
                field=key,
                value=rng,
                has_value=True,
            )
        if method != "oat" and low == high:
            raise InputError(
                f"low equals high; the {method} method needs a range of some width",
                source=source,
                field=key,
                value=rng,
                has_value=True,
            )
        for end in (low, high):
            why = _valid(scenario, {key: _cast(end, integer)})
            if why is not None:
                raise InputError(
                    f"makes the scenario invalid: {why}",
                    source=source,
                    field=key,
                    value=_cast(end, integer),
                    has_value=True,
                )
        params.append(Parameter(key, float(values[key]), low, high, integer))
    if method != "oat":
        check_combinations(scenario, params, source)
    return params


def _distribution_keys(scenario: Scenario) -> dict[str, str | None]:
    """Dotted keys of distributions -> their parameter keys (None for a fixed value)."""
    out: dict[str, str | None] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if "dist" in node and path:
                names = [k for k in node if k != "dist"]
                out[path] = (
                    None if node["dist"] == "fixed" else ", ".join(f"{path}.{n}" for n in names)
                )
            for k, v in node.items():
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}.{i}")

    walk(scenario.to_dict(), "")
    return out


def check_combinations(scenario: Scenario, params: Sequence[Parameter], source: str) -> None:
    """Global methods combine ranges: check every corner of the ranges within each block
    (the schema's cross-field rules live within one block, and they are linear, so valid
    corners mean a valid box)."""
    groups: dict[str, list[Parameter]] = {}
    for p in params:
        groups.setdefault(p.key.rpartition(".")[0], []).append(p)
    for group in groups.values():
        if len(group) < 2 or len(group) > MAX_GROUP_CORNERS:
            continue
        for corner in itertools.product(*[(p.low, p.high) for p in group]):
            assignment = {p.key: _cast(v, p.integer) for p, v in zip(group, corner, strict=True)}
            why = _valid(scenario, assignment)
            if why is not None:
                shown = ", ".join(f"{k}={v:g}" for k, v in assignment.items())
                raise InputError(
                    f"these ranges combine into an invalid scenario at {shown}: {why}",
                    source=source,
                    field=", ".join(p.key for p in group),
                )


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
        {p.key: _cast(v, p.integer) for p, v in zip(params, values, strict=True)},
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

    problem = _problem(params)
    x = sample.sample(problem, trajectories, num_levels=levels, seed=seed % 2**32)
    res = _run_all([variant(scenario, params, row) for row in x], reps, seed, pool)
    indices = _index_tables(
        params,
        res,
        ("mu_star", "mu_star_conf", "sigma", "mu"),
        "mu_star",
        lambda y: analyze.analyze(problem, x, y, num_levels=levels, seed=seed % 2**32),
    )
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
    total order)."""
    _salib()
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    if samples < 2 or samples & (samples - 1):
        raise InputError(
            "the sobol method needs a power of two (e.g. 64)",
            field="--samples",
            value=samples,
            has_value=True,
        )
    problem = _problem(params)
    x = sample.sample(problem, samples, calc_second_order=False, seed=seed % 2**32)
    res = _run_all([variant(scenario, params, row) for row in x], reps, seed, pool)
    indices = _index_tables(
        params,
        res,
        ("S1", "S1_conf", "ST", "ST_conf"),
        "ST",
        lambda y: analyze.analyze(problem, y, calc_second_order=False, seed=seed % 2**32),
    )
    return {"runs": len(x), "samples": samples, "indices": indices}


def _index_tables(
    params: Sequence[Parameter],
    res: Any,
    fields: Sequence[str],
    rank_by: str,
    analyse: Callable[[np.ndarray], Any],
) -> dict[str, list[dict[str, Any]]]:
    """For each output, one row a parameter with the SALib indices ``fields``, largest
    ``rank_by`` first."""
    indices = {}
    for name, y in _outputs_matrix(res).items():
        with np.errstate(all="ignore"):
            a = analyse(y)
        rows = [
            {"parameter": p.key, **{f: float(a[f][i]) for f in fields}}
            for i, p in enumerate(params)
        ]
        rows.sort(key=lambda r: (-_key(r[rank_by]), r["parameter"]))
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
    params = list(params) if params is not None else default_ranges(scenario)
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
