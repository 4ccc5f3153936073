"""A facility's summary as readable text: its shared resources, every trial's targets, its
costs, then each trial's whole summary."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sim.report.summary import format_summary, per_infused_lines, resource_table
from sim.report.text import BEYOND, chance, money, num


def resource_lines(resources: dict[str, dict[str, Any]]) -> list[str]:
    """The facility's resources (:func:`sim.report.summary.resource_table`: units, shared or
    each trial's own, utilisation of the unit-days in force, mean wait of granted requests
    and mean queue) and what ``(own)`` means where a trial keeps its own units."""
    lines = resource_table(resources, units="units", width=12)
    if any(not r["shared"] for r in resources.values()):
        lines.append("  (own): not shared; each trial keeps its own units (their sum shown)")
    return lines


def facility_cost_lines(c: dict[str, Any] | None) -> list[str]:
    """The facility's costs in words (nothing without prices): the total per facility run and
    per infused patient, the shared units' availability, each trial's own costs, and what is
    not counted."""
    if not c:
        return []
    m, cur = money, c.get("currency")
    t, shared = c["per_facility"], c["shared_availability"]
    lines = [
        "",
        f"Facility costs{f' ({cur})' if cur else ''}, per facility run (every trial, the "
        "facility's days):",
        f"  Total: mean {m(t['mean'])}; 80% of runs between {m(t['p10'])} and {m(t['p90'])}",
    ]
    if c["per_infused_patient"] is not None:
        lines += per_infused_lines(c["per_infused_patient"], "run")
    if shared["resources"]:
        units = "; ".join(
            f"{name} {m(r['price'])} x {num(r['quantity_mean'], ',.1f')} {r['quantity']}"
            if r["price"] is not None
            else f"{name} not priced"
            for name, r in shared["resources"].items()
        )
        lines.append(
            f"  Shared units' availability (the facility's prices): mean {m(shared['mean'])} "
            f"({m(shared['p10'])} to {m(shared['p90'])}): {units}"
        )
    for k in c["by_trial"]:
        own = k["cost"]
        lines.append(
            f"  {k['label']}, its own costs: "
            + (f"mean {m(own['mean'])} ({m(own['p10'])} to {m(own['p90'])})" if own else "none")
        )
    return lines + [f"  {note}" for note in facility_cost_notes(c)]


def facility_cost_notes(c: dict[str, Any]) -> list[str]:
    """What qualifies a facility's costs: lower bounds (some trial never reaches its target,
    late only to the horizon) and what is not counted."""
    notes = [f"Not counted: {note}." for note in c["notes"]]
    if c.get("lower_bound"):
        notes.insert(0, "Lower bounds: some trials never reach their target, and their "
                        "months late are counted only to the horizon.")  # fmt: skip
    return notes


def _date(start: str, day: float | None) -> str:
    if day is None:
        return BEYOND
    return (dt.date.fromisoformat(start) + dt.timedelta(days=float(day))).isoformat()


def format_facility(s: dict[str, Any]) -> str:
    """The ``run`` command's text for a facility file."""
    every = s["every_target"]
    days = every["days_until_all_reached"]
    start = s["start_date"]
    lines = [
        f"Facility: {s['facility']}  ({s['replications']} replications, seed {s['seed']}, "
        f"start {start}, {len(s['trials'])} trials)",
        "  Chance that every trial reaches its target by its deadline: "
        f"{chance(every['prob_all_by_deadline'], every['prob_all_by_deadline_ci95'])}",
        f"  Every target reached: median {_date(start, days.get('p50'))}; 80% of runs between "
        f"{_date(start, days.get('p10'))} and {_date(start, days.get('p90'))}",
        "",
        *resource_lines(s["resources"]),
        "  utilisation: busy unit-days of all trials over the unit-days in force; waits and "
        "queues: all trials' patients together",
        *facility_cost_lines(s.get("costs")),
    ]
    for k, t in enumerate(s["trials"], start=1):
        lines += [
            "",
            f"--- Trial {k}: {t['label']} ({t['file']}; opens day {t['opens_day']:g}, "
            f"priority {t['priority']}) ---",
            "Days count from the facility's start; at a shared resource, utilisation is this "
            "trial's share of the shared units.",
            format_summary(t["summary"]),
        ]
    return "\n".join(lines)
