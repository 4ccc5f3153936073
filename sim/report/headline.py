"""The forecast in plain words, the same in the dashboard and the report: the chance of the
target by the deadline, the median date, the 80% interval, the share of trials reaching the
target and primary completion."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sim.report.text import date_label


@dataclass(frozen=True)
class Headline:
    """The forecast in words: the chance by the deadline, the median date, the 80% interval,
    the share of trials reaching the target, and primary completion."""

    chance: str
    median: str
    interval: str
    reached: str
    completion: str


def headline(summary: Mapping[str, Any], horizon_end: dt.date | None = None) -> Headline:
    """The forecast in plain words, from a run's summary."""
    t = summary["target"]
    what = f"{t['count']} {t['milestone']}"
    n = summary["replications"]
    prob = summary.get("prob_target_by_deadline")
    if t.get("deadline") and prob is not None:
        ci = summary.get("prob_target_by_deadline_ci95") or [None, None]
        within = f" (95% interval {ci[0]:.0%} to {ci[1]:.0%})" if None not in ci else ""
        chance = f"{prob:.0%} chance of {what} by {date_label(t['deadline'])}{within}"
    else:
        chance = f"No deadline set for the target of {what}"
    dates = summary.get("target_date") or {}
    later = (
        f"after the end of the horizon ({date_label(horizon_end)})"
        if horizon_end
        else "after the end of the horizon"
    )
    p50 = dates.get("p50")
    median = f"Median date of reaching {what}: {date_label(p50) if p50 else later}"
    lo, hi = dates.get("p10"), dates.get("p90")
    interval_text = (
        f"80% interval: {date_label(lo) if lo else later} to {date_label(hi) if hi else later}"
    )
    ttt = summary.get("time_to_target_days") or {}
    frac = ttt.get("reached_fraction")
    reached = (
        f"{frac:.0%} of {n:,} simulated trials reach the target within the horizon"
        if frac is not None
        else ""
    )
    pc = (summary.get("primary_completion_date") or {}).get("p50")
    completion = (
        f"Median primary completion (target plus follow-up): {date_label(pc) if pc else later}"
    )
    return Headline(chance, median, interval_text, reached, completion)
