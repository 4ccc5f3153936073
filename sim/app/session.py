"""The dashboard's session: where scenarios are found, what the inputs start from, and the
state kept across reruns (``st.session_state``)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from sim.app.sources import read_sources
from sim.app.views import LoadedInput, view_from_stored
from sim.core.errors import InputError
from sim.core.scenario import load_scenario, parse_scenario
from sim.core.yamlio import decode_text, read_text
from sim.io import store

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
DEFAULT_FILE = "baseline.yaml"
DEFAULT_REPS = 500
DEFAULT_SEED = 1


def load_input(key: tuple[str, ...], data: bytes | None = None) -> LoadedInput:
    """A scenario file, an uploaded file or a saved run; InputError if it cannot be used."""
    kind, name = key[0], key[-1]
    if kind == "file":
        text = read_text(str(SCENARIOS / name))
        scenario = parse_scenario(text, source=name)
        return LoadedInput(key, name, scenario, read_sources(text))
    if kind == "upload":
        text = decode_text(data or b"", name)
        scenario = parse_scenario(text, source=name)
        return LoadedInput(key, f"uploaded {name}", scenario, read_sources(text))
    run = store.load_run(name)
    view = view_from_stored(run)
    return LoadedInput(
        key, f"saved run {name!r}", view.scenario, read_sources(run.scenario_text), view
    )


def init_state() -> None:
    """The session's first state: baseline.yaml loaded, nothing run."""
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


def use_loaded(loaded: LoadedInput) -> None:
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
