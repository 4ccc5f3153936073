"""Phase 1 pacing: a hand-computed cohort schedule, the 3+3 decisions against the binomial
formulas, the dose of each level, no_slot and stopped, and phase 2 after phase 1."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from conftest import SCENARIOS, make_scenario

from sim.core.pacing import escalation
from sim.core.scenario import load_scenario
from sim.run.runner import run_replications, simulate
from sim.verify.scenarios import NEUTRAL

LEAD, STAGGER, WINDOW = 5.0, 7.0, 28.0
MAKE = 1.0 + 9.0 + 3.0  # collection + manufacturing + QC, days from enrolment to release

PHASE1 = {
    "cohort_size": 3,
    "stagger_days": STAGGER,
    "dlt_window_days": WINDOW,
    "rule": "3+3",
    "dose_levels": [
        {"dose_per_kg": 1.0e6, "dlt_prob": 0.0},
        {"dose_per_kg": 5.0e6, "dlt_prob": 0.0},
        {"dose_per_kg": 1.0e7, "dlt_prob": 0.0},
    ],
    "when_full": "wait",
    "enrol_ahead": True,
}


def fixed_base(**phase1) -> dict:
    """Fixed durations, ample capacity, no loss: a schedule that can be computed by hand."""
    data = copy.deepcopy(NEUTRAL)
    data.update(horizon_days=800, target={"count": 40, "milestone": "infused", "deadline": None})
    data["referral"]["sites"][0]["rate_per_month"] = 60.0  # two a day: slots never wait long
    data["apheresis"]["duration_days"] = 1.0
    data["manufacturing"].update(duration_days=9.0, qc_release_days=3.0)
    data["conditioning"].update(days_before_infusion=LEAD, treatment_days=3)
    data["infusion"]["stay_days"] = 14.0
    data["phase1"] = {**PHASE1, **phase1}
    return data


def phase1_patients(rep):
    p = rep.patients
    return p[p["phase"] == 1].sort_values("infused_day")


@pytest.mark.parametrize("enrol_ahead", [True, False])
def test_cohort_schedule_by_hand(enrol_ahead):
    """Three levels, no DLT: each cohort is infused a stagger apart; the next cohort's first
    infusion is the window plus the conditioning lead after the last (its conditioning waits
    for the decision), or, without enrol_ahead, its patients enrol at the decision and reach
    day 0 the whole pathway (13 days) plus the lead later."""
    sc = make_scenario(base=fixed_base(enrol_ahead=enrol_ahead))
    rep = simulate(sc, 3)
    pts = phase1_patients(rep)
    assert len(pts) == 9 and list(pts["cohort"]) == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert list(pts["dose_level"]) == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    t0 = pts["infused_day"].iloc[0]
    # enrol_ahead: the next cohort is made during the window; else enrolled at the decision
    gap = WINDOW + LEAD if enrol_ahead else WINDOW + MAKE + LEAD
    want = [0, 7, 14]
    want += [want[-1] + gap + k * STAGGER for k in range(3)]
    want += [want[-1] + gap + k * STAGGER for k in range(3)]
    np.testing.assert_allclose(pts["infused_day"] - t0, want, atol=1e-9)
    decisions = pts.groupby("cohort")["dlt_decision_day"].unique()
    for c, last in zip((1, 2, 3), (want[2], want[5], want[8]), strict=True):
        assert list(decisions[c]) == pytest.approx([t0 + last + WINDOW])
    # phase 1 ends at the third decision: 136 days (enrol_ahead) after the first infusion
    assert rep.row["phase1.days"] == pytest.approx(want[8] + WINDOW)
    assert rep.row["phase1.recommended_level"] == 2 and rep.row["phase1.cohorts"] == 3
    # patients enrolled after the end are phase 2: no pacing, infused at release plus the
    # lead; those holding a slot of a cohort that will not be (or waiting for one) go on then
    end = t0 + want[8] + WINDOW
    p = rep.patients
    p2 = p[(p["phase"] == 2) & p["infused_day"].notna()]
    late = p2[p2["enrolled_day"] > end]
    assert len(late) > 0
    np.testing.assert_allclose(late["infused_day"] - late["released_day"], LEAD, atol=1e-9)
    assert (p2["infused_day"] >= end + LEAD - 1e-9).all()
    assert (p2["phase"] == 2).all() and (p["phase"] > 0).sum() == p["enrolled_day"].notna().sum()


def test_phase1_doses_are_the_levels_and_the_yield_check_uses_them():
    """A phase 1 patient is infused at its level's dose; a batch below the level's dose for
    the patient's weight fails (level 1 needs 60 x 1e6 cells, level 3 60 x 1e7)."""
    data = fixed_base()
    data["manufacturing"]["yield_cells"] = 1.0e8  # fixed: enough for level 1 only (60 kg)
    data["manufacturing"]["max_attempts"] = 1
    rep = simulate(make_scenario(base=data), 2)
    p = rep.patients
    infused = p[(p["phase"] == 1) & p["infused_day"].notna()]
    assert set(infused["dose_level"]) == {1.0}
    assert (infused["dose_per_kg"] == 1.0e6).all()
    # the next cohort's batches are checked against level 2 (enrolled ahead, against the
    # level it may get): all fail, and none of its patients is infused
    later = p[(p["phase"] == 1) & (p["cohort"] == 2)]
    assert (later["outcome"] == "manufacturing_failed").sum() >= 3
    assert later["infused_day"].isna().all()


@pytest.mark.parametrize("dlts, earlier, want", [
    (0, [], "escalate"), (1, [], "repeat"), (2, [], "stop"), (3, [], "stop"),
    (0, [1], "escalate"), (1, [1], "stop"), (2, [1], "stop"),
])
def test_the_3_plus_3_rule(dlts, earlier, want):
    assert escalation("3+3", dlts, earlier) == want
    assert escalation("fixed", dlts, earlier) == "repeat"


def clears(p: float) -> float:
    """Chance that 3+3 escalates from a level with DLT probability p."""
    return (1 - p) ** 3 + 3 * p * (1 - p) ** 2 * (1 - p) ** 3


def recommended_shares(probs: list[float], reps: int, seed: int) -> tuple[np.ndarray, int]:
    levels = [{"dose_per_kg": 1.0e6 * (k + 1), "dlt_prob": p} for k, p in enumerate(probs)]
    data = fixed_base(dose_levels=levels, when_full="refer_elsewhere", stagger_days=0.0)
    data["target"]["count"] = 6 * len(probs) + 1  # beyond phase 1: the trial runs through it
    res = run_replications(make_scenario(base=data), reps, seed=seed)
    level = res.table["phase1.recommended_level"]
    assert not np.isnan(level).any()  # every trial finishes phase 1
    shares = np.array([np.mean(level == k) for k in range(-1, len(probs))])
    return shares, reps


@pytest.mark.slow
@pytest.mark.parametrize("probs", [[0.2], [0.1, 0.33]])
def test_3_plus_3_decisions_match_the_binomial_formulas(probs):
    """The share of trials recommending each level (or none: stopped for toxicity) matches
    the binomial chances of clearing each level, within 4 standard errors."""
    shares, n = recommended_shares(probs, 1500, seed=11)
    e = [clears(p) for p in probs]
    want = [1 - e[0]]
    for k in range(len(probs)):
        want.append(math.prod(e[: k + 1]) * (1 - e[k + 1] if k + 1 < len(e) else 1.0))
    for got, w in zip(shares, want, strict=True):
        assert abs(got - w) <= 4 * math.sqrt(w * (1 - w) / n) + 1e-12, (shares, want)


def test_stopped_for_toxicity_ends_the_trial():
    """A certain DLT at the only level: phase 1 stops the trial at the first decision;
    everyone not yet infused gets outcome stopped, at that day."""
    levels = [{"dose_per_kg": 1.0e6, "dlt_prob": 1.0}]
    rep = simulate(make_scenario(base=fixed_base(dose_levels=levels)), 4)
    p = rep.patients
    assert rep.row["phase1.stopped"] == 1 and rep.row["phase1.recommended_level"] == -1
    end = rep.row["end_days"]
    stopped = p[p["outcome"] == "stopped"]
    assert len(stopped) > 0 and (stopped["exit_day"] == end).all()
    assert (p["outcome"] != "in_pathway").all()
    assert math.isnan(rep.row["time_to_target_days"])
    assert p["infused_day"].notna().sum() == 3  # one cohort only


def test_refer_elsewhere_leaves_with_no_slot():
    """when_full refer_elsewhere: patients enrolled while every slot is taken leave
    (no_slot) at enrolment and are never in a cohort."""
    rep = simulate(make_scenario(base=fixed_base(when_full="refer_elsewhere")), 5)
    p = rep.patients
    gone = p[p["outcome"] == "no_slot"]
    assert len(gone) > 0
    assert (gone["exit_day"] == gone["enrolled_day"]).all() and gone["cohort"].isna().all()
    assert rep.row["outcome.no_slot"] == len(gone)


def test_shipped_phase1_scenario_runs_and_reports():
    """scenarios/phase1_3plus3.yaml: the summary has its phase 1 block, the shares of the
    recommended level add up to one, and the target counts both phases."""
    sc = load_scenario(str(SCENARIOS / "phase1_3plus3.yaml"))
    s = run_replications(sc, 20, seed=1).summary()
    ph = s["phase1"]
    assert sum(ph["recommended_level"].values()) == pytest.approx(1.0, abs=1e-3)
    assert 0 <= ph["prob_stopped_for_toxicity"] <= 1
    assert ph["patients_mean"] >= 3
    assert set(s["outcomes"]) >= {"no_slot", "stopped"}
    assert s["outcomes"]["infused"] == s["funnel"]["infused"]


def test_adding_phase1_shifts_no_other_stream():
    """Common random numbers: a patient's screening, weights and durations are the same
    with or without phase 1 (its DLTs come from a stream of their own)."""
    base = make_scenario()
    with_p1 = make_scenario(base={**make_scenario().to_dict(), "phase1": PHASE1})
    a, b = simulate(base, 9), simulate(with_p1, 9)
    n = min(len(a.patients), len(b.patients))
    for col in ("referred_day", "weight_kg", "height_cm", "failed_criteria"):
        assert a.patients[col][:n].equals(b.patients[col][:n]), col


def test_a_forecast_of_a_scenario_with_phase1_is_refused(capsys):
    """The observed log does not say which slot, level and DLT each patient has: forecast
    refuses a scenario with phase 1 on one line, exit 2."""
    from sim.cli.main import main

    status = main(["forecast", str(SCENARIOS / "phase1_3plus3.yaml"), "--observed",
                   str(SCENARIOS / "observed_example.csv"), "--as-of", "2018-09-01",
                   "--reps", "2", "--executor", "serial", "--quiet"])
    err = capsys.readouterr().err.splitlines()
    assert status == 2 and len(err) == 1
    assert "phase1" in err[0] and "do not support a dose-finding phase" in err[0]
