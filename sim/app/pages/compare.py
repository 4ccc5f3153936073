"""The Compare tab: scenarios and saved runs side by side, and the paired differences of
each from the first (common random numbers: same seed, same simulated patients)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd
import streamlit as st

from sim.app import cache, charts, session
from sim.app.pages.common import NOT_REACHED, chart, short_date
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
from sim.planning.compare import cost_metrics
from sim.report.text import date_label, money

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
    st.markdown("**Side by side** (a column a run)")
    st.table(_side_by_side(views))
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
        paired = ref.seed == other.seed
        st.markdown(
            f"**{other.label}** minus **{ref.label}**"
            + (
                ", trial by trial on the same simulated patients (same seed): each mean and "
                "the difference are over the same trials, so the difference subtracts."
                if paired
                else ": different seeds, so no common random numbers and no paired interval."
            )
        )
        table = comparison_table(ref, other)
        st.table(_shown(table))
        _, not_compared = cost_metrics([ref.scenario, other.scenario])
        if not_compared:
            st.caption(not_compared[0].upper() + not_compared[1:] + ".")
        st.caption(
            f"Over {int(table['pairs'].max()):,} pairs of trials (fewer for a figure some "
            "trials lack). Intervals: paired, replication by replication; unpaired (Welch) "
            "for contrast: "
            + "; ".join(
                f"{f} {u}" for f, u in zip(table["figure"], table["unpaired 95% CI"], strict=True)
            )
            + "."
        )


def _shown(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison with each number in its unit (``56.2%``, ``1,740.0 days``) and the
    difference with its paired 95% interval: four columns, so it fits a phone."""
    rows = {}
    for r in table.to_dict("records"):
        unit = r["unit"]
        ci = r["paired 95% CI"]
        cash = bool(r.get("money"))
        diff = _in_unit(r["difference"], unit, signed=True, cash=cash)
        rows[r["figure"]] = {
            "reference": _in_unit(r["reference"], unit, cash=cash),
            "this run": _in_unit(r["this run"], unit, cash=cash),
            "difference (95% interval)": diff if ci == "n/a" else f"{diff} ({ci})",
        }
    return pd.DataFrame(rows).T


def _in_unit(v: float, unit: str, signed: bool = False, cash: bool = False) -> str:
    if v is None or v != v:
        return "n/a"
    sign = "+" if signed else ""
    if cash:  # money: whole units of its currency
        return f"{v:{sign},.0f} {unit}"
    if unit == "%":
        return f"{v:{sign},.1f}%" if not signed else f"{v:{sign},.1f} points"
    return f"{v:{sign},.1f} {unit}"


def _side_by_side(views: list[RunView]) -> pd.DataFrame:
    """A row a figure, a column a run (so that more runs never push it off the page)."""
    columns = {}
    for v in views:
        s = v.summary
        d = s.get("target_date") or {}
        prob = s.get("prob_target_by_deadline")
        v2v = (s.get("vein_to_vein_days") or {}).get("mean")
        columns[v.label] = {
            "simulated trials (seed)": f"{v.replications:,} (seed {v.seed})",
            "chance by the deadline": "n/a" if prob is None else f"{prob:.0%}",
            "median target date": date_label(d.get("p50")) if d.get("p50") else NOT_REACHED,
            "80% interval": f"{short_date(d.get('p10'))} to {short_date(d.get('p90'))}",
            "infused per trial": f"{s['funnel']['infused']:.1f}",
            "deteriorated per trial": f"{s['outcomes']['deteriorated']:.1f}",
            "vein-to-vein mean": "n/a" if v2v is None else f"{v2v:.1f} days",
            **_costs(s),
        }
    return pd.DataFrame(columns)


def _costs(s: dict[str, Any]) -> dict[str, str]:
    """A run's cost per trial and per infused patient (mean, and 80% of trials)."""
    c = s.get("costs")
    if not c:
        return {"cost per trial": "no costs block", "cost per infused patient": "no costs block"}
    cur = c.get("currency")
    t, p = c["per_trial"], c["per_infused_patient"]
    return {
        "cost per trial": f"{money(t['mean'], cur)} (80%: {money(t['p10'])} to {money(t['p90'])})",
        "cost per infused patient": f"{money(p['mean_of_trial_ratios'], cur)} (80%: "
        f"{money(p['p10'])} to {money(p['p90'])})",
    }
