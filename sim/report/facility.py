"""A facility's summary as readable text: its shared resources, every trial's targets, then
each trial's whole summary."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sim.report.summary import format_summary
from sim.report.text import BEYOND, chance, num, pct


def resource_lines(resources: dict[str, dict[str, Any]]) -> list[str]:
    """The facility's resources: units (shared or each trial's own), utilisation of the
    unit-days in force, mean wait of granted requests and mean queue."""
    lines = [
        f"{'Resource':<15}{'units':>12}{'utilisation':>13}{'mean wait (d)':>15}{'mean queue':>12}"
    ]
    notes = []
    for name, r in resources.items():
        steps = r.get("schedule") or []
        units = str(r["capacity"]) + ("*" if len(steps) > 1 else "")
        units = units if r["shared"] else f"{units} (own)"
        lines.append(
            f"{name:<15}{units:>12}{pct(r['utilization']):>13}"
            f"{num(r['mean_wait_days'], '.2f'):>15}{num(r['mean_queue_length'], '.3f'):>12}"
        )
        if len(steps) > 1:
            notes.append(f"{name} " + ", ".join(f"{n} from day {d:g}" for d, n in steps[1:]))
    if notes:
        lines.append("  * units at the start; then " + "; ".join(notes))
    if any(not r["shared"] for r in resources.values()):
        lines.append("  (own): not shared; each trial keeps its own units (their sum shown)")
    return lines


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
