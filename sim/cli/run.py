"""``cart-trial-sim run | compare | validate | reproduce``: simulate, compare, check a
scenario file, and re-run a recorded run."""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.cli import common
from sim.cli.common import (
    STORE_HELP,
    add_set_option,
    add_sim_options,
    answer,
    is_facility_file,
    progress_bar,
)
from sim.core.errors import InputError
from sim.core.scenario import load_scenario
from sim.core.yamlio import read_text
from sim.io import store
from sim.io.files import check_folder, write_folder
from sim.io.outputs import run_files
from sim.io.reproduce import find_record, reproduce
from sim.planning.compare import compare
from sim.report.planning import format_comparison
from sim.report.summary import format_summary
from sim.run.budget import check_kept, check_work, combined, estimate_work
from sim.run.executors import parse_executor
from sim.run.runner import PRECISION_OF, run_replications, run_to_precision

if TYPE_CHECKING:
    from sim.run.runner import Results


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario YAML file")
    add_sim_options(p, 200)
    p.add_argument(
        "--out",
        metavar="DIR",
        help="write summary.json, scenario.yaml, "
        "replications.csv, patients.csv, events.csv, timeline.csv and fan.csv",
    )
    p.add_argument(
        "--keep-logs",
        type=common.int_in(0, common.MAX_REPS, "--keep-logs"),
        default=None,
        metavar="N",
        help="keep full tables of the first N replications "
        "(default: all of them with --out, none otherwise)",
    )
    p.add_argument(
        "--precision",
        type=common.float_in(0.0, 1.0, "--precision"),
        default=None,
        metavar="W",
        help="add replications (up to --reps) until the 95%% half-width of the figure "
        "--precision-of names is at most W: e.g. 0.02, two points of the chance",
    )
    p.add_argument(
        "--precision-of",
        choices=PRECISION_OF,
        default="probability",
        help="probability: the chance of reaching the target by the deadline (absolute "
        "half-width; the default); median: the median days to target (half-width relative "
        "to the median)",
    )
    p.add_argument("--save", metavar="NAME", help="keep the run in the run store under NAME")
    p.add_argument(
        "--replace", action="store_true", help="with --save: replace a saved run of the same name"
    )
    p.add_argument("--store", metavar="PATH", help=STORE_HELP)


def _compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "scenarios", nargs="+", help="two or more scenario files; the first is the reference"
    )
    add_sim_options(p, 200, min_reps=2, set_help="override applied to every scenario")


def _validate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenarios", nargs="+", help="scenario YAML files")
    add_set_option(p, "override a value before validating")


def _reproduce_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="DIR_OR_NAME", help="an --out folder or a saved run name")
    p.add_argument("--store", metavar="PATH", help=STORE_HELP)
    p.add_argument("--executor", default="process")
    p.add_argument("--workers", type=common.int_in(1, 1024, "--workers"), default=None)
    p.add_argument("--json", action="store_true", help="print only JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    common.add_allow_large(p)


def cmd_run(args: argparse.Namespace) -> int:
    if is_facility_file(args.scenario):
        return run_facility(args)
    scenario = load_scenario(args.scenario, args.overrides)
    executor = parse_executor(args.executor, args.workers)
    out = Path(args.out) if args.out else None
    if out is not None:  # refuse what cannot be honoured before spending the run
        check_folder(out)
    if args.save is not None:
        store.check_free(args.save, replace=args.replace, path=args.store)
    work = estimate_work(scenario, args.reps)
    check_work(work, args.allow_large)
    keep = args.keep_logs if args.keep_logs is not None else (args.reps if out else 0)
    check_kept(work, keep, args.allow_large)
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
                figure=args.precision_of,
            )
    summary = results.summary()
    if precision is not None:
        summary["precision"] = precision
    notes, failed = [], []  # a failure to keep the results still shows them
    if out is not None:
        try:
            notes.append(write_outputs(results, summary, out))
        except InputError as exc:
            failed.append(f"the tables were not written: {exc.message}")
    if args.save is not None:
        try:
            notes.append(_save(args, results, summary))
        except InputError as exc:
            failed.append(f"the run was not saved: {exc.message}")
    answer(args, summary, format_summary, *notes)
    for problem in failed:
        print(f"error: {problem}", file=sys.stderr)
    return 2 if failed else 0


def run_facility(args: argparse.Namespace) -> int:
    """``run`` of a facility file: every trial together on the shared resources."""
    from sim.core.facility import load_facility
    from sim.report.facility import format_facility
    from sim.run.facility import run_facility_replications

    for flag, given in (("--precision", args.precision), ("--save", args.save),
                        ("--keep-logs", args.keep_logs)):  # fmt: skip
        if given is not None:
            raise InputError(
                "is not available for a facility file yet; run each trial alone for it",
                field=flag,
            )
    facility = load_facility(args.scenario, args.overrides)
    executor = parse_executor(args.executor, args.workers)
    if args.out:
        check_folder(Path(args.out))
    check_work(combined([estimate_work(sc, args.reps) for sc in facility.trials]), args.allow_large)
    with progress_bar(args.reps, args.quiet) as update:
        results = run_facility_replications(
            facility, args.reps, args.seed, executor=executor, progress=update
        )
    summary = results.summary()
    if args.out:
        tables = results.tables
        files = {
            "summary.json": lambda f: f.write(json.dumps(summary, indent=2) + "\n"),
            "facility.yaml": lambda f: f.write(read_text(args.scenario)),
            "facility_replications.csv": lambda f: (
                tables["facility"].frame().to_csv(f, index=False)
            ),
        }
        for k, sc in enumerate(facility.trials):
            files[f"trial{k + 1}_scenario.yaml"] = partial(_write_text, sc.to_yaml())
            files[f"trial{k + 1}_replications.csv"] = partial(_write_frame, tables.trial(k))
        write_folder(Path(args.out), files)
    answer(args, summary, format_facility, f"\nTables written to {args.out}" if args.out else "")
    return 0


def _write_text(text: str, f: Any) -> None:
    f.write(text)


def _write_frame(table: Any, f: Any) -> None:
    table.frame().to_csv(f, index=False)


def _save(args: argparse.Namespace, results: Results, summary: dict[str, Any]) -> str:
    """Save the run under ``--save``, or under the next free name if another process took
    that name since the run started; the note to print."""
    where = store.store_path(args.store)
    try:
        store.save_results(args.save, results, summary, replace=args.replace, path=where)
        return f"Saved as {args.save!r} in {where}"
    except store.NameTaken:
        for _ in range(10):  # other sessions may be taking the next names too
            name = store.next_free_name(args.save, where)
            try:
                store.save_results(name, results, summary, path=where)
            except store.NameTaken:
                continue
            return (
                f"Saved as {name!r} in {where} (another run was saved as {args.save!r} while "
                "this one ran)"
            )
        raise


def write_outputs(results: Results, summary: dict[str, Any], out: Path) -> str:
    """Write the tables and summary into ``out``, whole or not at all; the note to print."""
    files = run_files(results, summary)
    write_folder(out, files)
    if results.kept:
        return f"\nTables written to {out}"
    return f"\n{', '.join(files)} written to {out} (no patient tables: --keep-logs 0)"


def cmd_compare(args: argparse.Namespace) -> int:
    if len(args.scenarios) < 2:
        raise InputError("compare needs two or more scenario files", field="scenarios")
    kinds = {is_facility_file(p) for p in args.scenarios}
    if kinds == {True}:
        return _compare_facilities(args)
    if len(kinds) > 1:
        raise InputError(
            "compare scenarios with scenarios, or facilities with facilities", field="scenarios"
        )
    scenarios = [load_scenario(p, args.overrides) for p in args.scenarios]
    names = [sc.name for sc in scenarios]
    if len(set(names)) < len(names):  # label by file where names repeat
        scenarios = [
            sc.model_copy(update={"name": f"{sc.name} [{p}]"})
            for sc, p in zip(scenarios, args.scenarios, strict=True)
        ]
    executor = parse_executor(args.executor, args.workers)
    check_work(combined([estimate_work(sc, args.reps) for sc in scenarios]), args.allow_large)
    with progress_bar(args.reps * len(scenarios), args.quiet) as update:
        result = compare(scenarios, args.reps, args.seed, executor=executor, progress=update)
    answer(args, result, format_comparison)
    return 0


def _compare_facilities(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from sim.core.facility import load_facility
    from sim.planning.compare import compare_facilities

    facilities = [load_facility(p, args.overrides) for p in args.scenarios]
    names = [f.name for f in facilities]
    if len(set(names)) < len(names):  # label by file where names repeat
        facilities = [
            replace(f, spec=f.spec.model_copy(update={"name": f"{f.name} [{p}]"}))
            for f, p in zip(facilities, args.scenarios, strict=True)
        ]
    executor = parse_executor(args.executor, args.workers)
    work = [estimate_work(sc, args.reps) for f in facilities for sc in f.trials]
    check_work(combined(work), args.allow_large)
    with progress_bar(args.reps * len(facilities), args.quiet) as update:
        result = compare_facilities(
            facilities, args.reps, args.seed, executor=executor, progress=update
        )
    answer(args, result, format_comparison)
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    record = find_record(args.target, args.store)
    executor = parse_executor(args.executor, args.workers)
    work = estimate_work(record.scenario(), record.replications)
    check_work(work, args.allow_large)
    check_kept(work, record.kept_logs, args.allow_large)
    with progress_bar(record.replications, args.quiet) as update:
        result = reproduce(record, executor, update)
    if args.json:
        print(json.dumps(result, indent=2))
    elif result["identical"]:
        tables = ", ".join(result["tables_compared"])
        print(
            f"identical: {result['source']} ({result['replications']} replications, seed "
            f"{result['seed']}) re-ran to the same summary and tables ({tables}) with "
            f"cart-trial-sim {result['current_version']} (recorded with "
            f"{result['recorded_version']})"
        )
    else:
        shown = ", ".join(result["differences"][:8])
        print(f"DIFFERENT: {result['source']} re-ran to other figures: {shown}")
    return 0 if result["identical"] else 1


def cmd_validate(args: argparse.Namespace) -> int:
    status = 0
    for path in args.scenarios:
        try:
            if is_facility_file(path):
                from sim.core.facility import load_facility

                fac = load_facility(path, args.overrides)
                print(f"ok: {path} ({fac.name}: facility of {len(fac.trials)} trials)")
                continue
            sc = load_scenario(path, args.overrides)
        except InputError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            status = 2
            continue
        print(f"ok: {path} ({sc.name})")
    return status


PARSERS = {
    "run": _run_args,
    "compare": _compare_args,
    "validate": _validate_args,
    "reproduce": _reproduce_args,
}
COMMANDS = {
    "run": cmd_run,
    "compare": cmd_compare,
    "validate": cmd_validate,
    "reproduce": cmd_reproduce,
}


def add_run_parsers(subparsers: Any) -> None:
    """Add ``run``, ``compare``, ``validate`` and ``reproduce`` to ``subparsers``."""
    common.add_subcommands(subparsers, PARSERS)
