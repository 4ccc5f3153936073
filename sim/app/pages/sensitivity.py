"""The Sensitivity tab: what moves the median time to the target and the chance by the
deadline over the parameters' ranges (a ranges file or ±25%): one at a time as tornados
with their Monte Carlo error, or Morris and Sobol indices with their sampling error and
warnings."""

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
    st.subheader("Sensitivity")
    scenario = ss.scenario
    planning_caption("What moves the median time to the target and the chance by the deadline of")
    choices, index = _ranges_choices()
    with st.form("sensitivity"):
        a, m, n, b = st.columns([3, 2, 1, 1])
        ranges = a.selectbox(
            "Ranges of the parameters",
            choices,
            index=index,
            key=f"sens_ranges:{ss.gen}",
            help="A ranges file of scenarios/ranges/ (dotted.key: [low, high], each with its "
            "source), or ±25% of every number of the scenario (whole counts ±1).",
        )
        method = m.selectbox(
            "Method",
            list(sensitivity.METHOD_LABELS),
            format_func=sensitivity.METHOD_LABELS.get,
            key="sens_method",
            help="One at a time: each parameter alone at both ends (a tornado). Morris: a "
            "screening of mean absolute effects over the whole space. Sobol: the share of the "
            "figure's variance due to each parameter; the most runs.",
        )
        samples = n.selectbox(
            "Samples (Morris, Sobol)",
            sensitivity.SOBOL_SAMPLES,
            index=sensitivity.SOBOL_SAMPLES.index(32),
            key="sens_samples",
            help="Morris: trajectories; Sobol: base samples (a power of two). Each costs "
            "(parameters + 1) or (parameters + 2) runs; the answer says when more are needed.",
        )
        reps = reps_input(b, "sens_reps", REPS, REPS_HELP, value=SENSITIVITY_REPS, step=50)
        go = st.form_submit_button("Run sensitivity", type="primary", icon=":material/tornado:")
    status = st.empty()
    if go:
        name = None if ranges == sensitivity.DEFAULT_RANGES else str(ranges)
        k = 0 if method == "oat" else int(samples)
        try:
            text = read_text(str(session.SCENARIOS / name)) if name else None
            params, _ = sensitivity.sensitivity_params(scenario, text, name or "ranges", method)
            total = sensitivity.sensitivity_runs(params, method, k) * int(reps)
            bar = cache.ProgressBar(status, total, f"{len(params)} parameters")
            status.progress(0.0, f"{len(params)} parameters: {total:,} trials to simulate")
            out = cache.sensitivity_run(
                scenario.to_yaml(), int(ss.seed), int(reps), name, text, method, k,
                _progress=bar,
            )  # fmt: skip
        except InputError as exc:
            st.error(
                f"{exc.message}. Pick the ±25% ranges, or fix the file.", icon=":material/error:"
            )
        else:
            keep_result("sensitivity_result", ranges=ranges, out=out)
        status.empty()
    ask = "Pick the ranges and the method and press **Run sensitivity**."
    done = last_result("sensitivity_result", "Run sensitivity", ask, ":material/tornado:")
    if done is None:
        return
    result = done["out"]
    if result["method"] != "oat":
        _indices(result, done)
        return
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


def _indices(result: dict, done: dict) -> None:
    """Morris or Sobol indices of each figure, their sampling error and warnings."""
    st.caption(
        f"{sensitivity.METHOD_LABELS[result['method']]}. Ranges: {done['ranges']}; "
        f"{len(result['parameters'])} parameters, {result['runs']} runs of "
        f"{result['replications']:,} simulated trials (seed {result['seed']}, common random "
        "numbers)."
    )
    for output, (x_title, *_) in sensitivity.FIGURES.items():
        if output not in result["indices"]:
            continue
        st.markdown(f"**{x_title.rsplit(' (', 1)[0]}**")
        notes, warnings = sensitivity.sampling_words(result, output)
        for w in warnings:
            st.warning(w[0].upper() + w[1:] + ".", icon=":material/warning:")
        st.markdown("\n".join(f"- {line[0].upper()}{line[1:]}" for line in notes))
        st.dataframe(
            sensitivity.indices_table(result, output),
            hide_index=True,
            width="stretch",
            column_config={
                c: st.column_config.NumberColumn(format="%.3g")
                for c in sensitivity.INDEX_COLUMNS[result["method"]].values()
            },
        )
