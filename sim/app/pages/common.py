"""What the tabs share: drawing a chart, dates in short, picking one simulated trial, and
the notes of the planning tools (which run on the sidebar's scenario, on submit only)."""

from __future__ import annotations

import datetime as dt
import math
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


def horizon_end(scenario: Scenario) -> dt.date:
    """The date of the end of the scenario's horizon."""
    return scenario.start_date + dt.timedelta(days=math.floor(scenario.horizon_days))


def short_date(d: str | None) -> str:
    """``Sep 2020`` from an ISO date; ``beyond horizon`` when there is none."""
    return f"{dt.date.fromisoformat(d):%b %Y}" if d else "beyond horizon"


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


def planning_caption(what: str) -> None:
    """What a planning tool runs on: the sidebar's scenario and seed."""
    ss = st.session_state
    st.caption(
        f"{what} **{ss.scenario.name}**: the settings of the sidebar as last run or loaded, "
        f"with its seed ({int(ss.seed)}). Runs only when you press the button; results are "
        "kept for the same settings."
    )
