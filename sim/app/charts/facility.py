"""A facility's trials: each one's chance of its target by its deadline, with its 95%
interval."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import altair as alt
import pandas as pd

from .theme import MEANINGS, OKABE_ITO


def facility_chances(summary: Mapping[str, Any]) -> alt.LayerChart:
    """One bar a trial (in the facility's order): its chance by its deadline (%) with the
    Wilson 95% interval as a whisker."""
    rows = []
    for t in summary["trials"]:
        s = t["summary"]
        p = s.get("prob_target_by_deadline")
        lo, hi = s.get("prob_target_by_deadline_ci95") or (None, None)
        rows.append(
            {
                "trial": t["label"],
                "chance": None if p is None else 100 * p,
                "low": None if lo is None else 100 * lo,
                "high": None if hi is None else 100 * hi,
                "deadline": s["target"].get("deadline"),
            }
        )
    data = pd.DataFrame(rows)
    order = list(data["trial"])
    y = alt.Y("trial:N", sort=order, title=None, axis=alt.Axis(labelLimit=420))
    x_scale = alt.Scale(domain=[0, 100])
    bars = (
        alt.Chart(data)
        .mark_bar(color=MEANINGS["infused"])  # the target reached
        .encode(
            y=y,
            x=alt.X("chance:Q", title="Chance of the target by its deadline (%)", scale=x_scale),
            tooltip=[
                alt.Tooltip("trial:N"),
                alt.Tooltip("chance:Q", title="chance (%)", format=".0f"),
                alt.Tooltip("low:Q", title="95% interval from (%)", format=".0f"),
                alt.Tooltip("high:Q", title="95% interval to (%)", format=".0f"),
                alt.Tooltip("deadline:N"),
            ],
        )
    )
    whiskers = (
        alt.Chart(data)
        .mark_errorbar(ticks=True, color=OKABE_ITO["black"])
        .encode(y=y, x=alt.X("low:Q", scale=x_scale), x2="high:Q")
    )
    return alt.layer(bars, whiskers).properties(
        height=44 * max(1, len(order)) + 30,
        title=alt.TitleParams(
            "Each trial's chance in the facility",
            subtitle="Bars: share of simulated runs reaching the target by the deadline; "
            "whiskers: 95% interval.",
        ),
    )
