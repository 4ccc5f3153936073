"""The Saved runs tab: save the current run under a name, list the saved runs, open one
(its results come from the store; nothing is run) or delete one."""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from sim.app.pages.common import saved_runs
from sim.app.views import RunView
from sim.core.errors import InputError
from sim.io import store


def _open_saved(name: str) -> None:
    st.session_state.source_kind = "Saved run"
    st.session_state.source_run = name


def _delete(name: str) -> None:
    ss = st.session_state
    try:
        store.delete_run(name)
    except InputError as exc:
        ss.flash = f"Not deleted: {exc.problem}."
        return
    ss.flash = f"Deleted the saved run {name!r}."
    if ss.run is not None and ss.run.saved_as == name:
        ss.run = dataclasses.replace(ss.run, saved_as=None)


def _own() -> set[str]:
    """The names of the runs this session saved: the only ones it may replace."""
    ss = st.session_state
    if "own_runs" not in ss:
        ss.own_runs = set()
    return ss.own_runs


def _save(run: RunView, name: str, replace: bool) -> None:
    """Save the run. A name taken by this session's own run is replaced with Replace; a
    name taken by another session's run is never replaced: the next free name is offered
    (a new version). A name not allowed is said in plain words."""
    try:
        store.validate_name(name)
        free = store.next_free_name(name)
    except InputError as exc:
        st.error(f"Not saved: {exc.problem}.", icon=":material/error:")
        return
    mine = name in _own()
    if free != name and not (replace and mine):
        if mine:
            problem = (
                f"a run is already saved as {name!r}. Tick **Replace** to overwrite it, or "
                f"save it as {free!r}."
            )
        else:
            problem = (
                f"a run another session saved is already named {name!r}, and it is kept. "
                f"Save this one as {free!r} (a new version), or give another name."
            )
        st.error(f"Not saved: {problem}", icon=":material/error:")
        st.button(f"Save as {free!r}", key="save_version", on_click=_save_version, args=(run, free))
        return
    _store(run, name, replace=free != name)
    st.rerun()


def _store(run: RunView, name: str, replace: bool = False) -> None:
    ss = st.session_state
    try:
        store.save_results(name, run.results, run.summary, replace=replace)
    except InputError as exc:
        ss.flash_error = f"Not saved: {exc.problem}."
        return
    _own().add(name)
    ss.run = dataclasses.replace(run, saved_as=name)
    ss.flash = f"Saved as {name!r}."


def _save_version(run: RunView, name: str) -> None:
    _store(run, name)


def view(run: RunView | None) -> None:
    """Save the current run, list the saved runs, open or delete one."""
    ss = st.session_state
    if ss.flash:
        st.success(ss.flash)
        ss.flash = None
    if ss.get("flash_error"):
        st.error(ss.flash_error, icon=":material/error:")
        ss.flash_error = None
    with st.form("save"):
        name = st.text_input(
            "Save the current run as",
            key="save_name",
            max_chars=store.NAME_MAX,
            placeholder="a name, e.g. baseline 500 trials",
        )
        replace = st.checkbox(
            "Replace a run this session saved under the same name",
            key="save_replace",
            help="Runs saved by other sessions are never replaced: save under another name.",
        )
        save = st.form_submit_button("Save run", icon=":material/save:")
    if save:
        if run is None:
            st.warning("Nothing to save yet: run the model first.")
        elif run.results is None:
            st.info(f"This run is already saved as {run.saved_as!r}.")
        else:
            _save(run, name, replace)
    runs = saved_runs(st, "No saved runs yet.")
    if runs is None:
        return
    st.table(_listed(runs))
    left, mid, right = st.columns([3, 1, 1], vertical_alignment="bottom")
    names = runs["name"].tolist()[::-1]
    pick = left.selectbox("A saved run", names, key="open_pick")
    mid.button("Open", on_click=_open_saved, args=(pick,), icon=":material/folder_open:")
    with right.popover("Delete", icon=":material/delete:"):
        st.markdown(f"Delete the saved run **{pick}**? This cannot be undone.")
        st.button("Delete it", key="delete_run", on_click=_delete, args=(pick,), type="primary")


def _listed(runs: pd.DataFrame) -> pd.DataFrame:
    """The saved runs, newest first, in three columns that wrap (never a sideways scroll,
    even on a phone)."""
    rows = {}
    for r in runs.iloc[::-1].to_dict("records"):
        p = r["prob_target_by_deadline"]
        chance = "n/a" if p is None or p != p else f"{p:.0%}"
        median = r["target_date_p50"] if isinstance(r["target_date_p50"], str) else "not reached"
        rows[r["name"]] = {
            "scenario": r["scenario_name"],
            "answer": f"{chance} by the deadline; median {median}",
            "run": f"{r['replications']:,} trials, seed {r['seed']}; saved "
            f"{str(r['created']).replace('T', ' ')[:16]} UTC",
        }
    return pd.DataFrame(rows).T
