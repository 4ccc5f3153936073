"""Capacity sizing: the chance of reaching the target by the deadline over a grid of
two capacities, as a heat map."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd

from .theme import GREY, OKABE_ITO

HEAT_LOW = "white"
"""The low end of the heat map's scale (white to Okabe-Ito blue: one hue, light to dark, so
the order reads the same to every kind of colour vision)."""


def sizing_heatmap_table(
    points: pd.DataFrame,
    *,
    rows: str,
    columns: str,
    chosen: Mapping[str, int] | None,
    wanted: float | None,
) -> pd.DataFrame:
    """One cell a configuration, from a sweep's table (one row a point, the swept keys and
    ``prob_target_by_deadline`` with its ``prob_ci95_low``/``_high``): ``row`` and ``column``
    (the two swept counts), ``percent`` and ``low``/``high`` (the probability and its Wilson
    95% interval, in %), ``meets`` (at least ``wanted``, a share), ``chosen`` and the cell's
    text."""
    out = pd.DataFrame(
        {
            "row": points[rows].astype(int).to_numpy(),
            "column": points[columns].astype(int).to_numpy(),
            "percent": 100.0 * points["prob_target_by_deadline"].astype(float).to_numpy(),
            "low": 100.0 * points["prob_ci95_low"].astype(float).to_numpy(),
            "high": 100.0 * points["prob_ci95_high"].astype(float).to_numpy(),
        }
    )
    if wanted is None:
        out["meets"] = False
    else:
        out["meets"] = out["percent"] >= 100.0 * wanted - 1e-9
    if chosen is None:
        out["chosen"] = False
    else:
        out["chosen"] = (out["row"] == chosen.get(rows)) & (out["column"] == chosen.get(columns))
    out["text"] = [
        f"{p:.0f}%" + (" ✓" if m else "") for p, m in zip(out["percent"], out["meets"], strict=True)
    ]
    out["interval"] = [
        f"{lo:.0f}–{hi:.0f}%" for lo, hi in zip(out["low"], out["high"], strict=True)
    ]
    out["mark"] = np.where(out["chosen"], "chosen", "")
    return out


def sizing_heatmap_chart(
    points: pd.DataFrame,
    *,
    rows: str,
    columns: str,
    row_title: str,
    column_title: str,
    chosen: Mapping[str, int] | None,
    wanted: float | None,
    title: str,
    subtitle: str | Sequence[str] = "",
    chosen_label: str = "chosen",
) -> alt.LayerChart:
    """The probability of reaching the target by the deadline over a grid of two capacities
    (rows x columns): the cell's colour and text are the probability, with its 95% interval
    beneath; cells meeting the wanted probability (``wanted``, a share) carry a tick; the
    chosen configuration is outlined in black."""
    data = sizing_heatmap_table(points, rows=rows, columns=columns, chosen=chosen, wanted=wanted)
    data["mark"] = np.where(data["chosen"], chosen_label, "")
    x = alt.X("column:O", title=column_title, axis=alt.Axis(labelAngle=0))
    y = alt.Y("row:O", title=row_title, sort="descending")
    tooltip = [
        alt.Tooltip("row:O", title=row_title),
        alt.Tooltip("column:O", title=column_title),
        alt.Tooltip("percent:Q", title="chance by the deadline (%)", format=".1f"),
        alt.Tooltip("interval:N", title="95% interval"),
    ]
    base = alt.Chart(data)
    cells = base.mark_rect(stroke=GREY, strokeWidth=1).encode(  # a white cell still shows
        x=x,
        y=y,
        color=alt.Color(
            "percent:Q",
            title=["Chance by the", "deadline (%)"],
            scale=alt.Scale(
                domain=[0, 100], range=[HEAT_LOW, OKABE_ITO["blue"]], interpolate="rgb"
            ),
            legend=alt.Legend(orient="bottom", direction="horizontal", gradientLength=220),
        ),
        tooltip=tooltip,
    )
    ink = alt.condition("datum.percent > 55", alt.value("white"), alt.value(OKABE_ITO["black"]))
    value = base.mark_text(fontSize=16, fontWeight="bold", dy=-8).encode(
        x=x, y=y, text="text:N", color=ink, tooltip=tooltip
    )
    interval = base.mark_text(fontSize=11, dy=10).encode(
        x=x, y=y, text="interval:N", color=ink, tooltip=tooltip
    )
    marked = data[data["chosen"]]
    layers: list[alt.Chart] = [cells, value, interval]
    if not marked.empty:
        outline = (
            alt.Chart(marked)
            .mark_rect(fillOpacity=0, stroke=OKABE_ITO["black"], strokeWidth=4)
            .encode(x=x, y=y)
        )
        word = (
            alt.Chart(marked)
            .mark_text(fontSize=10, dy=25, fontStyle="italic")
            .encode(x=x, y=y, text="mark:N", color=ink)
        )
        layers += [outline, word]
    sub = subtitle if isinstance(subtitle, str) else list(subtitle)
    return alt.layer(*layers).properties(
        width=alt.Step(96),
        height=alt.Step(72),
        title=alt.TitleParams(title, subtitle=sub or alt.Undefined),
    )
