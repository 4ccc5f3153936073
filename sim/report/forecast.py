"""Forecasts from an observed log, and their backtest, as text."""

from __future__ import annotations

from typing import Any

from sim.report.text import BEYOND, pct
from sim.report.text import chance as chance_text


def format_forecast(s: dict[str, Any]) -> str:
    """What the log shows, what it updates, and the forecast before and after."""
    o = s["observed"]
    lines = [
        f"Observed to {s['as_of']}: {o['referred']} referred, {o['enrolled']} enrolled, "
        f"{o['infused']} infused, {o['in_pathway']} still in the pathway",
        f"Forecast from {s['replications']:,} simulated trials, seed {s['seed']}; updated "
        "from the log: " + "; ".join(f"{k} ({v})" for k, v in s["updated"].items()),
        "Posterior:",
    ]
    post = s["posterior"]
    for name, site in post["sites"].items():
        lines.append(
            f"  {name}: {site['prior_rate_per_month']:.2f} -> "
            f"{site['posterior_rate_per_month']:.2f} referrals/month "
            f"({site['observed_referrals']} seen in {site['exposure_months']:.1f} "
            "months at full rate)"
        )
        lines += _trend_line(site)
    for key, label, unit in (
        ("screen_fail_prob", "screen failure", "screened"),
        ("manufacturing_failed_prob", "manufacturing failure (every batch of a patient)", "made"),
    ):
        b = post[key]
        lines.append(
            f"  {label}: {b['prior']:.3f} -> {b['posterior_mean']:.3f} "
            f"({b['observed_failures']:g} of {b['observed_trials']:g} {unit})"
        )
    for key, label in TIMES.items():
        if key in post:
            t = post[key]
            seen = (
                f"{t['observed_deteriorations']:g} deteriorations seen"
                if "observed_deteriorations" in t
                else f"{t['observed_patients']:g} seen"
            )
            lines.append(
                f"  {label}: mean {t['prior_mean_days']:.1f} -> {t['posterior_mean_days']:.1f} "
                f"days ({seen})"
            )
    for key, label in (
        ("prior_forecast", "Prior forecast (scenario alone)"),
        ("updated_forecast", "Updated forecast"),
    ):
        f = s[key]
        d = f["target_date"]
        p = f["prob_target_by_deadline"]
        ci = f.get("prob_target_by_deadline_ci95")
        chance = "" if p is None or not ci else f"; chance by the deadline {chance_text(p, ci)}"
        lines.append(
            f"{label}: target date median {d['p50'] or BEYOND} "
            f"(80% interval {d['p10'] or BEYOND} to {d['p90'] or BEYOND}){chance}"
        )
    return "\n".join(lines)


def _trend_line(site: dict[str, Any]) -> list[str]:
    """The referral trend the log shows, and whether the forecast uses it."""
    if site.get("trend_per_year") is None:
        return []
    lo, hi = site["trend_per_year_ci95"]
    steady = lo <= 0 <= hi
    use = (
        "used by this forecast"
        if site["trend_used"]
        else "not used: the forecast keeps the scenario's rate"
        + ("" if steady else "; a trend this clear argues for --fit-trend")
    )
    return [
        f"    trend seen in the log: {100 * site['trend_per_year']:+.0f}% a year (95% interval "
        f"{100 * lo:+.0f}% to {100 * hi:+.0f}%); {use}"
    ]


TIMES = {
    "deterioration": "time to deterioration",
    "screening_days": "screening",
    "manufacturing_days": "apheresis to release",
    "stay_days": "hospital stay",
}


def format_backtest(result: dict[str, Any]) -> str:
    """How often the forecast's 80% interval held the simulated truth."""
    lines = [
        f"Backtest of {result['scenario']} at {result['as_of']}: {result['judged']} "
        f"truths judged ({result['already_reached']} had reached the target already)"
        + ("" if result["truth"] == result["scenario"] else f"; truths from {result['truth']}")
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
