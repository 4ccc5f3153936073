"""What must change for a scenario to reach a wanted chance of its target by the deadline:
the smallest referral rate, the fewest referring sites, or the latest opening day of a site
that reaches it, each by a one-dimensional search on common random numbers.

Every value tried runs the same replications with the same seed, so the patients met are
the same and the chance moves with the lever alone (not with chance); the search assumes
the chance never falls as the lever helps (more referrals, more sites, an earlier
opening), and it checks the answer's neighbour below. Runs go through the shared
:class:`~sim.run.scheduler.Scheduler`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim.core.errors import InputError
from sim.core.scenario import Scenario
from sim.run.executors import ExecutorSpec
from sim.run.scheduler import Scheduler
from sim.run.stats import prob_by, rounded, wilson_interval

LEVERS = ("rate", "sites", "opening")
"""The levers: the referral rate (every site's, scaled alike), the number of referring
sites (more like the last one), the opening day of the site that opens last."""
MAX_RATE_FACTOR = 10.0
"""The referral rate is searched up to this many times the scenario's."""
MAX_EXTRA_SITES = 10
RATE_STEP = 0.01
"""Patients per month: the rate found is rounded up to this."""


@dataclass(frozen=True)
class Lever:
    """One lever: its values (``low`` to ``high``, whole steps of ``step``), which end helps
    (``up``: higher values help), the scenario at a value, and the value as the scenario
    has it."""

    name: str
    low: float
    high: float
    step: float
    up: bool
    at: Callable[[float], Scenario]
    current: float
    unit: str


def _with_rate(sc: Scenario, factor: float) -> Scenario:
    sites = [
        s.model_copy(update={"rate_per_month": s.rate_per_month * factor})
        for s in sc.referral.sites
    ]
    return sc.model_copy(update={"referral": sc.referral.model_copy(update={"sites": sites})})


def _with_sites(sc: Scenario, n: float) -> Scenario:
    sites = list(sc.referral.sites)
    last = sites[-1]
    names = {s.name for s in sites}
    while len(sites) < int(n):
        k = len(sites) + 1
        name = f"{last.name} ({k})"
        while name in names:
            k += 1
            name = f"{last.name} ({k})"
        names.add(name)
        sites.append(last.model_copy(update={"name": name}))
    return sc.model_copy(update={"referral": sc.referral.model_copy(update={"sites": sites})})


def _latest_site(sc: Scenario) -> int:
    days = [s.opens_day for s in sc.referral.sites]
    return days.index(max(days))


def _with_opening(sc: Scenario, day: float) -> Scenario:
    i = _latest_site(sc)
    sites = list(sc.referral.sites)
    sites[i] = sites[i].model_copy(update={"opens_day": float(day)})
    return sc.model_copy(update={"referral": sc.referral.model_copy(update={"sites": sites})})


def lever(scenario: Scenario, name: str) -> Lever:
    """The lever called ``name`` (one of :data:`LEVERS`) on ``scenario``."""
    sc = scenario
    if name == "rate":
        base = sum(s.rate_per_month for s in sc.referral.sites)
        if base <= 0:
            raise InputError("no site refers anyone, so its rate cannot be scaled", field="rate")
        return Lever(
            "rate", base, base * MAX_RATE_FACTOR, RATE_STEP, True,
            lambda total: _with_rate(sc, total / base), base, "patients/month",
        )  # fmt: skip
    if name == "sites":
        n = len(sc.referral.sites)
        return Lever(
            "sites", n, n + MAX_EXTRA_SITES, 1, True,
            lambda k: _with_sites(sc, k), n, "sites",
        )  # fmt: skip
    if name == "opening":
        day = sc.referral.sites[_latest_site(sc)].opens_day
        return Lever(
            "opening", 0, math.floor(day), 1, False,
            lambda d: _with_opening(sc, d), math.floor(day), "day",
        )  # fmt: skip
    raise InputError(f"is not a lever; levers: {', '.join(LEVERS)}", field="lever", value=name)


def _chance(scheduler: Scheduler, sc: Scenario, reps: int, seed: int) -> tuple[float, list]:
    table = next(scheduler.tables([sc], reps, seed))
    hits, total = prob_by(table["time_to_target_days"], sc.deadline_day)
    return hits / total, list(wilson_interval(hits, total))


def search(
    scenario: Scenario,
    name: str,
    probability: float,
    *,
    reps: int,
    seed: int,
    scheduler: Scheduler,
) -> dict[str, Any]:
    """The least change of one lever that reaches ``probability``: the value (for the rate,
    the sites' total in patients a month, rounded up to :data:`RATE_STEP`; for the sites,
    their number; for the opening, the latest day of the last site's opening), its chance
    and every value tried."""
    if scenario.deadline_day is None:
        raise InputError("needs a deadline (target.deadline) to have a chance by it")
    lv = lever(scenario, name)
    tried: dict[float, tuple[float, list]] = {}

    def meets(x: float) -> bool:
        if x not in tried:
            tried[x] = _chance(scheduler, lv.at(x), reps, seed)
        return tried[x][0] >= probability

    def snap(x: float) -> float:
        n = math.ceil((x - lv.low) / lv.step - 1e-9) if lv.up else math.floor(x / lv.step)
        v = lv.low + n * lv.step if lv.up else n * lv.step
        return round(v, 6)

    worst, best = (lv.current, lv.high) if lv.up else (lv.current, lv.low)
    status = "reached"
    if meets(worst):
        status, answer = "already", worst
    elif not meets(best):
        status, answer = "unreachable", None
    else:  # bisect between a value that falls short and one that meets it
        short, ok = worst, best
        while abs(ok - short) > lv.step + 1e-9:
            mid = snap((short + ok) / 2)
            if mid in (short, ok):
                break
            if meets(mid):
                ok = mid
            else:
                short = mid
        answer = ok
    out = {
        "lever": name,
        "unit": lv.unit,
        "probability_wanted": probability,
        "status": status,
        "current": {"value": lv.current, "chance": tried[worst][0], "ci95": tried[worst][1]},
        "answer": None
        if answer is None
        else {"value": answer, "chance": tried[answer][0], "ci95": tried[answer][1]},
        "best_tried": {"value": best, "chance": tried[best][0], "ci95": tried[best][1]}
        if best in tried
        else None,
        "range": [lv.low, lv.high],
        "tried": [{"value": k, "chance": v[0]} for k, v in sorted(tried.items())],
        "replications": reps,
        "seed": seed,
    }
    if name == "opening":
        out["site"] = scenario.referral.sites[_latest_site(scenario)].name
    return rounded(out)


def goal(
    scenario: Scenario,
    probability: float,
    *,
    levers: tuple[str, ...] = LEVERS,
    reps: int = 200,
    seed: int = 1,
    executor: str | ExecutorSpec = "serial",
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """:func:`search` of each lever, on one scheduler (``progress`` counts trials)."""
    if not 0 < probability <= 1:
        raise InputError("must be above 0 and at most 1", field="probability", value=probability)
    with Scheduler(executor, progress=progress) as scheduler:
        found = [
            search(scenario, name, probability, reps=reps, seed=seed, scheduler=scheduler)
            for name in levers
        ]
    return {
        "scenario": scenario.name,
        "target": scenario.target.as_dict(),
        "probability_wanted": probability,
        "replications": reps,
        "seed": seed,
        "levers": found,
    }
