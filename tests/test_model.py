"""Functional tests of the pathway: conservation, order, capacity, extremes, mechanics."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from conftest import make_scenario

from sim.core.pacing import FOLLOW_UP_EVENTS
from sim.core.patient import ALL_OUTCOMES
from sim.run.runner import run_replications, simulate

MILESTONE_ORDER = [
    "referred_day", "consented_day", "screened_day", "apheresis_start_day", "apheresed_day",
    "manufacturing_start_day", "released_day", "conditioning_start_day", "infused_day",
    "discharged_day",
]


def check_conservation(rep) -> None:
    pts, row = rep.patients, rep.row
    assert pts["patient"].is_unique
    assert set(pts["outcome"]) <= set(ALL_OUTCOMES)
    assert len(pts) == row["referred"] == sum(row.get(f"outcome.{o}", 0) for o in ALL_OUTCOMES)
    counts = pts["outcome"].value_counts()
    # infused is the outcome from day 0: the outcome count is the funnel's, always
    assert row["outcome.infused"] == counts.get("infused", 0) == row["infused"]
    infused = pts[pts["outcome"] == "infused"]
    assert infused["infused_day"].notna().all()
    in_hospital = infused["discharged_day"].isna()
    assert row["in_hospital"] == int(in_hospital.sum())
    assert infused["exit_day"].isna().equals(in_hospital)  # out of the pathway at discharge
    funnel = [row[k] for k in ("referred", "consented", "enrolled", "apheresed",
                               "manufactured", "conditioned", "infused")]
    assert funnel == sorted(funnel, reverse=True), funnel
    assert row["referred"] - row["consented"] == row["outcome.declined_consent"]
    # every exit is at or after every milestone the patient reached
    reached = pts[MILESTONE_ORDER].max(axis=1)
    done = (pts["outcome"] != "in_pathway") & pts["exit_day"].notna()
    assert (pts.loc[done, "exit_day"] >= reached[done] - 1e-9).all()


def check_order(rep) -> None:
    pts = rep.patients[MILESTONE_ORDER].to_numpy(dtype=float)
    filled = np.where(np.isnan(pts), -np.inf, pts)
    running = np.maximum.accumulate(filled, axis=1)
    ok = np.isnan(pts) | (pts >= running - 1e-9)
    assert ok.all(), pts[~ok.all(axis=1)][:3]
    ev = rep.events
    assert ev["time"].is_monotonic_increasing
    first = ev.groupby("patient", sort=False)["event"].first()
    assert (first == "referred").all()
    terminal = ev[ev["event"].isin(ALL_OUTCOMES)]
    assert terminal["patient"].is_unique
    # the outcome is logged when it is known: day 0 for infused, the exit for the others
    pts = rep.patients.set_index("patient")
    t_out = terminal.set_index("patient")["time"]
    known = pts.loc[t_out.index]
    expected = np.where(known["outcome"] == "infused", known["infused_day"], known["exit_day"])
    np.testing.assert_allclose(t_out.to_numpy(dtype=float), expected.astype(float))
    # nothing happens to a patient after its exit (but the DLT decision, follow-up after
    # discharge)
    last_time = ev[~ev["event"].isin(FOLLOW_UP_EVENTS)].groupby("patient")["time"].max()
    left = pts["exit_day"].dropna()
    assert (left >= last_time.loc[left.index] - 1e-9).all()


def check_capacity(rep, scenario) -> None:
    caps = {"apheresis": scenario.apheresis.slots,
            "manufacturing": scenario.manufacturing.suites, "beds": scenario.infusion.beds}
    tl = rep.timeline
    for res, cap in caps.items():
        sub = tl[tl["resource"] == res]
        if len(sub):
            assert sub["in_use"].max() <= cap, res
            assert sub["in_use"].min() >= 0 and sub["queue_length"].min() >= 0, res
    # bed bookings (from conditioning to hand-over) never exceed the beds either
    ev = rep.events[rep.events["resource"] == "beds"]
    delta = ev["event"].map({"bed_booked": 1, "booking_cancelled": -1, "handover": -1})
    held = delta.fillna(0).cumsum().to_numpy(dtype=float)
    if len(held):
        assert held.min() >= 0 and held.max() <= scenario.infusion.beds


def test_base_scenario_conserves_orders_and_respects_capacity():
    """Every referred patient has one outcome, milestones in order, no resource over capacity."""
    sc = make_scenario()
    for seed in range(5):
        rep = simulate(sc, seed)
        check_conservation(rep)
        check_order(rep)
        check_capacity(rep, sc)


def test_same_seed_same_tables_other_seed_different():
    """A seed reproduces every table exactly; another seed gives another trial."""
    sc = make_scenario()
    a, b, c = simulate(sc, 7), simulate(sc, 7), simulate(sc, 8)
    pd.testing.assert_frame_equal(a.patients, b.patients)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.timeline, b.timeline)
    assert not a.patients["referred_day"].equals(c.patients["referred_day"])


def test_simulate_is_replication_of_run_replications():
    """simulate(sc, seed, r) is replication r of run_replications(sc, n, seed)."""
    sc = make_scenario()
    res = run_replications(sc, 4, seed=3)
    one = simulate(sc, 3, replication=2)
    row = res.frame().iloc[2]
    for k, v in one.row.items():
        if isinstance(v, np.ndarray):
            continue
        assert row[k] == v or (math.isnan(row[k]) and math.isnan(v)), k
    np.testing.assert_array_equal(res.table.infused_by_month[2], one.row["infused_by_month"])


def test_capacity_change_meets_the_same_patients():
    """Scenarios that differ only in capacity see identical referrals and patient attributes."""
    lo = simulate(make_scenario("manufacturing.suites=1", "apheresis.slots=1"), 11)
    hi = simulate(make_scenario("manufacturing.suites=4", "apheresis.slots=3",
                                "infusion.beds=6"), 11)
    n = min(len(lo.patients), len(hi.patients))
    assert n > 20
    cols = ["referred_day", "site", "weight_kg", "height_cm", "failed_criteria"]
    pd.testing.assert_frame_equal(lo.patients[cols].iloc[:n], hi.patients[cols].iloc[:n])
    screened = lo.patients["screened_day"].iloc[:n] - lo.patients["referred_day"].iloc[:n]
    screened_hi = hi.patients["screened_day"].iloc[:n] - hi.patients["referred_day"].iloc[:n]
    both = screened.notna() & screened_hi.notna()
    np.testing.assert_allclose(screened[both], screened_hi[both])


def test_apheresis_failure_certain_means_nobody_infused():
    """Collection failing every time: nobody is apheresed, manufactured or infused."""
    rep = simulate(make_scenario("apheresis.failure_prob=1", "target.count=5"), 1)
    assert rep.row["infused"] == rep.row["apheresed"] == 0
    assert rep.row["outcome.apheresis_failed"] > 0
    tried = rep.patients[rep.patients["outcome"] == "apheresis_failed"]
    assert (tried["apheresis_attempts"] == 2).all()
    assert math.isnan(rep.row["time_to_target_days"])


def test_manufacturing_failure_certain_means_nobody_infused():
    """Every batch failing: max_attempts batches each, then manufacturing_failed."""
    rep = simulate(make_scenario("manufacturing.failure_prob=1"), 2)
    assert rep.row["infused"] == rep.row["manufactured"] == 0
    failed = rep.patients[rep.patients["outcome"] == "manufacturing_failed"]
    assert len(failed) > 0 and (failed["manufacturing_attempts"] == 2).all()


def test_recollection_after_failed_batch():
    """With recollect_on_failure, a failed batch sends the patient back to apheresis."""
    rep = simulate(make_scenario("manufacturing.failure_prob=1",
                                 "manufacturing.recollect_on_failure=true",
                                 "apheresis.failure_prob=0", "deterioration=null"), 2)
    failed = rep.patients[rep.patients["outcome"] == "manufacturing_failed"]
    assert len(failed) > 0
    assert (failed["apheresis_attempts"] == 2).all()
    assert (failed["manufacturing_attempts"] == 2).all()


def test_huge_capacity_means_no_waits():
    """With more units than patients, nobody waits for any resource."""
    sc = make_scenario("apheresis.slots=500", "apheresis.weekdays_only=false",
                       "manufacturing.suites=500", "infusion.beds=500")
    res = run_replications(sc, 3, seed=4)
    for r in ("apheresis", "manufacturing", "beds"):
        assert res.summary()["resources"][r]["mean_wait_days"] == 0
        assert res.summary()["resources"][r]["mean_queue_length"] == 0


def test_no_deterioration_means_nobody_deteriorates():
    """deterioration: null disables it entirely."""
    res = run_replications(make_scenario("deterioration=null", "manufacturing.suites=1"), 5, 1)
    assert res.summary()["outcomes"]["deteriorated"] == 0


def test_unreachable_target_is_censored_cleanly():
    """A target no trial reaches: NaN times, null percentiles and dates, probability zero."""
    sc = make_scenario("target.count=100000", "horizon_days=400")
    s = run_replications(sc, 4, 1).summary()
    t = s["time_to_target_days"]
    assert t["reached_fraction"] == 0
    assert t["p10"] is None and t["p50"] is None and t["mean"] is None
    assert s["target_date"]["p50"] is None
    assert s["prob_target_by_deadline"] == 0
    assert s["funnel"]["referred"] > 0


def test_fixed_durations_give_exact_sums():
    """All durations fixed and capacity ample: each milestone is the sum of the stages."""
    sc = make_scenario(
        "screening.duration_days=10", "screening.consent_decline_prob=0",
        "apheresis.slots=500", "apheresis.weekdays_only=false", "apheresis.failure_prob=0",
        "manufacturing.suites=500", "manufacturing.duration_days=9",
        "manufacturing.qc_release_days=3", "manufacturing.failure_prob=0",
        "manufacturing.yield_cells=null", "infusion.beds=500", "infusion.stay_days=14",
        "deterioration=null",
    )
    p = simulate(sc, 5).patients
    inf = p[p["outcome"] == "infused"]
    assert len(inf) > 10
    np.testing.assert_allclose(inf["screened_day"], inf["referred_day"] + 10)
    np.testing.assert_allclose(inf["apheresed_day"], inf["screened_day"] + 1)
    np.testing.assert_allclose(inf["released_day"], inf["apheresed_day"] + 9 + 3)
    np.testing.assert_allclose(inf["infused_day"], inf["released_day"] + 5)
    np.testing.assert_allclose(inf["discharged_day"], inf["infused_day"] + 14)
    np.testing.assert_allclose(inf["vein_to_vein_days"], 1 + 9 + 3 + 5)


def test_apheresis_starts_only_on_weekdays():
    """weekdays_only moves every collection start to Monday-Friday."""
    sc = make_scenario("apheresis.slots=3")
    rep = simulate(sc, 9)
    starts = rep.patients["apheresis_start_day"].dropna()
    monday = dt.date(2016, 1, 4).weekday()
    weekdays = (monday + np.floor(starts).astype(int)) % 7
    assert len(starts) > 20 and (weekdays < 5).all()
    # and without the rule, some fall at weekends
    any_day = simulate(make_scenario("apheresis.slots=3", "apheresis.weekdays_only=false"), 9)
    s2 = any_day.patients["apheresis_start_day"].dropna()
    assert ((monday + np.floor(s2).astype(int)) % 7 >= 5).any()


def test_more_suites_never_raise_the_mean_wait():
    """On common random numbers, each added suite lowers or keeps the manufacturing wait."""
    waits = []
    for suites in (1, 2, 3, 4):
        s = run_replications(make_scenario(f"manufacturing.suites={suites}",
                                           "referral.sites.0.rate_per_month=6"), 20, 3).summary()
        waits.append(s["resources"]["manufacturing"]["mean_wait_days"])
    assert waits == sorted(waits, reverse=True), waits
    assert waits[0] > waits[-1]


def test_deteriorated_patients_leave_at_their_latent_time():
    """A deteriorated patient exits exactly at its (bridging-adjusted) deterioration day."""
    sc = make_scenario("manufacturing.suites=1", "deterioration.time_to_event_days=60",
                       "referral.sites.0.rate_per_month=8")
    for seed in range(3):
        p = simulate(sc, seed).patients
        det = p[p["outcome"] == "deteriorated"]
        assert len(det) > 0
        np.testing.assert_allclose(det["exit_day"], det["deterioration_day"])
        alive = p[p["outcome"] == "infused"]
        assert (alive["infused_day"] <= alive["deterioration_day"]).all()


def test_bridging_stretches_the_time_left():
    """Bridging from apheresis multiplies the time left to deterioration by time_ratio."""
    ample = ("apheresis.slots=500", "manufacturing.suites=500", "infusion.beds=500",
             "target.count=100000", "horizon_days=700")
    plain = simulate(make_scenario(*ample, "deterioration.bridging=null"), 3).patients
    bridged = simulate(make_scenario(*ample, "deterioration.bridging.prob=1",
                                     "deterioration.bridging.time_ratio=2"), 3).patients
    both = bridged["bridging_start_day"].notna()
    assert both.sum() > 10
    a = bridged.loc[both, "apheresed_day"]
    expected = a + 2 * (plain.loc[both, "deterioration_day"] - a)
    np.testing.assert_allclose(bridged.loc[both, "deterioration_day"], expected)


def test_low_yield_batches_fail_and_doses_stay_in_range():
    """A batch below min dose x weight fails; infused doses lie in [min, max] cells/kg."""
    low = simulate(make_scenario("manufacturing.yield_cells=1.0e8",
                                 "manufacturing.failure_prob=0"), 1)
    assert low.row["manufactured"] == 0 and low.row["outcome.manufacturing_failed"] > 0
    p = simulate(make_scenario(), 1).patients
    d = p.loc[p["released_day"].notna(), "dose_per_kg"]
    assert len(d) > 5 and d.between(5.0e6, 1.0e7).all()


def test_conditioning_drugs_follow_body_surface_area():
    """Fludarabine 30 and cyclophosphamide 300 mg/m2/day for 3 days, Mosteller BSA."""
    p = simulate(make_scenario(), 2).patients
    inf = p[p["outcome"] == "infused"]
    bsa = np.sqrt(inf["height_cm"] * inf["weight_kg"] / 3600)
    np.testing.assert_allclose(inf["bsa_m2"], bsa)
    np.testing.assert_allclose(inf["fludarabine_mg"], 30 * bsa * 3)
    np.testing.assert_allclose(inf["cyclophosphamide_mg"], 300 * bsa * 3)


def test_referral_closes_at_the_target():
    """Nobody is referred after the target is reached; patients inside finish the pathway."""
    sc = make_scenario("target.count=10")
    rep = simulate(sc, 4)
    t = rep.row["time_to_target_days"]
    assert not math.isnan(t)
    assert (rep.patients["referred_day"] <= t).all()
    assert rep.row["infused"] >= 10
    assert (rep.patients["outcome"] != "in_pathway").all()
    assert rep.row["end_days"] >= t


def test_enrolled_milestone_closes_on_enrolment():
    """A target on the enrolled milestone closes the trial at the n-th enrolment."""
    rep = simulate(make_scenario("target.count=8", "target.milestone=enrolled"), 2)
    enrolled = rep.patients["enrolled_day"].dropna().sort_values()
    assert rep.row["time_to_target_days"] == pytest.approx(enrolled.iloc[7])
    assert rep.row["enrolled"] == 8


def test_horizon_leaves_patients_in_pathway():
    """A horizon that cuts the trial short leaves the patients inside as in_pathway, and
    those infused but still in hospital as infused (counted in hospital besides)."""
    rep = simulate(make_scenario("horizon_days=120", "target.count=1000"), 1)
    assert rep.row["outcome.in_pathway"] > 0
    assert rep.row["end_days"] == 120
    check_conservation(rep)


def test_infused_is_the_outcome_from_day_0():
    """Finding 1 of the numbers issue: a patient infused but still in hospital at the
    horizon was in_pathway, so outcomes.infused fell short of funnel.infused. Now the
    outcome is infused from day 0 and the stay is counted apart (in_hospital)."""
    sc = make_scenario("horizon_days=300", "target.count=1000", "infusion.stay_days=60")
    res = run_replications(sc, 12, seed=2, keep_logs=12)
    s = res.summary()
    assert s["funnel"]["infused"] == s["outcomes"]["infused"]
    assert s["in_hospital"] > 0  # a 60-day stay: some are in hospital at day 300
    pts = res.patients()
    stays = pts[(pts["outcome"] == "infused") & pts["discharged_day"].isna()]
    assert len(stays) == round(s["in_hospital"] * 12)
    assert (stays["infused_day"] > 300 - 60).all()


def test_sites_open_and_ramp_up():
    """A site refers nobody before it opens, and fewer per day while ramping up."""
    sc = make_scenario(
        "referral.sites=[{name: A, rate_per_month: 3}, "
        "{name: B, rate_per_month: 30, opens_day: 200, ramp_up_days: 100}]",
        "target.count=100000", "horizon_days=600")
    p = simulate(sc, 1).patients
    b = p[p["site"] == "B"]["referred_day"]
    assert b.min() >= 200
    ramp = ((b >= 200) & (b < 300)).sum()
    full = ((b >= 400) & (b < 500)).sum()
    assert ramp < full


def test_patient_values_do_not_depend_on_the_number_of_patients():
    """A longer horizon (more referrals drawn) leaves every patient's values unchanged:
    criteria, and the second attempt of a batch, included."""
    ample = ("manufacturing.failure_prob=0.5", "deterioration=null", "target.count=100000")
    a = simulate(make_scenario(*ample, "horizon_days=600"), 4).patients
    b = simulate(make_scenario(*ample, "horizon_days=900"), 4).patients
    n = len(a)
    assert len(b) > n > 20
    cols = ["referred_day", "failed_criteria", "weight_kg", "released_day", "outcome",
            "manufacturing_attempts"]
    done = a["exit_day"] < 600  # patients whose path ended inside both horizons
    pd.testing.assert_frame_equal(a.loc[done, cols], b.iloc[:n].loc[done, cols])
    assert (a.loc[done, "manufacturing_attempts"] == 2).any()


def test_a_new_criterion_leaves_the_others_alone():
    """Adding a screening criterion does not change who fails the existing ones."""
    a = simulate(make_scenario(), 6).patients
    b = simulate(make_scenario("screening.criteria.pregnancy=0.2"), 6).patients
    n = min(len(a), len(b), 40)
    for name in ("cd19_negative", "lvef_below_0_5", "active_infection"):
        fa = a["failed_criteria"].iloc[:n].str.contains(name)
        fb = b["failed_criteria"].iloc[:n].str.contains(name)
        screened = a["screened_day"].iloc[:n].notna() & b["screened_day"].iloc[:n].notna()
        assert (fa[screened] == fb[screened]).all(), name
