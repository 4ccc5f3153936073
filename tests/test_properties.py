"""Hypothesis: over random valid scenarios, patients are conserved, ordered and within capacity."""

from __future__ import annotations

import datetime as dt

from conftest import make_scenario
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_model import check_capacity, check_conservation, check_order

from sim.run.runner import run_replications, simulate
from sim.verify.calendars import forbidden_starts
from sim.verify.phase1 import pacing_violations


def check_calendar(rep, sc) -> None:
    """No collection, batch start, QC release or infusion on a forbidden day."""
    assert not any(forbidden_starts(rep.events, sc).values())

prob = st.floats(0, 1)
small_prob = st.floats(0, 0.5)
days = st.floats(0, 20)
dist = st.one_of(
    days.map(str),
    st.tuples(days, days).map(lambda t: f"{{dist: uniform, low: {min(t)}, high: {max(t)}}}"),
    st.floats(0.1, 20).map(lambda m: f"{{dist: exponential, mean: {m}}}"),
    st.tuples(st.floats(0.5, 20), st.floats(0, 10)).map(
        lambda t: f"{{dist: lognormal, mean: {t[0]}, sd: {t[1]}}}"),
)

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def day_list(names):
    """A YAML list of some of ``names`` (a weekday list), or null (every day)."""
    some = st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True)
    return st.one_of(st.just("null"), some.map(lambda d: "[" + ", ".join(d) + "]"))


START = dt.date(2016, 1, 4)  # the base scenario's start date


def closure_yaml(first: int, length: int, stages: list[str] | None) -> str:
    """A closure of ``length + 1`` days from day ``first``, of some stages or (None) all."""
    named = "null" if stages is None else "[" + ", ".join(stages) + "]"
    a, b = START + dt.timedelta(days=first), START + dt.timedelta(days=first + length)
    return f"{{from: {a}, to: {b}, stages: {named}}}"


def calendar_yaml(holidays: str, closures: list[str]) -> str:
    return f"{{holidays: {holidays}, closures: [{', '.join(closures)}]}}"


def phase1_yaml(size, stagger, window, rule, cohorts, probs, when_full, ahead) -> str:
    levels = ", ".join(
        f"{{dose_per_kg: {1e6 * (k + 1):g}, dlt_prob: {p!r}}}" for k, p in enumerate(probs))
    return (
        f"{{cohort_size: {size}, stagger_days: {stagger!r}, dlt_window_days: {window!r}, "
        f"rule: '{rule}', cohorts: {cohorts if rule == 'fixed' else 'null'}, "
        f"dose_levels: [{levels}], when_full: {when_full}, enrol_ahead: {ahead}}}"
    )


stages = st.lists(st.sampled_from(["apheresis", "manufacturing", "release", "infusion"]),
                  min_size=1, max_size=4, unique=True)
closure = st.builds(closure_yaml, st.integers(0, 1400), st.integers(0, 60),
                    st.one_of(st.none(), stages))
calendar = st.one_of(st.just("null"), st.builds(
    calendar_yaml, st.sampled_from(["null", "{country: CN}", "{country: GB}"]),
    st.lists(closure, max_size=3)))
phase1 = st.one_of(st.just("null"), st.builds(
    phase1_yaml, st.integers(1, 4), st.floats(0, 14), st.floats(0, 40),
    st.sampled_from(["3+3", "fixed"]), st.integers(1, 4),
    st.lists(st.floats(0, 1), min_size=1, max_size=4),
    st.sampled_from(["wait", "refer_elsewhere"]), st.booleans()))

scenario_overrides = st.fixed_dictionaries({
    "referral.sites.0.rate_per_month": st.floats(0, 12).map(str),
    "screening.duration_days": dist,
    "screening.consent_decline_prob": small_prob.map(str),
    "apheresis.slots": st.integers(1, 3).map(str),
    "apheresis.weekdays_only": st.booleans().map(str),
    "apheresis.failure_prob": prob.map(str),
    "apheresis.max_attempts": st.integers(1, 3).map(str),
    "apheresis.duration_days": dist,
    "manufacturing.suites": st.integers(1, 3).map(str),
    "manufacturing.duration_days": dist,
    "manufacturing.qc_release_days": dist,
    "manufacturing.failure_prob": prob.map(str),
    "manufacturing.max_attempts": st.integers(1, 3).map(str),
    "manufacturing.recollect_on_failure": st.booleans().map(str),
    "deterioration.time_to_event_days": st.floats(1, 500).map(
        lambda m: f"{{dist: exponential, mean: {m}}}"),
    "deterioration.bridging.prob": prob.map(str),
    "deterioration.bridging.time_ratio": st.floats(0.2, 3).map(str),
    "conditioning.days_before_infusion": st.sampled_from(["3", "5", "7"]),
    "infusion.beds": st.integers(1, 3).map(str),
    "infusion.stay_days": dist,
    "target.count": st.integers(1, 40).map(str),
    "target.milestone": st.sampled_from(["enrolled", "apheresed", "infused"]),
    "horizon_days": st.floats(30, 1500).map(str),
    "apheresis.days": day_list(WEEKDAYS[:5]),  # weekdays: valid with weekdays_only too
    "manufacturing.start_days": day_list(WEEKDAYS),
    "manufacturing.release_days": day_list(WEEKDAYS),
    "infusion.days": day_list(WEEKDAYS),
    "calendar": calendar,
    "phase1": phase1,
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(overrides=scenario_overrides, seed=st.integers(0, 2**32 - 1))
def test_random_scenarios_conserve_order_and_respect_capacity(overrides, seed):
    """Any valid scenario: one outcome each, milestones in order, capacity never exceeded."""
    sc = make_scenario(*(f"{k}={v}" for k, v in overrides.items()))
    rep = simulate(sc, seed)
    check_conservation(rep)
    check_order(rep)
    check_capacity(rep, sc)
    check_calendar(rep, sc)
    if sc.phase1 is not None:
        assert not any(pacing_violations(rep.patients, sc).values())
    # the target, once reached, stops referral
    t = rep.row["time_to_target_days"]
    if t == t:
        assert (rep.patients["referred_day"] <= t).all()
        assert rep.row[sc.target.milestone] >= sc.target.count
    else:
        assert rep.row[sc.target.milestone] < sc.target.count


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(overrides=scenario_overrides, seed=st.integers(0, 2**32 - 1))
def test_random_scenarios_summaries_mean_what_they_say(overrides, seed):
    """Over several trials of any valid scenario (short horizons included): infused
    outcomes equal infused patients; the mean days to target exists only when every trial
    reaches the target, and the mean among those that do whenever one does."""
    sc = make_scenario(*(f"{k}={v}" for k, v in overrides.items()))
    s = run_replications(sc, 4, seed % 1000).summary()
    assert s["outcomes"]["infused"] == s["funnel"]["infused"]
    t = s["time_to_target_days"]
    assert (t["mean"] is None) == (t["reached_fraction"] < 1)
    assert (t["mean_if_reached"] is None) == (t["reached_fraction"] == 0)
    if t["mean"] is not None:
        assert t["mean"] == t["mean_if_reached"]
