"""The What must change tab: for a scenario that misses the wanted chance of its target by
the deadline, the smallest referral rate, the fewest referring sites, or the latest opening
of the last site that reaches it (one lever at a time, on common random numbers)."""

from __future__ import annotations

import streamlit as st

from sim.app import cache
from sim.app.pages.common import (
    against_forecast,
    count_input,
    keep_result,
    last_result,
    planning_caption,
    reps_input,
)
from sim.app.views import RunView
from sim.core.errors import InputError
from sim.planning.goal import LEVERS
from sim.report.goal import NAMES, lever_line

GOAL_REPS = 200
WANTED = "Wanted chance of the target by the deadline (%)"
REPS = "Replications per value tried (trials)"
REPS_HELP = (
    "Simulated trials for each value tried, all on the same seed (the same patients), so "
    "the chance moves with the lever alone."
)


def view(run: RunView | None) -> None:
    """Search what must change (on submit) and show the last answer."""
    ss = st.session_state
    st.subheader("What must change")
    scenario = ss.scenario
    planning_caption("The least change of one lever that reaches the wanted chance for")
    if scenario.target.deadline is None:
        st.info(
            "This needs a deadline: set one in the sidebar (Target and horizon › Deadline).",
            icon=":material/event:",
        )
        return
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
        go = st.form_submit_button("Find what must change", type="primary", icon=":material/flag:")
    status = st.empty()
    if go:
        if not levers:
            st.warning("Pick at least one lever.")
        else:
            bar = cache.ProgressBar(status, None, "Searching")
            try:
                out = cache.goal_run(
                    scenario.to_yaml(), int(ss.seed), int(reps), wanted / 100.0,
                    tuple(levers), _progress=bar,
                )  # fmt: skip
            except InputError as exc:
                st.error(exc.message, icon=":material/error:")
            else:
                keep_result("goal_result", out=out)
            status.empty()
    ask = "Set the wanted chance and press **Find what must change**."
    done = last_result("goal_result", "Find what must change", ask, ":material/flag:")
    if done is None:
        return
    out = done["out"]
    first = out["levers"][0]
    against_forecast(
        "Chance by the deadline as set",
        first["current"]["chance"],
        out["replications"],
        out["seed"],
        done["scenario"],
    )
    st.markdown("\n".join(f"- {lever_line(lv)}" for lv in out["levers"]))
    st.caption(
        f"Each value tried: {out['replications']:,} simulated trials on seed {out['seed']} "
        "(the same patients); one lever at a time, the others as set. Rate: every site's "
        "rate scaled alike; sites: more like the last one listed; opening: the last site "
        "to open."
    )
