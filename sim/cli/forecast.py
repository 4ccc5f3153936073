"""``cart-trial-sim forecast`` and ``backtest``: re-forecasting from an observed log."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

from sim.cli.common import (
    add_sim_options,
    add_subcommands,
    answer,
    int_in,
    progress_bar,
    scenario_file,
)
from sim.core.errors import InputError
from sim.core.scenario import Scenario, with_overrides
from sim.forecasting.posterior import DEFAULT_PRIOR_PATIENTS, Priors
from sim.forecasting.times import DEFAULT_PRIOR_EVENTS
from sim.io.files import check_folder, write_folder
from sim.report.forecast import format_backtest, format_forecast
from sim.run.budget import check_work, estimate_work
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


def _priors_args(p: argparse.ArgumentParser) -> None:
    """What the log updates, and how much the scenario weighs against it (forecast and
    backtest alike)."""
    p.add_argument(
        "--prior-weight",
        type=_positive,
        default=None,
        metavar="MONTHS",
        help="worth of the scenario's referral rates, in months of observation "
        "(default: the scenario's rate_shape / rate, else 6)",
    )
    p.add_argument(
        "--prior-patients",
        type=_positive,
        default=DEFAULT_PRIOR_PATIENTS,
        metavar="N",
        help="worth of the scenario's failure probabilities, in "
        f"patients (default {DEFAULT_PRIOR_PATIENTS:g})",
    )
    p.add_argument(
        "--update-deterioration",
        action="store_true",
        help="update the latent time to deterioration from the log's deteriorations too",
    )
    p.add_argument(
        "--prior-deterioration-events",
        type=_positive,
        default=DEFAULT_PRIOR_EVENTS,
        metavar="N",
        help="with --update-deterioration: worth of the scenario's deterioration time, in "
        f"deteriorations (default {DEFAULT_PRIOR_EVENTS:g})",
    )
    p.add_argument(
        "--fit-trend",
        action="store_true",
        help="fit each site's referral trend (a rate that grows or falls) to the log and "
        "forecast with it and its uncertainty, instead of the scenario's steady rate",
    )
    p.add_argument(
        "--update-durations",
        action="store_true",
        help="scale the screening, manufacturing and stay durations to the log's too "
        "(prior worth --prior-patients patients)",
    )


def _priors(args: argparse.Namespace) -> Priors:
    return Priors(
        weight_months=args.prior_weight,
        patients=args.prior_patients,
        deterioration=args.update_deterioration,
        deterioration_events=args.prior_deterioration_events,
        durations=args.update_durations,
        trend=args.fit_trend,
    )


def _forecast_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario YAML file (the prior)")
    p.add_argument(
        "--observed",
        required=True,
        metavar="LOG.csv",
        help="observed log: one row a patient (see scenarios/observed_example.csv)",
    )
    p.add_argument(
        "--as-of",
        required=True,
        type=_date,
        metavar="DATE",
        help="the date the log is complete to (YYYY-MM-DD)",
    )
    _priors_args(p)
    add_sim_options(p, 200, min_reps=2)
    p.add_argument(
        "--out",
        metavar="DIR",
        help="write forecast.json, fan_prior.csv, fan_updated.csv and observed.csv into DIR",
    )


def _backtest_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario YAML file (truth and prior)")
    p.add_argument("--as-of", required=True, type=_date, metavar="DATE")
    p.add_argument(
        "--trials",
        type=int_in(1, 100_000, "--trials"),
        default=100,
        help="simulated truths to forecast; default 100",
    )
    _priors_args(p)
    add_sim_options(p, 100, min_reps=2, reps_help="replications of each forecast")
    p.add_argument(
        "--truth-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="draw the truths from the scenario with this value changed (repeatable), to "
        "see how the forecast fares when its model is wrong, e.g. "
        "referral.sites.0.trend_per_year=0.3",
    )


def cmd_forecast(args: argparse.Namespace) -> int:
    from sim.forecasting.forecast import forecast
    from sim.forecasting.observed import read_observed

    executor = parse_executor(args.executor, args.workers)
    scenario = scenario_file(args.scenario, args.overrides, args.command)
    if args.out:
        check_folder(Path(args.out))
    log = read_observed(args.observed, scenario, args.as_of)
    check_work(estimate_work(scenario, args.reps).times(2), args.allow_large)  # prior, updated
    with progress_bar(2 * args.reps, args.quiet) as update:
        priors = _priors(args)
        f = forecast(
            scenario, log, args.reps, args.seed, executor=executor, progress=update, priors=priors
        )
    summary = f.summary()
    if args.out:
        write_folder(
            Path(args.out),
            {
                "forecast.json": lambda fh: fh.write(json.dumps(summary, indent=2) + "\n"),
                "fan_prior.csv": lambda fh: f.prior.fan().to_csv(fh, index=False),
                "fan_updated.csv": lambda fh: f.updated.fan().to_csv(fh, index=False),
                "observed.csv": lambda fh: log.frame.to_csv(fh, index=False),
            },
        )
    answer(args, summary, format_forecast)
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from sim.forecasting.backtest import backtest

    executor = parse_executor(args.executor, args.workers)
    scenario = scenario_file(args.scenario, args.overrides, args.command)
    if args.as_of < scenario.start_date:
        raise InputError(
            f"must not be before start_date {scenario.start_date}",
            field="--as-of",
            value=str(args.as_of),
            has_value=True,
        )
    work = estimate_work(scenario, args.reps + 1)  # a truth and its forecast, for each trial
    check_work(work.times(args.trials), args.allow_large)
    with progress_bar(args.trials, args.quiet, "truths") as update:
        result = backtest(
            scenario,
            args.as_of,
            args.trials,
            args.reps,
            args.seed,
            executor=executor,
            progress=update,
            truth=_truth(scenario, args.truth_set),
            priors=_priors(args),
        )
    answer(args, result, format_backtest)
    return 0


def _truth(scenario: Scenario, changes: list[str]) -> Scenario:
    """The scenario the truths come from: the forecast's own, or it with ``changes``."""
    if not changes:
        return scenario
    truth = with_overrides(scenario, changes, source="--truth-set")
    return truth.model_copy(update={"name": f"{scenario.name} with {', '.join(changes)}"})


PARSERS = {"forecast": _forecast_args, "backtest": _backtest_args}
COMMANDS = {"forecast": cmd_forecast, "backtest": cmd_backtest}


def add_forecast_parsers(subparsers: Any) -> None:
    """Add ``forecast`` and ``backtest`` to ``subparsers``."""
    add_subcommands(subparsers, PARSERS)
