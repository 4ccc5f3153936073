"""The Forecast tab: the chance of the target by the deadline, its dates in words, the fan
of cumulative patients and the distribution of the target date (before a run: the
referrals the scenario expects)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from sim.app import charts
from sim.app.pages.common import chart, horizon_end, short_date, tiles
from sim.app.views import (
    COST_HELP,
    PHASE1_HELP,
    RunView,
    cost_table,
    cost_tiles,
    expected_referrals,
    headline,
    phase1_figures,
)
from sim.core.scenario import Scenario
from sim.report.summary import cost_notes

METRIC_HELP = {
    "Chance by the deadline": "Share of the simulated trials that reach the target by the end "
    "of the deadline day; interval: Wilson 95%.",
    "Median date of the target": "Half the simulated trials reach the target by then.",
    "Early: 10th percentile": "One simulated trial in ten reaches the target by then (80% "
    "interval: from this date to the 90th percentile).",
    "Late: 90th percentile": "Nine simulated trials in ten reach the target by then.",
}


def view_inputs(scenario: Scenario) -> None:
    """The scenario as set, before it is run: what referrals it expects."""
    chart(
        charts.referrals_chart(expected_referrals(scenario), deadline=scenario.target.deadline),
        "referrals",
    )


def headline_block(run: RunView) -> None:
    """The answer, above every tab: the chance of the target by the deadline in words."""
    st.subheader(headline(run.summary, horizon_end(run.scenario)).chance)


def view(run: RunView) -> None:
    """The forecast of a run: four figures as tiles, the dates in words and two charts."""
    s = run.summary
    end = horizon_end(run.scenario)
    h = headline(s, end)
    dates = s.get("target_date") or {}
    prob = s.get("prob_target_by_deadline")
    ci = s.get("prob_target_by_deadline_ci95") or [None, None]
    reached = (s.get("time_to_target_days") or {}).get("reached_fraction")
    never = "" if reached is None else f"{1 - reached:.0%} of trials never reach it"
    beyond = f"by the horizon's end, {end:%b %Y}"
    items = [
        (
            "Chance by the deadline",
            "n/a" if prob is None else f"{prob:.0%}",
            "" if None in ci else f"95% interval {ci[0]:.0%} to {ci[1]:.0%}",
        ),
        (
            "Median date of the target",
            short_date(dates.get("p50")),
            beyond if not dates.get("p50") else "",
        ),
        ("Early: 10th percentile", short_date(dates.get("p10")), ""),
        (
            "Late: 90th percentile",
            short_date(dates.get("p90")),
            f"{beyond}; {never}" if not dates.get("p90") and never else "",
        ),
    ]
    tiles(items, METRIC_HELP)
    st.markdown(f"- {h.median}\n- {h.interval}\n- {h.reached}\n- {h.completion}")
    if s.get("phase1"):
        _phase1(s["phase1"])
    t = run.scenario.target
    chart(
        charts.fan_chart(run.fan, target_count=t.count, milestone=t.milestone, deadline=t.deadline),
        "fan",
    )
    chart(
        charts.target_date_chart(
            run.rows["time_to_target_days"].to_numpy(float),
            start_date=run.scenario.start_date,
            deadline=t.deadline,
            horizon_days=run.scenario.horizon_days,
            target_label=f"{t.count} {t.milestone}",
        ),
        "target_date",
    )
    costs(s)


def _phase1(ph: dict[str, Any]) -> None:
    """The dose-finding phase: its patients, DLTs, the chance it stops the trial and its
    length as tiles, and the dose level it recommends in how many trials."""
    st.markdown("**Dose finding (phase 1)**, over the simulated trials")
    items, levels = phase1_figures(ph)
    tiles(items, PHASE1_HELP)
    st.table(levels)


def costs(s: dict[str, Any]) -> None:
    """The costs of the run (when its scenario has a costs block): per trial and per infused
    patient with their 80% intervals, and by category."""
    c = s.get("costs")
    if not c:
        return
    cur = c.get("currency")
    st.subheader(f"Costs ({cur})" if cur else "Costs")
    tiles(cost_tiles(s), COST_HELP)
    st.table(cost_table(s), hide_index=True)
    notes = ["Prices from the scenario's costs block; they change no simulated figure."]
    st.caption(" ".join(notes + cost_notes(c)))
