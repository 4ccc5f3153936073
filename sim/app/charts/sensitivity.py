"""One-at-a-time sensitivity: how far each parameter, moved alone across its range,
swings a figure, as a tornado."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import pandas as pd

from .theme import GREY as _GREY
from .theme import OKABE_ITO

_DARK = "#595959"

TORNADO_ROW_PX = 32
"""Height of one parameter's pair of bars, in pixels."""
TORNADO_ENDS = {
    "low end of its range": _GREY,
    "high end of its range": _DARK,
}


def tornado_table(
    rows: Sequence[Mapping[str, Any]],
    base: float,
    *,
    scale: float = 1.0,
    top: int | None = None,
) -> pd.DataFrame:
    """Two bars a parameter, from the figure at the scenario's values (``base``) to the
    figure with the parameter at the low and at the high end of its range; parameters by
    swing, largest first (``top``: only the first so many). ``rows`` are those of
    :func:`sim.planning.sensitivity.tornado` (``parameter``, ``low``, ``high``, ``at_low``,
    ``at_high``, ``swing``; ``label`` if given names the parameter). Figures times ``scale``
    (100: a probability in %). ``err_low``, ``err_high``: the ends of the paired 95%
    interval of the change (``effect_low_ci95``, ``effect_high_ci95``) drawn from the base,
    NaN where the row has none. Columns: parameter, label, order, end, setting, start, stop,
    change, swing, err_low, err_high."""
    ordered = sorted(rows, key=lambda r: (-float(r["swing"]), str(r["parameter"])))
    if top is not None:
        ordered = ordered[:top]
    out = []
    b = float(base) * scale
    for i, r in enumerate(ordered):
        label = str(r.get("label") or r["parameter"])
        for end, setting, at, ci in (
            ("low end of its range", r["low"], r["at_low"], r.get("effect_low_ci95")),
            ("high end of its range", r["high"], r["at_high"], r.get("effect_high_ci95")),
        ):
            v = float(at) * scale
            lo, hi = ci if ci and None not in ci else (math.nan, math.nan)
            out.append(
                (
                    str(r["parameter"]),
                    label,
                    i,
                    end,
                    float(setting),
                    b,
                    v,
                    v - b,
                    float(r["swing"]) * scale,
                    b + float(lo) * scale,
                    b + float(hi) * scale,
                )
            )
    columns = [
        "parameter", "label", "order", "end", "setting", "start", "stop", "change", "swing",
        "err_low", "err_high",
    ]  # fmt: skip
    return pd.DataFrame(out, columns=columns)


def tornado_chart(
    rows: Sequence[Mapping[str, Any]],
    base: float,
    *,
    x_title: str,
    title: str,
    scale: float = 1.0,
    fmt: str = ".0f",
    unit: str = "",
    top: int | None = 15,
) -> alt.LayerChart:
    """One-at-a-time sensitivity as a tornado: for each parameter (largest swing on top) a
    bar to the figure at the low end of its range and one to the figure at the high end,
    both from the figure at the scenario's values (the vertical rule, its value labelled
    with ``unit``); ``top``: only the parameters of the largest swings."""
    data = tornado_table(rows, base, scale=scale, top=top)
    b = float(base) * scale
    order = list(dict.fromkeys(data["label"]))
    y = alt.Y(
        "label:N",
        sort=order,
        title=None,
        scale=alt.Scale(paddingInner=0.35),
        axis=alt.Axis(labelLimit=420, labelFontSize=12),
    )
    ends = list(TORNADO_ENDS)
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=y,
            yOffset=alt.YOffset("end:N", sort=ends),
            x=alt.X("start:Q", title=x_title, scale=alt.Scale(zero=False)),
            x2="stop:Q",
            color=alt.Color(
                "end:N",
                title="Parameter at the",
                sort=ends,
                scale=alt.Scale(domain=ends, range=list(TORNADO_ENDS.values())),
                legend=alt.Legend(orient="top", direction="horizontal"),
            ),
            tooltip=[
                alt.Tooltip("label:N", title="parameter"),
                alt.Tooltip("parameter:N", title="scenario key"),
                alt.Tooltip("end:N", title="at the"),
                alt.Tooltip("setting:Q", title="set to", format=".4g"),
                alt.Tooltip("stop:Q", title="figure there", format=fmt),
                alt.Tooltip("change:Q", title="change", format="+" + fmt),
            ],
        )
    )
    bars = bars.encode(
        tooltip=[
            *bars.encoding.tooltip,
            alt.Tooltip("err_low:Q", title="95% interval from", format=fmt),
            alt.Tooltip("err_high:Q", title="95% interval to", format=fmt),
        ]
    )
    errors = (
        alt.Chart(data)
        .transform_filter("isFinite(datum.err_low)")
        .mark_errorbar(ticks=True, color=OKABE_ITO["black"], thickness=1.2)
        .encode(
            y=y,
            yOffset=alt.YOffset("end:N", sort=ends),
            x=alt.X("err_low:Q", title=x_title),
            x2="err_high:Q",
        )
    )
    ref = pd.DataFrame({"x": [b], "label": [f"scenario's values: {format(b, fmt)}{unit}"]})
    rule = (
        alt.Chart(ref)
        .mark_rule(color=OKABE_ITO["black"], strokeWidth=1.5)
        .encode(x=alt.X("x:Q", title=x_title))
    )
    text = (
        alt.Chart(ref)
        .mark_text(align="left", baseline="bottom", dx=4, dy=-2, color=OKABE_ITO["black"])
        .encode(x="x:Q", y=alt.value(0), text="label:N")
    )
    hidden = max(0, len(rows) - len(order))
    subtitle = [
        "Each parameter alone at the low and the high end",
        "of its range, the others as set; largest swing first.",
        "Whiskers: the paired 95% interval of each change.",
    ]
    if hidden:
        subtitle.append(f"{hidden} more with smaller swings are not drawn.")
    return alt.layer(bars, errors, rule, text).properties(
        height=TORNADO_ROW_PX * max(len(order), 1) + 40,
        title=alt.TitleParams(title, subtitle=subtitle),
    )
