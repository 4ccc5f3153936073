"""Working calendars: hand-computed days, no start on a forbidden day over many
replications, weekdays_only as a list of days, and scenarios without calendars unchanged."""

from __future__ import annotations

import copy
import datetime as dt
import json
import subprocess
import sys

import pytest
from conftest import ROOT, SCENARIOS, make_scenario

from sim.cli.main import main
from sim.core.scenario import load_scenario
from sim.run.runner import run_replications, simulate
from sim.verify.calendars import forbidden_starts
from sim.verify.scenarios import NEUTRAL

FIXTURE = ROOT / "tests" / "fixtures" / "baseline_before_calendars.yaml"
PINNED = ROOT / "tests" / "golden" / "baseline_before_calendars_seed1_reps40.json"
START = dt.date(2016, 1, 4)  # a Monday


def next_allowed(day: float, weekdays: set[int], closed: set[dt.date]) -> float:
    """``day`` if its date is allowed, else 00:00 of the next allowed date (by the dates)."""
    whole = int(day // 1)
    d = START + dt.timedelta(days=whole)
    if d.weekday() in weekdays and d not in closed:
        return day
    while d.weekday() not in weekdays or d in closed:
        d += dt.timedelta(days=1)
    return float((d - START).days)


def test_days_by_hand():
    """Batches start on Mondays, QC releases on Fridays, infusions on Tuesdays, with a
    fortnight's closure of the cleanroom: every infused patient's days are as computed from
    the calendar dates, and conditioning is planned back from day 0."""
    data = copy.deepcopy(NEUTRAL)
    data.update(horizon_days=600, target={"count": 10_000, "deadline": None})
    data["referral"]["sites"][0]["rate_per_month"] = 6.0
    data["screening"]["duration_days"] = {"dist": "uniform", "low": 0, "high": 10}
    data["apheresis"]["duration_days"] = 1.0
    data["manufacturing"].update(
        duration_days=9.0, qc_release_days=2.5, start_days=["Mon"], release_days=["Fri"]
    )
    data["conditioning"].update(days_before_infusion=5.0, treatment_days=3)
    data["infusion"].update(stay_days=14.0, days=["Tue"])
    closed = {dt.date(2016, 3, 1) + dt.timedelta(days=k) for k in range(14)}
    data["calendar"] = {
        "closures": [{"from": "2016-03-01", "to": "2016-03-14", "stages": ["manufacturing"]}]
    }
    p = simulate(make_scenario(base=data), 1).patients
    inf = p[p["outcome"] == "infused"]
    assert len(inf) > 30
    for _, r in inf.iterrows():
        start = next_allowed(r["apheresed_day"], {0}, closed)
        assert r["manufacturing_start_day"] == pytest.approx(start, abs=1e-9)
        release = next_allowed(start + 9.0 + 2.5, {4}, set())
        assert r["released_day"] == pytest.approx(release, abs=1e-9)
        day0 = next_allowed(release + 5.0, {1}, set())
        assert r["infused_day"] == pytest.approx(day0, abs=1e-9)
        assert r["conditioning_start_day"] == pytest.approx(day0 - 5.0, abs=1e-9)
        assert r["bed_booked_day"] == pytest.approx(release, abs=1e-9)


def test_no_start_on_a_forbidden_day():
    """Over 60 replications of the baseline (China's public holidays, weekdays per stage),
    no collection, batch start, QC release or infusion falls on a forbidden day."""
    sc = load_scenario(str(SCENARIOS / "baseline.yaml"))
    starts = 0
    for r in range(60):
        ev = simulate(sc, 1, r).events
        assert forbidden_starts(ev, sc) == dict.fromkeys(forbidden_starts(ev, sc), 0)
        starts += int((ev["event"] == "infusion").sum())
    assert starts > 60 * 30


@pytest.mark.slow
def test_no_start_on_a_forbidden_day_in_1000_baseline_replications():
    """The event log of 1,000 baseline replications has no start on a forbidden day."""
    sc = load_scenario(str(SCENARIOS / "baseline.yaml"))
    for r in range(1000):
        bad = forbidden_starts(simulate(sc, 1, r).events, sc)
        assert not any(bad.values()), (r, bad)


def test_holidays_are_days_off_for_every_stage():
    """With every weekday allowed, nothing starts on a public holiday of China (Spring
    Festival and National Day weeks included), though collections did before."""
    base = make_scenario("apheresis.weekdays_only=false", "referral.sites.0.rate_per_month=8")
    cal = make_scenario("apheresis.weekdays_only=false", "referral.sites.0.rate_per_month=8",
                        "calendar={holidays: {country: CN}}")
    hit = 0
    for r in range(10):
        assert not any(forbidden_starts(simulate(cal, 2, r).events, cal).values())
        hit += sum(forbidden_starts(simulate(base, 2, r).events, cal).values())
    assert hit > 0  # without the calendar, starts do fall on those holidays


def test_weekdays_only_is_monday_to_friday():
    """weekdays_only: true gives the same trials as apheresis.days [Mon, ..., Fri]."""
    a = make_scenario("apheresis.weekdays_only=true")
    b = make_scenario("apheresis.weekdays_only=false", "apheresis.days=[Mon, Tue, Wed, Thu, Fri]")
    sa, sb = run_replications(a, 8, seed=3).summary(), run_replications(b, 8, seed=3).summary()
    sa.pop("scenario_digest"), sb.pop("scenario_digest")
    assert sa == sb
    with pytest.raises(Exception, match="weekdays_only is true but days include Sat"):
        make_scenario("apheresis.weekdays_only=true", "apheresis.days=[Mon, Sat]")


def test_a_scenario_without_the_new_fields_is_unchanged():
    """Today's baseline, as it was before calendars and phase 1: its summary for seed 1 and
    40 replications is the one pinned before they existed, and the scenario it writes back
    has none of the new keys."""
    sc = load_scenario(str(FIXTURE))
    summary = run_replications(sc, 40, seed=1).summary()
    summary.pop("version", None)
    for r in summary["resources"].values():  # added with capacity schedules: not a figure
        assert r.pop("schedule") == [[0.0, r["capacity"]]]
    pinned = json.loads(PINNED.read_text())
    assert json.loads(json.dumps(summary)) == pinned
    text = sc.to_yaml()
    for key in ("calendar:", "phase1:", "start_days:", " release_days:", "  days:"):
        assert key not in text


def test_holidays_package_is_imported_only_for_a_scenario_with_holidays():
    """Validating a scenario without public holidays does not import the holidays package."""
    code = (
        "import sys; from sim.core.scenario import load_scenario; "
        f"load_scenario({str(FIXTURE)!r}); print('holidays' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_grid_over_a_phase1_field(tmp_path, capsys):
    """sweep accepts the new fields: --grid phase1.dlt_window_days=21,28."""
    status = main(["sweep", str(SCENARIOS / "phase1_3plus3.yaml"), "--grid",
                   "phase1.dlt_window_days=21,28", "--reps", "3", "--executor", "serial",
                   "--quiet", "--json"])
    assert status == 0
    out = json.loads(capsys.readouterr().out)
    text = json.dumps(out)
    assert "phase1.dlt_window_days" in text and "21" in text and "28" in text
