"""The Observed data tab: the forecast updated by the patients seen so far (an observed
log), beside the prior forecast of the scenario alone."""

from __future__ import annotations

from typing import Any

import streamlit as st

from sim.app import cache, charts, session
from sim.app.pages.common import (
    against_forecast,
    chart,
    horizon_end,
    keep_result,
    last_result,
    planning_caption,
    reps_input,
    short_date,
)
from sim.app.pages.inputs import DATES
from sim.app.planning import observed
from sim.app.views import RunView, headline
from sim.core.errors import InputError
from sim.core.yamlio import read_text
from sim.forecasting.observed import parse_log
from sim.report.text import date_label

OBSERVED_REPS = 200
REPS = "Replications (trials)"
REPS_HELP = "Simulated trials of the prior forecast and of the updated one."

EXAMPLE = f"Shipped example ({observed.EXAMPLE_LOG}, the baseline to {observed.EXAMPLE_AS_OF})"
UPLOAD = "Upload a log (CSV)"


def _observed_log(choice: str, upload: Any) -> tuple[str, str] | None:
    """The log's text and name; None (with a message) when nothing was uploaded."""
    if choice == EXAMPLE:
        return read_text(str(session.SCENARIOS / observed.EXAMPLE_LOG)), observed.EXAMPLE_LOG
    if upload is None:
        st.warning("Choose a CSV file to upload, or use the shipped example.")
        return None
    return observed.read_log_upload(upload.getvalue(), upload.name), upload.name


def view(run: RunView | None) -> None:
    """Update the forecast by an observed log (on submit) and show the last update."""
    ss = st.session_state
    st.subheader("Forecast from observed data")
    scenario = ss.scenario
    planning_caption("The forecast updated by the patients seen so far, with the prior from")
    with st.form("observed"):
        choice = st.radio("Observed log", (EXAMPLE, UPLOAD), key="obs_source", horizontal=True)
        upload = st.file_uploader(
            "Observed log (CSV: one row a patient)",
            type=["csv"],
            key="obs_upload",
            help="Columns patient_id, site, referred_date and, where known, consent_date, "
            "screen_end_date, screen_failed, apheresis_date, release_date, infusion_date, "
            "outcome, outcome_date (dates YYYY-MM-DD); see scenarios/observed_example.csv.",
        )
        a, b = st.columns(2)
        as_of = a.date_input(
            "As of (the log is complete to this date)",
            value=observed.EXAMPLE_AS_OF,
            **DATES,
            format="YYYY-MM-DD",
            key="obs_as_of",
        )
        reps = reps_input(b, "obs_reps", REPS, REPS_HELP, value=OBSERVED_REPS, step=100)
        go = st.form_submit_button("Update the forecast", type="primary", icon=":material/update:")
    status = st.empty()
    if go:
        try:
            got = _observed_log(choice, upload)
            if got is not None:
                text, name = got
                parse_log(text, scenario, as_of, name)  # a bad log: its message, nothing run
                bar = cache.ProgressBar(status, 2 * int(reps), "Forecasting")
                status.progress(0.0, "Forecasting...")
                view = cache.observed_run(
                    scenario.to_yaml(), int(ss.seed), int(reps), text, as_of, name, _progress=bar
                )
                keep_result("observed_result", view=view)
        except InputError as exc:
            st.error(f"Not used: {observed.app_message(exc)}", icon=":material/error:")
        status.empty()
    ask = "Pick a log and its as-of date and press **Update the forecast**."
    done = last_result("observed_result", "Update the forecast", ask, ":material/update:")
    if done is None:
        return
    view: observed.ForecastView = done["view"]
    scenario = done["scenario"]
    s = view.summary
    st.markdown(f"**What {view.source} says** (prior → posterior)")
    st.markdown("\n".join(f"- {line}" for line in observed.posterior_words(s)))
    horizon = horizon_end(scenario)
    prior, updated = s["prior_forecast"], s["updated_forecast"]
    what, reps, seed = "Prior forecast (the scenario alone)", prior["replications"], prior["seed"]
    against_forecast(what, prior.get("prob_target_by_deadline"), reps, seed, scenario)
    cols = st.columns(2)
    for col, head, f, other in (
        (cols[0], "Prior forecast (the scenario alone)", prior, None),
        (cols[1], f"Updated forecast (observed to {date_label(view.as_of)})", updated, prior),
    ):
        with col, st.container(border=True):
            h = headline(f, horizon)
            st.markdown(f"**{head}**")
            p = f.get("prob_target_by_deadline")
            d = (f.get("target_date") or {}).get("p50")
            m1, m2 = st.columns(2)
            delta = None
            if (
                other is not None
                and p is not None
                and other.get("prob_target_by_deadline") is not None
            ):
                delta = f"{100 * (p - other['prob_target_by_deadline']):+.0f} points on the prior"
            m1.metric(
                "Chance by the deadline",
                "n/a" if p is None else f"{p:.0%}",
                delta=delta,
                delta_color="off",
            )
            m2.metric("Median date of the target", short_date(d))
            st.markdown(f"{h.chance}.  \n{h.median}.  \n{h.interval}.")
    t = scenario.target
    chart(
        charts.observed_fan_chart(
            view.updated_fan,
            view.observed,
            start_date=scenario.start_date,
            as_of=view.as_of,
            target_count=t.count,
            milestone=t.milestone,
            deadline=t.deadline,
        ),
        "observed_fan",
    )
    with st.expander("The prior forecast's fan (the scenario alone, before the log)"):
        chart(
            charts.fan_chart(
                view.prior_fan,
                target_count=t.count,
                milestone=t.milestone,
                deadline=t.deadline,
                title="Prior forecast: patients enrolled, infused",
            ),
            "observed_prior_fan",
        )
