"""The report's charts as Vega-Lite specifications (plain data, no plotting library) and
their drawing as SVG by vl-convert (imported only when a report is drawn).

Print figures: a fixed width, no interaction, in the colours of :mod:`sim.report.palette`
(the dashboard's too). The fan of cumulative patients, the funnel, the resources' use and
waits, and the fans of runs compared.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sim.core.errors import InputError
from sim.report.palette import MEANINGS, category_colours

WIDTH = 620
"""Pixels: the width of a chart on the page (an A4 page's text is about 680 px)."""
VEGA_LITE = "https://vega.github.io/schema/vega-lite/v5.json"
"""The schema a spec follows (an identifier: nothing is fetched from it)."""
REQUIREMENT = "vl-convert-python>=1.6"
FONT = "Helvetica, Arial, sans-serif"

Spec = dict[str, Any]


def _base(title: str, subtitle: Sequence[str] = (), height: int = 260) -> Spec:
    return {
        "$schema": VEGA_LITE,
        "width": WIDTH,
        "height": height,
        "title": {"text": title, "subtitle": list(subtitle), "anchor": "start"},
        "config": {"font": FONT, "view": {"stroke": None}, "background": "white"},
    }


def _rows(frame: Any, columns: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of a table as plain records (dates as ISO text, NaN as null)."""
    out = []
    for rec in frame[list(columns)].to_dict("records"):
        row = {}
        for k, v in rec.items():
            if hasattr(v, "isoformat"):
                v = v.isoformat()[:10]
            elif isinstance(v, float) and math.isnan(v):
                v = None
            row[k] = v
        out.append(row)
    return out


def _date_x(field: str = "date") -> dict[str, Any]:
    return {
        "field": field,
        "type": "temporal",
        "title": "Date (end of month)",
        "scale": {"type": "utc"},
        "axis": {"format": "%b %Y", "labelAngle": 0},
    }


def _deadline(deadline: str | None) -> list[Spec]:
    if not deadline:
        return []
    data = {"values": [{"date": deadline, "label": f"deadline {deadline}"}]}
    x = {"field": "date", "type": "temporal", "scale": {"type": "utc"}}
    colour = MEANINGS["reference"]
    return [
        {
            "data": data,
            "mark": {"type": "rule", "strokeDash": [6, 3], "color": colour},
            "encoding": {"x": x},
        },
        {
            "data": data,
            "mark": {"type": "text", "align": "left", "baseline": "top", "dx": 4, "dy": 4},
            "encoding": {"x": x, "y": {"value": 0}, "text": {"field": "label"}},
        },
    ]


def _target(count: int, milestone: str) -> list[Spec]:
    data = {"values": [{"y": count, "label": f"target: {count} {milestone}"}]}
    return [
        {
            "data": data,
            "mark": {"type": "rule", "strokeDash": [2, 2], "color": MEANINGS["reference"]},
            "encoding": {"y": {"field": "y", "type": "quantitative"}},
        },
        {
            "data": data,
            "mark": {"type": "text", "align": "left", "baseline": "bottom", "dx": 4, "dy": -3},
            "encoding": {
                "x": {"value": 0},
                "y": {"field": "y", "type": "quantitative"},
                "text": {"field": "label"},
            },
        },
    ]


def fan_spec(fan: Any, *, target_count: int, milestone: str, deadline: str | None) -> Spec:
    """Cumulative infused (bands: 25th-75th and 5th-95th percentile, median line) and
    enrolled (median line) by month, with the target and the deadline."""
    rows = _rows(fan, ["date", "series", "p5", "p25", "p50", "p75", "p95"])
    infused = [r for r in rows if r["series"] == "infused"]
    y = {"type": "quantitative", "title": "Patients (cumulative count)"}
    colour = {
        "field": "series",
        "type": "nominal",
        "title": "Patients",
        "scale": {
            "domain": ["enrolled", "infused"],
            "range": [MEANINGS["enrolled"], MEANINGS["infused"]],
        },
        "legend": {"orient": "top"},
    }
    layers = [
        {
            "data": {"values": infused},
            "mark": {"type": "area", "opacity": 0.2, "color": MEANINGS["infused"]},
            "encoding": {"x": _date_x(), "y": {"field": "p5", **y}, "y2": {"field": "p95"}},
        },
        {
            "data": {"values": infused},
            "mark": {"type": "area", "opacity": 0.4, "color": MEANINGS["infused"]},
            "encoding": {"x": _date_x(), "y": {"field": "p25", **y}, "y2": {"field": "p75"}},
        },
        {
            "data": {"values": rows},
            "mark": {"type": "line", "strokeWidth": 2.5},
            "encoding": {"x": _date_x(), "y": {"field": "p50", **y}, "color": colour},
        },
        *_target(target_count, milestone),
        *_deadline(deadline),
    ]
    spec = _base(
        "Cumulative patients enrolled and infused",
        [
            "Lines: median of the simulated trials. Infused: dark band 25th to 75th "
            "percentile, light band 5th to 95th.",
        ],
        height=300,
    )
    spec["layer"] = layers
    return spec


FUNNEL = (
    ("referred", "Referred"),
    ("consented", "Consented"),
    ("enrolled", "Enrolled"),
    ("apheresed", "Apheresed"),
    ("manufactured", "Product released"),
    ("conditioned", "Conditioned"),
    ("infused", "Infused"),
)


def funnel_spec(funnel: Mapping[str, float]) -> Spec:
    """Patients reaching each step (mean per simulated trial), the number at each bar."""
    values = [
        {
            "step": label,
            "patients": float(funnel.get(key) or 0.0),
            "text": f"{funnel.get(key) or 0:.1f}",
        }
        for key, label in FUNNEL
    ]
    order = [label for _, label in FUNNEL]
    y = {"field": "step", "type": "nominal", "sort": order, "title": None}
    x = {"field": "patients", "type": "quantitative", "title": "Patients (mean per trial)"}
    spec = _base("Patient flow, referral to infusion", ["Patients reaching each step."], 220)
    spec["width"] = WIDTH // 2 - 60
    spec["data"] = {"values": values}
    spec["layer"] = [
        {"mark": {"type": "bar", "color": MEANINGS["infused"]}, "encoding": {"y": y, "x": x}},
        {
            "mark": {"type": "text", "align": "left", "dx": 3, "fontWeight": "bold"},
            "encoding": {"y": y, "x": x, "text": {"field": "text"}},
        },
    ]
    return spec


RESOURCE_NAMES = {"apheresis": "Apheresis slots", "manufacturing": "Suites", "beds": "Beds"}


def capacity_spec(resources: Mapping[str, Mapping[str, Any]]) -> Spec:
    """Each resource's utilisation (%, bar in its colour) with its capacity and mean wait
    (days) written beside it."""
    values = []
    for r, label in RESOURCE_NAMES.items():
        v = resources.get(r) or {}
        util = v.get("utilization")
        wait = v.get("mean_wait_days")
        values.append(
            {
                "resource": f"{label} ({v.get('capacity')})",
                "key": r,
                "utilisation": None if util is None else 100 * util,
                "text": ("n/a" if util is None else f"{100 * util:.0f}%")
                + ("" if wait is None else f", wait {wait:.1f} d"),
            }
        )
    y = {"field": "resource", "type": "nominal", "title": None, "sort": None}
    x = {
        "field": "utilisation",
        "type": "quantitative",
        "title": "Busy time (% of capacity)",
        "scale": {"domain": [0, 100]},
    }
    colour = {
        "field": "key",
        "type": "nominal",
        "legend": None,
        "scale": {"domain": list(RESOURCE_NAMES), "range": [MEANINGS[r] for r in RESOURCE_NAMES]},
    }
    spec = _base("Capacity: utilisation and mean wait", ["Resource (capacity)."], 140)
    spec["width"] = WIDTH // 2 - 60
    spec["data"] = {"values": values}
    spec["layer"] = [
        {"mark": "bar", "encoding": {"y": y, "x": x, "color": colour}},
        {
            "mark": {"type": "text", "align": "left", "dx": 3},
            "encoding": {"y": y, "x": x, "text": {"field": "text"}},
        },
    ]
    return spec


def compare_fan_spec(
    fans: Sequence[tuple[str, Any]], *, target_count: int, deadline: str | None
) -> Spec:
    """The median cumulative infused of each run compared, a colour a run."""
    rows = []
    for label, fan in fans:
        for r in _rows(fan, ["date", "series", "p50"]):
            if r["series"] == "infused":
                rows.append({**r, "run": label})
    labels = [label for label, _ in fans]
    spec = _base("Cumulative patients infused, run by run", ["Median of the simulated trials."])
    spec["layer"] = [
        {
            "data": {"values": rows},
            "mark": {"type": "line", "strokeWidth": 2.5},
            "encoding": {
                "x": _date_x(),
                "y": {"field": "p50", "type": "quantitative", "title": "Patients infused (count)"},
                "color": {
                    "field": "run",
                    "type": "nominal",
                    "title": "Run",
                    "scale": {"domain": labels, "range": category_colours(len(labels))},
                    "legend": {"orient": "top", "columns": 1, "labelLimit": 600},
                },
            },
        },
        *_target(target_count, "infused"),
        *_deadline(deadline),
    ]
    return spec


def to_svg(spec: Spec) -> str:
    """The chart drawn as SVG text by vl-convert (no network: it carries its own Vega);
    InputError with the package to install when it is missing."""
    try:
        import vl_convert
    except ImportError:
        raise InputError(
            f"drawing the report's charts needs the package vl-convert-python: "
            f"pip install '{REQUIREMENT}'"
        ) from None
    svg = vl_convert.vegalite_to_svg(spec)
    return svg[svg.index("<svg") :]
