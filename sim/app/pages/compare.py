"""The Compare tab: scenarios and saved runs side by side, and the paired differences of
each from the first (common random numbers: same seed, same simulated patients)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd
import streamlit as st

from sim.app import cache, charts, session
from sim.app.pages.common import chart, short_date
from sim.app.views import (
    RunView,
    comparison_table,
    scenario_files,
    unique_labels,
    view_from_stored,
)
from sim.core.errors import InputError
from sim.core.scenario import load_scenario
from sim.io import store
from sim.report.text import date_label

CURRENT = "Current settings"


def _compare_options() -> list[str]:
    options = [CURRENT]
    options += [f"File: {p.name}" for p in scenario_files(session.SCENARIOS, session.DEFAULT_FILE)]
    try:
        runs = store.list_runs()
        options += [f"Saved run: {n}" for n in reversed(runs["name"].tolist())]
    except InputError:
        pass
    return options


def _compare_view(option: str, status: Any) -> RunView:
    ss = st.session_state
    if option.startswith("Saved run: "):
        return view_from_stored(store.load_run(option.removeprefix("Saved run: ")))
    if option == CURRENT:
        scenario = ss.scenario
    else:
        scenario = load_scenario(str(session.SCENARIOS / option.removeprefix("File: ")))
    reps, seed = int(ss.reps), int(ss.seed)
    return cache.run_with_bar(scenario, reps, seed, status, f"Simulating {option}...").view


def view(run: RunView | None) -> None:
    """Compare the runs picked (run on submit), side by side and by paired differences."""
    ss = st.session_state
    options = _compare_options()
    default = [
        o for o in ("File: baseline.yaml", "File: central_manufacturing.yaml") if o in options
    ]
    with st.form("compare"):
        picks = st.multiselect(
            "Runs to compare (the first is the reference)",
            options,
            default=default,
            key="compare_picks",
            help="Scenarios are run with the replications and seed of the sidebar, so they "
            "meet the same simulated patients (common random numbers) and their differences "
            "are paired.",
        )
        go = st.form_submit_button("Compare", icon=":material/compare_arrows:")
    status = st.container()
    if go:
        if len(picks) < 2:
            st.warning("Pick two or more runs to compare.")
        else:
            try:
                views = [_compare_view(o, status) for o in picks]
            except InputError as exc:
                st.error(exc.message)
                views = None
            if views:
                labels = unique_labels(v.label for v in views)
                ss.compare_views = [
                    dataclasses.replace(v, label=lab) for v, lab in zip(views, labels, strict=True)
                ]
    views = ss.compare_views
    if not views:
        st.info("Pick two or more scenarios or saved runs and press **Compare**.")
        return
    ref = views[0]
    st.markdown("**Side by side**")
    st.dataframe(_side_by_side(views), hide_index=True, width="stretch")
    t = ref.scenario.target
    chart(
        charts.compare_fan_chart(
            [(v.label, v.fan) for v in views],
            series="infused",
            target_count=t.count,
            deadline=t.deadline,
        ),
        "compare_fan",
    )
    for other in views[1:]:
        st.markdown(
            f"**{other.label}** (this run) minus **{ref.label}** (reference), on the same "
            "simulated patients where the seeds match"
        )
        table = comparison_table(ref, other)
        if ref.seed != other.seed:
            st.caption("Different seeds: no common random numbers, so no paired interval.")
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            column_config={
                c: st.column_config.NumberColumn(format="%.3g")
                for c in table.columns
                if c not in ("figure", "paired 95% CI", "unpaired 95% CI", "pairs")
            },
        )


def _side_by_side(views: list[RunView]) -> pd.DataFrame:
    rows = []
    for v in views:
        s = v.summary
        d = s.get("target_date") or {}
        prob = s.get("prob_target_by_deadline")
        rows.append(
            {
                "run": v.label,
                "trials": v.replications,
                "seed": v.seed,
                "chance by deadline": "n/a" if prob is None else f"{prob:.0%}",
                "median target date": date_label(d.get("p50")) if d.get("p50") else "-",
                "80% interval": f"{short_date(d.get('p10'))} to {short_date(d.get('p90'))}",
                "infused per trial": s["funnel"]["infused"],
                "deteriorated per trial": s["outcomes"]["deteriorated"],
                "vein-to-vein mean (days)": (s.get("vein_to_vein_days") or {}).get("mean"),
            }
        )
    return pd.DataFrame(rows)
