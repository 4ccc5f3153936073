"""The Sizing tab: the fewest units of the resources picked that reach the target by the
deadline with the wanted chance, the evidence in words and a heat map around the answer."""

from __future__ import annotations

import streamlit as st

from sim.app import cache, charts
from sim.app.pages.common import (
    against_forecast,
    count_input,
    keep_result,
    last_result,
    planning_start,
    reps_input,
)
from sim.app.planning import sizing
from sim.app.views import RunView
from sim.core.errors import InputError
from sim.report.text import date_label

SIZING_REPS = 100
WANTED = "Wanted chance of the target by the deadline (%)"
WANTED_HELP = "The least probability of reaching the target by the deadline that will do."
MOST = "Most units of each resource (count)"
MOST_HELP = "Each resource is sized from 1 to this many units."
REPS = "Replications per configuration (trials)"
REPS_HELP = (
    "Simulated trials for each configuration tried (all on the same seed); "
    "more give narrower intervals and take longer."
)


def view(run: RunView | None) -> None:
    """Size the capacity of the sidebar's scenario (on submit) and show the last sizing."""
    ss = st.session_state
    what = "The fewest units of the resources picked that reach the target of"
    scenario = planning_start("Capacity sizing", what, needs_deadline=True)
    if scenario is None:
        return
    options = sizing.sizeable(scenario)
    with st.form("sizing"):
        a, b, c = st.columns(3)
        wanted = count_input(a, "size_prob", WANTED, WANTED_HELP, low=1, high=100, value=80, step=5)
        max_units = count_input(b, "size_max", MOST, MOST_HELP, low=1, high=50, value=10, step=1)
        reps = reps_input(c, "size_reps", REPS, REPS_HELP, value=SIZING_REPS, step=50)
        resources = st.multiselect(
            "Resources to size",
            options,
            default=[k for k in sizing.DEFAULT_RESOURCES if k in options],
            format_func=sizing.resource_title,
            key="size_resources",
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
            )
            search = cache.ProgressBar(status, None, "Sizing")
            grid = cache.ProgressBar(status, None, "Heat map")
            try:
                out = cache.sizing_run(*args, _progress=search, _grid_progress=grid)
            except InputError as exc:
                st.error(exc.message, icon=":material/error:")
            else:
                keep_result("sizing_result", out=out)
            status.empty()
    ask = "Set what is wanted and press **Size capacity**."
    done = last_result("sizing_result", "Size capacity", ask, ":material/tune:")
    if done is None:
        return
    result, heat = done["out"]["sizing"], done["out"]["heatmap"]
    own = next(
        (
            e["prob_target_by_deadline"]
            for e in result["evaluations"]
            if {k: int(v) for k, v in e["set"].items()} == result["current"]
        ),
        None,
    )
    if own is not None:
        reps, seed = result["replications"], result["seed"]
        what = "Chance by the deadline with the capacity as set"
        against_forecast(what, own, reps, seed, done["scenario"])
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
