"""Working calendars: no collection, batch start, QC release or infusion on a day its stage
may not start on (a weekday not listed, a public holiday, a closure), read from the event
log over many replications, each day judged from its calendar date, not from the model's own
tables."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from sim.core.calendar import WEEKDAYS, holiday_dates, stage_days
from sim.core.scenario import Scenario, validate_scenario
from sim.run.runner import simulate
from sim.verify.records import CheckGroup, VerifyConfig, exactly
from sim.verify.scenarios import shipped_scenario

STAGE_EVENTS = {
    "apheresis": ("start", "apheresis"),
    "manufacturing": ("start", "manufacturing"),
    "release": ("released", ""),
    "infusion": ("infusion", ""),
}
"""The event that starts each stage's activity in the log: (event, resource)."""
EPS = 1e-9
"""Days: an event at 00:00 of a day computed as a hair before it counts on that day."""


def forbidden_starts(events: pd.DataFrame, sc: Scenario) -> dict[str, int]:
    """Per stage, the events of the log that start an activity on a day the stage may not
    start on (a weekday it does not list, a public holiday, a closure of the stage)."""
    cal = sc.calendar
    holidays: frozenset[dt.date] = frozenset()
    if cal is not None and cal.holidays is not None:
        last = sc.start_date + dt.timedelta(days=math.ceil(sc.horizon_days) + 1)
        holidays = holiday_dates(
            cal.holidays.country, cal.holidays.subdivision, sc.start_date.year, last.year
        )
    out = {}
    for stage, days in stage_days(sc).items():
        event, resource = STAGE_EVENTS[stage]
        rows = events[(events["event"] == event) & (events["resource"] == resource)]
        closures = [
            (c.from_, c.to)
            for c in (cal.closures if cal else ())
            if c.stages is None or stage in c.stages
        ]
        bad = 0
        for t in rows["time"].to_numpy():
            date = sc.start_date + dt.timedelta(days=math.floor(t + EPS))
            bad += int(
                (days is not None and WEEKDAYS[date.weekday()] not in days)
                or date in holidays
                or any(a <= date <= b for a, b in closures)
            )
        out[stage] = bad
    return out


def closed_baseline(base: Scenario) -> Scenario:
    """The baseline with closures on top of its calendar: the cleanroom for a fortnight,
    QC release for a week, the ward for Christmas week and the apheresis unit for a week."""
    data = base.to_dict()
    data["name"] = "Verification: baseline with closures"
    data["calendar"]["closures"] = [
        {"from": "2016-08-01", "to": "2016-08-14", "stages": ["manufacturing"]},
        {"from": "2017-03-06", "to": "2017-03-12", "stages": ["release"]},
        {"from": "2017-12-22", "to": "2017-12-31", "stages": ["infusion"]},
        {"from": "2018-05-14", "to": "2018-05-20", "stages": ["apheresis"]},
        {"from": "2019-01-07", "to": "2019-01-09", "stages": None},
    ]
    data["referral"]["sites"][0]["rate_per_month"] = 3.0  # busier: more starts to judge
    return validate_scenario(data, source="verify")


def check_calendars(cfg: VerifyConfig) -> CheckGroup:
    """No activity starts on a forbidden day, over many replications of the baseline (China's
    public holidays, its weekdays per stage), the baseline with closures and the phase 1
    scenario."""
    base = shipped_scenario("baseline.yaml")
    scenarios = (base, closed_baseline(base), shipped_scenario("phase1_3plus3.yaml"))
    totals = dict.fromkeys(STAGE_EVENTS, 0)
    counted = dict.fromkeys(STAGE_EVENTS, 0)
    for sc in scenarios:
        for r in range(cfg.calendar_reps):
            ev = simulate(sc, cfg.seed, r).events
            for stage, bad in forbidden_starts(ev, sc).items():
                totals[stage] += bad
                event, resource = STAGE_EVENTS[stage]
                counted[stage] += int(((ev["event"] == event) & (ev["resource"] == resource)).sum())
    what = {
        "apheresis": "collections started",
        "manufacturing": "batches started in a suite",
        "release": "batches released by QC",
        "infusion": "infusions (day 0)",
    }
    rows = [
        exactly(
            f"calendar_{stage}",
            f"{what[stage]} on a day the stage may not start on (of {counted[stage]:,} in the "
            "event log)",
            float(totals[stage]),
            0.0,
            atol=0,
            unit="events",
        )
        for stage in STAGE_EVENTS
    ]
    method = (
        f"{cfg.calendar_reps} replications (seed {cfg.seed}) of each of baseline.yaml (China's "
        "public holidays; collections Monday to Friday, batch starts Monday to Thursday, QC "
        "release Monday to Friday, infusions Monday to Thursday), the baseline with closures "
        "of each stage and of all of them (3 referrals/month), and phase1_3plus3.yaml. Each "
        "start in the event log is dated from the start date and judged against the stage's "
        "weekdays, the holidays package's dates and the closures; a correct model has none "
        "on a forbidden day."
    )
    return CheckGroup("calendars", "Working calendars", method, tuple(rows))
