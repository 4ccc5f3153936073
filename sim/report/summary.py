"""A run's summary as readable text (the ``run`` command's default output)."""

from __future__ import annotations

from typing import Any

from sim.report.text import BEYOND, chance, days, money, num, pct


def target_lines(s: dict[str, Any]) -> list[str]:
    """The chance by the deadline, the target date and the primary completion of a summary
    (each where the summary has it)."""
    lines = []
    if s.get("prob_target_by_deadline") is not None:
        ci = s.get("prob_target_by_deadline_ci95") or [None, None]
        lines.append(
            "  Chance of reaching the target by the deadline: "
            f"{chance(s['prob_target_by_deadline'], ci)}"
        )
    dates = s.get("target_date") or {}
    if dates:
        lines.append(
            f"  Target date: median {dates.get('p50') or BEYOND}; 80% of trials between "
            f"{dates.get('p10') or BEYOND} and {dates.get('p90') or BEYOND}"
        )
    return lines


def completion_line(s: dict[str, Any]) -> str:
    p50 = (s.get("primary_completion_date") or {}).get("p50")
    return f"  Primary completion (target + follow-up): median {p50 or BEYOND}"


def mean_line(tt: dict[str, Any]) -> str:
    """The mean days to target: over every trial when all reach it, else over those that
    do, said so."""
    if tt.get("mean") is not None:
        return f"  Mean days to target: {num(tt['mean'])} ({_ci(tt['mean_ci95'])})"
    if tt.get("mean_if_reached") is None:
        return "  Mean days to target: none of the trials reaches the target"
    return (
        f"  Mean days to target among trials that reach it ({pct(tt['reached_fraction'])}): "
        f"{num(tt['mean_if_reached'])} ({_ci(tt['mean_if_reached_ci95'])}); over every trial "
        "it is beyond the horizon"
    )


def _ci(ci: list[float | None]) -> str:
    return f"95% interval {num(ci[0])} to {num(ci[1])}"


def precision_lines(p: dict[str, Any] | None) -> list[str]:
    """Whether ``--precision`` was reached, at how many replications, with what half-width."""
    if not p:
        return []
    if p["figure"] == "probability":
        what, fmt = "the chance by the deadline", lambda x: f"{100 * x:.1f} points"
    else:
        what, fmt = "the median days to target", lambda x: f"{100 * x:.1f}% of the median"
    got = "an unbounded interval" if p["half_width"] is None else f"±{fmt(p['half_width'])}"
    if p["met"]:
        verdict = f"reached at {p['replications_used']:,} replications ({got})"
    else:
        verdict = (
            f"NOT reached: {p['replications_used']:,} replications (the cap, --reps) give "
            f"{got}; raise --reps or accept a wider interval"
        )
    return [f"  Precision wanted: ±{fmt(p['wanted_half_width'])} on {what}; {verdict}"]


def phase1_lines(ph: dict[str, Any] | None) -> list[str]:
    """The dose-finding phase of a summary in words (nothing for a scenario without it)."""
    if not ph:
        return []
    shares = ph["recommended_level"]
    doses = ph["dose_levels_per_kg"]
    levels = ", ".join(
        f"level {k} ({doses[int(k) - 1]:.1e}/kg) {pct(v)}"
        for k, v in shares.items()
        if k not in ("none", "unfinished")
    )
    d = ph["days_first_infusion_to_end"]
    return [
        "",
        "Phase 1 (dose finding), per trial:",
        f"  {ph['patients_mean']:.1f} patients infused in {ph['cohorts_mean']:.1f} cohorts, "
        f"{ph['dlts_mean']:.1f} DLTs",
        "  Chance of stopping the trial for toxicity (no level cleared): "
        f"{chance(ph['prob_stopped_for_toxicity'], ph['prob_stopped_for_toxicity_ci95'])}",
        f"  Recommended level: {levels}; none {pct(shares['none'])}; phase 1 unfinished "
        f"{pct(shares['unfinished'])}",
        f"  Days from the first infusion to the end of phase 1: median {days(d['p50'])}, p10 "
        f"{days(d['p10'])}, p90 {days(d['p90'])}",
    ]


def cost_lines(c: dict[str, Any] | None) -> list[str]:
    """The costs block of a summary in words (nothing for a scenario without costs): the
    cost per trial and per infused patient with 80% intervals, then each priced category."""
    if not c:
        return []
    cur = c.get("currency")
    m = money  # the heading names the currency
    t = c["per_trial"]
    lines = [
        "",
        f"Costs{f' ({cur})' if cur else ''}:",
        f"  Per simulated trial: mean {m(t['mean'])}; 80% of trials between {m(t['p10'])} and "
        f"{m(t['p90'])}",
        *per_infused_lines(c["per_infused_patient"], "trial"),
        "  By category, per trial: price x mean quantity = mean cost (80% of trials)",
    ]
    unpriced = []
    for k in c["by_category"].values():
        if not k["price"]:
            unpriced.append(k["quantity"])
            continue
        lines.append(
            f"    {k['quantity']}: {m(k['price'])} x {num(k['quantity_mean'], ',.1f')} = "
            f"{m(k['mean'])} ({m(k['p10'])} to {m(k['p90'])})"
        )
    if unpriced:
        lines.append("    not priced: " + ", ".join(unpriced))
    lines += [f"  {note}" for note in cost_notes(c)]
    return lines


def per_infused_lines(p: dict[str, Any], run: str) -> list[str]:
    """The cost per infused patient in words: the mean of each ``run``'s (a trial, a
    facility run) cost over its infused patients, and the ratio of the means."""
    m = money
    without = p["trials_without_infused"]
    return [
        f"  Per infused patient: mean {m(p['mean_of_trial_ratios'])} over the "
        f"{p['trials_counted']} {run}s with one or more infused (each {run}'s cost over its "
        f"infused patients); 80% of those {run}s between {m(p['p10'])} and {m(p['p90'])}"
        + (f"; {without} {run}s with none infused left out" if without else ""),
        f"  Per infused patient, ratio of the means (mean cost per {run} / mean infused per "
        f"{run}): {m(p['ratio_of_means'])}",
    ]


def cost_notes(c: dict[str, Any]) -> list[str]:
    """What qualifies a costs block's figures: lower bounds (trials that never reach the
    target are late only to the horizon), or lateness priced without a deadline."""
    notes = []
    if c.get("lower_bound"):
        notes.append(
            f"Lower bounds: {pct(c['never_reached_fraction'])} of trials never reach the "
            "target, and their months late are counted only to the horizon."
        )
    if c.get("lateness_not_counted"):
        notes.append("Months late are priced, but the target has no deadline: none counted.")
    if c.get("shared_availability"):
        notes.append(
            f"In the facility, the availability of the shared {', '.join(c['shared_availability'])}"
            " units is the facility's cost, not this trial's: 0 here (see the facility's costs)."
        )
    return notes


def resource_table(
    resources: dict[str, dict[str, Any]], after: str = "", units: str = "capacity", width: int = 9
) -> list[str]:
    """The resource table: per resource its units (``*`` where a schedule changes them,
    listed in a note below ending with ``after``; ``(own)`` where ``shared`` is false, a
    facility's resource each trial keeps), utilisation, mean wait of granted requests (days)
    and mean queue; ``units``: the units column's heading, ``width`` its width."""
    lines = [
        f"{'Resource':<15}{units:>{width}}{'utilisation':>13}{'mean wait (d)':>15}"
        f"{'mean queue':>12}"
    ]
    changes = []
    for name, r in resources.items():
        steps = r.get("schedule") or []
        cap = str(r["capacity"]) + ("*" if len(steps) > 1 else "")
        cap = cap if r.get("shared", True) else f"{cap} (own)"
        lines.append(
            f"{name:<15}{cap:>{width}}{pct(r['utilization']):>13}"
            f"{num(r['mean_wait_days'], '.2f'):>15}{num(r['mean_queue_length'], '.3f'):>12}"
        )
        if len(steps) > 1:
            changes.append(f"{name} " + ", ".join(f"{n} from day {d:g}" for d, n in steps[1:]))
    if changes:
        lines.append("  * units at the start; then " + "; ".join(changes) + after)
    return lines


def format_summary(s: dict[str, Any]) -> str:
    """The forecast in plain words and small tables."""
    t = s["target"]
    tt = s["time_to_target_days"]
    lines = [
        f"Scenario: {s['scenario']}  ({s['replications']} replications, seed {s['seed']}, "
        f"start {s['start_date']})",
        f"Target: {t['count']} {t['milestone']}"
        + (f" by {t['deadline']}" if t["deadline"] else ""),
        *target_lines(s),
        f"  Days to target: median {days(tt['p50'])}, p10 {days(tt['p10'])}, p90 "
        f"{days(tt['p90'])}; reached in {pct(tt['reached_fraction'])} of trials",
        mean_line(tt),
        completion_line(s),
        *precision_lines(s.get("precision")),
        "",
        "Patient flow (mean per trial):",
        "  " + " -> ".join(f"{k} {v:.1f}" for k, v in s["funnel"].items()),
        f"  share of enrolled patients infused: {pct(s['share_enrolled_infused'])}",
        "Outcomes (mean per trial):",
        "  " + ", ".join(f"{k} {v:.1f}" for k, v in s["outcomes"].items()),
        "",
        *resource_table(s["resources"], " (utilisation: of the unit-days in force)"),
    ]
    v = s["vein_to_vein_days"]
    lines += [
        "",
        f"Vein-to-vein (apheresis to infusion), days: mean {num(v['mean'])}, median "
        f"{num(v['p50'])}, p90 {num(v['p90'])}",
        f"Per trial: {s['bed_days']:.0f} bed-days, {s['icu_days']:.0f} ICU-days, "
        f"fludarabine {s['fludarabine_mg'] / 1000:.1f} g, cyclophosphamide "
        f"{s['cyclophosphamide_mg'] / 1000:.1f} g",
        *phase1_lines(s.get("phase1")),
        *cost_lines(s.get("costs")),
    ]
    return "\n".join(lines)
