"""The Patient flow tab: the funnel, the screening failures by criterion and the outcomes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from sim.app import charts
from sim.app.pages.common import chart
from sim.app.views import RunView


def view(run: RunView) -> None:
    """Where the patients of a run go: the funnel, screening failures and outcomes."""
    s = run.summary
    chart(charts.funnel_chart(s["funnel"], s["outcomes"]), "funnel")
    left, right = st.columns([3, 2])
    with left:
        chart(
            charts.criteria_chart(
                s.get("screen_fail_by_criterion") or {},
                run.scenario.screening.criteria_labels,
            ),
            "criteria",
        )
    with right:
        st.markdown("**Outcomes** (patients, mean per simulated trial)")
        outcomes = pd.DataFrame(
            {
                "outcome": [k.replace("_", " ") for k in s["outcomes"]],
                "patients per trial": [f"{v:.1f}" for v in s["outcomes"].values()],
            }
        ).set_index("outcome")
        st.table(outcomes)
        share = s.get("share_enrolled_infused")
        if share is not None:
            st.caption(f"{share:.0%} of enrolled patients are infused.")
