"""What the tabs share: drawing a chart, dates in short, picking one simulated trial, and
the notes of the planning tools (which run on the sidebar's scenario, on submit only)."""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from sim.app.views import RunView
from sim.core.errors import InputError
from sim.core.scenario import Scenario
from sim.io import store

MAX_PLANNING_REPS = 5_000


def chart(figure: Any, key: str) -> None:
    """An Altair chart across the tab's width."""
    st.altair_chart(figure, width="stretch", key=key)


TILE_CSS = """<style>
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(11rem,1fr));gap:.6rem;
margin:.25rem 0 .9rem}
.tile{border:1px solid rgba(49,51,63,.2);border-radius:.5rem;padding:.55rem .75rem;min-width:0}
.tile .l{font-size:.85rem;color:rgba(49,51,63,.8)}
.tile .v{font-size:1.55rem;font-weight:600;line-height:1.25;overflow-wrap:anywhere}
.tile .n{font-size:.78rem;color:rgba(49,51,63,.7);overflow-wrap:anywhere}
</style>"""
"""Figures as tiles that wrap, never cut: a grid of as many columns as fit."""


def tiles(items: list[tuple[str, str, str]], help: dict[str, str] | None = None) -> None:
    """Figures as tiles: (label, value, note) each; ``help`` by label is the tile's tooltip.
    A value or note too long for its tile wraps onto another line (nothing is cut)."""
    help = help or {}
    cells = "".join(
        f'<div class="tile" title="{html.escape(help.get(label, ""))}">'
        f'<div class="l">{html.escape(label)}</div><div class="v">{html.escape(value)}</div>'
        + (f'<div class="n">{html.escape(note)}</div>' if note else "")
        + "</div>"
        for label, value, note in items
    )
    st.markdown(f'{TILE_CSS}<div class="tiles">{cells}</div>', unsafe_allow_html=True)


def horizon_end(scenario: Scenario) -> dt.date:
    """The date of the end of the scenario's horizon."""
    return scenario.start_date + dt.timedelta(days=math.floor(scenario.horizon_days))


def short_date(d: str | None) -> str:
    """``Sep 2020`` from an ISO date; ``Not reached`` when there is none (a percentile among
    the trials that never reach the target within the horizon)."""
    return f"{dt.date.fromisoformat(d):%b %Y}" if d else NOT_REACHED


NOT_REACHED = "Not reached"


def replication_picker(run: RunView, key: str) -> int:
    """The index (from 0) of the simulated trial picked, 1 to the run's replications."""
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


def count_input(
    col: Any, key: str, label: str, help: str, *, low: int, high: int, value: int, step: int
) -> int:
    """A whole number from ``low`` to ``high``, starting at ``value``, in column ``col``."""
    return col.number_input(
        label, min_value=low, max_value=high, value=value, step=step, key=key, help=help
    )


def reps_input(col: Any, key: str, label: str, help: str, *, value: int, step: int) -> int:
    """The replications of a planning tool: 2 to :data:`MAX_PLANNING_REPS` trials."""
    return count_input(col, key, label, help, low=2, high=MAX_PLANNING_REPS, value=value, step=step)


def keep_result(key: str, **result: Any) -> None:
    """Keep a planning tool's result in the session, with the scenario and seed it is for."""
    ss = st.session_state
    ss[key] = {"scenario": ss.scenario, "seed": int(ss.seed), **result}


def keep_or_say(key: str, compute: Callable[[], Any]) -> None:
    """Run a planning tool and keep its result (:func:`keep_result`); a problem with its
    inputs is said inline instead (nothing is kept)."""
    try:
        out = compute()
    except InputError as exc:
        st.error(exc.message, icon=":material/error:")
        return
    keep_result(key, out=out)


def last_result(key: str, button: str, ask: str, icon: str) -> dict[str, Any] | None:
    """The planning tool's last result (noting when the settings have changed since), or
    None after asking to press ``button``."""
    done = st.session_state.get(key)
    if not done:
        st.info(ask, icon=icon)
        return None
    _stale(done, button)
    return done


def saved_runs(where: Any, none: str) -> pd.DataFrame | None:
    """The saved runs (oldest first), or None after a message in ``where`` (the page or the
    sidebar) when the store cannot be read or holds none."""
    try:
        runs = store.list_runs()
    except InputError as exc:
        where.error(exc.message)
        return None
    if runs.empty:
        where.info(none)
        return None
    return runs


def _stale(done: dict[str, Any], button: str) -> None:
    """A note when the result shown was computed for other settings or another seed."""
    ss = st.session_state
    if done["scenario"].digest() != ss.scenario.digest() or done["seed"] != int(ss.seed):
        st.warning(
            f"The settings or seed have changed since this result: press **{button}** to "
            "update it.",
            icon=":material/info:",
        )


def planning_start(title: str, what: str, needs_deadline: bool = False) -> Scenario | None:
    """A planning tool's heading and what it runs on; None (after saying so) when it needs
    a deadline the scenario lacks."""
    st.subheader(title)
    scenario = st.session_state.scenario
    planning_caption(what)
    if needs_deadline and scenario.target.deadline is None:
        st.info(
            f"{title} needs a deadline: set one in the sidebar (Target and horizon › "
            "Deadline) and press **Run simulation**.",
            icon=":material/event:",
        )
        return None
    return scenario


def planning_caption(what: str) -> None:
    """What a planning tool runs on: the sidebar's scenario and seed."""
    ss = st.session_state
    st.caption(
        f"{what} **{ss.scenario.name}**: the settings of the sidebar as last run or loaded, "
        f"with its seed ({int(ss.seed)}). Runs only when you press the button; results are "
        "kept for the same settings."
    )


def against_forecast(
    what: str, own: float | None, reps: int, seed: int, scenario: Scenario
) -> None:
    """One headline: a planning view's own chance of the target by the deadline, with the
    replications and seed it used, beside the Forecast tab's when they are not the same
    run (same settings, replications and seed give the very same trials and chance)."""
    run = st.session_state.get("run")
    mine = f"{what}: {_pct(own)} ({reps:,} simulated trials, seed {seed})"
    if run is None:
        st.caption(f"{mine}.")
        return
    theirs = run.summary.get("prob_target_by_deadline")
    same = (
        run.scenario.digest() == scenario.digest() and run.replications == reps and run.seed == seed
    )
    if same:
        st.caption(f"{mine}: the same trials as the Forecast tab, so the same chance.")
        return
    why = []
    if run.scenario.digest() != scenario.digest():
        why.append("other settings")
    if run.replications != reps:
        why.append(f"{'fewer' if reps < run.replications else 'more'} trials")
    if run.seed != seed:
        why.append("another seed")
    st.info(
        f"{mine}. The Forecast tab: {_pct(theirs)} ({run.replications:,} trials, seed "
        f"{run.seed}). They differ by {' and '.join(why)}; with the Forecast's trials and "
        "seed this view starts from the very same run.",
        icon=":material/balance:",
    )


def _pct(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.0%}"
