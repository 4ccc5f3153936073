"""Capacity sizing: the cheapest combination of resources that reaches the target by the
deadline with at least a given probability, honest about noise and about harm.

Every configuration runs on the same master seed (common random numbers), so the chance of
reaching the target is, almost always, non-decreasing in each resource, and two
configurations are compared replication by replication (paired).

1. Does capacity bind? When even the all-maximum configuration is not enough and it does
   not raise the chance significantly above the scenario's own capacities (compared
   paired: the 95% interval of the gain is not clear of 0, or the gain is below
   ``min_gain``), the answer keeps the current capacity and says that capacity does not bind
   (``capacity_binds: false``): what limits the trial is patient flow (referral, screening,
   deterioration), not units. When it raises the chance but is still not enough, the answer
   is the cheapest configuration not significantly below it.
2. Otherwise the cheapest configuration that is **enough** is searched (monotonicity, as
   :mod:`sim.planning.search` does it). A configuration is enough only when the 99% Wilson
   interval of its chance lies above the wanted probability, **short** when it lies below,
   and otherwise it **cannot tell with N trials**: more trials are simulated for it
   (doubling, up to ``max_reps``), and the answer lists the configurations that remain
   undecided. Optional limits on harm (the share of enrolled patients lost while waiting,
   the 90th percentile of vein-to-vein days, a resource's mean wait) make a configuration
   that breaks one short, whatever its chance.
3. The answer and one unit less of each resource are always simulated and judged, so the
   evidence does not lean on monotonicity; should one unit less be enough after all (a rare
   reordering at a downstream bottleneck can break monotonicity on a few seeds), the search
   goes on from there and the result says so.

Cheapest is by the given unit costs (``--cost``); else, when the scenario has a costs block,
by each unit's availability price over the horizon; else by the number of units
(:mod:`sim.planning.pricing`). With a costs block each configuration's mean simulated total
cost per trial is reported beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.core.errors import InputError
from sim.core.facility import Facility
from sim.core.scenario import Scenario
from sim.core.station import RESOURCES
from sim.planning.plans import (
    FacilityPlan,
    ScenarioPlan,
    plan_for,
)
from sim.planning.search import Config, MonotoneSearch
from sim.run.executors import ExecutorSpec
from sim.run.scheduler import Progress, Scheduler
from sim.run.stats import paired_difference, rounded, wilson_interval

DEFAULT_MAX_UNITS = 10

# --- inputs ------------------------------------------------------------------------------------


def parse_resources(texts: str | Sequence[str], scenario: Scenario | Facility) -> list[str]:
    """``"manufacturing.suites,apheresis.slots"`` (or a list of such) -> validated keys (of a
    facility: ``resources.manufacturing``, its shared counts)."""
    if isinstance(texts, str):
        texts = [texts]
    keys = [k.strip() for t in texts for k in str(t).split(",")]
    allowed = plan_for(scenario).keys()
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


def _numbers_by_key(
    texts: Sequence[str], allowed: Sequence[str], source: str, what: str, least: float, usage: str
) -> dict[str, float]:
    """``KEY=NUMBER`` pairs (comma-separated or repeated): each key among ``allowed`` once,
    each number finite and above ``least`` (0 itself allowed when ``least`` is 0)."""
    out: dict[str, float] = {}
    for text in texts:
        for part in str(text).split(","):
            key, eq, raw = part.partition("=")
            key = key.strip()
            if not eq or not key:
                raise InputError(
                    usage,
                    source=source,
                    field=part.strip() or "(empty)",
                )
            _new_key(key, allowed, list(out), source, f"a {what}")
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            if not (math.isfinite(value) and (value > least or value == least == 0)):
                raise InputError(
                    "must be a number " + ("0 or more" if least == 0 else "above 0"),
                    source=source,
                    field=key,
                    value=raw.strip(),
                    has_value=True,
                )
            out[key] = value
    return out


def parse_costs(texts: Sequence[str] | None, resources: Sequence[str]) -> dict[str, float] | None:
    """``["manufacturing.suites=250000,apheresis.slots=40000"]`` -> cost of one unit of each.

    None when no costs are given (then every unit costs 1: the fewest units win). Given any,
    every sized resource needs a positive, finite cost.
    """
    if not texts:
        return None
    usage = "a cost is dotted.key=COST, e.g. manufacturing.suites=250000"
    costs = _numbers_by_key(texts, resources, "--cost", "sized resource", 1e-300, usage)
    missing = [k for k in resources if k not in costs]
    if missing:
        raise InputError(
            f"give a cost for every sized resource; missing: {', '.join(missing)}",
            source="--cost",
        )
    return costs


def parse_waits(texts: Sequence[str]) -> dict[str, float]:
    """``["manufacturing=14"]`` -> a limit on each resource's mean wait, days."""
    usage = "a wait limit is RESOURCE=DAYS, e.g. manufacturing=14"
    return _numbers_by_key(texts, RESOURCES, "--max-wait", "resource", 0, usage)


# --- sizing by simulation ---------------------------------------------------------------------

ENOUGH, SHORT, UNDECIDED = "enough", "short", "cannot tell"
LEVEL = 0.99
"""Confidence of a verdict: a configuration is enough (short) only when this interval of its
chance lies above (below) the wanted probability, so that a verdict holds up in an
independent run."""
MIN_GAIN = 0.02
"""The smallest gain in the chance (two points) for which more capacity counts as binding."""


@dataclass(frozen=True)
class HarmLimits:
    """What a configuration must not do to patients, whatever its chance (None: no limit)."""

    lost_share: float | None = None
    """Mean share of enrolled patients lost (deteriorated) while they wait."""
    vein_to_vein_p90_days: float | None = None
    waits_days: dict[str, float] = field(default_factory=dict)
    """Mean wait per resource (apheresis, manufacturing, beds), days."""

    def broken(self, figures: dict[str, Any]) -> list[str]:
        """The limits the figures break, in words."""
        out = []
        lost = figures.get("lost_while_waiting_share")
        if self.lost_share is not None and lost is not None and lost > self.lost_share:
            out.append(f"{100 * lost:.0f}% of enrolled patients lost while waiting")
        v2v = figures.get("vein_to_vein_p90_days")
        limit = self.vein_to_vein_p90_days
        if limit is not None and v2v is not None and v2v > limit:
            out.append(f"vein-to-vein p90 {v2v:.0f} days")
        for res, limit in self.waits_days.items():
            wait = figures.get(f"{res}_mean_wait_days")
            if wait is not None and wait > limit:
                out.append(f"mean wait for {res} {wait:.1f} days")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "lost_share": self.lost_share,
            "vein_to_vein_p90_days": self.vein_to_vein_p90_days,
            "waits_days": dict(self.waits_days),
        }


@dataclass
class Evaluation:
    """The rows of one configuration (all on the same seed) and what they say."""

    config: Config
    table: Any
    """Its rows: a :class:`RowTable` (a scenario) or a facility's :class:`TableSet`."""
    figures: dict[str, Any]
    met: np.ndarray
    """1 where a replication met the deadline (every trial's, for a facility), else 0."""

    @property
    def hits(self) -> int:
        return int(self.figures["reached_by_deadline"])

    @property
    def n(self) -> int:
        return len(self.table)

    @property
    def prob(self) -> float:
        return self.hits / self.n

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        lo, hi = wilson_interval(self.hits, self.n, level) or (math.nan, math.nan)
        return lo, hi

    def reached(self) -> np.ndarray:
        """1 where a replication reached the target by the deadline, else 0."""
        return self.met


class _Evaluator:
    """Simulates configurations on demand, and more trials of one when it is undecided."""

    def __init__(
        self,
        plan: ScenarioPlan | FacilityPlan,
        resources: Sequence[str],
        reps: int,
        seed: int,
        pool: Scheduler,
        max_reps: int,
    ) -> None:
        self.plan, self.resources = plan, list(resources)
        self.reps, self.seed, self.pool, self.max_reps = reps, seed, pool, max(reps, max_reps)
        self.done: dict[Config, Evaluation] = {}

    def __call__(self, x: Config, reps: int | None = None) -> Evaluation:
        """``x`` with at least ``reps`` trials (default: the first round's)."""
        want = reps or self.reps
        e = self.done.get(x)
        if e is not None and e.n >= want:
            return e
        plan = self.plan
        variant = plan.variant(dict(zip(self.resources, x, strict=True)))
        have = 0 if e is None else e.n
        (more,) = self.pool.run([plan.job(variant, want, self.seed, have)])
        table = more if e is None else plan.concat(e.table, more)
        self.done[x] = Evaluation(
            x, table, plan.figures(variant, table), plan.reached(variant, table)
        )
        return self.done[x]

    def judged(self, x: Config, probability: float, limits: HarmLimits) -> Evaluation:
        """``x`` with trials added (doubling, up to the budget) until its verdict is clear."""
        e = self(x)
        while verdict(e, probability, limits) == UNDECIDED and e.n < self.max_reps:
            e = self(x, min(self.max_reps, 2 * e.n))
        return e


def verdict(e: Evaluation, probability: float, limits: HarmLimits) -> str:
    """``enough``, ``short``, or ``cannot tell`` (with the trials it has)."""
    if limits.broken(e.figures):
        return SHORT
    lo, hi = e.interval(LEVEL)
    if lo >= probability - 1e-12:
        return ENOUGH
    if hi < probability - 1e-12:
        return SHORT
    return UNDECIDED


def gain(low: Evaluation, high: Evaluation) -> dict[str, Any]:
    """The chance ``high`` adds to ``low``, paired replication by replication, with its 95%
    interval (the same trials of each)."""
    n = min(low.n, high.n)
    return paired_difference(low.reached()[:n], high.reached()[:n])


def size(
    scenario: Scenario | Facility,
    resources: Sequence[str],
    probability: float,
    reps: int = 200,
    seed: int = 1,
    costs: dict[str, float] | None = None,
    max_units: int = DEFAULT_MAX_UNITS,
    executor: str | ExecutorSpec = "serial",
    workers: int | None = None,
    progress: Progress = None,
    max_reps: int = 800,
    limits: HarmLimits | None = None,
    min_gain: float = MIN_GAIN,
) -> dict[str, Any]:
    """The cheapest configuration of ``resources`` (each from 1 to ``max_units``) that is
    enough for ``probability`` and within the harm ``limits``, or the current capacity when
    capacity does not bind, with the evidence (see the module's docstring). Plain data."""
    plan = plan_for(scenario)
    plan.check()
    if not 0 < probability <= 1:
        raise InputError(
            "must be above 0 and at most 1",
            field="--probability",
            value=probability,
            has_value=True,
        )
    resources = list(resources)
    if not resources:
        raise InputError("give at least one resource to size", field="--resources")
    limits = limits or HarmLimits()
    basis = plan.cost_basis(resources, costs)
    unit_costs, order = basis.unit_costs, basis.order_costs
    current = [plan.current(k) for k in resources]
    lower = tuple(1 for _ in resources)
    upper = tuple(max_units for _ in resources)
    start = tuple(min(max(v, 1), max_units) for v in current)

    with Scheduler(executor, workers, progress) as pool:
        evaluate = _Evaluator(plan, resources, reps, seed, pool, max_reps)
        here, top = evaluate(start), evaluate(upper)
        n = max(here.n, top.n)
        here, top = evaluate(start, n), evaluate(upper, n)
        more = gain(here, top)
        significant = bool(
            more["ci95"][0] is not None and more["ci95"][0] > 0 and more["mean"] >= min_gain
        )
        top = evaluate.judged(upper, probability, limits)
        notes: list[str] = []
        exhaustive = True
        if verdict(top, probability, limits) == ENOUGH:  # some configuration is enough
            found, exhaustive, notes = _search(
                evaluate, resources, probability, limits, lower, upper, start, order
            )
            best, feasible = found or upper, True
            binds = best != lower  # the fewest units possible are enough: nothing binds
        elif significant:  # more units help, but not enough: as good as the top, cheapest
            best, exhaustive, notes = _as_good_as(
                evaluate, resources, top, lower, upper, start, order
            )
            binds, feasible = True, False
        else:  # nothing is enough, and more units do not help: keep today's
            best, binds, feasible = start, False, False
        answer_e = evaluate.judged(best, probability, limits)
        evidence = [
            evaluate.judged(y, probability, limits) if y else None for y in _one_less_or_none(best)
        ]

    def cost_of(x: Config, costs: Sequence[float] = unit_costs) -> float:
        return float(sum(c * v for c, v in zip(costs, x, strict=True)))

    def describe(e: Evaluation) -> dict[str, Any]:
        v = verdict(e, probability, limits)
        total = plan.mean_total_cost(e.table)
        return {
            "set": dict(zip(resources, e.config, strict=True)),
            "cost": cost_of(e.config),
            "order_cost": cost_of(e.config, order),
            plan.total_cost_key: total,
            "units": int(sum(e.config)),
            "prob_target_by_deadline": e.prob,
            "prob_ci95": list(e.interval()),
            "prob_ci99": list(e.interval(LEVEL)),
            "reached_by_deadline": e.hits,
            "replications": e.n,
            "verdict": v,
            "meets": v == ENOUGH,
            "harm": limits.broken(e.figures),
            "lost_while_waiting_share": e.figures["lost_while_waiting_share"],
            "vein_to_vein_p90_days": e.figures["vein_to_vein_p90_days"],
        }

    answer = describe(answer_e)
    answer["figures"] = answer_e.figures
    one_less = []
    for key, e in zip(resources, evidence, strict=True):
        if e is None:
            one_less.append({"resource": key, "set": None, "note": "already at the minimum, 1"})
        else:
            one_less.append({"resource": key, **describe(e)})
    evaluations = [describe(e) for e in evaluate.done.values()]
    cheaper = cost_of(best, order)
    undecided = [
        e for e in evaluations if e["verdict"] == UNDECIDED and e["order_cost"] < cheaper - 1e-9
    ]
    result = {
        "scenario": plan.name,
        "kind": "facility" if isinstance(plan, FacilityPlan) else "scenario",
        "replications": reps,
        "max_replications": evaluate.max_reps,
        "seed": seed,
        "target": plan.target,
        "probability_wanted": probability,
        "level": LEVEL,
        "resources": resources,
        "costs": dict(zip(resources, unit_costs, strict=True)) if basis.basis != "units" else None,
        "cost_basis": basis.basis,
        "cost_note": basis.note,
        "currency": plan.currency,
        "limits": limits.as_dict(),
        "current": dict(zip(resources, current, strict=True)),
        "max_units": max_units,
        "capacity_binds": binds,
        "gain_at_max": {
            "mean": more["mean"],
            "ci95": more["ci95"],
            "replications": more["n"],
            "min_gain": min_gain,
        },
        "current_verdict": describe(here),
        "highest": describe(top),
        "feasible": feasible,
        "answer": answer if feasible else None,
        "kept": answer if not (binds or feasible) else None,
        "best_found": answer if (binds and not feasible) else None,
        "highest_probability": None if feasible else describe(top),
        "one_unit_less": one_less,
        "undecided": undecided,
        "configurations_simulated": len(evaluate.done),
        "lattice_size": max_units ** len(resources),
        "cheaper_points_ruled_out": exhaustive,
        "notes": notes,
        "evaluations": evaluations,
    }
    return rounded(result)


def _search(
    evaluate: _Evaluator,
    resources: Sequence[str],
    probability: float,
    limits: HarmLimits,
    lower: Config,
    upper: Config,
    start: Config,
    costs: Sequence[float],
) -> tuple[Config | None, bool, list[str]]:
    """The cheapest configuration judged enough (None if even the top is not)."""

    def enough(x: Config) -> bool:
        return verdict(evaluate.judged(x, probability, limits), probability, limits) == ENOUGH

    return _monotone(enough, resources, lower, upper, start, costs)


def _as_good_as(
    evaluate: _Evaluator,
    resources: Sequence[str],
    top: Evaluation,
    lower: Config,
    upper: Config,
    start: Config,
    costs: Sequence[float],
) -> tuple[Config, bool, list[str]]:
    """The cheapest configuration whose chance is not significantly below the top's
    (paired)."""

    def as_good(x: Config) -> bool:
        e = evaluate(x, top.n)
        lo = gain(e, top)["ci95"][0]
        return lo is None or lo <= 0

    best, exhaustive, notes = _monotone(as_good, resources, lower, upper, start, costs)
    return best or upper, exhaustive, notes


def _monotone(
    pred: Callable[[Config], bool],
    resources: Sequence[str],
    lower: Config,
    upper: Config,
    start: Config,
    costs: Sequence[float],
) -> tuple[Config | None, bool, list[str]]:
    s = MonotoneSearch(pred, lower, upper, costs)
    best, exhaustive = s.cheapest(start)
    best, contradicted = s.verified(best)
    notes = [
        f"{_label(resources, y)} was enough on simulation though a configuration above it "
        "had not been (non-monotone seeds); the search went on from there"
        for y in contradicted
    ]
    return best, exhaustive, notes


def _one_less_or_none(x: Config) -> list[Config | None]:
    return [(*x[:i], v - 1, *x[i + 1 :]) if v > 1 else None for i, v in enumerate(x)]


def _label(resources: Sequence[str], x: Config) -> str:
    return ", ".join(f"{k}={v}" for k, v in zip(resources, x, strict=True))
