"""The planning tools' answers as text: paired comparison, sweep, sizing, sensitivity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sim.core.station import RESOURCES
from sim.report.text import assignments, chance, money, num, pct, pct_interval


def format_comparison(c: dict[str, Any]) -> str:
    """A readable table of paired differences."""
    lines = [
        f"Paired comparison on common random numbers ({c['replications']} replications, "
        f"seed {c['seed']}); differences are scenario minus {c['reference']!r}."
    ]
    facility = c.get("kind") == "facility"
    for block in c["differences"]:
        lines += ["", f"{block['scenario']} - {block['minus']}:"]
        metrics = c["facility_metrics"] if facility else c["metrics"]
        lines += _difference_rows(block["paired"], metrics)
        if facility and c.get("costs_note"):
            lines.append(f"  Note: {c['costs_note']}.")
        for k, trial in enumerate(block.get("trials", []), start=1):
            lines += ["", f"  trial {k}: {trial['label']} - {trial['minus']}:"]
            trial_metrics = {**c["metrics"], **_cost_labels(trial["paired"])}
            lines += ["  " + row for row in _difference_rows(trial["paired"], trial_metrics)]
            if trial.get("costs_note"):
                lines.append(f"    Note: {trial['costs_note']}.")
    return "\n".join(lines + ([] if facility else _comparison_costs(c)))


def _cost_labels(paired: dict[str, Any]) -> dict[str, str]:
    """Labels of the cost figures of a facility's trial (no currency named; without the
    shared units' availability, the facility's cost)."""
    labels = {
        "cost_per_trial": "cost per trial, its own (shared units: the facility's)",
        "cost_per_infused": "cost per infused patient (pairs with infused in both)",
    }
    return {k: v for k, v in labels.items() if k in paired}


def _comparison_costs(c: dict[str, Any]) -> list[str]:
    """Each scenario's cost per infused patient (mean over its trials with one or more
    infused, with the 80% interval), or why the costs are not compared."""
    if c.get("costs_note"):
        return ["", f"Note: {c['costs_note']}."]
    lines = []
    for s in c["summaries"]:
        costs = s.get("costs")
        if not costs:
            continue
        p = costs["per_infused_patient"]
        cur = costs.get("currency")
        lines.append(
            f"  {s['scenario']}: {money(p['mean_of_trial_ratios'], cur)} (80% of trials "
            f"{money(p['p10'], cur)} to {money(p['p90'], cur)}; ratio of the means "
            f"{money(p['ratio_of_means'], cur)})"
        )
    if lines:
        lines.insert(0, "")
        lines.insert(
            1,
            "Cost per infused patient, mean over each scenario's trials with one or more "
            "infused" + (" (lower bounds: lateness to the horizon)" if _any_bound(c) else "") + ":",
        )
    return lines


def _any_bound(c: dict[str, Any]) -> bool:
    return any((s.get("costs") or {}).get("lower_bound") for s in c["summaries"])


def _difference_rows(paired: dict[str, Any], metrics: dict[str, str]) -> list[str]:
    w = max([44, *(len(metrics[k]) + 1 for k in paired)])
    rows = [f"  {'figure':<{w}}{'mean diff':>11}  {'paired 95% CI':>22}  {'unpaired 95% CI':>22}"]
    for key, d in paired.items():
        lo, hi = d["ci95"]
        ulo, uhi = d["unpaired_ci95"]
        fmt = money if key.startswith("cost_") else _g3  # money in whole units
        rows.append(
            f"  {metrics[key]:<{w}}{fmt(d['mean']):>11}  "
            f"{_both(lo, hi, fmt):>22}  {_both(ulo, uhi, fmt):>22}"
        )
    return rows


def format_sweep(result: dict[str, Any]) -> str:
    """A readable table of the sweep, one line a grid point."""
    t = result["target"]
    facility = result.get("kind") == "facility"
    if facility:
        named = "; ".join(f"T{k} {label}" for k, label in enumerate(result["trials"], start=1))
        head = (
            f"Sweep of the facility {result['scenario']} ({result['replications']} replications "
            f"a point, seed {result['seed']}, common random numbers); trials: {named}."
        )
    else:
        deadline = f" by {t['deadline']}" if t["deadline"] else ""
        head = (
            f"Sweep of {result['scenario']} ({result['replications']} replications a point, "
            f"seed {result['seed']}, common random numbers); target {t['count']} "
            f"{t['milestone']}{deadline}."
        )
    lines = [head, ""]
    keys = list(result["grid"])
    first = "P(all)" if facility else "P(deadline)"
    heads = [*keys, first, "95% interval", "median d", "p10-p90 d", "reached"]
    heads += [f"T{k} P" for k in range(1, len(result.get("trials", [])) + 1)]
    heads += ["infused", "deteriorated", "vein-to-vein d"]
    heads += [f"{r} util/wait" for r in RESOURCES]
    table = []
    for p in result["points"]:
        row = [str(p["set"][k]) for k in keys]
        row += [
            pct(p["prob_target_by_deadline"]),
            pct_interval(p["prob_ci95_low"], p["prob_ci95_high"], sep="-"),
            num(p["time_to_target_p50_days"], ".0f"),
            f"{num(p['time_to_target_p10_days'], '.0f')}-"
            f"{num(p['time_to_target_p90_days'], '.0f')}",
            pct(p["reached_fraction"]),
            *(pct(tr["prob_target_by_deadline"]) for tr in p.get("trials", [])),
            num(p["infused_mean"]),
            num(p["deteriorated_mean"]),
            num(p["vein_to_vein_mean_days"]),
        ]
        row += [
            f"{pct(p[f'{r}_utilization'])}/{num(p[f'{r}_mean_wait_days'], '.2f')}"
            for r in RESOURCES
        ]
        table.append(row)
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(heads)]
    lines.append("  ".join(h.rjust(w) for h, w in zip(heads, widths, strict=True)))
    for row in table:
        lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    if facility:
        lines += [
            "",
            "P(all): share of runs in which every trial reaches its target by its deadline "
            "(Wilson 95% interval); days: until every target is reached, n/a = beyond the "
            "horizon; Tk P: trial k's chance by its deadline; patients: all trials together; "
            "util/wait = mean utilisation / mean wait in days, all trials.",
        ]
        return "\n".join(lines)
    lines += [
        "",
        "P(deadline): share of trials reaching the target by the deadline (Wilson 95% interval);"
        " days to target n/a = beyond the horizon; util/wait = mean utilisation / mean wait in"
        " days.",
    ]
    return "\n".join(lines)


def format_sizing(r: dict[str, Any]) -> str:
    """The answer, its evidence, what is undecided and the search effort in plain words."""
    t = r["target"]
    want = pct(r["probability_wanted"])
    level = pct(r["level"])
    lines = [
        f"Sizing {', '.join(r['resources'])} for {r['scenario']}",
        f"  {r['replications']} replications a configuration at first, up to "
        f"{r['max_replications']} while its verdict is unclear; seed {r['seed']}, common random "
        f"numbers; each resource from 1 to {r['max_units']}" + "; " + _basis_words(r),
        f"  Wanted: {_wanted(t)} with probability at least "
        f"{want}: a configuration is enough when the {level} interval of its chance lies above "
        f"{want}, short when it lies below, and otherwise cannot tell." + _limits_text(r["limits"]),
        "",
    ]
    g = r["gain_at_max"]
    gained = (
        f"every resource at {r['max_units']} changes the chance by {100 * g['mean']:+.1f} points "
        f"(paired 95% interval {_pp(g['ci95'])}, {g['replications']} trials)"
    )
    if r["feasible"] and not r["capacity_binds"]:
        a = r["answer"]
        lines += [
            f"Capacity does not bind: even {assignments(a['set'])} is enough "
            f"(probability {_chance(a)}, {a['replications']} trials)."
        ]
    elif not r["capacity_binds"]:
        k = r["kept"]
        lo = g["ci95"][0]
        small = (
            "not clearly above 0"
            if lo is None or lo <= 0
            else f"less than the {100 * g['min_gain']:.0f} points that would count"
        )
        lines += [
            f"Capacity does not bind: {gained}, {small}, and nothing is enough. Keep today's "
            "capacity:",
            f"  {assignments(k['set'])}: probability {_chance(k)}: {_verdict(k)}.",
            "  What limits the trial is patient flow (referral rate, screening failures, "
            "deterioration), not units.",
        ]
    elif r["feasible"]:
        a = r["answer"]
        lines += [
            f"Capacity binds: with today's capacity, {gained}.",
            f"Answer: {assignments(a['set'])}  ({_cost_words(r, a)})",
            f"  probability {_chance(a)}: enough ({a['replications']} trials)",
        ]
    else:
        top, a = r["highest_probability"], r["best_found"]
        lines += [
            f"Capacity binds, but no combination with each resource at most {r['max_units']} is "
            f"enough for {want}: {gained}.",
            f"  With every resource at {r['max_units']}: probability {_chance(top)}: "
            f"{_verdict(top)}",
            f"  The cheapest configuration not significantly below that: {assignments(a['set'])}"
            f"  ({_cost_words(r, a)}), probability {_chance(a)}",
        ]
    if r["capacity_binds"]:
        lines.append("One unit less:")
        for e in r["one_unit_less"]:
            if e["set"] is None:
                lines.append(f"  {e['resource']}: {e['note']}")
            else:
                v = e["set"][e["resource"]]
                lines.append(f"  {e['resource']} = {v}: probability {_chance(e)}: {_verdict(e)}")
    for u in r["undecided"]:
        lines.append(
            f"Cannot tell with {u['replications']} trials: {assignments(u['set'])} "
            f"({_cost_words(r, u)}), probability {_chance(u)}; more trials (--max-reps) would "
            "decide"
        )
    if not r["capacity_binds"] and not r["feasible"]:
        lines += [
            "",
            f"Simulated {r['configurations_simulated']} configurations: today's, every resource "
            "at the maximum, and one unit less of each of today's.",
        ]
        return "\n".join(lines)
    lines += [
        "",
        f"Simulated {r['configurations_simulated']} of {r['lattice_size']:,} configurations"
        + (
            "; every cheaper configuration was ruled out (assuming more capacity never lowers "
            "the chance on common random numbers)."
            if r["cheaper_points_ruled_out"]
            else "; the lattice was too large to rule out every cheaper configuration, so the "
            "answer is minimal (one unit less of anything is not enough) but may not be the "
            "cheapest."
        ),
    ]
    lines += [f"Note: {n}" for n in r["notes"]]
    return "\n".join(lines)


def _basis_words(r: dict[str, Any]) -> str:
    """What "cheapest" means in a sizing: the unit costs given, the costs block's prices,
    or the fewest units."""
    basis = r.get("cost_basis", "--cost" if r["costs"] else "units")
    if basis == "--cost":
        return "unit costs " + ", ".join(f"{k} {v:,.0f}" for k, v in r["costs"].items())
    if basis == "costs block":
        return r["cost_note"]
    return "cheapest = fewest units"


def _cost_words(r: dict[str, Any], e: dict[str, Any]) -> str:
    """A configuration's cost as the sizing ranks it (and, with a costs block, its mean
    simulated total cost per trial)."""
    basis = r.get("cost_basis", "--cost" if r["costs"] else "units")
    if basis != "costs block":
        return f"cost {e['cost']:,.0f}"
    cur = r.get("currency")
    total, of = total_cost(e)
    return (
        f"availability {money(e['cost'], cur)} over the horizon; mean simulated total cost "
        f"per {of} {money(total, cur)}"
    )


def total_cost(e: dict[str, Any]) -> tuple[float | None, str]:
    """A sized configuration's mean simulated total cost and what it is of: a trial, or a
    facility run (every trial, the shared units once)."""
    if "mean_total_cost_per_facility_run" in e:
        return e["mean_total_cost_per_facility_run"], "facility run"
    return e.get("mean_total_cost_per_trial"), "trial"


def _limits_text(limits: dict[str, Any]) -> str:
    parts = []
    if limits["lost_share"] is not None:
        parts.append(f"at most {pct(limits['lost_share'])} of enrolled patients lost while waiting")
    if limits["vein_to_vein_p90_days"] is not None:
        parts.append(f"vein-to-vein p90 at most {limits['vein_to_vein_p90_days']:g} days")
    for res, days in limits["waits_days"].items():
        parts.append(f"mean wait for {res} at most {days:g} days")
    return (" Harm limits: " + "; ".join(parts) + ".") if parts else ""


def _verdict(e: dict[str, Any]) -> str:
    if e["harm"]:
        return "short (harm: " + "; ".join(e["harm"]) + ")"
    if e["verdict"] == "cannot tell":
        return f"cannot tell with {e['replications']} trials"
    return f"{e['verdict']} ({e['replications']} trials)"


def _pp(ci: list[float | None]) -> str:
    lo, hi = ci
    if lo is None or hi is None:
        return "n/a"
    return f"{100 * lo:+.1f} to {100 * hi:+.1f}"


def format_sensitivity(r: dict[str, Any], width: int = 30) -> str:
    """Tornado bars (oat) or index tables (morris, sobol)."""
    lines = [
        f"Sensitivity ({r['method']}) of {r['scenario']}: {len(r['parameters'])} parameters, "
        f"{r['runs']} runs of {r['replications']} replications, seed {r['seed']} (common "
        "random numbers).",
    ]
    name_w = max([len(p["key"]) for p in r["parameters"]] + [9])
    if r["method"] == "oat":
        for name, rows in r["tornado"].items():
            y0 = r["base"][name]
            top = max([row["swing"] for row in rows] + [0]) or 1.0
            fmt = ".3f" if name.startswith("prob") else ".0f"
            lines += ["", f"{r['outputs'][name]}: {format(y0, fmt)} at the scenario's values"]
            lines.append(
                f"  {'parameter':<{name_w}}  {'low .. high':>23}  {'at low .. at high':>19}  "
                f"{'+/-95%':>7}  swing"
            )
            noisy = 0
            for row in rows:
                bar = "#" * round(width * row["swing"] / top)
                rng = f"{row['low']:.4g} .. {row['high']:.4g}"
                ys = f"{format(row['at_low'], fmt)} .. {format(row['at_high'], fmt)}"
                err = half_width(row)
                flag = " (within noise)" if row.get("within_noise") else ""
                noisy += bool(flag)
                lines.append(
                    f"  {row['parameter']:<{name_w}}  {rng:>23}  {ys:>19}  "
                    f"{num(err, fmt):>7}  {format(row['swing'], fmt)} {bar}{flag}"
                )
            if noisy:
                lines.append(
                    f"  {noisy} of {len(rows)} swings cannot be told from chance: the paired "
                    "95% intervals of both ends' changes hold 0."
                )
        lines.append(
            "\n+/-95%: the larger half-width of the paired 95% intervals of the two ends' "
            "changes (common random numbers; more --reps narrow it)."
        )
    else:
        cols = (
            ("mu_star", "mu_star_conf", "sigma")
            if r["method"] == "morris"
            else ("S1", "S1_conf", "ST", "ST_conf")
        )
        for name, rows in r["indices"].items():
            lines += ["", f"{r['outputs'][name]}:"]
            lines.append(f"  {'parameter':<{name_w}}" + "".join(f"{c:>14}" for c in cols))
            for row in rows:
                lines.append(
                    f"  {row['parameter']:<{name_w}}"
                    + "".join(f"{num(row[c], '.4g'):>14}" for c in cols)
                )
            lines += [f"  {line}" for line in sampling_lines(r, name)]
        if r["method"] == "morris":
            lines.append(
                "\nmu*: mean absolute change of the figure when a parameter moves across its "
                "range (Morris grid steps); sigma: spread of those changes (interactions)."
            )
        else:
            lines.append(
                "\nS1: share of the figure's variance due to the parameter alone; ST: with "
                "its interactions; _conf: half-width of the 95% bootstrap interval."
            )
    return "\n".join(lines)


def half_width(row: dict[str, Any]) -> float | None:
    """The larger half-width of a tornado row's two paired 95% intervals of the change
    (None if unknown)."""
    ends = (row.get("effect_low_ci95", (None, None)), row.get("effect_high_ci95", (None, None)))
    widths = [(hi - lo) / 2 for lo, hi in ends if lo is not None and hi is not None]
    return max(widths) if len(widths) == 2 else None


def sampling_lines(r: dict[str, Any], output: str) -> list[str]:
    """The sampling error of a Morris or Sobol output in words, its warnings, and how many
    samples (and replications) would settle it; empty for one-at-a-time results."""
    c = r.get("checks", {}).get(output)
    if not c:
        return []
    knob = "trajectories" if r["method"] == "morris" else "base samples"
    have = r.get("trajectories") if r["method"] == "morris" else r.get("samples")
    if r["method"] == "morris":
        lines = [
            f"sampling error: mu* known to within {100 * c['error']:.0f}% (95%) for the "
            f"parameters that matter, with {have} {knob}."
        ]
    else:
        lines = [
            f"sampling error: indices to within +/-{c['error']:.2f} (95%) with {have} {knob}; "
            f"first-order indices sum to {c['sum_S1']:.2f} +/- {c['sum_S1_error']:.2f}."
        ]
    lines += [f"WARNING: {w}." for w in c["warnings"]]
    if c.get("samples_needed"):
        goal = f"{100 * c['tolerance']:.0f}%" if r["method"] == "morris" else f"+/-{c['tolerance']}"
        lines.append(
            f"about {c['samples_needed']} {knob} (--samples {c['samples_needed']}) would bring "
            f"the error to {goal}."
        )
    if c.get("reps_needed"):
        lines.append(
            f"about {c['reps_needed']} replications a run (--reps {c['reps_needed']}) would "
            "bring replication noise under 5% of the variance."
        )
    return lines


def _wanted(t: dict[str, Any] | None) -> str:
    """What a sizing wants: the target by the deadline (a facility: every trial's own)."""
    if t is None:
        return "every trial's target by its deadline"
    return f"{t['count']} {t['milestone']} by {t['deadline']}"


def _g3(x: float | None) -> str:
    return num(x, ".3g")


def _both(lo: float | None, hi: float | None, fmt: Callable[[Any], str] = _g3) -> str:
    """Both ends of an interval, each ``n/a`` where missing."""
    return f"{fmt(lo)} to {fmt(hi)}"


def _chance(e: dict[str, Any]) -> str:
    return chance(e["prob_target_by_deadline"], e["prob_ci95"], digits=1)
