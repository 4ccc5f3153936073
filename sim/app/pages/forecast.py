"""The Forecast tab: the chance of the target by the deadline, its dates in words, the fan
of cumulative patients and the distribution of the target date (before a run: the
referrals the scenario expects)."""

from __future__ import annotations

import streamlit as st

from sim.app import charts
from sim.app.pages.common import chart, horizon_end, short_date
from sim.app.views import RunView, expected_referrals, headline
from sim.core.scenario import Scenario

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


def view(run: RunView) -> None:
    """The forecast of a run: in words, four figures and two charts."""
    s = run.summary
    h = headline(s, horizon_end(run.scenario))
    st.subheader(h.chance)
    dates = s.get("target_date") or {}
    prob = s.get("prob_target_by_deadline")
    shown = {
        "Chance by the deadline": "n/a" if prob is None else f"{prob:.0%}",
        "Median date of the target": short_date(dates.get("p50")),
        "Early: 10th percentile": short_date(dates.get("p10")),
        "Late: 90th percentile": short_date(dates.get("p90")),
    }
    for col, (label, value) in zip(st.columns(len(shown)), shown.items(), strict=True):
        col.metric(label, value, help=METRIC_HELP[label], border=True)
    st.markdown(f"- {h.median}\n- {h.interval}\n- {h.reached}\n- {h.completion}")
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
