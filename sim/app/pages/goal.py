"""The What must change tab: for a scenario that misses the wanted chance of its target by
the deadline, the smallest referral rate, the fewest referring sites, or the latest opening
of the last site that reaches it (one lever at a time, on common random numbers)."""

from __future__ import annotations

import streamlit as st

from sim.app import cache
from sim.app.pages.common import (
    against_forecast,
    count_input,
    keep_or_say,
    last_result,
    planning_start,
    reps_input,
)
from sim.app.pages.sizing import WANTED
from sim.app.views import RunView
from sim.planning.goal import LEVERS
from sim.report.goal import NAMES, lever_line

GOAL_REPS = 200
REPS = "Replications per value tried (trials)"
REPS_HELP = "Simulated trials for each value tried, all on the same seed (the same patients)."
BUTTON = "Find what must change"
LEAST = "The least change of one lever that reaches the wanted chance for"


def view(run: RunView | None) -> None:
    """Search what must change (on submit) and show the last answer."""
    scenario = planning_start("What must change", LEAST, needs_deadline=True)
    if scenario is None:
        return
    ss = st.session_state
    with st.form("goal"):
        a, b = st.columns(2)
        wanted = count_input(
            a, "goal_prob", WANTED, "The least chance that will do.", low=1, high=100,
            value=80, step=5,
        )  # fmt: skip
        reps = reps_input(b, "goal_reps", REPS, REPS_HELP, value=GOAL_REPS, step=50)
        levers = st.multiselect(
            "Levers", LEVERS, default=list(LEVERS), format_func=NAMES.get, key="goal_levers"
        )
        go = st.form_submit_button(BUTTON, type="primary", icon=":material/flag:")
    status = st.empty()
    if go:
        if not levers:
            st.warning("Pick at least one lever.")
        else:
            bar = cache.ProgressBar(status, None, "Searching")
            args = (scenario.to_yaml(), int(ss.seed), int(reps), wanted / 100.0, tuple(levers))
            keep_or_say("goal_result", lambda: cache.goal_run(*args, _progress=bar))
            status.empty()
    done = last_result("goal_result", BUTTON, f"Set the wanted chance and press **{BUTTON}**.",
                       ":material/flag:")  # fmt: skip
    if done is None:
        return
    out = done["out"]
    now = out["levers"][0]["current"]["chance"]
    reps, seed = out["replications"], out["seed"]
    against_forecast("Chance by the deadline as set", now, reps, seed, done["scenario"])
    st.markdown("\n".join(f"- {lever_line(lv)}" for lv in out["levers"]))
    st.caption(
        f"Each value tried: {out['replications']:,} simulated trials on seed {out['seed']} "
        "(the same patients); one lever at a time, the others as set. Rate: every site's "
        "rate scaled alike; sites: more like the last one listed; opening: the last site "
        "to open."
    )
