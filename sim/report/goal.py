"""What must change (``goal``) in words: for each lever, the least change that reaches the
wanted chance of the target by the deadline, with the chance before and after."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.report.text import chance, date_label, pct

NAMES = {
    "rate": "Referral rate (all sites together)",
    "sites": "Referring sites",
    "opening": "Opening of the last site to open",
}


def _value(lever: Mapping[str, Any], value: float) -> str:
    if lever["lever"] == "rate":
        return f"{value:.2f} patients/month"
    if lever["lever"] == "sites":
        return f"{int(value)} site{'s' if int(value) != 1 else ''}"
    return f"day {int(value)}"


def lever_line(lever: Mapping[str, Any]) -> str:
    """One lever's answer in a sentence."""
    name = NAMES[lever["lever"]]
    want = pct(lever["probability_wanted"])
    cur = lever["current"]
    now = f"{_value(lever, cur['value'])}: {chance(cur['chance'], cur['ci95'])}"
    site = f" ({lever['site']})" if lever.get("site") else ""
    if lever["status"] == "already":
        return f"{name}{site}: already enough at {now}."
    if lever["status"] == "unreachable" and lever["range"][0] == lever["range"][1]:
        return f"{name}{site}: cannot help, it is at its limit already ({now})."
    if lever["status"] == "unreachable":
        lo, hi = lever["range"]
        best = lever.get("best_tried") or {}
        edge = _value(lever, hi if lever["lever"] != "opening" else lo)
        at = f", {pct(best['chance'])} at {edge}" if best else ""
        return (
            f"{name}{site}: not enough even at {edge} (now {now}{at}); the {want} wanted "
            "needs another change."
        )
    a = lever["answer"]
    return (
        f"{name}{site}: at least {_value(lever, a['value'])} gives "
        f"{chance(a['chance'], a['ci95'])}, the {want} wanted (now {now})."
        if lever["lever"] != "opening"
        else f"{name}{site}: opening by {_value(lever, a['value'])} gives "
        f"{chance(a['chance'], a['ci95'])}, the {want} wanted (now {now})."
    )


def format_goal(result: Mapping[str, Any]) -> str:
    """The ``goal`` command's answer."""
    t = result["target"]
    by = f" by {date_label(t['deadline'])}" if t.get("deadline") else ""
    head = (
        f"What must change for a {pct(result['probability_wanted'])} chance of "
        f"{t['count']} {t['milestone']}{by} ({result['scenario']}):"
    )
    lines = [head, *(f"  {lever_line(lv)}" for lv in result["levers"])]
    lines.append(
        f"Each value tried: {result['replications']:,} simulated trials on seed "
        f"{result['seed']} (the same patients: common random numbers); one lever at a time."
    )
    return "\n".join(lines)
