"""What must change (sim.planning.goal, `python -m sim goal`): a one-dimensional search on
common random numbers for the least change of one lever that reaches a wanted chance."""

from __future__ import annotations

import json

import pytest
from conftest import make_scenario

from sim.cli.main import main
from sim.core.errors import InputError
from sim.planning.goal import goal, lever
from sim.report.goal import format_goal
from sim.run.runner import run_replications

REPS = 30


@pytest.fixture(scope="module")
def slow():
    """A scenario that misses its deadline often: few referrals, a second site late."""
    return make_scenario(
        "referral.sites=[{name: A, rate_per_month: 0.8}, {name: B, rate_per_month: 0.5, "
        "opens_day: 600}]",
        "target.deadline=2019-06-30",
    )


@pytest.fixture(scope="module")
def found(slow):
    return goal(slow, 0.7, reps=REPS, seed=4)


def test_each_answer_reaches_it_and_one_step_less_does_not(found, slow) -> None:
    """The least change: the answer meets the wanted chance; the value tried just short of
    it (same patients) does not; the chance before is the plain run's own (common random
    numbers)."""
    plain = run_replications(slow, REPS, seed=4).summary()["prob_target_by_deadline"]
    for lv in found["levers"]:
        assert lv["current"]["chance"] == pytest.approx(plain, abs=1e-9)
        if lv["status"] != "reached":
            continue
        a = lv["answer"]
        assert a["chance"] >= 0.7
        tried = {t["value"]: t["chance"] for t in lv["tried"]}
        step = {"rate": 0.01, "sites": 1, "opening": -1}[lv["lever"]]
        below = round(a["value"] - step, 6)
        if below in tried:
            assert tried[below] < 0.7
    by = {lv["lever"]: lv for lv in found["levers"]}
    assert by["sites"]["status"] == "reached" and by["sites"]["answer"]["value"] >= 3
    assert by["opening"]["status"] in ("reached", "unreachable")
    assert by["rate"]["answer"]["value"] > 1.3
    assert by["opening"]["site"] == "B"
    text = format_goal(found)
    assert "What must change for a 70% chance of 30 infused by 30 Jun 2019" in text
    assert "Referring sites: at least" in text


def test_already_enough_and_refusals(slow) -> None:
    easy = goal(slow, 0.01, levers=("sites",), reps=REPS, seed=4)["levers"][0]
    assert easy["status"] == "already" and easy["answer"]["value"] == 2
    no_deadline = make_scenario("target.deadline=null")
    with pytest.raises(InputError, match="needs a deadline"):
        goal(no_deadline, 0.5, reps=2, seed=1)
    with pytest.raises(InputError, match="not a lever"):
        lever(slow, "beds")
    six = lever(slow, "sites").at(6)
    assert [s.name for s in six.referral.sites][2:] == ["B (3)", "B (4)", "B (5)", "B (6)"]


def test_goal_command(capsys, tmp_path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(make_scenario("target.deadline=2018-12-31").to_yaml())
    args = ["goal", str(path), "--reps", "10", "--executor", "serial", "--lever", "sites"]
    assert main([*args, "--probability", "0.9", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["levers"][0]["lever"] == "sites" and out["replications"] == 10
    assert main([*args, "--probability", "1.5"]) == 2
    assert "--probability" in capsys.readouterr().err
