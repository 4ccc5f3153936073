"""Forecasts from an observed log, and their backtest, as text."""

from __future__ import annotations

from typing import Any

from sim.report.text import BEYOND, pct


def format_forecast(s: dict[str, Any]) -> str:
    o = s["observed"]
    lines = [
        f"Observed to {s['as_of']}: {o['referred']} referred, {o['enrolled']} enrolled, "
        f"{o['infused']} infused, {o['in_pathway']} still in the pathway",
        "Posterior:",
    ]
    for name, site in s["posterior"]["sites"].items():
        lines.append(
            f"  {name}: {site['prior_rate_per_month']:.2f} -> "
            f"{site['posterior_rate_per_month']:.2f} referrals/month "
            f"({site['observed_referrals']} seen in {site['exposure_months']:.1f} "
            "months at full rate)"
        )
    for key, label in (
        ("screen_fail_prob", "screen failure"),
        ("manufacturing_failed_prob", "manufacturing failed (every batch)"),
    ):
        b = s["posterior"][key]
        lines.append(
            f"  {label}: {b['prior']:.3f} -> {b['posterior_mean']:.3f} "
            f"({b['observed_failures']:g} of {b['observed_trials']:g} observed)"
        )
    for key, label in (
        ("prior_forecast", "Prior forecast (scenario alone)"),
        ("updated_forecast", "Updated forecast"),
    ):
        f = s[key]
        d = f["target_date"]
        p = f["prob_target_by_deadline"]
        chance = "" if p is None else f"; chance by the deadline {pct(p)}"
        lines.append(
            f"{label}: target date median {d['p50'] or BEYOND} "
            f"(80% interval {d['p10'] or BEYOND} to {d['p90'] or BEYOND}){chance}"
        )
    return "\n".join(lines)


def format_backtest(result: dict[str, Any]) -> str:
    """How often the forecast's 80% interval held the simulated truth."""
    lines = [
        f"Backtest of {result['scenario']} at {result['as_of']}: {result['judged']} "
        f"truths judged ({result['already_reached']} had reached the target already)"
    ]
    cov = result["coverage"]
    if cov is not None:
        lo, hi = result["coverage_ci95"]
        lines.append(
            f"  the forecast's 80% interval held the truth in {pct(cov)} "
            f"(95% interval {pct(lo)} to {pct(hi)}); truth below "
            f"p10 {result['truth_below_p10']}, above p90 {result['truth_above_p90']}"
        )
    return "\n".join(lines)
