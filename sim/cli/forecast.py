"""``cart-trial-sim forecast`` and ``backtest``: re-forecasting from an observed log."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

from sim.cli.common import add_sim_options, int_in, progress_bar
from sim.core.errors import InputError
from sim.core.scenario import load_scenario
from sim.forecast.backtest import backtest
from sim.forecast.forecast import DEFAULT_PRIOR_PATIENTS, forecast
from sim.forecast.observed import parse_log, read_log
from sim.io.files import write_files
from sim.run.executors import parse_executor


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a number above 0, not {text!r}")
    return value


def add_forecast_parsers(sub: Any) -> None:
    """Add ``forecast`` and ``backtest`` to the command line's subparsers."""
    fc = sub.add_parser("forecast", help="update the forecast from an observed patient log")
    fc.add_argument("scenario", help="scenario YAML file (the prior)")
    fc.add_argument(
        "--observed",
        required=True,
        metavar="LOG.csv",
        help="observed log: one row a patient (see scenarios/observed_example.csv)",
    )
    fc.add_argument(
        "--as-of",
        required=True,
        type=_date,
        metavar="DATE",
        help="the date the log is complete to (YYYY-MM-DD)",
    )
    fc.add_argument(
        "--prior-weight",
        type=_positive,
        default=None,
        metavar="MONTHS",
        help="worth of the scenario's referral rates, in months of observation "
        "(default: the scenario's rate_shape / rate, else 6)",
    )
    fc.add_argument(
        "--prior-patients",
        type=_positive,
        default=DEFAULT_PRIOR_PATIENTS,
        metavar="N",
        help="worth of the scenario's failure probabilities, in "
        f"patients (default {DEFAULT_PRIOR_PATIENTS:g})",
    )
    add_sim_options(fc, 200, min_reps=2)
    fc.add_argument(
        "--out",
        metavar="DIR",
        help="write forecast.json, fan_prior.csv, fan_updated.csv and observed.csv into DIR",
    )

    bt = sub.add_parser(
        "backtest", help="coverage of the forecast's 80%% interval on simulated truths"
    )
    bt.add_argument("scenario", help="scenario YAML file (truth and prior)")
    bt.add_argument("--as-of", required=True, type=_date, metavar="DATE")
    bt.add_argument(
        "--trials",
        type=int_in(1, 100_000, "--trials"),
        default=100,
        help="simulated truths to forecast; default 100",
    )
    add_sim_options(bt, 100, min_reps=2, reps_help="replications of each forecast")


def cmd_forecast(args: argparse.Namespace) -> int:
    executor = parse_executor(args.executor, args.workers)
    scenario = load_scenario(args.scenario, args.overrides)
    log = parse_log(read_log(args.observed), scenario, args.as_of, source=args.observed)
    with progress_bar(2 * args.reps, args.quiet) as update:
        f = forecast(
            scenario,
            log,
            args.reps,
            args.seed,
            args.prior_weight,
            executor=executor,
            progress=update,
            prior_patients=args.prior_patients,
        )
    summary = f.summary()
    if args.out:
        write_files(
            Path(args.out),
            {
                "forecast.json": lambda fh: fh.write(json.dumps(summary, indent=2) + "\n"),
                "fan_prior.csv": lambda fh: f.prior.fan().to_csv(fh, index=False),
                "fan_updated.csv": lambda fh: f.updated.fan().to_csv(fh, index=False),
                "observed.csv": lambda fh: log.frame.to_csv(fh, index=False),
            },
        )
    print(json.dumps(summary, indent=2) if args.json else format_forecast(summary))
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    executor = parse_executor(args.executor, args.workers)
    scenario = load_scenario(args.scenario, args.overrides)
    if args.as_of < scenario.start_date:
        raise InputError(
            f"must not be before start_date {scenario.start_date}",
            field="--as-of",
            value=str(args.as_of),
            has_value=True,
        )
    with progress_bar(args.trials, args.quiet, "truths") as update:
        result = backtest(
            scenario,
            args.as_of,
            args.trials,
            args.reps,
            args.seed,
            executor=executor,
            progress=update,
        )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        cov = result["coverage"]
        ci = result["coverage_ci95"] or [None, None]
        print(
            f"Backtest of {result['scenario']} at {result['as_of']}: {result['judged']} "
            f"truths judged ({result['already_reached']} had reached the target already)"
        )
        if cov is not None:
            print(
                f"  the forecast's 80% interval held the truth in {100 * cov:.0f}% "
                f"(95% interval {100 * ci[0]:.0f}% to {100 * ci[1]:.0f}%); truth below "
                f"p10 {result['truth_below_p10']}, above p90 {result['truth_above_p90']}"
            )
    return 0


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
        chance = "" if p is None else f"; chance by the deadline {100 * p:.0f}%"
        far = "beyond the horizon"
        lines.append(
            f"{label}: target date median {d['p50'] or far} "
            f"(80% interval {d['p10'] or far} to {d['p90'] or far}){chance}"
        )
    return "\n".join(lines)


FORECAST_COMMANDS = {"forecast": cmd_forecast, "backtest": cmd_backtest}
