"""The dashboard: ``streamlit run app.py`` (it opens on scenarios/baseline.yaml).

Only the page and its tabs: the page opens on the answer (the forecast of the settings its
address holds, by default the baseline's, computed once and cached for every visitor); the
sidebar builds a scenario (from a file, a saved run or an upload, every value editable and
checked as typed; ``sim.app.pages.sidebar``), the model runs on Run with valid settings,
runs are cached by scenario, seed and replications (``sim.app.cache``), and each tab is a
module of ``sim.app.pages`` drawing with the pure functions of ``sim.app.charts`` (only the
open tab is drawn). The form is built from the scenario's schema (``sim.app.form``); nothing
here is model logic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from sim.app import session
from sim.app.pages import (
    capacity,
    compare,
    facility,
    flow,
    forecast,
    goal,
    observed,
    patients,
    report,
    saved,
    sensitivity,
    sidebar,
    sizing,
)

SIDEBAR_PX = 480  # the inputs need room: tables and three-number distributions
NO_RUN = "Press **Run simulation** in the sidebar to simulate the scenario."

# --- the page --------------------------------------------------------------------------------

ViewFn = Callable[[Any], None]

VIEWS: tuple[tuple[str, ViewFn, bool], ...] = (
    # (tab title, function of the current run, needs a run)
    ("Forecast", forecast.view, True),
    ("Patient flow", flow.view, True),
    ("Capacity", capacity.view, True),
    ("Patients", patients.view, True),
    ("Compare", compare.view, False),
    ("Saved runs", saved.view, False),
)

# The planning tools: (tab title, function of the current run, needs a run). They run on the
# sidebar's scenario, not on a run's results. No title contains another tab's title (the
# browser test finds tabs by name, and a name matches as a part of a longer one).
PLANNING_VIEWS: tuple[tuple[str, ViewFn, bool], ...] = (
    ("Sizing", sizing.view, False),
    ("Sensitivity", sensitivity.view, False),
    ("Observed data", observed.view, False),
    ("What must change", goal.view, False),
    ("Facility", facility.view, False),
)


def header(status: Any) -> None:
    """The title and the answer: the headline chance of the run shown, what it is (trials,
    seed, how long it took or that it came from the cache), what changed since the last
    run, and a note in ``status`` when the settings have changed since."""
    ss = st.session_state
    st.title("CAR-T trial logistics")
    run = ss.run
    if run is None:
        st.caption(f"Scenario: {ss.scenario.name}. {NO_RUN}")
        return
    forecast.headline_block(run)
    took = (
        f"computed in {ss.run_seconds:.1f} s"
        if ss.run_seconds is not None
        else ("opened from the store" if run.saved_as and run.results is None else "from the cache")
    )
    saved = f" (saved as {run.saved_as!r})" if run.saved_as else ""
    st.caption(
        f"Results: **{run.label}**{saved} — {run.replications:,} simulated trials, "
        f"seed {run.seed}, {took}. Change the settings in the sidebar (☰ on a phone)."
    )
    if ss.changed:
        st.info(ss.changed, icon=":material/compare_arrows:")
    report.buttons(run, ss.loaded)
    if ss.pending is None and run.scenario.digest() != ss.scenario.digest():
        status.warning(
            "The settings differ from the run shown: press **Run simulation** to update.",
            icon=":material/info:",
        )


def main() -> None:
    """The page: the sidebar, the header and one tab a view (only the open tab is drawn;
    the tab is kept in the page's address)."""
    st.set_page_config(
        page_title="CAR-T trial logistics", layout="wide", initial_sidebar_state=SIDEBAR_PX
    )
    session.init_state()
    ss = st.session_state
    top = st.container()
    status = st.container()
    sidebar.source_picker()
    sidebar.run_pending(status)
    sidebar.settings()
    if ss.notice:
        st.sidebar.info(ss.notice, icon=":material/info:")
    sidebar.download_settings()
    with top:
        header(status)
    views = VIEWS + PLANNING_VIEWS
    titles = [v[0] for v in views]
    tabs = st.tabs(titles, key="tab", bind="query-params")
    for tab, (title, fn, needs_run) in zip(tabs, views, strict=True):
        if not tab.open:
            continue
        with tab:
            if needs_run and ss.run is None:
                st.info(NO_RUN, icon=":material/play_arrow:")
                if title == "Forecast":
                    forecast.view_inputs(ss.scenario)
            else:
                fn(ss.run)


main()
