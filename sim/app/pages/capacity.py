"""The Capacity tab: utilisation, waits and queues of each resource, the totals a trial
uses, vein-to-vein times, and resources in use over time in one simulated trial."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from sim.app import cache, charts
from sim.app.pages.common import chart, replication_picker
from sim.app.views import RunView


def view(run: RunView) -> None:
    """The resources of a run: utilisation, waits, queues, totals and one trial's queues."""
    s = run.summary
    for col, (key, figure) in zip(
        st.columns(3),
        zip(
            ("utilisation", "wait", "queue"),
            charts.resource_charts(run.rows, s["resources"]),
            strict=True,
        ),
        strict=True,
    ):
        with col:
            chart(figure, f"resource_{key}")
    table = pd.DataFrame(
        {
            charts.RESOURCE_LABELS.get(r, r): {
                "capacity": str(v.get("capacity")),
                "utilisation": _fmt(v.get("utilization"), "{:.0%}"),
                "mean wait (days)": _fmt(v.get("mean_wait_days"), "{:.2f}"),
                "mean queue (patients)": _fmt(v.get("mean_queue_length"), "{:.2f}"),
                "requests per trial": _fmt(v.get("requests_granted"), "{:.1f}"),
            }
            for r, v in s["resources"].items()
        }
    )  # a column a resource: it fits a phone
    st.table(table)
    _totals(run)
    per_trial = run.vein_to_vein is None
    values = run.rows["vein_to_vein_mean_days"].to_numpy(float) if per_trial else run.vein_to_vein
    chart(charts.vein_to_vein_chart(values, per_trial_means=per_trial), "v2v")
    st.markdown("**In use and waiting over time, in one simulated trial**")
    rep = replication_picker(run, "queue_rep")
    _, timeline, end, _ = cache.one_replication(run.scenario.to_yaml(), run.seed, rep)
    caps = {r: int(v["capacity"]) for r, v in s["resources"].items()}
    for resource, figure in zip(
        charts.RESOURCE_LABELS,
        charts.queue_charts(
            timeline, start_date=run.scenario.start_date, end_day=end, capacities=caps
        ),
        strict=True,
    ):
        chart(figure, f"queue_{resource}")


def _fmt(x: float | None, fmt: str) -> str:
    return "n/a" if x is None else fmt.format(x)


def _totals(run: RunView) -> None:
    rows = run.rows
    items = (
        ("Bed-days", "bed_days", 1.0, "{:,.0f}", "days"),
        ("ICU-days", "icu_days", 1.0, "{:,.0f}", "days"),
        ("Fludarabine (g)", "fludarabine_mg", 1e-3, "{:,.1f}", "g"),
        ("Cyclophosphamide (g)", "cyclophosphamide_mg", 1e-3, "{:,.0f}", "g"),
    )
    st.markdown("**Per simulated trial** (mean)")
    for col, (label, key, scale, fmt, unit) in zip(st.columns(len(items)), items, strict=True):
        vals = rows[key].to_numpy(float) * scale
        lo, hi = np.percentile(vals, [10, 90])
        col.metric(
            label,
            fmt.format(vals.mean()),
            help=f"Mean over the simulated trials; 10th to 90th percentile "
            f"{fmt.format(lo)} to {fmt.format(hi)} {unit}.",
            border=True,
        )
