"""Capacity that changes over time: schedules of units, planned downtime, and their
accounting (hand-computed schedules, the units in force never exceeded by a new start)."""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from conftest import make_scenario

from sim.core.errors import InputError
from sim.core.patient import Patient
from sim.core.scenario import with_overrides
from sim.core.station import Station, unit_days, units_at
from sim.run.runner import run_replications, simulate

SCHEDULE = ((0.0, 1), (10.0, 2), (30.0, 0), (40.0, 1))


def test_units_in_force_and_unit_days_by_hand():
    assert [units_at(SCHEDULE, d) for d in (0, 9.9, 10, 29, 30, 39, 40, 100)] == [
        1, 1, 2, 2, 0, 0, 1, 1
    ]  # fmt: skip
    # [0, 50]: 10 x 1 + 20 x 2 + 10 x 0 + 10 x 1 = 60
    assert unit_days(SCHEDULE, 0, 50) == pytest.approx(60.0)
    # [5, 35]: 5 x 1 + 20 x 2 + 5 x 0 = 45
    assert unit_days(SCHEDULE, 5, 35) == pytest.approx(45.0)
    assert unit_days(((0.0, 3),), 2, 7) == 15.0
    assert unit_days(SCHEDULE, 7, 7) == 0.0


def _patients(n: int) -> list[Patient]:
    return [Patient(i, 0, 0.0, float("inf")) for i in range(n)]


def _use(env, station: Station, p: Patient, days: float, starts: dict[int, float]):
    grant = station.request(p)
    if grant is not None:
        yield grant
    starts[p.id] = env.now
    yield env.timeout(days)
    station.release()


def test_a_unit_opening_and_downtime_serve_the_queue_by_hand():
    """Five jobs of 15 days ready at day 0 on units 1, then 2 from day 10, 0 from day 30,
    1 from day 40: the first starts at 0, the second when the second unit opens (10), the
    third and fourth as the first two finish (15, 25); the fifth finds the units gone from
    day 30 (the downtime; the jobs in use finish) and starts when one returns on day 40."""
    env = simpy.Environment()
    station = Station(env, "manufacturing", SCHEDULE, lambda p, s: None)
    starts: dict[int, float] = {}
    for p in _patients(5):
        env.process(_use(env, station, p, 15.0, starts))
    env.run()
    assert starts == {0: 0.0, 1: 10.0, 2: 15.0, 3: 25.0, 4: 40.0}
    assert station.capacity == 1


def test_a_unit_taken_away_while_in_use_finishes_its_work():
    """Units 2 then 1 from day 5: both jobs started at 0 finish; the third waits for both
    releases (the first release takes the removed unit away) and starts at day 20."""
    env = simpy.Environment()
    station = Station(env, "beds", ((0.0, 2), (5.0, 1)), lambda p, s: None)
    starts: dict[int, float] = {}
    for p, days in zip(_patients(3), (10.0, 20.0, 1.0), strict=True):
        env.process(_use(env, station, p, days, starts))
    env.run()
    assert starts == {0: 0.0, 1: 0.0, 2: 20.0}


def test_the_schedule_form_and_the_changes_form_are_one_scenario():
    a = make_scenario("manufacturing.suites=[{from_day: 0, units: 1}, {from_day: 365, units: 2}]")
    b = make_scenario(
        "manufacturing.suites=1", "manufacturing.suites_changes=[{from_day: 365, units: 2}]"
    )
    assert a == b
    assert a.capacity_schedule("manufacturing") == ((0.0, 1), (365.0, 2))
    assert make_scenario().capacity_schedule("beds") == ((0.0, 2),)


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("infusion.beds=[{from_day: 5, units: 1}]", "starts with {from_day: 0"),
        ("apheresis.slots_changes=[{from_day: 9, units: 1}, {from_day: 9, units: 2}]", "must rise"),
        ("manufacturing.suites_changes=[{from_day: 0, units: 1}]", "from_day = 0"),
        ("manufacturing.suites_changes=[{from_day: 10, units: -1}]", "units = -1"),
    ],
)
def test_bad_schedules_are_refused_in_words(override, needle):
    with pytest.raises(InputError) as err:
        make_scenario(override)
    assert needle in str(err.value)


def test_no_batch_starts_beyond_the_units_in_force():
    """A busy scenario with one suite, two from day 200 and none in days 400-420: every
    batch start finds a unit in force, none starts in the downtime, and a second suite
    shortens the manufacturing queue."""
    busy = make_scenario("referral.sites.0.rate_per_month=6", "manufacturing.suites=1")
    sc = with_overrides(busy, [
        "manufacturing.suites_changes=[{from_day: 200, units: 2}, {from_day: 400, units: 0},"
        " {from_day: 420, units: 2}]"
    ])  # fmt: skip
    schedule = sc.capacity_schedule("manufacturing")
    for r in range(3):
        rep = simulate(sc, seed=5, replication=r)
        ev = rep.events
        mf = ev[ev["resource"] == "manufacturing"]
        in_use = 0
        for t, what in zip(mf["time"], mf["event"], strict=True):
            if what == "start":
                in_use += 1
                assert in_use <= units_at(schedule, t), (r, t)
                assert not 400 <= t < 420
            elif what == "end":
                in_use -= 1
    one = run_replications(busy, 40, seed=3).summary()["resources"]["manufacturing"]
    two = run_replications(sc, 40, seed=3).summary()["resources"]["manufacturing"]
    assert two["mean_wait_days"] < one["mean_wait_days"]
    assert two["schedule"] == [[0.0, 1], [200.0, 2], [400.0, 0], [420.0, 2]]


def test_utilisation_is_of_the_unit_days_in_force():
    """Busy days over available unit-days, replication by replication."""
    sc = make_scenario("manufacturing.suites_changes=[{from_day: 300, units: 3}]")
    table = run_replications(sc, 8, seed=2).table
    schedule = sc.capacity_schedule("manufacturing")
    for end, busy, util, avail in zip(
        table["end_days"], table["manufacturing.busy_days"],
        table["manufacturing.utilization"], table["manufacturing.unit_days"], strict=True,
    ):  # fmt: skip
        assert avail == pytest.approx(unit_days(schedule, 0.0, end))
        assert util == pytest.approx(busy / avail)
    assert np.all(table["manufacturing.capacity"] == 2)


def test_a_schedule_that_repeats_the_count_changes_nothing():
    """Changes to the same units leave every figure as it was (same seed)."""
    sc = make_scenario()
    same = with_overrides(sc, ["manufacturing.suites_changes=[{from_day: 100, units: 2}]"])
    a = run_replications(sc, 6, seed=4).table
    b = run_replications(same, 6, seed=4).table
    for col in ("time_to_target_days", "infused", "manufacturing.wait_sum_days", "end_days"):
        assert np.array_equal(a[col], b[col], equal_nan=True)


def test_a_closed_resource_is_allowed_only_after_the_start():
    with pytest.raises(InputError):
        make_scenario("manufacturing.suites=[{from_day: 0, units: 0}]")
