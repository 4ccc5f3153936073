"""The Saved runs tab: save the current run under a name, list the saved runs, open one
(its results come from the store; nothing is run)."""

from __future__ import annotations

import dataclasses

import streamlit as st

from sim.app.pages.common import saved_runs
from sim.app.views import RunView
from sim.core.errors import InputError
from sim.io import store


def _open_saved(name: str) -> None:
    st.session_state.source_kind = "Saved run"
    st.session_state.source_run = name


def view(run: RunView | None) -> None:
    """Save the current run, list the saved runs and open one."""
    ss = st.session_state
    if ss.flash:
        st.success(ss.flash)
        ss.flash = None
    with st.form("save"):
        name = st.text_input(
            "Save the current run as",
            key="save_name",
            max_chars=store.NAME_MAX,
            placeholder="a name, e.g. baseline 500 trials",
        )
        replace = st.checkbox("Replace a saved run of the same name", key="save_replace")
        save = st.form_submit_button("Save run", icon=":material/save:")
    if save:
        if run is None:
            st.warning("Nothing to save yet: run the model first.")
        elif run.results is None:
            st.info(f"This run is already saved as {run.saved_as!r}.")
        else:
            try:
                store.save_results(name, run.results, run.summary, replace=replace)
            except InputError as exc:
                st.error(exc.message)
            else:
                ss.run = dataclasses.replace(run, saved_as=name)
                ss.flash = f"Saved as {name!r}."
                st.rerun()
    runs = saved_runs(st, "No saved runs yet.")
    if runs is None:
        return
    shown = runs.iloc[::-1].rename(
        columns={
            "scenario_name": "scenario",
            "prob_target_by_deadline": "chance by deadline",
            "target_date_p50": "median target date",
        }
    )
    shown["created"] = shown["created"].str.replace("T", " ").str.slice(0, 16) + " UTC"
    shown = shown.drop(columns=["version"])
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_config={"chance by deadline": st.column_config.NumberColumn(format="percent")},
    )
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    pick = left.selectbox(
        "Open a saved run (no re-running)", shown["name"].tolist(), key="open_pick"
    )
    right.button("Open", on_click=_open_saved, args=(pick,), icon=":material/folder_open:")
