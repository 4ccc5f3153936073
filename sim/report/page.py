"""The one-page report of a run, to hand a steering committee: the headline in words, the
figures as tiles, the fan chart, the funnel, capacity, a comparison when asked, every
setting with its source, and what makes it reproducible (seed, replications, version, the
scenario's hash). One HTML file that works offline: its charts are inline SVG, its style
inline, and it fetches nothing (no script, font or image from anywhere). The PDF is this
page printed (:mod:`sim.report.pdf`)."""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sim.core.scenario import Scenario
from sim.core.version import __version__
from sim.report import figures
from sim.report.comparison import comparison_rows
from sim.report.headline import headline
from sim.report.sources import Sources, describe_value
from sim.report.summary import cost_notes
from sim.report.text import date_label, money
from sim.run.runner import Results

CSS = """
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: Helvetica, Arial, sans-serif; color: #222; margin: 0 auto;
  max-width: 700px; padding: 16px; font-size: 13px; line-height: 1.4; }
h1 { font-size: 20px; margin: 0 0 2px; }
h2 { font-size: 15px; margin: 18px 0 6px; border-bottom: 1px solid #ccc; }
.meta { color: #555; font-size: 11px; }
.answer { font-size: 18px; font-weight: bold; margin: 10px 0 4px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr));
  gap: 6px; margin: 8px 0; }
.tile { border: 1px solid #ccc; border-radius: 6px; padding: 6px 8px; break-inside: avoid; }
.tile .l { font-size: 11px; color: #555; }
.tile .v { font-size: 18px; font-weight: bold; overflow-wrap: anywhere; }
.tile .n { font-size: 10px; color: #555; overflow-wrap: anywhere; }
.chart { margin: 6px 0; break-inside: avoid; }
.chart svg { max-width: 100%; height: auto; }
.pair { display: flex; flex-wrap: wrap; gap: 8px; }
.pair .chart { flex: 1 1 300px; }
table { border-collapse: collapse; width: 100%; font-size: 11px; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 4px; text-align: left;
  vertical-align: top; overflow-wrap: anywhere; }
th { background: #f3f3f3; }
td.num { text-align: right; white-space: nowrap; }
.settings td:first-child { white-space: nowrap; }
.foot { margin-top: 14px; font-size: 10px; color: #555; overflow-wrap: anywhere; }
"""


@dataclass(frozen=True)
class ReportRun:
    """A run to report: its results and the text of its scenario (for the source comments
    beside each setting)."""

    results: Results
    sources: Sources = field(default_factory=Sources)
    origin: str = ""
    """Where the scenario came from (a file's name, ``settings from the dashboard``)."""


def _e(text: Any) -> str:
    return html.escape(str(text))


def _tiles(summary: Mapping[str, Any], horizon: dt.date) -> str:
    dates = summary.get("target_date") or {}
    prob = summary.get("prob_target_by_deadline")
    ci = summary.get("prob_target_by_deadline_ci95") or [None, None]
    reached = (summary.get("time_to_target_days") or {}).get("reached_fraction")

    def month(d: str | None) -> str:
        return f"{dt.date.fromisoformat(d):%b %Y}" if d else "Not reached"

    beyond = f"by the horizon's end, {horizon:%b %Y}"
    items = [
        (
            "Chance by the deadline",
            "n/a" if prob is None else f"{prob:.0%}",
            "" if None in ci else f"95% interval {ci[0]:.0%} to {ci[1]:.0%}",
        ),
        ("Median date of the target", month(dates.get("p50")), "" if dates.get("p50") else beyond),
        ("Early: 10th percentile", month(dates.get("p10")), ""),
        (
            "Late: 90th percentile",
            month(dates.get("p90")),
            ""
            if dates.get("p90") or reached is None
            else f"{beyond}; {1 - reached:.0%} never reach it",
        ),
    ]
    cells = "".join(
        f'<div class="tile"><div class="l">{_e(a)}</div><div class="v">{_e(b)}</div>'
        + (f'<div class="n">{_e(c)}</div>' if c else "")
        + "</div>"
        for a, b, c in items
    )
    return f'<div class="tiles">{cells}</div>'


def _chart(svg: str) -> str:
    return f'<div class="chart">{svg}</div>'


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], css: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    cls = f' class="{css}"' if css else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _leaves(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, value) of every setting; a distribution is one value."""
    if isinstance(data, Mapping) and "dist" not in data:
        out = []
        for k, v in data.items():
            out += _leaves(v, f"{prefix}{k}.")
        return out or [(prefix[:-1], "none")]
    if isinstance(data, list) and data and all(isinstance(v, Mapping) for v in data):
        out = []
        for i, v in enumerate(data):
            out += _leaves(v, f"{prefix}{i}.")
        return out
    return [(prefix[:-1], data)]


def settings_rows(scenario: Scenario, sources: Sources) -> list[tuple[str, str, str]]:
    """Every setting of the scenario: its key, its value in words and its source (the
    comment beside it in the scenario file; ``not set: the model's default`` when the file
    leaves it out)."""
    rows = []
    for key, value in _leaves(scenario.to_dict()):
        shown = describe_value(value) if value is not None else "not set"
        if sources.present and key not in sources.present:
            src = "not in the file: the model's default"
        else:
            src = sources.of(key) or ""
        rows.append((key, shown or str(value), src))
    return rows


def _num(v: float, unit: str, signed: bool = False, cash: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    sign = "+" if signed else ""
    if cash:  # money: whole units of its currency
        return f"{v:{sign},.0f} {unit}"
    if unit == "%":
        return f"{v:{sign}.1f} points" if signed else f"{v:.1f}%"
    return f"{v:{sign},.1f} {unit}"


def _per_infused(s: Mapping[str, Any]) -> str:
    c = s.get("costs")
    if not c:
        return "no costs"
    return money(c["per_infused_patient"]["mean_of_trial_ratios"], c.get("currency"))


def _comparison(ref: Results, others: Sequence[Results], draw: Callable[[dict], str]) -> str:
    parts = ["<h2>Comparison</h2>"]
    sums = [ref.summary(), *(o.summary() for o in others)]
    runs = [ref, *others]
    header = ["", *(r.scenario.name for r in runs)]
    lines = []
    for label, get in (
        ("chance by the deadline", lambda s: f"{s['prob_target_by_deadline']:.0%}"
         if s.get("prob_target_by_deadline") is not None else "n/a"),
        ("median target date", lambda s: date_label((s.get("target_date") or {}).get("p50"))
         if (s.get("target_date") or {}).get("p50") else "Not reached"),
        ("infused per trial", lambda s: f"{s['funnel']['infused']:.1f}"),
        ("cost per infused patient (mean over trials with one or more)", _per_infused),
    ):  # fmt: skip
        lines.append([label, *(get(s) for s in sums)])
    parts.append(_table(header, lines))
    t = ref.scenario.target
    parts.append(
        _chart(
            draw(
                figures.compare_fan_spec(
                    [(r.scenario.name, r.fan()) for r in runs],
                    target_count=t.count,
                    deadline=t.deadline.isoformat() if t.deadline else None,
                )
            )
        )
    )
    for other in others:
        rows = comparison_rows(ref, other)
        parts.append(
            f"<p><b>{_e(other.scenario.name)}</b> minus <b>{_e(ref.scenario.name)}</b>"
            + (
                " (the same simulated patients: each mean and the difference over the same "
                "trials)</p>"
                if ref.seed == other.seed
                else " (different seeds: not paired)</p>"
            )
        )
        parts.append(
            _table(
                ["figure", "reference", "this run", "difference", "paired 95% interval"],
                [
                    (
                        r["figure"],
                        _num(r["reference"], r["unit"], cash=r["money"]),
                        _num(r["this run"], r["unit"], cash=r["money"]),
                        _num(r["difference"], r["unit"], signed=True, cash=r["money"]),
                        r["paired 95% CI"],
                    )
                    for r in rows
                ],
            )
        )
    return "".join(parts)


def _costs(c: Mapping[str, Any] | None) -> str:
    """The costs block of a summary: per trial and per infused patient with their 80%
    intervals, then each priced category (nothing without costs)."""
    if not c:
        return ""
    cur = c.get("currency")
    t, p = c["per_trial"], c["per_infused_patient"]
    rows = [
        ("cost per simulated trial", money(t["mean"]), f"{money(t['p10'])} to {money(t['p90'])}"),
        (
            f"cost per infused patient: mean of each trial's cost / infused, over the "
            f"{p['trials_counted']} trials with one or more infused",
            money(p["mean_of_trial_ratios"]),
            f"{money(p['p10'])} to {money(p['p90'])}",
        ),
        (
            "cost per infused patient: ratio of the means (mean cost / mean infused)",
            money(p["ratio_of_means"]),
            "",
        ),
    ]
    rows += [
        (
            f"{k['quantity']} ({money(k['price'])} each, {k['quantity_mean']:,.1f} per trial)",
            money(k["mean"]),
            f"{money(k['p10'])} to {money(k['p90'])}",
        )
        for k in c["by_category"].values()
        if k["price"]
    ]
    note = "".join(f"<p>{_e(n)}</p>" for n in cost_notes(c))
    head = f"<h2>Costs{f' ({_e(cur)})' if cur else ''}</h2>"
    table = _table(["figure", "mean", "80% of trials"], rows)
    return head + table + note


def render_html(
    run: ReportRun,
    compare: Sequence[Results] = (),
    *,
    draw: Callable[[dict], str] = figures.to_svg,
    when: dt.datetime | None = None,
) -> str:
    """The report as one HTML page (``draw`` turns a chart's spec into SVG)."""
    res = run.results
    sc = res.scenario
    s = res.summary()
    horizon = sc.start_date + dt.timedelta(days=math.floor(sc.horizon_days))
    h = headline(s, horizon)
    t = sc.target
    deadline = t.deadline.isoformat() if t.deadline else None
    when = when or dt.datetime.now(dt.UTC)
    fan = draw(
        figures.fan_spec(res.fan(), target_count=t.count, milestone=t.milestone, deadline=deadline)
    )
    funnel = draw(figures.funnel_spec(s["funnel"]))
    capacity = draw(figures.capacity_spec(s["resources"]))
    body = [
        f"<h1>{_e(sc.name)}</h1>",
        f'<div class="meta">CAR-T trial logistics forecast, {res.replications:,} simulated '
        f"trials, seed {res.seed}; made {when:%d %b %Y %H:%M} UTC.</div>",
        f'<div class="answer">{_e(h.chance)}.</div>',
        "<ul>"
        + "".join(f"<li>{_e(x)}</li>" for x in (h.median, h.interval, h.reached, h.completion) if x)
        + "</ul>",
        _tiles(s, horizon),
        _chart(fan),
        f'<div class="pair">{_chart(funnel)}{_chart(capacity)}</div>',
        _costs(s.get("costs")),
    ]
    if compare:
        body.append(_comparison(res, compare, draw))
    body.append(f"<h2>Every setting{f' ({_e(run.origin)})' if run.origin else ''}</h2>")
    body.append(_table(["setting", "value", "source"], settings_rows(sc, run.sources), "settings"))
    body.append(
        f'<div class="foot">Seed {res.seed}; {res.replications:,} replications; '
        f"cart-trial-sim {__version__}; scenario hash (SHA-256) {sc.digest()}. The same "
        "settings, seed and replications give the same figures.</div>"
    )
    title = _e(f"{sc.name}: trial forecast")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
