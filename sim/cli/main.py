"""Command line: ``python -m sim COMMAND``. Bad input: one line on stderr, exit status 2.

Thin commands: each parses its arguments, calls the library and prints. The planning,
forecast, run-store and verification commands live in ``cli_*.py`` and ``verify.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from sim.cli.common import (
    MAX_REPS,
    add_sim_options,
    answer,
    float_in,
    int_in,
    progress_bar,
)
from sim.cli.forecast import FORECAST_COMMANDS, add_forecast_parsers
from sim.cli.planning import PLANNING_COMMANDS, add_planning_parsers
from sim.cli.runs import add_runs_parser, cmd_runs
from sim.cli.verify import add_verify_parser, cmd_verify
from sim.core.errors import InputError
from sim.core.scenario import load_scenario
from sim.core.version import __version__
from sim.io import store
from sim.io.files import write_folder
from sim.io.reproduce import find_record, reproduce
from sim.planning.compare import compare
from sim.report.planning import format_comparison
from sim.report.summary import format_summary
from sim.run.executors import parse_executor
from sim.run.runner import Results, run_replications, run_to_precision

STORE_HELP = f"run store file (default: ${store.ENV_VAR}, else {store.DEFAULT_PATH.as_posix()})"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cart-trial-sim",
        description="Discrete-event simulation of the logistics of a CAR-T cell therapy trial.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="simulate a scenario and summarise the forecast")
    run.add_argument("scenario", help="scenario YAML file")
    add_sim_options(run, 200)
    run.add_argument(
        "--out",
        metavar="DIR",
        help="write summary.json, scenario.yaml, "
        "replications.csv, patients.csv, events.csv, timeline.csv and fan.csv",
    )
    run.add_argument(
        "--keep-logs",
        type=int_in(0, MAX_REPS, "--keep-logs"),
        default=None,
        metavar="N",
        help="keep full tables of the first N replications "
        "(default: all of them with --out, none otherwise)",
    )
    run.add_argument(
        "--precision",
        type=float_in(0.0, 1.0, "--precision"),
        default=None,
        metavar="REL",
        help="add replications until the 95%% interval of the "
        "mean time to target is within REL of the mean (capped by --reps)",
    )
    run.add_argument("--save", metavar="NAME", help="keep the run in the run store under NAME")
    run.add_argument(
        "--replace", action="store_true", help="with --save: replace a saved run of the same name"
    )
    run.add_argument("--store", metavar="PATH", help=STORE_HELP)

    cmp_ = sub.add_parser("compare", help="paired comparison of scenarios (common random numbers)")
    cmp_.add_argument(
        "scenarios", nargs="+", help="two or more scenario files; the first is the reference"
    )
    add_sim_options(cmp_, 200, min_reps=2, set_help="override applied to every scenario")

    val = sub.add_parser("validate", help="check scenario files")
    val.add_argument("scenarios", nargs="+", help="scenario YAML files")
    val.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a value before validating",
    )

    rp = sub.add_parser(
        "reproduce", help="re-run a saved run or an --out folder and confirm identical results"
    )
    rp.add_argument("target", metavar="DIR_OR_NAME", help="an --out folder or a saved run name")
    rp.add_argument("--store", metavar="PATH", help=STORE_HELP)
    rp.add_argument("--executor", default="process")
    rp.add_argument("--workers", type=int_in(1, 1024, "--workers"), default=None)
    rp.add_argument("--json", action="store_true", help="print only JSON on stdout")
    rp.add_argument("--quiet", action="store_true", help="no progress bar")

    add_runs_parser(sub)
    add_verify_parser(sub)
    add_planning_parsers(sub)
    add_forecast_parsers(sub)
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario, args.overrides)
    executor = parse_executor(args.executor, args.workers)
    keep = args.keep_logs if args.keep_logs is not None else (args.reps if args.out else 0)
    if args.save is not None:  # refuse a bad or taken name before spending the run
        store.validate_name(args.save)
        taken = set(store.list_runs(store.store_path(args.store))["name"])
        if args.save in taken and not args.replace:
            raise InputError(
                f"a run named {args.save!r} is already saved; add --replace to overwrite it",
                field="--save",
            )
    with progress_bar(args.reps, args.quiet) as update:
        if args.precision is None:
            results = run_replications(
                scenario, args.reps, args.seed, keep_logs=keep, progress=update, executor=executor
            )
            precision = None
        else:
            results, precision = run_to_precision(
                scenario,
                args.precision,
                args.reps,
                args.seed,
                keep_logs=keep,
                executor=executor,
                progress=update,
            )
    summary = results.summary()
    if precision is not None:
        summary["precision"] = precision
    if args.out:
        write_outputs(results, summary, Path(args.out))
    if args.save is not None:
        store.save_results(args.save, results, summary, replace=args.replace, path=args.store)
    saved = f"Saved as {args.save!r} in {store.store_path(args.store)}"
    answer(
        args,
        summary,
        format_summary,
        f"\nTables written to {args.out}" if args.out else "",
        saved if args.save is not None else "",
    )
    return 0


save_results = store.save_results  # the old spelling, kept for callers of sim.cli.main


def write_outputs(results: Results, summary: dict[str, Any], out: Path) -> None:
    """Write the tables and summary into ``out``; a file appears whole or not at all."""
    write_folder(
        out,
        {
            "summary.json": lambda f: f.write(json.dumps(summary, indent=2) + "\n"),
            "scenario.yaml": lambda f: f.write(results.scenario.to_yaml()),
            "replications.csv": lambda f: results.frame().to_csv(f, index=False),
            "patients.csv": lambda f: results.patients().to_csv(f, index=False),
            "events.csv": lambda f: results.events().to_csv(f, index=False),
            "timeline.csv": lambda f: results.timeline().to_csv(f, index=False),
            "fan.csv": lambda f: results.fan().to_csv(f, index=False),
        },
    )


def cmd_compare(args: argparse.Namespace) -> int:
    if len(args.scenarios) < 2:
        raise InputError("compare needs two or more scenario files", field="scenarios")
    scenarios = [load_scenario(p, args.overrides) for p in args.scenarios]
    names = [sc.name for sc in scenarios]
    if len(set(names)) < len(names):  # label by file where names repeat
        scenarios = [
            sc.model_copy(update={"name": f"{sc.name} [{p}]"})
            for sc, p in zip(scenarios, args.scenarios, strict=True)
        ]
    executor = parse_executor(args.executor, args.workers)
    with progress_bar(args.reps * len(scenarios), args.quiet) as update:
        result = compare(scenarios, args.reps, args.seed, executor=executor, progress=update)
    answer(args, result, format_comparison)
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    record = find_record(args.target, args.store)
    executor = parse_executor(args.executor, args.workers)
    with progress_bar(record.replications, args.quiet) as update:
        result = reproduce(record, executor, update)
    if args.json:
        print(json.dumps(result, indent=2))
    elif result["identical"]:
        print(
            f"identical: {result['source']} ({result['replications']} replications, seed "
            f"{result['seed']}) re-ran to the same summary with cart-trial-sim "
            f"{result['current_version']} (recorded with {result['recorded_version']})"
        )
    else:
        shown = ", ".join(result["differences"][:8])
        print(f"DIFFERENT: {result['source']} re-ran to other figures: {shown}")
    return 0 if result["identical"] else 1


def cmd_validate(args: argparse.Namespace) -> int:
    status = 0
    for path in args.scenarios:
        try:
            sc = load_scenario(path, args.overrides)
        except InputError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            status = 2
            continue
        print(f"ok: {path} ({sc.name})")
    return status


COMMANDS = {
    "run": cmd_run,
    "validate": cmd_validate,
    "compare": cmd_compare,
    "runs": cmd_runs,
    "reproduce": cmd_reproduce,
    "verify": cmd_verify,
    **PLANNING_COMMANDS,
    **FORECAST_COMMANDS,
}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except InputError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
