"""The Sensitivity tab: one parameter at a time over its range (a ranges file or ±25%),
what moves the median time to the target and the chance by the deadline, as tornados."""

from __future__ import annotations

import streamlit as st

from sim.app import cache, charts, session
from sim.app.pages.common import (
    against_forecast,
    chart,
    keep_result,
    last_result,
    planning_caption,
    reps_input,
)
from sim.app.planning import sensitivity
from sim.app.views import RunView
from sim.core.errors import InputError
from sim.core.yamlio import read_text

SENSITIVITY_REPS = 50
REPS = "Replications per run (trials)"
REPS_HELP = (
    "Simulated trials for the base and for each end of each range (all on the "
    "same seed, so differences are the parameter's effect, not chance)."
)


def _ranges_choices() -> tuple[list[str], int]:
    """The ranges files and the default ranges; the baseline's file first when the
    baseline was loaded, else the default ranges."""
    ss = st.session_state
    names = [f"ranges/{p.name}" for p in sensitivity.ranges_files(session.SCENARIOS)]
    choices = [*names, sensitivity.DEFAULT_RANGES]
    own = "ranges/" + session.DEFAULT_FILE
    pick = own if ss.loaded.key == ("file", session.DEFAULT_FILE) and own in names else None
    return choices, choices.index(pick) if pick else len(choices) - 1


def view(run: RunView | None) -> None:
    """Run the sensitivity of the sidebar's scenario (on submit) and show the last one."""
    ss = st.session_state
    st.subheader("Sensitivity, one parameter at a time")
    scenario = ss.scenario
    planning_caption("What moves the median time to the target and the chance by the deadline of")
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
        reps = reps_input(b, "sens_reps", REPS, REPS_HELP, value=SENSITIVITY_REPS, step=50)
        go = st.form_submit_button("Run sensitivity", type="primary", icon=":material/tornado:")
    status = st.empty()
    if go:
        name = None if ranges == sensitivity.DEFAULT_RANGES else str(ranges)
        try:
            text = read_text(str(session.SCENARIOS / name)) if name else None
            params, _ = sensitivity.sensitivity_params(scenario, text, name or "ranges")
            total = sensitivity.sensitivity_runs(params) * int(reps)
            bar = cache.ProgressBar(status, total, f"{len(params)} parameters")
            status.progress(0.0, f"{len(params)} parameters: {total:,} trials to simulate")
            out = cache.sensitivity_run(
                scenario.to_yaml(), int(ss.seed), int(reps), name, text, _progress=bar
            )
        except InputError as exc:
            st.error(
                f"{exc.message}. Pick the ±25% ranges, or fix the file.", icon=":material/error:"
            )
        else:
            keep_result("sensitivity_result", ranges=ranges, out=out)
        status.empty()
    ask = "Pick the ranges and press **Run sensitivity**."
    done = last_result("sensitivity_result", "Run sensitivity", ask, ":material/tornado:")
    if done is None:
        return
    result = done["out"]
    base = result["base"].get("prob_target_by_deadline")
    reps, seed = result["replications"], result["seed"]
    what = "Chance by the deadline at the scenario's values (the base run)"
    against_forecast(what, base, reps, seed, done["scenario"])
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
        chart(
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
