"""A readable text table of a summary (the ``run`` command's default output)."""

from __future__ import annotations

from typing import Any


def _num(x: float | None, fmt: str = ".1f") -> str:
    return "n/a" if x is None else format(x, fmt)


def _days(x: float | None) -> str:
    """Days, or where a percentile falls among the trials that never reach the target."""
    return "beyond the horizon" if x is None else f"{x:.1f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def format_summary(s: dict[str, Any]) -> str:
    """The forecast in plain words and small tables."""
    t = s["target"]
    tt = s["time_to_target_days"]
    lines = [
        f"Scenario: {s['scenario']}  ({s['replications']} replications, seed {s['seed']}, "
        f"start {s['start_date']})",
        f"Target: {t['count']} {t['milestone']}"
        + (f" by {t['deadline']}" if t["deadline"] else ""),
    ]
    if s["prob_target_by_deadline"] is not None:
        lo, hi = s["prob_target_by_deadline_ci95"]
        lines.append(
            f"  Chance of reaching the target by the deadline: "
            f"{_pct(s['prob_target_by_deadline'])} (95% interval {_pct(lo)} to {_pct(hi)})"
        )
    d = s["target_date"]
    lines += [
        f"  Target date: median {d['p50'] or 'beyond the horizon'}; 80% of trials between "
        f"{d['p10'] or 'beyond the horizon'} and {d['p90'] or 'beyond the horizon'}",
        f"  Days to target: median {_days(tt['p50'])}, p10 {_days(tt['p10'])}, p90 "
        f"{_days(tt['p90'])}; reached in {_pct(tt['reached_fraction'])} of trials",
        f"  Primary completion (target + follow-up): median "
        f"{s['primary_completion_date']['p50'] or 'beyond the horizon'}",
        "",
        "Patient flow (mean per trial):",
        "  " + " -> ".join(f"{k} {v:.1f}" for k, v in s["funnel"].items()),
        f"  share of enrolled patients infused: {_pct(s['share_enrolled_infused'])}",
        "Outcomes (mean per trial):",
        "  " + ", ".join(f"{k} {v:.1f}" for k, v in s["outcomes"].items()),
        "",
        f"{'Resource':<15}{'capacity':>9}{'utilisation':>13}{'mean wait (d)':>15}"
        f"{'mean queue':>12}",
    ]
    for name, r in s["resources"].items():
        lines.append(
            f"{name:<15}{r['capacity']:>9}{_pct(r['utilization']):>13}"
            f"{_num(r['mean_wait_days'], '.2f'):>15}{_num(r['mean_queue_length'], '.3f'):>12}"
        )
    v = s["vein_to_vein_days"]
    lines += [
        "",
        f"Vein-to-vein (apheresis to infusion), days: mean {_num(v['mean'])}, median "
        f"{_num(v['p50'])}, p90 {_num(v['p90'])}",
        f"Per trial: {s['bed_days']:.0f} bed-days, {s['icu_days']:.0f} ICU-days, "
        f"fludarabine {s['fludarabine_mg'] / 1000:.1f} g, cyclophosphamide "
        f"{s['cyclophosphamide_mg'] / 1000:.1f} g",
    ]
    return "\n".join(lines)
