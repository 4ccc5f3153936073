"""Conservation, ordering, capacity and closing rules: invariants that a correct model never
breaks, counted over many replications of the shipped scenarios and a stressed baseline."""

from __future__ import annotations

import itertools
import math

import numpy as np

from sim.core.patient import ALL_OUTCOMES, outcomes_of
from sim.core.scenario import Scenario, validate_scenario
from sim.core.station import RESOURCES
from sim.run.results import FUNNEL
from sim.run.runner import Replication, simulate
from sim.verify.records import EXACT_ABS, CheckGroup, VerifyConfig, exactly
from sim.verify.scenarios import shipped_scenario

MILESTONE_ORDER = (
    "referred_day",
    "consented_day",
    "screened_day",
    "apheresis_start_day",
    "apheresed_day",
    "manufacturing_start_day",
    "released_day",
    "conditioning_start_day",
    "infused_day",
    "discharged_day",
)

INVARIANTS = {
    "one_outcome": "every referred patient has exactly one outcome of the seven (nine with "
    "phase 1), and exactly one terminal event in the log (none while still in the pathway)",
    "outcomes_sum": "the outcome counts add up to the referred count, per replication",
    "funnel_monotone": "funnel counts never rise from one milestone to the next "
    "(referred >= consented >= ... >= infused)",
    "milestone_order": "each patient's milestone days are in pathway order "
    "(referral, consent, screening, apheresis, manufacturing, release, conditioning, "
    "infusion, discharge)",
    "exit_after_milestones": "a finished patient's exit is at or after every milestone it reached",
    "deteriorated_at_latent_time": "a deteriorated patient exits exactly at its "
    "(bridging-adjusted) latent time, and no infused patient passed it before day 0",
    "capacity": "units in use never exceed slots, suites or beds, nor bed bookings the beds, "
    "for longer than an instant",
    "weekday_apheresis": "with weekdays_only, no collection starts on a Saturday or Sunday",
    "closed_at_target": "no referral after the target is reached, and the replication ends "
    "with no patient left inside unless it ran to the horizon",
}


def invariant_violations(rep: Replication, sc: Scenario) -> dict[str, int]:
    """Violations of each invariant in one replication (all zero for a correct model)."""
    pts, row, ev = rep.patients, rep.row, rep.events
    v = dict.fromkeys(INVARIANTS, 0)

    terminal = ev[ev["event"].isin(ALL_OUTCOMES)].groupby("patient").size()
    n_term = terminal.reindex(pts["patient"], fill_value=0).to_numpy()
    want = (pts["outcome"] != "in_pathway").astype(int).to_numpy()
    v["one_outcome"] = int(
        (~pts["outcome"].isin(outcomes_of(sc.phase1 is not None))).sum()
        + int(not pts["patient"].is_unique)
        + (n_term != want).sum()
    )
    outcomes = outcomes_of(sc.phase1 is not None)
    v["outcomes_sum"] = int(row["referred"] != sum(row[f"outcome.{o}"] for o in outcomes))
    funnel = [row[k] for k in FUNNEL]
    v["funnel_monotone"] = sum(1 for a, b in itertools.pairwise(funnel) if b > a)

    days = pts[list(MILESTONE_ORDER)].to_numpy(dtype=float)
    running = np.maximum.accumulate(np.where(np.isnan(days), -np.inf, days), axis=1)
    bad = ~np.isnan(days) & (days < running - EXACT_ABS)
    v["milestone_order"] = int(bad.any(axis=1).sum())
    done = (pts["outcome"] != "in_pathway").to_numpy()
    last = np.nanmax(np.where(np.isnan(days), -np.inf, days), axis=1)
    v["exit_after_milestones"] = int((done & (pts["exit_day"].to_numpy() < last - EXACT_ABS)).sum())

    det = pts[pts["outcome"] == "deteriorated"]
    inf = pts[pts["infused_day"].notna()]
    v["deteriorated_at_latent_time"] = int(
        (np.abs(det["exit_day"] - det["deterioration_day"]) > EXACT_ABS).sum()
        + (inf["infused_day"] > inf["deterioration_day"] + EXACT_ABS).sum()
    )

    # no unit is taken beyond the units in force (units taken away by a schedule go as
    # they are released, so use above them may linger, but never grows)
    tl = rep.timeline
    for res in RESOURCES:
        sub = tl[tl["resource"] == res]
        if len(sub):
            t = sub["time"].to_numpy()
            held = np.diff(np.append(t, t[-1]))
            use = sub["in_use"].to_numpy()
            cap = _caps(sc.capacity_schedule(res), t)
            grew = np.diff(np.append(0, use)) > 0
            over = (use > cap) & (held > EXACT_ABS) & grew
            v["capacity"] += int(over.sum()) + int((sub["queue_length"] < 0).sum())
    beds = ev[ev["resource"] == "beds"]
    step = beds["event"].map({"bed_booked": 1, "booking_cancelled": -1, "handover": -1})
    step = step.fillna(0).to_numpy(dtype=float)
    booked = step.cumsum()
    cap = _caps(sc.capacity_schedule("beds"), beds["time"].to_numpy())
    v["capacity"] += int((((booked > cap) & (step > 0)) | (booked < 0)).sum())

    if sc.apheresis.weekdays_only:
        starts = ev.loc[(ev["resource"] == "apheresis") & (ev["event"] == "start"), "time"]
        weekday = (sc.start_date.weekday() + np.floor(starts.to_numpy()).astype(int)) % 7
        v["weekday_apheresis"] = int((weekday >= 5).sum())

    ttt = row["time_to_target_days"]
    late = int((pts["referred_day"] > ttt).sum()) if not math.isnan(ttt) else 0
    stuck = row["end_days"] < sc.horizon_days and row["outcome.in_pathway"] > 0
    v["closed_at_target"] = late + int(stuck) + int(row["end_days"] > sc.horizon_days)
    return v


def _caps(schedule: tuple[tuple[float, int], ...], t: np.ndarray) -> np.ndarray:
    """The units in force at each of the days ``t``."""
    days = np.array([d for d, _ in schedule])
    units = np.array([n for _, n in schedule])
    return units[np.searchsorted(days, t, side="right") - 1]


def stress_scenario(base: Scenario) -> Scenario:
    """The baseline made hard: busy, short of capacity, failing and deteriorating, with
    retries and re-collection, so every path of the pathway is walked."""
    data = base.to_dict()
    data["name"] = "Verification: stressed baseline"
    data["referral"]["sites"][0]["rate_per_month"] = 6.0
    data["apheresis"].update(failure_prob=0.3, max_attempts=3)
    data["manufacturing"].update(
        suites=1, failure_prob=0.3, max_attempts=2, recollect_on_failure=True
    )
    data["deterioration"]["time_to_event_days"] = {"dist": "exponential", "mean": 90}
    data["infusion"]["beds"] = 1
    # a second suite opens, then planned downtime closes both for two weeks
    data["manufacturing"]["suites_changes"] = [
        {"from_day": 180, "units": 2},
        {"from_day": 400, "units": 0},
        {"from_day": 414, "units": 1},
    ]
    return validate_scenario(data, source="verify")


def check_invariants(cfg: VerifyConfig) -> CheckGroup:
    """Conservation, ordering, capacity and closing rules over many replications."""
    baseline = shipped_scenario("baseline.yaml")
    scenarios = [
        baseline,
        shipped_scenario("central_manufacturing.yaml"),
        shipped_scenario("two_sites.yaml"),
        stress_scenario(baseline),
        shipped_scenario("phase1_3plus3.yaml"),
    ]
    reps, seed = cfg.invariant_reps, cfg.seed
    totals = dict.fromkeys(INVARIANTS, 0)
    patients = 0
    for sc in scenarios:
        for r in range(reps):
            rep = simulate(sc, seed, r)
            patients += len(rep.patients)
            for name, count in invariant_violations(rep, sc).items():
                totals[name] += count
    rows = [
        exactly(f"invariant_{name}", text, float(totals[name]), 0.0, atol=0, unit="violations")
        for name, text in INVARIANTS.items()
    ]
    method = (
        f"{reps} replications (seed {seed}) of each of five scenarios: baseline.yaml, "
        "central_manufacturing.yaml, two_sites.yaml, a stressed baseline (6 referrals/"
        "month, 30% collection and batch failures with retries and re-collection, 1 suite, "
        "1 bed, deterioration mean 90 days) and phase1_3plus3.yaml: "
        f"{len(scenarios) * reps} replications and "
        f"{patients:,} referred patients in all. Each row counts violations over all of them, "
        "read from the patients table, the event log and the resource timeline; a correct "
        "model has none."
    )
    return CheckGroup("invariants", "Conservation and ordering", method, tuple(rows))
