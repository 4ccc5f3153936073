"""The Patients tab: every patient's timeline in one simulated trial."""

from __future__ import annotations

import streamlit as st

from sim.app import cache, charts
from sim.app.pages.common import chart, replication_picker
from sim.app.views import RunView


def view(run: RunView) -> None:
    """One simulated trial of the run, patient by patient."""
    rep = replication_picker(run, "gantt_rep")
    patients, _, _ = cache.one_replication(run.scenario.to_yaml(), run.seed, rep)
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
        ),
        "gantt",
    )
    with st.expander("Patient table (days from the trial start)"):
        st.dataframe(patients, hide_index=True, width="stretch")
