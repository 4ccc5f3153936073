"""The model runs of the dashboard, cached by Streamlit, and the progress bar they move.

A run of the model is cached on the scenario's YAML, the seed and the replications for
every visitor (``st.cache_resource``: the default scenario's forecast is computed once);
the planning tools' runs on their inputs too (``st.cache_data``). Arguments whose name
starts with ``_`` (the progress bars) are not part of the key. The runner is looked up at
each call (``runner.run_replications``), so a test can count the runs.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
import streamlit as st

from sim.app.planning import facility, observed, sensitivity, sizing
from sim.app.views import RunView, view_from_results
from sim.core.errors import InputError
from sim.core.scenario import Scenario, parse_scenario
from sim.forecasting.observed import parse_log
from sim.planning.goal import goal
from sim.run import runner


class SessionEnded(Exception):
    """The browser session that started a run has ended: the run stops (its workers too)."""


def _session_id() -> str | None:
    """The id of the browser session this code runs for (None outside a served app)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    return ctx.session_id if ctx is not None else None


def _session_alive(session_id: str | None) -> bool:
    from streamlit import runtime

    if session_id is None or not runtime.exists():
        return True
    return runtime.get_instance().is_active_session(session_id)


class ProgressBar:
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
        self.session = _session_id()

    def __call__(self, n: int) -> None:
        """``n`` more trials done; raises :class:`SessionEnded` when the session that asked
        for the run has gone (the browser closed), so that the run stops."""
        self.done += n
        now = time.perf_counter()
        if now - self.shown < self.EVERY_S and (self.total is None or self.done < self.total):
            return
        self.shown = now
        if not _session_alive(self.session):
            raise SessionEnded(f"the session ended after {self.done:,} trials")
        self.context.run(self._draw)

    def _draw(self) -> None:
        if self.total is None:
            self.bar.caption(f":material/hourglass_top: {self.what}: {self.done:,} trials so far")
            return
        frac = min(self.done / self.total, 1.0)
        self.bar.progress(frac, f"{self.what}: {self.done:,} of {self.total:,} trials")

    def restart(self) -> None:
        """Count again from zero (a run started over in this process)."""
        self.done = 0


def _pooled(go: Callable[[str], Any], *progress: ProgressBar | None) -> Any:
    """``go(executor)`` on a pool of worker processes, else (no pool here) in this process;
    the same results either way (replications are seeded by their index)."""
    try:
        return go("process")
    except (InputError, SessionEnded):
        raise
    except Exception:
        for p in progress:
            if p is not None:
                p.restart()
        return go("serial")


@st.cache_resource(max_entries=16, show_spinner=False)
def run_view(
    scenario_yaml: str, seed: int, reps: int, _progress: ProgressBar | None = None
) -> RunView:
    """``reps`` replications of the scenario as a view, cached on its YAML, the seed and
    ``reps`` for every visitor (a resource: shared, never copied; nothing changes it)."""
    scenario = parse_scenario(scenario_yaml, source="settings")
    results = _pooled(
        lambda executor: runner.run_replications(
            scenario, reps, seed, executor=executor, progress=_progress
        ),
        _progress,
    )
    return view_from_results(results, scenario.name)


@dataclass(frozen=True)
class Timed:
    """A run as shown: the view, and the seconds it took (None when it came from the
    cache)."""

    view: RunView
    seconds: float | None


def run_with_bar(scenario: Scenario, reps: int, seed: int, status: Any, text: str) -> Timed:
    """:func:`run_view` with a progress bar in the ``status`` container, removed at the end;
    the time it took, or None when it came from the cache (the model reported no trial)."""
    with status:
        bar = st.progress(0.0, text=text)
    progress = ProgressBar(bar, reps)
    started = time.perf_counter()
    view = run_view(scenario.to_yaml(), seed, reps, _progress=progress)
    bar.empty()
    took = time.perf_counter() - started
    return Timed(view, took if progress.done else None)


class OneTrial(NamedTuple):
    """One simulated trial's tables: its patients, resource timeline, end day and event log."""

    patients: pd.DataFrame
    timeline: pd.DataFrame
    end: float
    events: pd.DataFrame


@st.cache_data(max_entries=64, show_spinner=False)
def one_replication(scenario_yaml: str, seed: int, replication: int) -> OneTrial:
    """Patients, resource timeline, end day and events of one replication (the same trial
    as replication ``replication`` of a run with this seed)."""
    rep = runner.simulate(parse_scenario(scenario_yaml, source="settings"), seed, replication)
    return OneTrial(rep.patients, rep.timeline, float(rep.row["end_days"]), rep.events)


@st.cache_data(max_entries=16, show_spinner=False)
def sizing_run(
    scenario_yaml: str,
    seed: int,
    reps: int,
    resources: tuple[str, ...],
    probability: float,
    max_units: int,
    _progress: ProgressBar | None = None,
    _grid_progress: ProgressBar | None = None,
) -> dict[str, Any]:
    """The sizing and its heat map (cached on the scenario, seed, replications and inputs)."""
    scenario = parse_scenario(scenario_yaml, source="settings")
    given = {"reps": reps, "seed": seed, "max_units": max_units}
    bars = {"progress": _progress, "grid_progress": _grid_progress}
    return _pooled(
        lambda executor: sizing.sizing_with_grid(
            scenario, resources, probability, executor=executor, **given, **bars
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
    method: str = "oat",
    samples: int = 0,
    _progress: ProgressBar | None = None,
) -> dict[str, Any]:
    """Sensitivity by ``method`` (cached on the scenario, seed, replications, ranges, method
    and samples; ``samples`` 0: the method's default)."""
    scenario = parse_scenario(scenario_yaml, source="settings")
    params, _ = sensitivity.sensitivity_params(
        scenario, ranges_text, ranges_name or "ranges", method
    )
    kw = {"reps": reps, "seed": seed, "progress": _progress, "method": method}
    kw["samples"] = samples or None
    run = sensitivity.run_sensitivity
    return _pooled(lambda ex: run(scenario, params, executor=ex, **kw), _progress)


@st.cache_data(max_entries=16, show_spinner=False)
def observed_run(
    scenario_yaml: str,
    seed: int,
    reps: int,
    log_text: str,
    as_of: dt.date,
    source: str,
    _progress: ProgressBar | None = None,
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


@st.cache_data(max_entries=16, show_spinner=False)
def goal_run(
    scenario_yaml: str,
    seed: int,
    reps: int,
    probability: float,
    levers: tuple[str, ...],
    _progress: ProgressBar | None = None,
) -> dict[str, Any]:
    """What must change (cached on the scenario, seed, replications, chance and levers)."""
    scenario = parse_scenario(scenario_yaml, source="settings")
    kw = {"levers": levers, "reps": reps, "seed": seed, "progress": _progress}
    return _pooled(lambda ex: goal(scenario, probability, executor=ex, **kw), _progress)


@st.cache_data(max_entries=8, show_spinner=False)
def facility_run(
    path: str, digest: str, seed: int, reps: int, _progress: ProgressBar | None = None
) -> dict[str, Any]:
    """A facility's summary (cached on the facility's digest, which covers its trials'
    files, the seed and the replications)."""
    fac = facility.load(Path(path))
    return _pooled(
        lambda ex: facility.run(fac, reps=reps, seed=seed, executor=ex, progress=_progress),
        _progress,
    )
