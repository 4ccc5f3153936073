"""The sidebar: what the inputs start from (a scenario file, a saved run or an upload), the
settings (every value of the scenario by pathway stage, checked as typed) and the settings'
download. The model runs only on Run with valid settings (or, on arrival, the settings the
page's address holds)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from sim.app import cache, edits, form, session, submit, views
from sim.app.pages import inputs
from sim.app.pages.common import saved_runs
from sim.app.sources import help_text
from sim.core.errors import InputError
from sim.core.scenario import Scenario
from sim.run.budget import WORK_BUDGET, estimate_work

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


def settings() -> None:
    """The settings, in the sidebar: replications, seed and every value of the scenario by
    pathway stage, checked as they are typed (a fragment: an edit reruns the sidebar
    alone). While any value is not allowed, Run is disabled and the field says why; Run
    with valid settings reruns the page, which runs them."""
    with st.sidebar:
        _settings()


@st.fragment
def _settings() -> None:
    ss = st.session_state
    run_slot = st.empty()  # the Run button, drawn once every field is read and checked
    message = st.empty()
    left, right = st.columns(2)
    left.number_input(
        "Replications (trials)",
        step=100,
        key="reps",
        help=f"Simulated trials; more give narrower intervals (500 take a few seconds; "
        f"1 to {session.MAX_REPS:,} here, more with the command line).",
    )
    right.number_input(
        "Seed",
        step=1,
        key="seed",
        help="Master seed: the same settings and seed give the same results.",
    )
    problems: dict[str, str] = {}
    for key, low, high, what in (
        ("reps", 1, session.MAX_REPS, "Replications"),
        ("seed", 0, session.MAX_SEED, "Seed"),
    ):
        v = ss[key]
        if v is None or float(v) != int(v) or not low <= int(v) <= high:
            problems[key] = f"{what} = {v}: it must be a whole number from {low:,} to {high:,}"
    slots: dict[str, Any] = {"reps": left.empty(), "seed": right.empty()}
    values = _fields(slots, problems)
    scenario, changed = None, []
    if not problems:
        try:
            got, changed = submit.form_values(values)
            scenario = submit.build_scenario(ss.scenario, got)
        except InputError as exc:
            path, text = edits.plain_message(exc)
            problems[path or "top"] = text
    for path, text in problems.items():
        slot = slots.get(path) or slots["top"]
        slot.error(text, icon=":material/error:")
    if problems:
        n = len(problems)
        message.error(
            f"{n} setting{'s' if n > 1 else ''} not allowed (shown in red below): Run is "
            "off until fixed. The results shown are from the last valid settings.",
            icon=":material/block:",
        )
    clicked = run_slot.button(
        "Run simulation",
        type="primary",
        width="stretch",
        icon=":material/play_arrow:",
        disabled=bool(problems),
        key="run_button",
    )
    if clicked and scenario is not None and not problems:
        own = ss.own_name or values.get("name") != ss.scenario.name
        ss.own_name = own
        ss.pending = edits.named(ss.loaded.scenario, scenario, scenario.name if own else None)
        ss.notice = _converted_notice(changed)
        st.rerun(scope="app")


def _converted_notice(changed: list[str]) -> str | None:
    if not changed:
        return None
    names = ", ".join(form.PARAMS_BY_PATH[c].label.lower() for c in changed)
    return (
        f"Converted the distribution of {names} to the kind picked, keeping its mean "
        "and spread; check its values."
    )


def _fields(slots: dict[str, Any], problems: dict[str, str]) -> dict[str, Any]:
    """Every value of the scenario by pathway stage, each with a slot for its message
    below it (``slots``); the number fields' own problems go in ``problems``."""
    ss = st.session_state
    current = ss.scenario.to_dict()
    loaded = ss.loaded.scenario.to_dict()
    origin = ss.loaded.origin
    values: dict[str, Any] = {}
    slots["top"] = st.empty()
    off: list[str] = []  # parts switched off: their values are not asked
    for stage in form.STAGES:
        with st.expander(stage):
            for p in form.params_in(stage):
                if p.kind == "labels" or p.path.startswith(tuple(o + "." for o in off)):
                    continue  # the labels are a column of the criteria's table
                key = f"g{ss.gen}:{p.path}"
                default = form.default_value(p.path, current, ss.fallback)
                help = help_text(p, form.get_path(loaded, p.path), ss.loaded.sources, origin)
                if p.kind in ("sites", "criteria", "table"):
                    draw = inputs.rows_table if p.kind == "table" else inputs.table
                    values[p.path] = draw(p, key, default if p.kind == "table" else current, help)
                    slots[p.path] = st.empty()
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
                if p.kind == "block" and not value:
                    off.append(p.path)
                slots[p.path] = st.empty()
                problem = edits.field_problem(p, values[p.path]) if on else None
                if problem:
                    problems[p.path] = f"{stage} › {problem}"
    return values


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


def run_pending(status: Any) -> None:
    """Run the settings waiting to run (from Run, or the page's address on arrival) with
    the sidebar's replications and seed, a progress bar in ``status``; then they are the
    run shown, the address holds them and the change from the previous run is said."""
    ss = st.session_state
    scenario = ss.pending
    if scenario is None:
        return
    ss.pending = None
    reps, seed = int(ss.reps), int(ss.seed)
    if not _may_run(scenario, reps, status):
        return
    text = f"Simulating {reps:,} trials..."
    timed = cache.run_with_bar(scenario, reps, seed, status, text)
    before = ss.run
    ss.scenario = scenario
    ss.run = timed.view
    ss.run_seconds = timed.seconds
    ss.changed = (
        edits.what_changed(
            before.summary,
            timed.view.summary,
            (before.scenario, before.replications, before.seed),
            (scenario, reps, seed),
        )
        if before is not None
        else None
    )
    session.sync_address()


def _may_run(scenario: Scenario, reps: int, status: Any) -> bool:
    """Whether to run now: yes within the work budget, or once the user has said to go ahead
    with this very run; else the estimate and a button to go ahead (nothing runs)."""
    ss = st.session_state
    work = estimate_work(scenario, reps)
    key = (scenario.digest(), reps)
    if not work.over_budget() or ss.get("large_run_allowed") == key:
        ss.large_run_allowed = None
        return True

    def go_ahead() -> None:
        ss.large_run_allowed = key
        ss.pending = scenario

    with status:
        st.warning(
            f"This run is large: {work.describe()}, beyond the "
            f"{WORK_BUDGET:,} this dashboard runs without asking (about "
            f"{work.core_minutes:,.0f} minutes of one core). Lower the replications or the "
            "referral rates, or run it anyway.",
            icon=":material/hourglass_top:",
        )
        st.button("Run it anyway", key="run_large", on_click=go_ahead)
    return False
