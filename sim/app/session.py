"""The dashboard's session: where scenarios are found, what the inputs start from, the
state kept across reruns (``st.session_state``) and the part of it the page's address keeps
(``st.query_params``: the source, the edits, replications and seed; the tab binds itself),
so that a reload or a shared link shows the same result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from sim.app import edits
from sim.app.sources import read_sources
from sim.app.views import LoadedInput, view_from_stored
from sim.core.errors import InputError
from sim.core.scenario import Scenario, load_scenario, parse_scenario
from sim.core.yamlio import decode_text, read_text
from sim.io import store

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
DEFAULT_FILE = "baseline.yaml"
DEFAULT_REPS = 500
DEFAULT_SEED = 1
MAX_REPS = 20_000  # more: the command line (a cached run of this size holds ~30 MB)
MAX_SEED = 2**53 - 1
FALLBACK_FILES = (DEFAULT_FILE, "phase1_3plus3.yaml")
"""Where an input starts from when the scenario leaves its part out (a part switched on in
the form): the first of these files that sets it (its dose-finding phase from the second)."""
URL_KEYS = ("src", "set", "reps", "seed")
"""The page's own query parameters (the tab's, ``tab``, is bound by its widget)."""


def load_input(key: tuple[str, ...], data: bytes | None = None) -> LoadedInput:
    """A scenario file, an uploaded file or a saved run; InputError if it cannot be used."""
    kind, name = key[0], key[-1]
    if kind == "file":
        if name not in {p.name for p in SCENARIOS.glob("*.y*ml")}:
            raise InputError("no such scenario file in scenarios/", field="file", value=name)
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


def _whole(text: str | None, low: int, high: int, default: int) -> int | None:
    """A whole number from the address, or None when it is there but not allowed."""
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        return None
    return value if low <= value <= high else None


def _from_address() -> tuple[tuple[str, ...], list[str], int, int, list[str]]:
    """The source, edits, replications and seed the page's address holds, and what in it
    could not be used (in words)."""
    q = st.query_params
    bad: list[str] = []
    src = q.get("src", f"file:{DEFAULT_FILE}")
    kind, _, name = src.partition(":")
    key: tuple[str, ...] = ("file", DEFAULT_FILE)
    if kind == "file" and name:
        key = ("file", name)
    elif kind == "run" and name:
        key = ("run", name)
    else:
        bad.append(f"src = {src!r} (a scenario file, file:NAME, or a saved run, run:NAME)")
    reps = _whole(q.get("reps"), 1, MAX_REPS, DEFAULT_REPS)
    if reps is None:
        bad.append(f"reps = {q.get('reps')!r} (a whole number from 1 to {MAX_REPS:,})")
        reps = DEFAULT_REPS
    seed = _whole(q.get("seed"), 0, MAX_SEED, DEFAULT_SEED)
    if seed is None:
        bad.append(f"seed = {q.get('seed')!r} (a whole number from 0 to {MAX_SEED:,})")
        seed = DEFAULT_SEED
    return key, q.get_all("set"), reps, seed, bad


def init_state() -> None:
    """The session's first state, from the page's address (by default baseline.yaml, 500
    replications, seed 1) with its run to show: opened from the store, or to run (cached
    for every visitor, so the first screen holds the answer)."""
    ss = st.session_state
    if "loaded" in ss:
        return
    key, overrides, reps, seed, bad = _from_address()
    try:
        loaded = load_input(key)
    except InputError as exc:
        bad.append(exc.message)
        loaded, overrides = load_input(("file", DEFAULT_FILE)), []
    scenario = loaded.scenario
    if overrides and loaded.view is None:
        try:
            scenario = edits.from_overrides(loaded.scenario, overrides)
        except InputError as exc:
            bad.append(edits.plain_message(exc)[1])
    ss.loaded = loaded
    ss.scenario = scenario
    ss.own_name = False
    ss.gen = 0
    ss.run = loaded.view
    ss.run_seconds = None
    ss.pending = None if loaded.view is not None else scenario
    ss.changed = None
    ss.compare_views = None
    ss.notice = (
        "The page's address held settings that cannot be used, so they were left out: "
        + "; ".join(bad)
        + "."
        if bad
        else None
    )
    ss.flash = None
    ss.reps = loaded.view.replications if loaded.view is not None else reps
    ss.seed = loaded.view.seed if loaded.view is not None else seed
    ss.source_kind = "Saved run" if key[0] == "run" else "Scenario file"
    if key[0] == "run":
        ss.source_run = key[1]
    else:
        ss.source_file = loaded.key[-1]
    ss.fallback = fallback_values()


def fallback_values() -> dict[str, Any] | None:
    """The values of :data:`FALLBACK_FILES`, the first file's where it sets them, else the
    next's (None when none can be read)."""
    merged: dict[str, Any] | None = None
    for name in FALLBACK_FILES:
        try:
            data = load_scenario(str(SCENARIOS / name)).to_dict()
        except InputError:
            continue
        merged = data if merged is None else _fill(merged, data)
    return merged


def _fill(first: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """``first`` with what it leaves out (None or missing) taken from ``other``."""
    out = dict(first)
    for key, value in other.items():
        mine = out.get(key)
        if mine is None:
            out[key] = value
        elif isinstance(mine, dict) and isinstance(value, dict):
            out[key] = _fill(mine, value)
    return out


def use_loaded(loaded: LoadedInput) -> None:
    """Start the inputs from a newly loaded scenario (and show a saved run's results)."""
    ss = st.session_state
    ss.loaded = loaded
    ss.scenario = loaded.scenario
    ss.own_name = False
    ss.gen += 1  # new widget keys: every input starts from the loaded value
    ss.notice = None
    if loaded.view is not None:
        ss.run = loaded.view
        ss.run_seconds = None
        ss.reps = loaded.view.replications
        ss.seed = loaded.view.seed
        ss.changed = None
    sync_address()


def sync_address() -> None:
    """Write the source, the edits (as overrides), replications and seed of the run shown
    into the page's address (the tab keeps its own)."""
    ss = st.session_state
    q = st.query_params
    loaded: LoadedInput = ss.loaded
    kind = loaded.key[0]
    values: dict[str, Any] = {}
    if kind == "file" and loaded.key[-1] != DEFAULT_FILE:
        values["src"] = f"file:{loaded.key[-1]}"
    elif kind == "run":
        values["src"] = f"run:{loaded.key[-1]}"
    scenario: Scenario = ss.run.scenario if ss.run is not None else ss.scenario
    if kind != "run":
        overrides = edits.as_overrides(loaded.scenario, scenario, bool(ss.own_name))
        if overrides:
            values["set"] = overrides
    if kind != "run" and int(ss.reps) != DEFAULT_REPS:
        values["reps"] = str(int(ss.reps))
    if kind != "run" and int(ss.seed) != DEFAULT_SEED:
        values["seed"] = str(int(ss.seed))
    for k in URL_KEYS:
        if k in values:
            if q.get_all(k) != ([values[k]] if isinstance(values[k], str) else values[k]):
                q[k] = values[k]
        elif k in q:
            del q[k]
