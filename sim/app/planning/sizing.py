"""Capacity sizing for the dashboard, without Streamlit: :func:`sizing_with_grid` runs
:func:`sim.planning.sizing.size` and a small sweep of manufacturing suites x apheresis slots
around its answer (same seed: common random numbers, so the heat map's cell at the answer
is the answer's own figure); :func:`sizing_words` says the answer and its evidence in plain
words. Everything returned is plain data, so the app can cache it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.app import form
from sim.core.scenario import Scenario
from sim.planning.grid import point_scenario
from sim.planning.plans import capacity_keys
from sim.planning.sizing import size
from sim.planning.sweep import sweep, sweep_frame
from sim.report.planning import total_cost
from sim.report.text import chance, date_label, money, pct
from sim.run.executors import ExecutorSpec

Progress = Callable[[int], None] | None

DEFAULT_RESOURCES = ("manufacturing.suites", "apheresis.slots")
HEAT_ROWS = "manufacturing.suites"
HEAT_COLUMNS = "apheresis.slots"
HEAT_SIDE_MAX = 5
"""At most this many values of each heat-map axis (a 5 x 5 grid: 25 configurations)."""


def sizeable(scenario: Scenario) -> list[str]:
    """The scenario's counts that can be sized (apheresis.slots, manufacturing.suites,
    infusion.beds), in the order the defaults are listed first."""
    keys = capacity_keys(scenario)
    return [k for k in DEFAULT_RESOURCES if k in keys] + [
        k for k in keys if k not in DEFAULT_RESOURCES
    ]


def resource_title(key: str) -> str:
    """``Manufacturing suites``: the form's label of a sizeable count."""
    p = form.PARAMS_BY_PATH.get(key)
    return p.label if p else key


def count_words(key: str, n: int) -> str:
    """``2 manufacturing suites``, ``1 apheresis slot``, ``3 infusion beds``."""
    stage, _, noun = key.rpartition(".")
    stage = stage.rsplit(".", 1)[-1]
    if n == 1 and noun.endswith("s"):
        noun = noun[:-1]
    return f"{n} {stage} {noun}"


def config_words(values: Mapping[str, int]) -> str:
    """``2 manufacturing suites and 1 apheresis slot``."""
    parts = [count_words(k, int(v)) for k, v in values.items()]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def chosen_config(result: Mapping[str, Any]) -> dict[str, int]:
    """The answer of a sizing (or, when nothing is enough, the cheapest configuration not
    significantly below the highest chance; or today's, when capacity does not bind)."""
    pick = result["answer"] or result["best_found"] or result["kept"]
    return {k: int(v) for k, v in pick["set"].items()}


def heatmap_axes(scenario: Scenario, result: Mapping[str, Any]) -> dict[str, list[int]]:
    """The heat map's grid: suites and slots from 1 (or higher, for a large answer) to one
    above the answer, at least to 3, at most :data:`HEAT_SIDE_MAX` values each. An axis that
    was not sized is centred on the scenario's own value."""
    chosen = chosen_config(result)
    current = scenario.to_dict()
    grid = {}
    for key in (HEAT_ROWS, HEAT_COLUMNS):
        centre = chosen.get(key, int(form.get_path(current, key)))
        hi = max(centre + 1, 3)
        lo = max(1, hi - HEAT_SIDE_MAX + 1)
        grid[key] = list(range(lo, hi + 1))
    return grid


def heatmap_scenario(scenario: Scenario, result: Mapping[str, Any]) -> Scenario:
    """The scenario the heat map sweeps: any other sized resource (beds) at the answer."""
    others = {k: v for k, v in chosen_config(result).items() if k not in (HEAT_ROWS, HEAT_COLUMNS)}
    return point_scenario(scenario, others, source="sizing") if others else scenario


def sizing_with_grid(
    scenario: Scenario,
    resources: Sequence[str],
    probability: float,
    *,
    reps: int,
    seed: int,
    max_units: int,
    executor: str | ExecutorSpec = "serial",
    progress: Progress = None,
    grid_progress: Progress = None,
) -> dict[str, Any]:
    """The sizing (``size``) and the heat map's sweep around its answer, on the same seed
    and replications: ``{"sizing": ..., "heatmap": ...}`` (plain data)."""
    result = size(
        scenario,
        list(resources),
        probability,
        reps=reps,
        seed=seed,
        max_units=max_units,
        executor=executor,
        progress=progress,
        max_reps=4 * reps,
    )
    grid = heatmap_axes(scenario, result)
    heat = sweep(
        heatmap_scenario(scenario, result),
        grid,
        reps,
        seed,
        executor=executor,
        progress=grid_progress,
    )
    return {"sizing": result, "heatmap": heat}


def heatmap_points(heat: Mapping[str, Any]) -> pd.DataFrame:
    """The heat map's sweep, one row a configuration (see
    :func:`sim.planning.sweep.sweep_frame`)."""
    return sweep_frame(dict(heat))


def heatmap_subtitle(result: Mapping[str, Any], heat: Mapping[str, Any]) -> list[str]:
    """The heat map's legend in words: trials a cell, what the outline and ticks mark."""
    outlined = "the answer" if result["feasible"] else "the fewest units at the highest chance"
    return [
        f"{heat['replications']:,} simulated trials a cell (seed {heat['seed']}).",
        "Beneath each chance: its 95% interval.",
        f"Outlined: {outlined}.",
        f"✓: at least the {pct(result['probability_wanted'])} wanted.",
    ]


def evaluations_table(result: Mapping[str, Any]) -> pd.DataFrame:
    """Every configuration the sizing simulated, fewest units first: the count of each
    resource, the units, the chance (%) with its 95% interval, and whether it meets the
    wanted chance."""
    rows = []
    for e in result["evaluations"]:
        lo, hi = e["prob_ci95"]
        rows.append(
            {
                **{resource_title(k): v for k, v in e["set"].items()},
                "units": e["units"],
                "chance by the deadline (%)": round(100 * e["prob_target_by_deadline"], 1),
                "95% interval (%)": f"{100 * lo:.0f} to {100 * hi:.0f}",
                "meets the wanted chance": bool(e["meets"]),
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    keys = [resource_title(k) for k in result["resources"]]
    return frame.sort_values(["units", *keys], kind="stable").reset_index(drop=True)


def _chance(e: Mapping[str, Any]) -> str:
    """A configuration's chance with its 95% interval: ``82% (95% interval 73% to 90%)``."""
    return chance(e["prob_target_by_deadline"], e["prob_ci95"])


@dataclass(frozen=True)
class SizingText:
    """A sizing in words: the answer (markdown), the evidence at one unit less, the search
    effort, notes, and what the heat map shows."""

    answer: str
    evidence: list[str]
    effort: str
    notes: list[str]
    grid: str


def _verdict_words(e: Mapping[str, Any]) -> str:
    if e.get("harm"):
        return "not enough (" + "; ".join(e["harm"]) + ")"
    if e["verdict"] == "cannot tell":
        return f"cannot tell with {e['replications']:,} trials"
    return "enough" if e["verdict"] == "enough" else "short"


def _cheapest_words(result: Mapping[str, Any]) -> str:
    """What the answer is cheapest in: the fewest units, the unit costs given, or the costs
    block's availability prices (then with its mean simulated total cost per trial)."""
    basis = result.get("cost_basis", "units")
    if basis == "--cost":
        return "least cost by the unit costs given"
    if basis == "costs block" and any(result["costs"].values()):
        cur = result.get("currency")
        total, of = total_cost(result["answer"])
        whose = "facility's" if result.get("kind") == "facility" else "scenario's"
        return (
            f"least availability price of its units over the horizon, by the {whose} costs "
            f"block ({money(result['answer']['cost'], cur)}; mean simulated total cost per "
            f"{of} {money(total, cur)})"
        )
    return "fewest units"


def sizing_words(result: Mapping[str, Any], heat: Mapping[str, Any] | None = None) -> SizingText:
    """A sizing (and its heat map, if given) in words, for the Sizing tab."""
    t = result["target"]
    goal = f"{t['count']} {t['milestone']} by {date_label(t['deadline'])}"
    want = pct(result["probability_wanted"])
    reps = result["replications"]
    g = result["gain_at_max"]
    gained = (
        f"{100 * g['mean']:+.1f} points with every resource at {result['max_units']} "
        f"(paired 95% interval {100 * g['ci95'][0]:+.1f} to {100 * g['ci95'][1]:+.1f})"
        if g["ci95"][0] is not None
        else f"{100 * g['mean']:+.1f} points with every resource at {result['max_units']}"
    )
    if not result["capacity_binds"]:
        k = result["kept"]
        answer = (
            f"**Capacity does not bind:** more units barely move the chance of {goal} "
            f"({gained}). Keep **{config_words(k['set'])}**: {_chance(k)}, "
            f"{_verdict_words(k)} for the {want} wanted. What limits the target is patient "
            "flow (referral, screening, deterioration), not capacity; the Sensitivity tab "
            "shows what moves it."
        )
    elif result["feasible"]:
        a = result["answer"]
        cheapest = _cheapest_words(result)
        which = (
            f"with the {cheapest}"
            if result["cheaper_points_ruled_out"]
            else f"with a minimal configuration (perhaps not the {cheapest})"
        )
        answer = (
            f"**{config_words(a['set'])}**: a chance of {_chance(a)} of {goal}, "
            f"enough for the {want} wanted (its 99% interval lies above it), {which}."
        )
    else:
        top, best = result["highest_probability"], result["best_found"]
        answer = (
            f"**Not reachable:** no configuration with each resource at most "
            f"{result['max_units']} is enough for a chance of {want} of {goal}. "
            f"The highest chance, with every resource at {result['max_units']}, is "
            f"{_chance(top)}, and no chance significantly lower comes with as little as "
            f"**{config_words(best['set'])}**, at {_chance(best)}."
        )
    evidence = []
    for e in result["one_unit_less"] if result["capacity_binds"] else []:
        if e["set"] is None:
            evidence.append(f"{resource_title(e['resource'])}: already at the minimum, 1.")
            continue
        n = e["set"][e["resource"]]
        evidence.append(
            f"With {count_words(e['resource'], n)} (one less): {_chance(e)}: {_verdict_words(e)}."
        )
    evidence += [
        f"Undecided: {config_words(u['set'])}, {_chance(u)}: cannot tell with "
        f"{u['replications']:,} trials."
        for u in result.get("undecided", [])
    ]
    effort = (
        f"Simulated {result['configurations_simulated']} of {result['lattice_size']:,} "
        f"configurations, {reps:,} trials each (seed {result['seed']}, the same simulated "
        "patients in each: common random numbers)"
    )
    by_units = result.get("cost_basis", "units") == "units"
    fewer, least = ("with fewer units", "fewest") if by_units else ("cheaper", "cheapest")
    if result["cheaper_points_ruled_out"]:
        effort += (
            f"; every configuration {fewer} was ruled out, on the assumption that "
            "more capacity never lowers the chance on the same patients."
        )
    else:
        effort += (
            f"; too many configurations to rule out every one {fewer}, so the answer "
            f"is minimal (one unit less of anything falls short) but may not be the {least}."
        )
    effort += f" The scenario as set has {config_words(result['current'])}."
    grid = ""
    if heat is not None:
        points = heatmap_points(heat)
        probs = points["prob_target_by_deadline"].astype(float)
        axes = heat["grid"]
        span = " x ".join(f"{resource_title(k).lower()} {v[0]} to {v[-1]}" for k, v in axes.items())
        others = {
            k: v for k, v in chosen_config(result).items() if k not in (HEAT_ROWS, HEAT_COLUMNS)
        }
        held = f", {config_words(others)} as in the answer" if others else ""
        grid = (
            f"Over the heat map ({span}{held}; {len(points)} configurations, the same "
            f"{heat['replications']:,} trials each) the chance ranges from {pct(probs.min())} "
            f"to {pct(probs.max())}."
        )
    return SizingText(answer, evidence, effort, list(result["notes"]), grid)
