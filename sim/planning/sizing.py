"""Capacity sizing: the cheapest combination of resources that reaches the target by the
deadline with at least a given probability.

Every configuration runs on the same master seed (common random numbers), so the estimated
probability is, almost always, non-decreasing in each resource. The search relies on that
(monotonicity) instead of simulating the full grid:

1. Simulate the all-maximum configuration: if even that misses the probability, no
   combination within the bounds can reach it (then the search looks for the cheapest
   configuration that reaches the highest probability found).
2. From the scenario's own capacities, raise every resource together (steps 1, 2, 4, ...,
   then bisection) until the probability is met.
3. Descend: lower each resource in turn (the expensive ones first) by bisection to the least
   value that still meets it. One pass gives a minimal configuration.
4. Check cheaper configurations: among the lattice points cheaper than the best so far that
   no simulated failure dominates, simulate the costliest; a failure rules out everything
   below it, a success is descended from as in step 3. When none is left, the answer is the
   cheapest (under monotonicity).

Evaluations are memoised, and a point below a failure (or above a success) is decided
without simulating. The answer and one unit less of each resource are always simulated, so
the evidence does not lean on monotonicity; should one unit less meet the probability after
all (a rare reordering at a downstream bottleneck can break monotonicity on a few seeds), the
search goes on from there and the result says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sim.core.errors import InputError
from sim.core.scenario import Scenario
from sim.planning.grid import leaves, point_scenario, value_at
from sim.planning.search import Config, MonotoneSearch
from sim.planning.sweep import point_figures
from sim.run.executors import ExecutorSpec
from sim.run.scheduler import Progress, Scheduler
from sim.run.stats import rounded, wilson_interval

CAPACITY_NAMES = ("slots", "suites", "beds")
"""Scenario counts that can be sized: apheresis.slots, manufacturing.suites, infusion.beds."""
DEFAULT_MAX_UNITS = 10
CRITERIA = ("estimate", "lower")
"""Meet the probability with the point estimate, or with the Wilson 95% lower bound."""

# --- inputs ------------------------------------------------------------------------------------


def capacity_keys(scenario: Scenario) -> list[str]:
    """Dotted keys of the scenario's sizeable counts (slots, suites, beds)."""
    return [
        key
        for key, value in leaves(scenario.to_dict())
        if isinstance(value, int)
        and not isinstance(value, bool)
        and key.rsplit(".", 1)[-1] in CAPACITY_NAMES
    ]


def parse_resources(texts: str | Sequence[str], scenario: Scenario) -> list[str]:
    """``"manufacturing.suites,apheresis.slots"`` (or a list of such) -> validated keys."""
    if isinstance(texts, str):
        texts = [texts]
    keys = [k.strip() for t in texts for k in str(t).split(",")]
    allowed = capacity_keys(scenario)
    if not keys or any(not k for k in keys):
        raise InputError(
            f"give resources separated by commas; sizeable here: {', '.join(allowed)}",
            source="--resources",
        )
    seen: list[str] = []
    for k in keys:
        _new_key(k, allowed, seen, "--resources", "a sizeable count of the scenario")
        seen.append(k)
    return seen


def _new_key(key: str, allowed: Sequence[str], seen: Sequence[str], source: str, what: str) -> None:
    """Refuse a key that is not among ``allowed`` or was given already."""
    if key not in allowed:
        raise InputError(f"is not {what}; allowed: {', '.join(allowed)}", source=source, field=key)
    if key in seen:
        raise InputError("is given twice", source=source, field=key)


def parse_costs(texts: Sequence[str] | None, resources: Sequence[str]) -> dict[str, float] | None:
    """``["manufacturing.suites=250000,apheresis.slots=40000"]`` -> cost of one unit of each.

    None when no costs are given (then every unit costs 1: the fewest units win). Given any,
    every sized resource needs a positive, finite cost.
    """
    if not texts:
        return None
    costs: dict[str, float] = {}
    for text in texts:
        for part in str(text).split(","):
            key, eq, raw = part.partition("=")
            key = key.strip()
            if not eq or not key:
                raise InputError(
                    "a cost is dotted.key=COST, e.g. manufacturing.suites=250000",
                    source="--cost",
                    field=part.strip() or "(empty)",
                )
            _new_key(key, resources, list(costs), "--cost", "a sized resource")
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            if not (math.isfinite(value) and value > 0):
                raise InputError(
                    "must be a number above 0",
                    source="--cost",
                    field=key,
                    value=raw.strip(),
                    has_value=True,
                )
            costs[key] = value
    missing = [k for k in resources if k not in costs]
    if missing:
        raise InputError(
            f"give a cost for every sized resource; missing: {', '.join(missing)}",
            source="--cost",
        )
    return costs


# --- sizing by simulation ---------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """The figures of one configuration (all on the same seed)."""

    config: Config
    hits: int
    n: int
    figures: dict[str, Any]

    @property
    def prob(self) -> float:
        return self.hits / self.n

    @property
    def ci95(self) -> tuple[float, float]:
        lo, hi = wilson_interval(self.hits, self.n) or (math.nan, math.nan)
        return lo, hi


class _Evaluator:
    """Simulates configurations on demand, once each."""

    def __init__(
        self, scenario: Scenario, resources: Sequence[str], reps: int, seed: int, pool: Scheduler
    ) -> None:
        self.scenario, self.resources = scenario, list(resources)
        self.reps, self.seed, self.pool = reps, seed, pool
        self.done: dict[Config, Evaluation] = {}

    def __call__(self, x: Config) -> Evaluation:
        if x not in self.done:
            sc = point_scenario(
                self.scenario, dict(zip(self.resources, x, strict=True)), "--resources"
            )
            (table,) = self.pool.tables([sc], self.reps, self.seed)
            fig = point_figures(sc, table)
            self.done[x] = Evaluation(x, int(fig["reached_by_deadline"]), len(table), fig)
        return self.done[x]


def meets(hits: int, n: int, probability: float, criterion: str = "estimate") -> bool:
    """Whether ``hits`` of ``n`` trials meets ``probability`` (point estimate, or the Wilson
    95% lower bound with ``criterion="lower"``)."""
    if criterion == "lower":
        lo, _ = wilson_interval(hits, n) or (0.0, 0.0)
        return lo >= probability - 1e-12
    return hits >= probability * n - 1e-9


def size(
    scenario: Scenario,
    resources: Sequence[str],
    probability: float,
    reps: int = 200,
    seed: int = 1,
    costs: dict[str, float] | None = None,
    max_units: int = DEFAULT_MAX_UNITS,
    criterion: str = "estimate",
    executor: str | ExecutorSpec = "serial",
    workers: int | None = None,
    progress: Progress = None,
) -> dict[str, Any]:
    """The cheapest configuration of ``resources`` (each from 1 to ``max_units``) whose
    probability of reaching the target by the deadline is at least ``probability``, with
    the evidence (see the module's docstring for the search). Plain data, JSON-ready."""
    if scenario.deadline_day is None:
        raise InputError(
            "sizing needs a deadline: set target.deadline in the scenario or give --deadline",
            field="target.deadline",
        )
    if not 0 < probability <= 1:
        raise InputError(
            "must be above 0 and at most 1",
            field="--probability",
            value=probability,
            has_value=True,
        )
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}")
    resources = list(resources)
    if not resources:
        raise InputError("give at least one resource to size", field="--resources")
    unit_costs = [costs[k] for k in resources] if costs else [1.0] * len(resources)
    current = [int(value_at(scenario, k)) for k in resources]
    lower = tuple(1 for _ in resources)
    upper = tuple(max_units for _ in resources)
    start = tuple(min(max(v, 1), max_units) for v in current)

    with Scheduler(executor, workers, progress) as pool:
        evaluate = _Evaluator(scenario, resources, reps, seed, pool)

        def search(pred: Callable[[Config], bool]) -> tuple[Config | None, bool, list[str]]:
            s = MonotoneSearch(pred, lower, upper, unit_costs)
            best, exhaustive = s.cheapest(start)
            best, contradicted = s.verified(best)
            notes = [
                f"{_label(resources, y)} met the target on simulation though a configuration "
                "above it had not (non-monotone seeds); the search went on from there"
                for y in contradicted
            ]
            return best, exhaustive, notes

        def wanted(x: Config) -> bool:
            e = evaluate(x)
            return meets(e.hits, e.n, probability, criterion)

        best, exhaustive, notes = search(wanted)
        feasible = best is not None
        top = evaluate(upper)
        if not feasible:
            need = top.hits

            def as_good_as_top(x: Config) -> bool:
                return evaluate(x).hits >= need

            best, exhaustive, more = search(as_good_as_top)
            notes += more
        assert best is not None
        evidence = [evaluate(y) if y else None for y in _one_less_or_none(best)]

    def cost_of(x: Config) -> float:
        return float(sum(c * v for c, v in zip(unit_costs, x, strict=True)))

    def describe(e: Evaluation) -> dict[str, Any]:
        return {
            "set": dict(zip(resources, e.config, strict=True)),
            "cost": cost_of(e.config),
            "units": int(sum(e.config)),
            "prob_target_by_deadline": e.prob,
            "prob_ci95": list(e.ci95),
            "reached_by_deadline": e.hits,
            "meets": meets(e.hits, e.n, probability, criterion),
        }

    answer = describe(evaluate(best))
    answer["figures"] = evaluate(best).figures
    one_less = []
    for key, e in zip(resources, evidence, strict=True):
        if e is None:
            one_less.append({"resource": key, "set": None, "note": "already at the minimum, 1"})
        else:
            one_less.append({"resource": key, **describe(e)})
    result = {
        "scenario": scenario.name,
        "replications": reps,
        "seed": seed,
        "target": scenario.target.as_dict(),
        "probability_wanted": probability,
        "criterion": criterion,
        "resources": resources,
        "costs": dict(zip(resources, unit_costs, strict=True)) if costs else None,
        "current": dict(zip(resources, current, strict=True)),
        "max_units": max_units,
        "feasible": feasible,
        "answer": answer if feasible else None,
        "best_found": None if feasible else answer,
        "highest_probability": None if feasible else describe(top),
        "one_unit_less": one_less,
        "configurations_simulated": len(evaluate.done),
        "lattice_size": max_units ** len(resources),
        "cheaper_points_ruled_out": exhaustive,
        "notes": notes,
        "evaluations": [describe(e) for e in evaluate.done.values()],
    }
    return rounded(result)


def _one_less_or_none(x: Config) -> list[Config | None]:
    return [(*x[:i], v - 1, *x[i + 1 :]) if v > 1 else None for i, v in enumerate(x)]


def _label(resources: Sequence[str], x: Config) -> str:
    return ", ".join(f"{k}={v}" for k, v in zip(resources, x, strict=True))
