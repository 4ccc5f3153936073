"""The planning commands accept the fields of working calendars and phase 1: `sweep` over a
phase 1 value, `size` with one set, `sensitivity` with its default ranges over them; a bad
value is the one-line error (exit 2) naming it. In-process, as `python -m sim` runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SCENARIOS

from sim.cli.main import main
from sim.core.scenario import load_scenario
from sim.planning.grid import point_scenario
from sim.planning.ranges import default_ranges
from sim.run.runner import run_replications

PHASE1 = str(SCENARIOS / "phase1_3plus3.yaml")
QUICK = ["--executor", "serial", "--quiet", "--json"]


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def test_sweep_over_the_dlt_window(capsys: pytest.CaptureFixture[str]) -> None:
    """`--grid phase1.dlt_window_days=21,28`: a point each, and the longer window makes phase
    1 longer on the same trials (common random numbers)."""
    argv = ["sweep", PHASE1, "--grid", "phase1.dlt_window_days=21,28", "--reps", "3", *QUICK]
    assert main(argv) == 0
    points = _json(capsys)["points"]
    assert [p["set"]["phase1.dlt_window_days"] for p in points] == [21, 28]
    scenario = load_scenario(PHASE1)
    days = [
        run_replications(point_scenario(scenario, {"phase1.dlt_window_days": w}), 12, seed=1)
        .frame()["phase1.days"]
        .to_numpy(float)
        for w in (21, 28)
    ]
    assert np.nanmean(days[1] - days[0]) > 0
    assert main(["sweep", PHASE1, "--grid", "phase1.dlt_window_days=-1,28", *QUICK]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "phase1.dlt_window_days" in err


def test_size_with_a_phase1_value_set(capsys: pytest.CaptureFixture[str]) -> None:
    """`size ... --set phase1.cohort_size=4` sizes that scenario; cohorts of 0 are refused
    on one line."""
    argv = ["size", PHASE1, "--resources", "infusion.beds", "--probability", "0.3", "--max"]
    argv += ["3", "--reps", "4", "--max-reps", "8"]
    assert main([*argv, "--set", "phase1.cohort_size=4", *QUICK]) == 0
    out = _json(capsys)
    assert out["resources"] == ["infusion.beds"] and out["current"] == {"infusion.beds": 2}
    assert main([*argv, "--set", "phase1.cohort_size=0", *QUICK]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "phase1.cohort_size = 0" in err


def test_sensitivity_default_ranges_cover_phase1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The default ranges vary phase 1's numbers (whole counts by one), each end a valid
    scenario (the dose levels still rising); the command runs on them."""
    scenario = load_scenario(PHASE1)
    ranges = {p.key: p for p in default_ranges(scenario)}
    assert (ranges["phase1.cohort_size"].low, ranges["phase1.cohort_size"].high) == (2, 4)
    assert (ranges["phase1.dlt_window_days"].low, ranges["phase1.dlt_window_days"].high) == (
        21,
        35,
    )
    levels = [k for k in ranges if k.startswith("phase1.dose_levels.")]
    assert len(levels) == 6  # the dose and the DLT probability of each of three levels
    for key in [*levels, "phase1.cohort_size", "phase1.stagger_days"]:
        for end in (ranges[key].low, ranges[key].high):
            value = int(end) if ranges[key].integer else end
            point_scenario(scenario, {key: value}, source="ranges")  # valid, or InputError
    argv = ["sensitivity", PHASE1, "--reps", "2", *QUICK]
    assert main(argv) == 0
    keys = {p["key"] for p in _json(capsys)["parameters"]}
    assert {"phase1.dlt_window_days", "phase1.cohort_size", *levels} <= keys
