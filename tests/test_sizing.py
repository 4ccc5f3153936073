"""Capacity sizing: the monotone lattice search (against brute force), the answer re-run by
itself, its evidence, costs, infeasibility, input checks and the command in-process."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from conftest import make_scenario
from test_sweep import BUSY, planning_main

from sim.core.errors import InputError
from sim.core.scenario import with_overrides
from sim.planning.search import MonotoneSearch
from sim.planning.sizing import (
    capacity_keys,
    meets,
    parse_costs,
    parse_resources,
    size,
)
from sim.report.planning import format_sizing
from sim.run.runner import run_replications
from sim.run.stats import prob_by

SIZED = ["manufacturing.suites", "infusion.beds", "apheresis.slots"]
REPS = 40


@pytest.fixture(scope="module")
def busy():
    return make_scenario(*BUSY)


@pytest.fixture(scope="module")
def answer(busy):
    return size(busy, SIZED, 0.8, reps=REPS, seed=1, max_units=6)


def _prob(scenario, values: dict[str, int]) -> float:
    sc = with_overrides(scenario, [f"{k}={v}" for k, v in values.items()])
    hits, n = prob_by(
        run_replications(sc, REPS, seed=1).table["time_to_target_days"], sc.deadline_day
    )
    return hits / n


# --- the search itself -------------------------------------------------------------------------


def _brute_force(pred, upper, costs):
    best = None
    for x in itertools.product(*[range(1, u + 1) for u in upper]):
        if pred(x):
            c = sum(a * b for a, b in zip(costs, x, strict=True))
            if best is None or c < best:
                best = c
    return best


@pytest.mark.parametrize("case", range(12))
def test_search_finds_the_cheapest_point_of_random_up_sets(case):
    """On a monotone predicate (the up-set of a few random points), the search returns a
    point of the least cost, as brute force over the lattice does, asking fewer points."""
    rng = np.random.default_rng(case)
    k = 2 + case % 2
    upper = tuple(int(u) for u in rng.integers(4, 8, size=k))
    generators = [tuple(int(rng.integers(1, u + 1)) for u in upper) for _ in range(3)]
    costs = [1.0] * k if case % 3 == 0 else [float(c) for c in rng.integers(1, 20, size=k)]

    def pred(x):
        return any(all(a >= g for a, g in zip(x, gen, strict=True)) for gen in generators)

    search = MonotoneSearch(pred, (1,) * k, upper, costs)
    best, exhaustive = search.cheapest(tuple(int(v) for v in rng.integers(1, 4, size=k)))
    assert exhaustive
    assert search.cost(best) == _brute_force(pred, upper, costs)
    assert pred(best)
    assert len(search.asked) < np.prod(upper)


def test_search_says_none_when_even_the_top_fails():
    """An empty up-set: one question (the all-maximum point) settles it."""
    search = MonotoneSearch(lambda x: False, (1, 1), (5, 5), [1.0, 1.0])
    assert search.cheapest((2, 2)) == (None, True)
    assert search.asked == [(5, 5)]


def test_verification_asks_one_unit_less_and_recovers_from_non_monotone_points():
    """Inference from a failure at (4, 2) rules out (3, 2), which in fact holds (a predicate
    that is not quite monotone): checking one unit less of (3, 3) by asking finds it, and the
    result moves there, reporting the contradiction."""

    def pred(x):
        return (x[0] >= 3 and x[1] >= 3) or x == (3, 2)

    search = MonotoneSearch(pred, (1, 1), (5, 5), [1.0, 1.0])
    search.known[(4, 2)] = False  # as if asked before
    assert not search.status((3, 2))  # inferred, wrongly
    best, contradicted = search.verified((3, 3))
    assert best == (3, 2)
    assert contradicted == [(3, 2)]
    assert {(2, 2), (3, 1)} <= set(search.asked)  # the new point's neighbours were asked too


def test_meets_by_estimate_and_by_lower_bound():
    """80 of 100 meets 0.8 as an estimate but not by its Wilson lower bound."""
    assert meets(80, 100, 0.8)
    assert not meets(79, 100, 0.8)
    assert not meets(80, 100, 0.8, "lower")
    assert meets(100, 100, 0.95, "lower")


# --- sizing by simulation ----------------------------------------------------------------------


def test_answer_meets_the_probability_when_rerun(busy, answer):
    """Re-run by itself, the answer meets 0.8; its reported figures are those of the re-run."""
    assert answer["feasible"]
    got = _prob(busy, answer["answer"]["set"])
    assert got >= 0.8
    assert got == answer["answer"]["prob_target_by_deadline"]


def test_one_unit_less_of_any_sized_resource_falls_short(busy, answer):
    """For each sized resource above 1, one unit less (re-run) misses 0.8; the evidence
    reports the same probability and its Wilson interval."""
    checked = 0
    for e in answer["one_unit_less"]:
        if e["set"] is None:
            assert answer["answer"]["set"][e["resource"]] == 1
            continue
        checked += 1
        got = _prob(busy, e["set"])
        assert got < 0.8
        assert got == e["prob_target_by_deadline"]
        lo, hi = e["prob_ci95"]
        assert lo <= got <= hi
        assert not e["meets"]
    assert checked >= 2  # both suites and beds bind here


def test_fewer_configurations_than_the_full_grid(answer):
    """The search simulates far fewer configurations than the 6 x 6 x 6 lattice."""
    assert answer["lattice_size"] == 216
    assert answer["configurations_simulated"] < 216 / 4
    assert answer["configurations_simulated"] == len(answer["evaluations"])
    assert answer["cheaper_points_ruled_out"]


def test_infeasible_within_max_is_reported_plainly(busy):
    """Nothing within --max reaches 0.99: feasible is False, the text says so, and the best
    found (the cheapest reaching the highest probability) is shown with its evidence."""
    r = size(busy, SIZED[:2], 0.99, reps=REPS, seed=1, max_units=3)
    assert not r["feasible"] and r["answer"] is None
    text = format_sizing(r)
    assert "No combination with each resource at most 3 reaches 99%" in text
    top = r["highest_probability"]
    assert top["set"] == {"manufacturing.suites": 3, "infusion.beds": 3}
    assert top["prob_target_by_deadline"] < 0.99
    assert r["best_found"]["reached_by_deadline"] == top["reached_by_deadline"]


def test_costs_change_the_answer(busy):
    """Suites dear: fewer suites and more beds; beds dear: the other way round."""
    dear_suites = size(
        busy,
        SIZED[:2],
        0.8,
        reps=REPS,
        seed=1,
        max_units=6,
        costs={"manufacturing.suites": 10.0, "infusion.beds": 1.0},
    )
    dear_beds = size(
        busy,
        SIZED[:2],
        0.8,
        reps=REPS,
        seed=1,
        max_units=6,
        costs={"manufacturing.suites": 1.0, "infusion.beds": 10.0},
    )
    a, b = dear_suites["answer"]["set"], dear_beds["answer"]["set"]
    assert a != b
    assert a["manufacturing.suites"] < b["manufacturing.suites"]
    assert a["infusion.beds"] > b["infusion.beds"]
    assert dear_suites["answer"]["cost"] == 10 * a["manufacturing.suites"] + a["infusion.beds"]


def test_sizing_needs_a_deadline():
    """No deadline in the scenario: a one-line InputError pointing at --deadline."""
    with pytest.raises(InputError, match="--deadline"):
        size(make_scenario("target.deadline=null"), ["infusion.beds"], 0.5, reps=2)


# --- inputs ------------------------------------------------------------------------------------


def test_sizeable_resources_and_their_errors(base_scenario):
    """Slots, suites and beds can be sized; anything else, or a repeat, is refused."""
    assert capacity_keys(base_scenario) == SIZED[2:] + SIZED[:2]
    assert parse_resources("infusion.beds, manufacturing.suites", base_scenario) == [
        "infusion.beds",
        "manufacturing.suites",
    ]
    for text, part in [
        ("apheresis.max_attempts", "not a sizeable count"),
        ("infusion.beds,infusion.beds", "given twice"),
        ("infusion.beds,", "separated by commas"),
    ]:
        with pytest.raises(InputError, match=part):
            parse_resources(text, base_scenario)


def test_costs_parse_and_their_errors():
    """Every sized resource needs a positive cost once costs are given."""
    keys = ["infusion.beds", "manufacturing.suites"]
    assert parse_costs([], keys) is None
    assert parse_costs(["infusion.beds=2", "manufacturing.suites=250000"], keys) == {
        "infusion.beds": 2.0,
        "manufacturing.suites": 250000.0,
    }
    for texts, part in [
        (["infusion.beds=2"], "missing: manufacturing.suites"),
        (["infusion.beds=0,manufacturing.suites=1"], "above 0"),
        (["apheresis.slots=1"], "not a sized resource"),
        (["infusion.beds"], "dotted.key=COST"),
        (["infusion.beds=1,infusion.beds=2"], "given twice"),
    ]:
        with pytest.raises(InputError, match=part):
            parse_costs(texts, keys)


def test_cli_size_json_and_text(tmp_path, capsys):
    """`size --json` prints only JSON; the text names the answer and the search effort."""
    path = tmp_path / "busy.yaml"
    path.write_text(make_scenario(*BUSY).to_yaml(), encoding="utf-8")
    argv = [
        "size",
        str(path),
        "--resources",
        "infusion.beds",
        "--probability",
        "0.5",
        "--reps",
        "10",
        "--executor",
        "serial",
        "--quiet",
        "--set",
        "manufacturing.suites=5",
    ]
    assert planning_main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["feasible"] and set(data["answer"]["set"]) == {"infusion.beds"}
    assert planning_main(argv) == 0
    text = capsys.readouterr().out
    assert "Answer: infusion.beds=" in text and "configurations" in text
    assert planning_main([*argv, "--cost", "manufacturing.suites=3"]) == 2
    assert "not a sized resource" in capsys.readouterr().err
