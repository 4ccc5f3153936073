"""The Patients tab: every patient's timeline in one simulated trial, and the patients
moving through the pathway (an animation from the trial's own records)."""

from __future__ import annotations

import streamlit as st

from sim.app import cache, charts
from sim.app.pages.common import chart, replication_picker
from sim.app.views import RunView

STEP_DAYS = 7
"""Days the animation moves on at each frame while it plays."""
FRAME_S = 0.5
"""Seconds between two frames."""


def view(run: RunView) -> None:
    """One simulated trial of the run, patient by patient: the timeline, the patients
    moving through the pathway, and the table."""
    rep = replication_picker(run, "gantt_rep")
    patients, _, end, events = cache.one_replication(run.scenario.to_yaml(), run.seed, rep)
    counts = patients["outcome"].value_counts()
    st.caption(
        f"{len(patients)} patients referred in simulated trial {rep + 1}: "
        + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
    )
    chart(
        charts.gantt_chart(
            patients,
            start_date=run.scenario.start_date,
            title=f"Patient timeline, simulated trial {rep + 1}",
            events=events,
        ),
        "gantt",
    )
    st.toggle(
        "Play: move on a week every half second",
        key="pathway_play",
        help="Or drag the day on the chart.",
    )
    if st.session_state.get("pathway_play"):
        _playing(run, rep, end)
    else:
        _frame(run, rep, end, step=0)
    with st.expander("Patient table (days from the trial start)"):
        st.dataframe(patients, hide_index=True, width="stretch")


@st.fragment(run_every=FRAME_S)
def _playing(run: RunView, rep: int, end: float) -> None:
    """While Play is on, each frame (a rerun of this fragment alone) moves the day on."""
    _frame(run, rep, end, step=STEP_DAYS)


def _frame(run: RunView, rep: int, end: float, step: float) -> None:
    """The patients on the day kept in the session, moved on by ``step`` days first (from
    the start again after the end)."""
    ss = st.session_state
    patients, _, _, events = cache.one_replication(run.scenario.to_yaml(), run.seed, rep)
    day = float(ss.get("pathway_day", round(end / 3)))  # a third in: the pathway is busy
    if step:
        day = 0.0 if day >= end else min(day + step, end)
        ss.pathway_day = day
    chart(
        charts.pathway_animation(
            charts.pathway_table(patients, run.scenario.start_date, events),
            start_date=run.scenario.start_date,
            day=day,
            end_day=end,
            title=f"The patients of simulated trial {rep + 1}, day by day",
        ),
        "pathway",
    )
