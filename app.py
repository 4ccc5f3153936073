"""The dashboard: ``streamlit run app.py`` (it opens on scenarios/baseline.yaml).

Thin by design: the sidebar builds a scenario (from a file, a saved run or an upload, every
value editable), the model runs only when the form is submitted, runs are cached by
scenario, seed and replications, and the views draw the results with the pure functions of
``sim.app.charts``. Wording and form logic live in the other modules of ``sim.app``; nothing
here is model logic.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime as dt
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from sim.app import charts, form, submit, tables
from sim.app import views as app_views
from sim.app.planning import observed, sensitivity, sizing
from sim.app.sources import help_text, read_sources
from sim.core.distributions import DIST_CLASSES, DIST_NAMES
from sim.core.errors import InputError
from sim.core.scenario import load_scenario, parse_scenario
from sim.core.yamlio import decode_text, read_text
from sim.forecast.observed import parse_log
from sim.io import store
from sim.report.text import date_label
from sim.run.runner import Results, run_replications, simulate

ROOT = Path(__file__).resolve().parent
SCENARIOS = ROOT / "scenarios"
DEFAULT_FILE = "baseline.yaml"
DEFAULT_REPS = 500
DEFAULT_SEED = 1
MAX_REPS = 20_000  # more: the command line (a cached run of this size holds ~30 MB)
SIDEBAR_PX = 480  # the inputs need room: tables and three-number distributions
SOURCE_KINDS = ("Scenario file", "Saved run", "Upload")
NO_RUN = "Press **Run simulation** in the sidebar to simulate the scenario."


# --- the model, cached -----------------------------------------------------------------------


class _Progress:
    """Moves a progress bar as replications finish (the model calls it with a count).

    The bar is updated in the context the run was started from, so Streamlit does not
    record the updates as part of the cached function's output (they would be replayed,
    on a block that no longer exists, at the next cache hit). With no ``total`` (a search
    of unknown length) it says how many trials have been simulated so far.
    """

    EVERY_S = 0.2
    """Seconds between two updates (each is a message to the browser)."""

    def __init__(self, bar: Any, total: int | None, what: str = "Simulating") -> None:
        self.bar, self.total, self.what, self.done = bar, total, what, 0
        self.context = contextvars.copy_context()
        self.shown = time.perf_counter()

    def __call__(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.shown < self.EVERY_S and (self.total is None or self.done < self.total):
            return
        self.shown = now
        self.context.run(self._draw)

    def _draw(self) -> None:
        if self.total is None:
            self.bar.caption(f":material/hourglass_top: {self.what}: {self.done:,} trials so far")
            return
        frac = min(self.done / self.total, 1.0)
        self.bar.progress(frac, f"{self.what}: {self.done:,} of {self.total:,} trials")

    def restart(self) -> None:
        self.done = 0


@st.cache_data(max_entries=16, show_spinner=False)
def run_model(
    scenario_yaml: str, seed: int, reps: int, _progress: _Progress | None = None
) -> Results:
    """``reps`` replications of the scenario (cached on its YAML, the seed and ``reps``)."""
    scenario = parse_scenario(scenario_yaml, source="settings")
    try:  # a pool of worker processes (the library runs small runs in this process)
        return run_replications(scenario, reps, seed, executor="process", progress=_progress)
    except Exception:  # a process pool cannot start here: the same results, in this process
        if _progress is not None:
            _progress.restart()
        return run_replications(scenario, reps, seed, executor="serial", progress=_progress)


@st.cache_data(max_entries=64, show_spinner=False)
def one_replication(
    scenario_yaml: str, seed: int, replication: int
) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Patients, resource timeline and end day of one replication (the same trial as
    replication ``replication`` of a run with this seed)."""
    rep = simulate(parse_scenario(scenario_yaml, source="settings"), seed, replication)
    return rep.patients, rep.timeline, float(rep.row["end_days"])


# --- loading inputs --------------------------------------------------------------------------


def load_input(key: tuple[str, ...], data: bytes | None = None) -> app_views.LoadedInput:
    """A scenario file, an uploaded file or a saved run; InputError if it cannot be used."""
    kind, name = key[0], key[-1]
    if kind == "file":
        text = read_text(str(SCENARIOS / name))
        scenario = parse_scenario(text, source=name)
        return app_views.LoadedInput(key, name, scenario, read_sources(text))
    if kind == "upload":
        text = decode_text(data or b"", name)
        scenario = parse_scenario(text, source=name)
        return app_views.LoadedInput(key, f"uploaded {name}", scenario, read_sources(text))
    run = store.load_run(name)
    view = app_views.view_from_stored(run)
    return app_views.LoadedInput(
        key, f"saved run {name!r}", view.scenario, read_sources(run.scenario_text), view
    )


def init_state() -> None:
    ss = st.session_state
    if "loaded" in ss:
        return
    loaded = load_input(("file", DEFAULT_FILE))
    ss.loaded = loaded
    ss.scenario = loaded.scenario
    ss.gen = 0
    ss.run = None
    ss.run_seconds = None
    ss.compare_views = None
    ss.notice = None
    ss.flash = None
    ss.reps = DEFAULT_REPS
    ss.seed = DEFAULT_SEED
    try:
        ss.fallback = load_scenario(str(SCENARIOS / DEFAULT_FILE)).to_dict()
    except InputError:
        ss.fallback = None


def use_loaded(loaded: app_views.LoadedInput) -> None:
    """Start the inputs from a newly loaded scenario (and show a saved run's results)."""
    ss = st.session_state
    ss.loaded = loaded
    ss.scenario = loaded.scenario
    ss.gen += 1  # new widget keys: every input starts from the loaded value
    ss.notice = None
    if loaded.view is not None:
        ss.run = loaded.view
        ss.run_seconds = None
        ss.reps = loaded.view.replications
        ss.seed = loaded.view.seed


def source_picker() -> None:
    """Choose what the inputs start from. A file that cannot be used is an inline message;
    the inputs and the results shown stay as they were."""
    ss = st.session_state
    bar = st.sidebar
    bar.header("Scenario")
    kind = bar.radio("Start from", SOURCE_KINDS, key="source_kind", horizontal=True)
    data = None
    if kind == "Scenario file":
        files = [p.name for p in app_views.scenario_files(SCENARIOS, DEFAULT_FILE)]
        name = bar.selectbox("Scenario file (scenarios/)", files, key="source_file")
        key: tuple[str, ...] = ("file", name)
    elif kind == "Saved run":
        try:
            runs = store.list_runs()
        except InputError as exc:
            bar.error(exc.message)
            return
        if runs.empty:
            bar.info("No saved runs yet: run a scenario, then save it in the Saved runs tab.")
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
        loaded = load_input(key, data)
    except InputError as exc:
        bar.error(
            f"Not loaded: {exc.message}. The settings and results shown are unchanged.",
            icon=":material/error:",
        )
        return
    use_loaded(loaded)


# --- the settings form -----------------------------------------------------------------------


def _widget(p: form.Param, key: str, default: Any, help: str) -> Any:
    """One input of the form, its kind chosen by the parameter's kind."""
    if p.kind == "number":
        return st.number_input(
            p.title,
            value=float(default),
            min_value=p.low,
            max_value=p.high,
            step=p.step,
            format=p.fmt,
            key=key,
            help=help,
        )
    if p.kind == "integer":
        return st.number_input(
            p.title,
            value=int(default),
            min_value=None if p.low is None else int(p.low),
            max_value=None if p.high is None else int(p.high),
            step=1,
            format="%d",
            key=key,
            help=help,
        )
    if p.kind == "prob":
        return st.number_input(
            p.title,
            value=float(default),
            min_value=0.0,
            max_value=1.0,
            step=0.01,
            format="%g",
            key=key,
            help=help,
        )
    if p.kind in ("bool", "block"):
        return st.checkbox(p.title, value=bool(default), key=key, help=help)
    if p.kind == "date":
        return st.date_input(
            p.title,
            value=default,
            min_value=dt.date(1900, 1, 1),
            max_value=dt.date(2200, 12, 31),
            format="YYYY-MM-DD",
            key=key,
            help=help,
        )
    if p.kind == "text":
        if p.path == "description":
            return st.text_area(p.title, value=default or "", key=key, help=help, height=90)
        return st.text_input(p.title, value=default or "", key=key, help=help)
    if p.kind == "choice":
        return st.selectbox(p.title, p.choices, index=p.choices.index(default), key=key, help=help)
    if p.kind == "dist":
        return _dist_widget(p, key, default, help)
    raise AssertionError(p.kind)


def _dist_widget(p: form.Param, key: str, default: Any, help: str) -> submit.DistInput:
    spec = submit.as_dist(default)
    shown = spec["dist"]
    chosen = st.selectbox(
        f"{p.title}: distribution",
        DIST_NAMES,
        index=DIST_NAMES.index(shown),
        key=f"{key}:dist",
        help=help + "\n\nPicking another kind converts the values on Run (same mean and "
        "spread); check them afterwards.",
    )
    names = DIST_CLASSES[shown].param_names()
    params: dict[str, Any] = {}
    if shown == "empirical":
        params["values"] = st.text_input(
            f"{p.label}: values ({p.unit}, separated by commas)",
            value=", ".join(f"{v:g}" for v in spec["values"]),
            key=f"{key}:{shown}:values",
        )
    else:
        for col, name in zip(st.columns(len(names)), names, strict=True):
            params[name] = col.number_input(
                f"{name} ({p.unit})",
                value=float(spec[name]),
                step=p.step,
                format=p.fmt,
                key=f"{key}:{shown}:{name}",
            )
    return submit.DistInput(shown, chosen, params)


def _table_widget(p: form.Param, key: str, current: dict[str, Any], help: str) -> pd.DataFrame:
    sources = st.session_state.loaded.sources
    cfg = st.column_config
    if p.kind == "sites":
        frame = tables.sites_frame(current["referral"]["sites"], sources)
        columns = {
            "name": cfg.TextColumn("Site", required=True, width="medium"),
            "rate_per_month": cfg.NumberColumn(
                "Rate (referrals/month)",
                min_value=0.0,
                format="%g",
                required=True,
                help="Mean referrals per month at full rate",
            ),
            "opens_day": cfg.NumberColumn(
                "Opens (day)", min_value=0.0, format="%g", help="Days from the trial start"
            ),
            "ramp_up_days": cfg.NumberColumn(
                "Ramp-up (days)",
                min_value=0.0,
                format="%g",
                help="Days from opening to the full rate",
            ),
            "rate_shape": cfg.NumberColumn(
                "Own gamma shape",
                min_value=0.0,
                format="%g",
                help="This site's rate uncertainty (gamma shape); empty: the shape set below "
                "for all sites",
            ),
            "source": cfg.TextColumn("Source of the default", disabled=True, width="large"),
        }
    else:
        frame = tables.criteria_frame(current["screening"]["criteria"], sources)
        columns = {
            "criterion": cfg.TextColumn("Criterion", required=True, width="medium"),
            "failure_prob": cfg.NumberColumn(
                "Fails (probability 0-1)",
                min_value=0.0,
                max_value=1.0,
                step=0.001,
                format="%.3f",
                required=True,
            ),
            "source": cfg.TextColumn("Source of the default", disabled=True, width="large"),
        }
    st.markdown(f"**{p.title}**", help=help)
    edited = st.data_editor(
        frame,
        column_config=columns,
        num_rows="dynamic",
        hide_index=True,
        key=key,
        width="stretch",
    )
    note = sources.notes.get(p.path)
    if note:
        st.caption(note)
    return edited


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
                        values[p.path] = _table_widget(p, key, current, help)
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
                    value = _widget(p, key, default, help)
                    values[p.path] = value if on else None
    return submitted, values, message, slots


def download_settings() -> None:
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


def run(scenario: Any, status: Any) -> None:
    ss = st.session_state
    reps, seed = int(ss.reps), int(ss.seed)
    with status:
        bar = st.progress(0.0, text=f"Simulating {reps:,} trials...")
    started = time.perf_counter()
    results = run_model(scenario.to_yaml(), seed, reps, _progress=_Progress(bar, reps))
    bar.empty()
    ss.run = app_views.view_from_results(results, scenario.name)
    ss.run_seconds = time.perf_counter() - started


# --- views -----------------------------------------------------------------------------------


def _chart(chart: Any, key: str) -> None:
    st.altair_chart(chart, width="stretch", key=key)


def _horizon_end(run: app_views.RunView) -> dt.date:
    return run.scenario.start_date + dt.timedelta(days=math.floor(run.scenario.horizon_days))


def view_inputs(scenario: Any) -> None:
    """The scenario as set, before it is run: what referrals it expects."""
    _chart(
        charts.referrals_chart(
            app_views.expected_referrals(scenario), deadline=scenario.target.deadline
        ),
        "referrals",
    )


def view_forecast(run: app_views.RunView) -> None:
    s = run.summary
    h = app_views.headline(s, _horizon_end(run))
    st.subheader(h.chance)
    dates = s.get("target_date") or {}
    prob = s.get("prob_target_by_deadline")
    a, b, c, d = st.columns(4)
    a.metric(
        "Chance by the deadline",
        "n/a" if prob is None else f"{prob:.0%}",
        help="Share of the simulated trials that reach the target by the end of the "
        "deadline day; interval: Wilson 95%.",
        border=True,
    )
    b.metric(
        "Median date of the target",
        _short_date(dates.get("p50")),
        help="Half the simulated trials reach the target by then.",
        border=True,
    )
    c.metric(
        "Early: 10th percentile",
        _short_date(dates.get("p10")),
        help="One simulated trial in ten reaches the target by then (80% interval: from "
        "this date to the 90th percentile).",
        border=True,
    )
    d.metric(
        "Late: 90th percentile",
        _short_date(dates.get("p90")),
        help="Nine simulated trials in ten reach the target by then.",
        border=True,
    )
    st.markdown(f"- {h.median}\n- {h.interval}\n- {h.reached}\n- {h.completion}")
    t = run.scenario.target
    _chart(
        charts.fan_chart(run.fan, target_count=t.count, milestone=t.milestone, deadline=t.deadline),
        "fan",
    )
    _chart(
        charts.target_date_chart(
            run.rows["time_to_target_days"].to_numpy(float),
            start_date=run.scenario.start_date,
            deadline=t.deadline,
            horizon_days=run.scenario.horizon_days,
            target_label=f"{t.count} {t.milestone}",
        ),
        "target_date",
    )


def _short_date(d: str | None) -> str:
    return f"{dt.date.fromisoformat(d):%b %Y}" if d else "beyond horizon"


def view_flow(run: app_views.RunView) -> None:
    s = run.summary
    _chart(charts.funnel_chart(s["funnel"], s["outcomes"]), "funnel")
    left, right = st.columns([3, 2])
    with left:
        _chart(charts.criteria_chart(s.get("screen_fail_by_criterion") or {}), "criteria")
    with right:
        st.markdown("**Outcomes** (patients, mean per simulated trial)")
        outcomes = pd.DataFrame(
            {
                "outcome": [k.replace("_", " ") for k in s["outcomes"]],
                "patients per trial": list(s["outcomes"].values()),
            }
        )
        st.dataframe(outcomes, hide_index=True, width="stretch")
        share = s.get("share_enrolled_infused")
        if share is not None:
            st.caption(f"{share:.0%} of enrolled patients are infused.")


def view_capacity(run: app_views.RunView) -> None:
    s = run.summary
    for col, (key, chart) in zip(
        st.columns(3),
        zip(
            ("utilisation", "wait", "queue"),
            charts.resource_charts(run.rows, s["resources"]),
            strict=True,
        ),
        strict=True,
    ):
        with col:
            _chart(chart, f"resource_{key}")
    table = pd.DataFrame(
        [
            {
                "resource": charts.RESOURCE_LABELS.get(r, r),
                "capacity": v.get("capacity"),
                "utilisation (%)": None if v.get("utilization") is None else 100 * v["utilization"],
                "mean wait (days)": v.get("mean_wait_days"),
                "mean queue (patients)": v.get("mean_queue_length"),
                "requests per trial": v.get("requests_granted"),
            }
            for r, v in s["resources"].items()
        ]
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={c: st.column_config.NumberColumn(format="%.2f") for c in table.columns[2:]},
    )
    _totals(run)
    per_trial = run.vein_to_vein is None
    values = run.rows["vein_to_vein_mean_days"].to_numpy(float) if per_trial else run.vein_to_vein
    _chart(charts.vein_to_vein_chart(values, per_trial_means=per_trial), "v2v")
    st.markdown("**In use and waiting over time, in one simulated trial**")
    rep = _replication_picker(run, "queue_rep")
    _, timeline, end = one_replication(run.scenario.to_yaml(), run.seed, rep)
    caps = {r: int(v["capacity"]) for r, v in s["resources"].items()}
    for resource, chart in zip(
        charts.RESOURCE_LABELS,
        charts.queue_charts(
            timeline, start_date=run.scenario.start_date, end_day=end, capacities=caps
        ),
        strict=True,
    ):
        _chart(chart, f"queue_{resource}")


def _totals(run: app_views.RunView) -> None:
    rows = run.rows
    items = (
        ("Bed-days", "bed_days", 1.0, "{:,.0f}", "days"),
        ("ICU-days", "icu_days", 1.0, "{:,.0f}", "days"),
        ("Fludarabine (g)", "fludarabine_mg", 1e-3, "{:,.1f}", "g"),
        ("Cyclophosphamide (g)", "cyclophosphamide_mg", 1e-3, "{:,.0f}", "g"),
    )
    st.markdown("**Per simulated trial** (mean)")
    for col, (label, key, scale, fmt, unit) in zip(st.columns(len(items)), items, strict=True):
        vals = rows[key].to_numpy(float) * scale
        lo, hi = np.percentile(vals, [10, 90])
        col.metric(
            label,
            fmt.format(vals.mean()),
            help=f"Mean over the simulated trials; 10th to 90th percentile "
            f"{fmt.format(lo)} to {fmt.format(hi)} {unit}.",
            border=True,
        )


def _replication_picker(run: app_views.RunView, key: str) -> int:
    n = run.replications
    value = st.number_input(
        f"Simulated trial (1 to {n:,})",
        min_value=1,
        max_value=n,
        step=1,
        key=key,
        help="One replication of the run: the same trial whatever the number of replications.",
    )
    return int(value) - 1


def view_patients(run: app_views.RunView) -> None:
    rep = _replication_picker(run, "gantt_rep")
    patients, _, _ = one_replication(run.scenario.to_yaml(), run.seed, rep)
    counts = patients["outcome"].value_counts()
    st.caption(
        f"{len(patients)} patients referred in simulated trial {rep + 1}: "
        + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
    )
    _chart(
        charts.gantt_chart(
            patients,
            start_date=run.scenario.start_date,
            title=f"Patient timeline, simulated trial {rep + 1}",
        ),
        "gantt",
    )
    with st.expander("Patient table (days from the trial start)"):
        st.dataframe(patients, hide_index=True, width="stretch")


# --- compare ---------------------------------------------------------------------------------

CURRENT = "Current settings"


def _compare_options() -> list[str]:
    options = [CURRENT]
    options += [f"File: {p.name}" for p in app_views.scenario_files(SCENARIOS, DEFAULT_FILE)]
    try:
        runs = store.list_runs()
        options += [f"Saved run: {n}" for n in reversed(runs["name"].tolist())]
    except InputError:
        pass
    return options


def _compare_view(option: str, status: Any) -> app_views.RunView:
    ss = st.session_state
    if option.startswith("Saved run: "):
        return app_views.view_from_stored(store.load_run(option.removeprefix("Saved run: ")))
    if option == CURRENT:
        scenario = ss.scenario
    else:
        scenario = load_scenario(str(SCENARIOS / option.removeprefix("File: ")))
    reps, seed = int(ss.reps), int(ss.seed)
    with status:
        bar = st.progress(0.0, text=f"Simulating {option}...")
    results = run_model(scenario.to_yaml(), seed, reps, _progress=_Progress(bar, reps))
    bar.empty()
    return app_views.view_from_results(results, scenario.name)


def view_compare(run: app_views.RunView | None) -> None:
    ss = st.session_state
    options = _compare_options()
    default = [
        o for o in ("File: baseline.yaml", "File: central_manufacturing.yaml") if o in options
    ]
    with st.form("compare"):
        picks = st.multiselect(
            "Runs to compare (the first is the reference)",
            options,
            default=default,
            key="compare_picks",
            help="Scenarios are run with the replications and seed of the sidebar, so they "
            "meet the same simulated patients (common random numbers) and their differences "
            "are paired.",
        )
        go = st.form_submit_button("Compare", icon=":material/compare_arrows:")
    status = st.container()
    if go:
        if len(picks) < 2:
            st.warning("Pick two or more runs to compare.")
        else:
            try:
                views = [_compare_view(o, status) for o in picks]
            except InputError as exc:
                st.error(exc.message)
                views = None
            if views:
                labels = app_views.unique_labels(v.label for v in views)
                ss.compare_views = [
                    dataclasses.replace(v, label=lab) for v, lab in zip(views, labels, strict=True)
                ]
    views = ss.compare_views
    if not views:
        st.info("Pick two or more scenarios or saved runs and press **Compare**.")
        return
    ref = views[0]
    st.markdown("**Side by side**")
    st.dataframe(_side_by_side(views), hide_index=True, width="stretch")
    t = ref.scenario.target
    _chart(
        charts.compare_fan_chart(
            [(v.label, v.fan) for v in views],
            series="infused",
            target_count=t.count,
            deadline=t.deadline,
        ),
        "compare_fan",
    )
    for other in views[1:]:
        st.markdown(
            f"**{other.label}** (this run) minus **{ref.label}** (reference), on the same "
            "simulated patients where the seeds match"
        )
        table = app_views.comparison_table(ref, other)
        if ref.seed != other.seed:
            st.caption("Different seeds: no common random numbers, so no paired interval.")
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            column_config={
                c: st.column_config.NumberColumn(format="%.3g")
                for c in table.columns
                if c not in ("figure", "paired 95% CI", "unpaired 95% CI", "pairs")
            },
        )


def _side_by_side(views: list[app_views.RunView]) -> pd.DataFrame:
    rows = []
    for v in views:
        s = v.summary
        d = s.get("target_date") or {}
        prob = s.get("prob_target_by_deadline")
        rows.append(
            {
                "run": v.label,
                "trials": v.replications,
                "seed": v.seed,
                "chance by deadline": "n/a" if prob is None else f"{prob:.0%}",
                "median target date": date_label(d.get("p50")) if d.get("p50") else "-",
                "80% interval": f"{_short_date(d.get('p10'))} to {_short_date(d.get('p90'))}",
                "infused per trial": s["funnel"]["infused"],
                "deteriorated per trial": s["outcomes"]["deteriorated"],
                "vein-to-vein mean (days)": (s.get("vein_to_vein_days") or {}).get("mean"),
            }
        )
    return pd.DataFrame(rows)


# --- saved runs ------------------------------------------------------------------------------


def _open_saved(name: str) -> None:
    st.session_state.source_kind = "Saved run"
    st.session_state.source_run = name


def view_saved(run: app_views.RunView | None) -> None:
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
    try:
        runs = store.list_runs()
    except InputError as exc:
        st.error(exc.message)
        return
    if runs.empty:
        st.info("No saved runs yet.")
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


# --- planning tools --------------------------------------------------------------------------
# Each runs on the scenario of the sidebar (as last run or loaded) with the sidebar's seed, on
# submit only; results are cached on the scenario's YAML, the seed, the replications and the
# tool's inputs, and the last result of each tool stays on screen across reruns.

SIZING_REPS = 100
SENSITIVITY_REPS = 50
OBSERVED_REPS = 200
MAX_PLANNING_REPS = 5_000


def _pooled(go: Callable[[str], Any], *progress: _Progress | None) -> Any:
    """``go(executor)`` on a pool of worker processes, else (no pool here) in this process;
    the same results either way (replications are seeded by their index)."""
    try:
        return go("process")
    except InputError:
        raise
    except Exception:
        for p in progress:
            if p is not None:
                p.restart()
        return go("serial")


@st.cache_data(max_entries=16, show_spinner=False)
def sizing_run(
    scenario_yaml: str,
    seed: int,
    reps: int,
    resources: tuple[str, ...],
    probability: float,
    max_units: int,
    criterion: str,
    _progress: _Progress | None = None,
    _grid_progress: _Progress | None = None,
) -> dict[str, Any]:
    """The sizing and its heat map (cached on the scenario, seed, replications and inputs)."""
    scenario = parse_scenario(scenario_yaml, source="settings")
    return _pooled(
        lambda executor: sizing.sizing_with_grid(
            scenario,
            resources,
            probability,
            reps=reps,
            seed=seed,
            max_units=max_units,
            criterion=criterion,
            executor=executor,
            progress=_progress,
            grid_progress=_grid_progress,
        ),
        _progress,
        _grid_progress,
    )


@st.cache_data(max_entries=16, show_spinner=False)
def sensitivity_run(
    scenario_yaml: str,
    seed: int,
    reps: int,
    ranges_name: str | None,
    ranges_text: str | None,
    _progress: _Progress | None = None,
) -> dict[str, Any]:
    """One-at-a-time sensitivity (cached on the scenario, seed, replications and ranges)."""
    scenario = parse_scenario(scenario_yaml, source="settings")
    params, _ = sensitivity.sensitivity_params(scenario, ranges_text, ranges_name or "ranges")
    return _pooled(
        lambda executor: sensitivity.run_sensitivity(
            scenario, params, reps=reps, seed=seed, executor=executor, progress=_progress
        ),
        _progress,
    )


@st.cache_data(max_entries=16, show_spinner=False)
def observed_run(
    scenario_yaml: str,
    seed: int,
    reps: int,
    log_text: str,
    as_of: dt.date,
    source: str,
    _progress: _Progress | None = None,
) -> observed.ForecastView:
    """The forecast updated by an observed log (cached on the scenario, seed, replications,
    the log's text and the as-of date)."""
    scenario = parse_scenario(scenario_yaml, source="settings")
    log = parse_log(log_text, scenario, as_of, source)
    return _pooled(
        lambda executor: observed.run_forecast(
            scenario, log, reps=reps, seed=seed, executor=executor, progress=_progress
        ),
        _progress,
    )


def _stale(done: dict[str, Any], button: str) -> None:
    """A note when the result shown was computed for other settings or another seed."""
    ss = st.session_state
    if done["scenario"].digest() != ss.scenario.digest() or done["seed"] != int(ss.seed):
        st.warning(
            f"The settings or seed have changed since this result: press **{button}** to "
            "update it.",
            icon=":material/info:",
        )


def _planning_caption(what: str) -> None:
    ss = st.session_state
    st.caption(
        f"{what} **{ss.scenario.name}**: the settings of the sidebar as last run or loaded, "
        f"with its seed ({int(ss.seed)}). Runs only when you press the button; results are "
        "kept for the same settings."
    )


def view_sizing(run: app_views.RunView | None) -> None:
    ss = st.session_state
    st.subheader("Capacity sizing")
    scenario = ss.scenario
    _planning_caption("The fewest units of the resources picked that reach the target of")
    if scenario.target.deadline is None:
        st.info(
            "Sizing needs a deadline: set one in the sidebar (Target and horizon › Deadline) "
            "and press **Run simulation**.",
            icon=":material/event:",
        )
        return
    options = sizing.sizeable(scenario)
    with st.form("sizing"):
        a, b, c = st.columns(3)
        wanted = a.number_input(
            "Wanted chance of the target by the deadline (%)",
            min_value=1,
            max_value=100,
            value=80,
            step=5,
            key="size_prob",
            help="The least probability of reaching the target by the deadline that will do.",
        )
        max_units = b.number_input(
            "Most units of each resource (count)",
            min_value=1,
            max_value=50,
            value=10,
            step=1,
            key="size_max",
            help="Each resource is sized from 1 to this many units.",
        )
        reps = c.number_input(
            "Replications per configuration (trials)",
            min_value=2,
            max_value=MAX_PLANNING_REPS,
            value=SIZING_REPS,
            step=50,
            key="size_reps",
            help="Simulated trials for each configuration tried (all on the same seed); "
            "more give narrower intervals and take longer.",
        )
        resources = st.multiselect(
            "Resources to size",
            options,
            default=[k for k in sizing.DEFAULT_RESOURCES if k in options],
            format_func=sizing.resource_title,
            key="size_resources",
        )
        strict = st.checkbox(
            "Stricter: the 95% lower bound must reach the wanted chance",
            key="size_strict",
            help="By default the estimate must reach it.",
        )
        go = st.form_submit_button("Size capacity", type="primary", icon=":material/tune:")
    status = st.empty()
    if go:
        if not resources:
            st.warning("Pick at least one resource to size.")
        else:
            args = (
                scenario.to_yaml(),
                int(ss.seed),
                int(reps),
                tuple(resources),
                float(wanted) / 100.0,
                int(max_units),
                "lower" if strict else "estimate",
            )
            search = _Progress(status, None, "Sizing")
            grid = _Progress(status, None, "Heat map")
            try:
                out = sizing_run(*args, _progress=search, _grid_progress=grid)
            except InputError as exc:
                st.error(exc.message, icon=":material/error:")
            else:
                ss.sizing_result = {"scenario": scenario, "seed": int(ss.seed), "out": out}
            status.empty()
    done = ss.get("sizing_result")
    if not done:
        st.info("Set what is wanted and press **Size capacity**.", icon=":material/tune:")
        return
    _stale(done, "Size capacity")
    result, heat = done["out"]["sizing"], done["out"]["heatmap"]
    words = sizing.sizing_words(result, heat)
    left, right = st.columns([3, 2])
    with left:
        st.markdown(words.answer)
        st.markdown("**One unit less of each resource:**")
        st.markdown("\n".join(f"- {e}" for e in words.evidence))
        st.caption(words.effort)
        for note in words.notes:
            st.caption(f"Note: {note}")
    with right:
        t = result["target"]
        st.altair_chart(
            charts.sizing_heatmap_chart(
                sizing.heatmap_points(heat),
                rows=sizing.HEAT_ROWS,
                columns=sizing.HEAT_COLUMNS,
                row_title="Manufacturing suites (count)",
                column_title="Apheresis slots (count)",
                chosen=sizing.chosen_config(result),
                wanted=result["probability_wanted"],
                chosen_label="answer" if result["feasible"] else "fewest units",
                title=f"Chance of {t['count']} {t['milestone']} by {date_label(t['deadline'])}",
                subtitle=sizing.heatmap_subtitle(result, heat),
            ),
            width="content",
            key="sizing_heatmap",
        )
        st.caption(words.grid)
    with st.expander("Every configuration simulated"):
        st.dataframe(sizing.evaluations_table(result), hide_index=True, width="stretch")


def _ranges_choices() -> tuple[list[str], int]:
    """The ranges files and the default ranges; the baseline's file first when the
    baseline was loaded, else the default ranges."""
    ss = st.session_state
    names = [f"ranges/{p.name}" for p in sensitivity.ranges_files(SCENARIOS)]
    choices = [*names, sensitivity.DEFAULT_RANGES]
    own = "ranges/" + DEFAULT_FILE
    pick = own if ss.loaded.key == ("file", DEFAULT_FILE) and own in names else None
    return choices, choices.index(pick) if pick else len(choices) - 1


def view_sensitivity(run: app_views.RunView | None) -> None:
    ss = st.session_state
    st.subheader("Sensitivity, one parameter at a time")
    scenario = ss.scenario
    _planning_caption("What moves the median time to the target and the chance by the deadline of")
    choices, index = _ranges_choices()
    with st.form("sensitivity"):
        a, b = st.columns([3, 1])
        ranges = a.selectbox(
            "Ranges of the parameters",
            choices,
            index=index,
            key=f"sens_ranges:{ss.gen}",
            help="A ranges file of scenarios/ranges/ (dotted.key: [low, high], each with its "
            "source), or ±25% of every number of the scenario (whole counts ±1).",
        )
        reps = b.number_input(
            "Replications per run (trials)",
            min_value=2,
            max_value=MAX_PLANNING_REPS,
            value=SENSITIVITY_REPS,
            step=50,
            key="sens_reps",
            help="Simulated trials for the base and for each end of each range (all on the "
            "same seed, so differences are the parameter's effect, not chance).",
        )
        go = st.form_submit_button("Run sensitivity", type="primary", icon=":material/tornado:")
    status = st.empty()
    if go:
        name = None if ranges == sensitivity.DEFAULT_RANGES else str(ranges)
        try:
            text = read_text(str(SCENARIOS / name)) if name else None
            params, _ = sensitivity.sensitivity_params(scenario, text, name or "ranges")
            total = sensitivity.sensitivity_runs(params) * int(reps)
            bar = _Progress(status, total, f"{len(params)} parameters")
            status.progress(0.0, f"{len(params)} parameters: {total:,} trials to simulate")
            out = sensitivity_run(
                scenario.to_yaml(), int(ss.seed), int(reps), name, text, _progress=bar
            )
        except InputError as exc:
            st.error(
                f"{exc.message}. Pick the ±25% ranges, or fix the file.", icon=":material/error:"
            )
        else:
            ss.sensitivity_result = {
                "scenario": scenario,
                "seed": int(ss.seed),
                "ranges": ranges,
                "out": out,
            }
        status.empty()
    done = ss.get("sensitivity_result")
    if not done:
        st.info("Pick the ranges and press **Run sensitivity**.", icon=":material/tornado:")
        return
    _stale(done, "Run sensitivity")
    result = done["out"]
    words = sensitivity.sensitivity_words(result, done["scenario"])
    st.markdown("\n".join(f"- {line}" for line in words))
    st.caption(
        f"Ranges: {done['ranges']}; {len(result['parameters'])} parameters, {result['runs']} "
        f"runs of {result['replications']:,} simulated trials (seed {result['seed']}, common "
        "random numbers). The median counts trials that never reach the target at the end of "
        "the horizon."
    )
    for output, (x_title, scale, fmt, unit) in sensitivity.FIGURES.items():
        rows = sensitivity.tornado_rows(result, output)
        if not rows:
            continue
        _chart(
            charts.tornado_chart(
                rows,
                result["base"][output],
                x_title=x_title,
                title=x_title.rsplit(" (", 1)[0],
                scale=scale,
                fmt=fmt,
                unit=unit if unit == "%" else f" {unit}",
            ),
            f"tornado_{output}",
        )
    with st.expander("Every parameter: its range and both figures at each end"):
        st.dataframe(
            sensitivity.sensitivity_table(result),
            hide_index=True,
            width="stretch",
            column_config={
                c: st.column_config.NumberColumn(format="%.4g") for c in ("low", "high")
            },
        )


EXAMPLE = f"Shipped example ({observed.EXAMPLE_LOG}, the baseline to {observed.EXAMPLE_AS_OF})"
UPLOAD = "Upload a log (CSV)"


def _observed_log(choice: str, upload: Any) -> tuple[str, str] | None:
    """The log's text and name; None (with a message) when nothing was uploaded."""
    if choice == EXAMPLE:
        return read_text(str(SCENARIOS / observed.EXAMPLE_LOG)), observed.EXAMPLE_LOG
    if upload is None:
        st.warning("Choose a CSV file to upload, or use the shipped example.")
        return None
    return observed.read_log_upload(upload.getvalue(), upload.name), upload.name


def view_observed(run: app_views.RunView | None) -> None:
    ss = st.session_state
    st.subheader("Forecast from observed data")
    scenario = ss.scenario
    _planning_caption("The forecast updated by the patients seen so far, with the prior from")
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
            min_value=dt.date(1900, 1, 1),
            max_value=dt.date(2200, 12, 31),
            format="YYYY-MM-DD",
            key="obs_as_of",
        )
        reps = b.number_input(
            "Replications (trials)",
            min_value=2,
            max_value=MAX_PLANNING_REPS,
            value=OBSERVED_REPS,
            step=100,
            key="obs_reps",
            help="Simulated trials of the prior forecast and of the updated one.",
        )
        go = st.form_submit_button("Update the forecast", type="primary", icon=":material/update:")
    status = st.empty()
    if go:
        try:
            got = _observed_log(choice, upload)
            if got is not None:
                text, name = got
                parse_log(text, scenario, as_of, name)  # a bad log: its message, nothing run
                bar = _Progress(status, 2 * int(reps), "Forecasting")
                status.progress(0.0, "Forecasting...")
                view = observed_run(
                    scenario.to_yaml(), int(ss.seed), int(reps), text, as_of, name, _progress=bar
                )
                ss.observed_result = {
                    "scenario": scenario,
                    "seed": int(ss.seed),
                    "view": view,
                }
        except InputError as exc:
            st.error(f"Not used: {observed.app_message(exc)}", icon=":material/error:")
        status.empty()
    done = ss.get("observed_result")
    if not done:
        st.info(
            "Pick a log and its as-of date and press **Update the forecast**.",
            icon=":material/update:",
        )
        return
    _stale(done, "Update the forecast")
    view: observed.ForecastView = done["view"]
    scenario = done["scenario"]
    s = view.summary
    st.markdown(f"**What {view.source} says** (prior → posterior)")
    st.markdown("\n".join(f"- {line}" for line in observed.posterior_words(s)))
    horizon = scenario.start_date + dt.timedelta(days=math.floor(scenario.horizon_days))
    prior, updated = s["prior_forecast"], s["updated_forecast"]
    cols = st.columns(2)
    for col, head, f, other in (
        (cols[0], "Prior forecast (the scenario alone)", prior, None),
        (cols[1], f"Updated forecast (observed to {date_label(view.as_of)})", updated, prior),
    ):
        with col, st.container(border=True):
            h = app_views.headline(f, horizon)
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
            m2.metric("Median date of the target", _short_date(d))
            st.markdown(f"{h.chance}.  \n{h.median}.  \n{h.interval}.")
    t = scenario.target
    _chart(
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
        _chart(
            charts.fan_chart(
                view.prior_fan,
                target_count=t.count,
                milestone=t.milestone,
                deadline=t.deadline,
                title="Prior forecast: cumulative patients enrolled and infused",
            ),
            "observed_prior_fan",
        )


# --- the page --------------------------------------------------------------------------------

ViewFn = Callable[[Any], None]

VIEWS: tuple[tuple[str, ViewFn, bool], ...] = (
    # (tab title, function of the current run, needs a run)
    ("Forecast", view_forecast, True),
    ("Patient flow", view_flow, True),
    ("Capacity", view_capacity, True),
    ("Patients", view_patients, True),
    ("Compare", view_compare, False),
    ("Saved runs", view_saved, False),
)

# The planning tools: (tab title, function of the current run, needs a run). They run on the
# sidebar's scenario, not on a run's results. No title contains another tab's title (the
# browser test finds tabs by name, and a name matches as a part of a longer one).
PLANNING_VIEWS: tuple[tuple[str, ViewFn, bool], ...] = (
    ("Sizing", view_sizing, False),
    ("Sensitivity", view_sensitivity, False),
    ("Observed data", view_observed, False),
)


def header(status: Any) -> None:
    ss = st.session_state
    st.title("CAR-T trial logistics")
    run = ss.run
    if run is None:
        st.caption(f"Scenario: {ss.scenario.name}. {NO_RUN}")
        return
    took = f", {ss.run_seconds:.1f} s" if ss.run_seconds is not None else ""
    saved = f" (saved as {run.saved_as!r})" if run.saved_as else ""
    st.caption(
        f"Results: **{run.label}**{saved} — {run.replications:,} simulated trials, "
        f"seed {run.seed}{took}."
    )
    if run.scenario.digest() != ss.scenario.digest():
        status.warning(
            "The settings differ from the run shown: press **Run simulation** to update.",
            icon=":material/info:",
        )


def main() -> None:
    st.set_page_config(
        page_title="CAR-T trial logistics", layout="wide", initial_sidebar_state=SIDEBAR_PX
    )
    init_state()
    ss = st.session_state
    top = st.container()
    status = st.container()
    source_picker()
    submitted, values, message, slots = settings_form()
    if ss.notice:
        st.sidebar.info(ss.notice, icon=":material/info:")
    if submitted:
        handle_submit(values, message, slots, status)
    download_settings()
    with top:
        header(status)
    views = VIEWS + PLANNING_VIEWS
    for tab, (title, fn, needs_run) in zip(st.tabs([v[0] for v in views]), views, strict=True):
        with tab:
            if needs_run and ss.run is None:
                st.info(NO_RUN, icon=":material/play_arrow:")
                if title == "Forecast":
                    view_inputs(ss.scenario)
            else:
                fn(ss.run)


main()
