"""Capacity sweeps: the grid, the figures of a point, common random numbers across points,
the pool of many scenarios, the files written, and the command in-process."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import make_scenario

from sim.cli.main import _Parser
from sim.cli.planning import add_planning_parsers, cmd_planning
from sim.core.errors import InputError
from sim.core.scenario import with_overrides
from sim.planning.grid import grid_points, parse_grid
from sim.planning.sweep import point_figures, sweep, sweep_frame
from sim.report.planning import format_sweep
from sim.run.runner import run_replications
from sim.run.scheduler import Scheduler

# A busy trial in which manufacturing suites and beds both bind (30 infused within a year).
BUSY = (
    "referral.sites.0.rate_per_month=6",
    "target.deadline=2016-12-31",
    "manufacturing.duration_days=25",
    "infusion.stay_days=30",
)


def planning_main(argv: list[str]) -> int:
    """The planning commands as sim.cli.main.main runs them: InputError -> one line, exit 2."""
    parser = _Parser(prog="cart-trial-sim")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add_planning_parsers(sub)
    try:
        return cmd_planning(parser.parse_args(argv))
    except InputError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2


# --- the grid ----------------------------------------------------------------------------------


def test_parse_grid_lists_ranges_and_yaml_values():
    """Comma lists are YAML scalars; A..B is every whole number from A to B."""
    grid = parse_grid(["manufacturing.suites=1,2,3", "infusion.beds=2..4", "x.y=0.5, 1e-3"])
    assert grid == {
        "manufacturing.suites": [1, 2, 3],
        "infusion.beds": [2, 3, 4],
        "x.y": [0.5, 0.001],
    }


def test_grid_points_is_the_product_last_key_fastest():
    """Every combination once, in a stable order."""
    points = grid_points({"a": [1, 2], "b": [3, 4, 5]})
    assert len(points) == 6
    assert points[:3] == [{"a": 1, "b": 3}, {"a": 1, "b": 4}, {"a": 1, "b": 5}]


@pytest.mark.parametrize(
    ("texts", "part"),
    [
        (["manufacturing.suites"], "dotted.key=V1,V2"),
        (["manufacturing.suites=1,,2"], "separated by commas"),
        (["manufacturing.suites=1,2,1"], "repeats a value"),
        (["manufacturing.suites=3..1"], "A <= B"),
        (["manufacturing.suites=a..b"], "whole numbers"),
        (["infusion.beds=1,2", "infusion.beds=3"], "given twice"),
        (["a=1..100", "b=1..101"], "at most 10,000"),
    ],
)
def test_bad_grids_are_one_line_errors(texts, part):
    """A malformed --grid is an InputError naming --grid, on one line."""
    with pytest.raises(InputError) as err:
        parse_grid(texts)
    assert part in err.value.message
    assert "--grid" in err.value.message
    assert "\n" not in err.value.message


def test_a_grid_value_the_scenario_refuses_names_the_key():
    """Each point is validated like the file, before anything runs."""
    with pytest.raises(InputError) as err:
        sweep(make_scenario(), parse_grid(["infusion.beds=0,1"]), reps=2)
    assert err.value.message.startswith("--grid: infusion.beds = 0")


# --- figures and common random numbers ---------------------------------------------------------


def test_sweep_equals_individual_runs_at_each_point():
    """Every point of a sweep is exactly run_replications of that scenario, same seed."""
    sc = make_scenario(*BUSY)
    grid = parse_grid(["manufacturing.suites=2,3", "infusion.beds=3,4"])
    result = sweep(sc, grid, reps=12, seed=9)
    assert len(result["points"]) == 4
    for point in result["points"]:
        values = point["set"]
        alone = with_overrides(sc, [f"{k}={v}" for k, v in values.items()])
        run = run_replications(alone, 12, seed=9)
        s = run.summary()
        assert point["prob_target_by_deadline"] == s["prob_target_by_deadline"]
        assert [point["prob_ci95_low"], point["prob_ci95_high"]] == s[
            "prob_target_by_deadline_ci95"
        ]
        for q in ("p10", "p50", "p90"):
            assert point[f"time_to_target_{q}_days"] == s["time_to_target_days"][q]
        assert point["reached_fraction"] == s["time_to_target_days"]["reached_fraction"]
        assert point["infused_mean"] == s["outcomes"]["infused"]
        assert point["deteriorated_mean"] == s["outcomes"]["deteriorated"]
        assert point["vein_to_vein_mean_days"] == s["vein_to_vein_days"]["mean"]
        for res, fig in s["resources"].items():
            assert point[f"{res}_utilization"] == fig["utilization"]
            assert point[f"{res}_mean_wait_days"] == fig["mean_wait_days"]
            assert point[f"{res}_capacity"] == fig["capacity"]


def test_probability_never_falls_along_either_axis():
    """On common random numbers more suites or more beds never lower the probability of
    reaching the target by the deadline (checked along each axis of a 4 x 4 grid)."""
    sc = make_scenario(*BUSY)
    result = sweep(sc, parse_grid(["manufacturing.suites=2..5", "infusion.beds=2..5"]), 20)
    prob = {
        (p["set"]["manufacturing.suites"], p["set"]["infusion.beds"]): p["prob_target_by_deadline"]
        for p in result["points"]
    }
    for s in range(2, 6):
        for b in range(2, 6):
            if s < 5:
                assert prob[s + 1, b] >= prob[s, b], (s, b)
            if b < 5:
                assert prob[s, b + 1] >= prob[s, b], (s, b)
    assert prob[5, 5] > prob[2, 2]  # the grid spans the binding region


def test_point_figures_without_a_deadline():
    """No deadline: the probability and its interval are None, the rest is there."""
    sc = make_scenario("target.deadline=null")
    fig = point_figures(sc, run_replications(sc, 3, seed=1).table)
    assert fig["prob_target_by_deadline"] is None
    assert fig["prob_ci95_low"] is None and fig["reached_by_deadline"] is None
    assert fig["infused_mean"] > 0


def test_scheduler_matches_run_replications_on_every_executor_path():
    """The pool (serial, and a process pool of 2 over blocks of many scenarios) gives the
    rows of run_replications to the bit."""
    base = make_scenario()
    scenarios = [with_overrides(base, [f"infusion.beds={b}"]) for b in (1, 2, 3)]
    with Scheduler("serial") as serial, Scheduler("process", workers=2) as procs:
        a = list(serial.tables(scenarios, 8, 3))
        b = list(procs.tables(scenarios, 8, 3))
    for sc, ta, tb in zip(scenarios, a, b, strict=True):
        ref = run_replications(sc, 8, seed=3).table
        for key in ref.columns:
            assert np.array_equal(ta[key], ref[key], equal_nan=True), key
            assert np.array_equal(tb[key], ref[key], equal_nan=True), key
        assert np.array_equal(tb.vein_to_vein, ref.vein_to_vein)


def test_scheduler_reports_progress_in_replications():
    """Progress counts every replication of every scenario once."""
    done = []
    with Scheduler("serial", progress=done.append) as pool:
        list(pool.tables([make_scenario(), make_scenario()], 3, 1))
    assert sum(done) == 6
    assert pool.runs == 2


# --- output ------------------------------------------------------------------------------------


def test_sweep_frame_and_text():
    """One row a point with the swept keys first; the text table has one line a point."""
    result = sweep(make_scenario(), parse_grid(["infusion.beds=1,2"]), reps=3)
    frame = sweep_frame(result)
    assert list(frame.columns[:2]) == ["infusion.beds", "prob_target_by_deadline"]
    assert list(frame["infusion.beds"]) == [1, 2]
    text = format_sweep(result)
    assert "P(deadline)" in text and "beds util/wait" in text


def test_cli_sweep_json_and_out(tmp_path, capsys):
    """`sweep --json` prints only JSON; --out writes sweep.csv and sweep.json."""
    out = tmp_path / "out"
    argv = [
        "sweep",
        "-",
        "--grid",
        "infusion.beds=1,2",
        "--reps",
        "3",
        "--executor",
        "serial",
        "--quiet",
        "--json",
        "--out",
        str(out),
    ]
    scenario = tmp_path / "s.yaml"
    scenario.write_text(make_scenario().to_yaml(), encoding="utf-8")
    argv[1] = str(scenario)
    assert planning_main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [p["set"]["infusion.beds"] for p in printed["points"]] == [1, 2]
    assert json.loads((out / "sweep.json").read_text()) == printed
    assert len(pd.read_csv(out / "sweep.csv")) == 2


def test_cli_sweep_bad_input_is_one_line(tmp_path, capsys):
    """A missing --grid or a bad value: exit 2 with one error line."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text(make_scenario().to_yaml(), encoding="utf-8")
    assert planning_main(["sweep", str(scenario), "--quiet"]) == 2
    assert "required: --grid" in capsys.readouterr().err
    assert planning_main(["sweep", str(scenario), "--grid", "infusion.bedz=1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'beds'" in err
    assert (
        planning_main(
            [
                "sweep",
                str(scenario),
                "--grid",
                "infusion.beds=1",
                "--deadline",
                "2019-02-30",
                "--quiet",
            ]
        )
        == 2
    )
    assert "--deadline = '2019-02-30'" in capsys.readouterr().err
