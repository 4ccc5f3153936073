"""The sidebar: what the inputs start from (a scenario file, a saved run or an upload), the
settings form (every value of the scenario by pathway stage) and the settings' download.
The model runs only when the form is submitted with a valid scenario."""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from sim.app import cache, form, session, submit, views
from sim.app.pages import inputs
from sim.app.pages.common import saved_runs
from sim.app.sources import help_text
from sim.core.errors import InputError
from sim.core.scenario import Scenario

MAX_REPS = 20_000  # more: the command line (a cached run of this size holds ~30 MB)
SOURCE_KINDS = ("Scenario file", "Saved run", "Upload")


def source_picker() -> None:
    """Choose what the inputs start from. A file that cannot be used is an inline message;
    the inputs and the results shown stay as they were."""
    ss = st.session_state
    bar = st.sidebar
    bar.header("Scenario")
    kind = bar.radio("Start from", SOURCE_KINDS, key="source_kind", horizontal=True)
    data = None
    if kind == "Scenario file":
        files = [p.name for p in views.scenario_files(session.SCENARIOS, session.DEFAULT_FILE)]
        name = bar.selectbox("Scenario file (scenarios/)", files, key="source_file")
        key: tuple[str, ...] = ("file", name)
    elif kind == "Saved run":
        runs = saved_runs(
            bar, "No saved runs yet: run a scenario, then save it in the Saved runs tab."
        )
        if runs is None:
            return
        names = list(reversed(runs["name"].tolist()))  # newest first
        name = bar.selectbox("Saved run", names, key="source_run")
        key = ("run", name)
    else:
        upload = bar.file_uploader(
            "Scenario file (YAML)",
            type=["yaml", "yml"],
            key="source_upload",
            help="A scenario in the format of the files in scenarios/; it is validated "
            "like the command line validates a file.",
        )
        if upload is None:
            bar.caption("Upload a scenario YAML file to start from it.")
            return
        key = ("upload", upload.file_id, upload.name)
        data = upload.getvalue()
    if key == ss.loaded.key:
        return
    try:
        loaded = session.load_input(key, data)
    except InputError as exc:
        bar.error(
            f"Not loaded: {exc.message}. The settings and results shown are unchanged.",
            icon=":material/error:",
        )
        return
    session.use_loaded(loaded)


def settings_form() -> tuple[bool, dict[str, Any], Any, dict[str, Any]]:
    """The form: replications, seed and every value of the scenario by pathway stage.
    Returns (submitted, widget values by path, the form's message slot, slots by stage)."""
    ss = st.session_state
    current = ss.scenario.to_dict()
    loaded = ss.loaded.scenario.to_dict()
    origin = ss.loaded.origin
    gen = ss.gen
    values: dict[str, Any] = {}
    slots: dict[str, Any] = {}
    with st.sidebar.form("settings", border=False, enter_to_submit=True):
        left, right = st.columns(2)
        left.number_input(
            "Replications (trials)",
            min_value=1,
            max_value=MAX_REPS,
            step=100,
            key="reps",
            help=f"Simulated trials; more give narrower intervals (500 take a few seconds; "
            f"up to {MAX_REPS:,} here, more with the command line).",
        )
        right.number_input(
            "Seed",
            min_value=0,
            max_value=2**53 - 1,
            step=1,
            key="seed",
            help="Master seed: the same settings and seed give the same results.",
        )
        submitted = st.form_submit_button(
            "Run simulation", type="primary", width="stretch", icon=":material/play_arrow:"
        )
        message = st.empty()
        for stage in form.STAGES:
            with st.expander(stage):
                slots[stage] = st.empty()
                for p in form.params_in(stage):
                    key = f"g{gen}:{p.path}"
                    default = form.default_value(p.path, current, ss.fallback)
                    help = help_text(p, form.get_path(loaded, p.path), ss.loaded.sources, origin)
                    if p.kind in ("sites", "criteria"):
                        values[p.path] = inputs.table(p, key, current, help)
                        continue
                    on = True
                    if p.optional:
                        on = st.checkbox(
                            p.toggle,
                            value=form.get_path(current, p.path) is not None,
                            key=f"{key}:on",
                        )
                    if p.kind == "block":
                        default = form.get_path(current, p.path) is not None
                    value = inputs.widget(p, key, default, help)
                    values[p.path] = value if on else None
    return submitted, values, message, slots


def download_settings() -> None:
    """The settings of the last run (or as loaded) as a scenario file to download."""
    ss = st.session_state
    slug = "".join(c if c.isalnum() else "_" for c in ss.scenario.name.lower()).strip("_")
    st.sidebar.download_button(
        "Download these settings (YAML)",
        data=submit.settings_yaml(ss.scenario, ss.loaded.origin),
        file_name=f"{slug[:60] or 'scenario'}.yaml",
        mime="application/x-yaml",
        on_click="ignore",
        icon=":material/download:",
        width="stretch",
        help="The settings of the last run (or as loaded): a scenario file that loads back "
        "to the same scenario, here or with `python -m sim run`.",
    )


def handle_submit(values: dict[str, Any], message: Any, slots: dict[str, Any], status: Any) -> None:
    """Validate the form; run the model if the scenario is valid, else say what is wrong
    where it is (the last good results stay on screen)."""
    ss = st.session_state
    try:
        got, changed = submit.form_values(values)
        scenario = submit.build_scenario(ss.scenario, got)
    except InputError as exc:
        p = form.param_for_field(exc.field)
        where = f"{p.stage} › {p.title}: " if p else ""
        text = exc.message.removeprefix("settings: ")
        message.error(
            f"{where}{text}. Nothing was run; the results shown are from the last valid settings.",
            icon=":material/error:",
        )
        if p is not None:
            slots[p.stage].error(text, icon=":material/error:")
        return
    ss.scenario = scenario
    if changed:
        names = ", ".join(form.PARAMS_BY_PATH[c].label.lower() for c in changed)
        ss.notice = (
            f"Converted the distribution of {names} to the kind picked, keeping its mean "
            "and spread; check its values."
        )
    else:
        ss.notice = None
    run(scenario, status)
    if changed:
        st.rerun()  # draw the converted distribution's own fields


def run(scenario: Scenario, status: Any) -> None:
    """Run the model on ``scenario`` with the sidebar's replications and seed (a progress
    bar in ``status``) and show its results."""
    ss = st.session_state
    reps, seed = int(ss.reps), int(ss.seed)
    started = time.perf_counter()
    text = f"Simulating {reps:,} trials..."
    results = cache.run_with_bar(scenario, reps, seed, status, text)
    ss.run = views.view_from_results(results, scenario.name)
    ss.run_seconds = time.perf_counter() - started
