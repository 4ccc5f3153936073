"""``cart-trial-sim sweep|size|sensitivity``: capacity planning on common random numbers.

Thin commands over :mod:`sim.planning.sweep`, :mod:`sim.planning.sizing` and
:mod:`sim.planning.sensitivity`; bad input raises InputError (one line on stderr, exit
status 2, in :func:`sim.cli.main.main`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.cli.common import (
    MAX_REPS,
    add_sim_options,
    add_subcommands,
    answer,
    float_in,
    int_in,
    is_facility_file,
    progress_bar,
    scenario_file,
)
from sim.core.errors import InputError
from sim.core.scenario import Scenario, with_overrides
from sim.core.station import RESOURCES
from sim.io.files import check_folder, write_folder
from sim.planning.grid import grid_points, parse_grid, point_scenario, yaml_scalar
from sim.planning.ranges import default_ranges, load_ranges
from sim.planning.sensitivity import METHODS, runs_needed, sensitivity
from sim.planning.sizing import (
    DEFAULT_MAX_UNITS,
    MIN_GAIN,
    HarmLimits,
    parse_costs,
    parse_resources,
    parse_waits,
    size,
)
from sim.planning.sweep import sweep, sweep_frame
from sim.report.planning import format_sensitivity, format_sizing, format_sweep
from sim.run.budget import check_work, combined, estimate_work
from sim.run.executors import parse_executor


def _planning_options(p: argparse.ArgumentParser, reps: int) -> None:
    """The scenario, the simulation options and ``--deadline``, common to every planning
    command."""
    p.add_argument("scenario", help="scenario YAML file")
    add_sim_options(
        p,
        reps,
        reps_help=f"replications of each configuration; default {reps}",
        set_help="override a scenario value before planning (repeatable)",
    )
    p.add_argument(
        "--deadline", metavar="YYYY-MM-DD", help="use this deadline instead of the scenario's"
    )


def _sweep_args(p: argparse.ArgumentParser) -> None:
    _planning_options(p, 200)
    p.add_argument(
        "--grid",
        action="append",
        required=True,
        metavar="KEY=V1,V2,...",
        help="one axis of the grid: a dotted key and its values (or A..B); repeatable",
    )
    p.add_argument("--out", metavar="DIR", help="also write sweep.csv and sweep.json into DIR")


def _size_args(p: argparse.ArgumentParser) -> None:
    _planning_options(p, 200)
    p.add_argument(
        "--resources",
        required=True,
        metavar="KEY,KEY",
        help="counts to size, e.g. manufacturing.suites,apheresis.slots,infusion.beds",
    )
    p.add_argument(
        "--probability",
        required=True,
        type=float_in(0.0, 1.0, "--probability"),
        help="wanted probability of reaching the target by the deadline, e.g. 0.8",
    )
    p.add_argument(
        "--cost",
        action="append",
        default=[],
        metavar="KEY=COST,...",
        help="cost of one unit of each sized resource, e.g. manufacturing.suites=250000 "
        "(default: the scenario's costs block, each unit's availability price over the "
        "horizon; without one, every unit costs 1)",
    )
    p.add_argument(
        "--max",
        dest="max_units",
        type=int_in(1, 1000, "--max"),
        default=DEFAULT_MAX_UNITS,
        help=f"upper bound of each resource; default {DEFAULT_MAX_UNITS}",
    )
    p.add_argument(
        "--max-reps",
        type=int_in(1, MAX_REPS, "--max-reps"),
        default=800,
        help="replications a configuration may get while its verdict is unclear (doubling "
        "from --reps); default 800",
    )
    p.add_argument(
        "--min-gain",
        type=float_in(0.0, 1.0, "--min-gain"),
        default=MIN_GAIN,
        help="the smallest gain in the chance for which more capacity counts as binding; "
        f"default {MIN_GAIN:g}",
    )
    for flag, high, unit, what in HARM_LIMITS:
        p.add_argument(flag, type=float_in(0.0, high, flag), metavar=unit, help=what)
    p.add_argument(
        "--max-wait",
        action="append",
        default=[],
        metavar="RESOURCE=DAYS",
        help=f"harm limit: a resource's mean wait ({', '.join(RESOURCES)}); repeatable",
    )


HARM_LIMITS = (
    ("--max-lost-share", 1.0, "SHARE", "harm limit: mean share of enrolled lost while waiting"),
    ("--max-vein-to-vein", 100_000.0, "DAYS", "harm limit: vein-to-vein days, 90th percentile"),
)
"""Limits on harm that make a configuration short whatever its chance (none by default)."""


def _sensitivity_args(p: argparse.ArgumentParser) -> None:
    _planning_options(p, 100)
    p.add_argument(
        "--ranges",
        metavar="FILE",
        help="YAML of dotted.key: [low, high] (default: +/-25%% of each number, counts +/-1)",
    )
    p.add_argument(
        "--method",
        choices=METHODS,
        default="oat",
        help="oat: one at a time (tornado); morris: screening; sobol: variance indices",
    )
    p.add_argument(
        "--samples",
        type=int_in(1, 1_000_000, "--samples"),
        default=None,
        help="morris: trajectories (default 10); sobol: base samples, a power of two (default 64)",
    )


def _scenario(args: argparse.Namespace, facility: bool = False) -> Any:
    """The scenario of the command (or, where ``facility`` is allowed, a facility)."""
    if facility and is_facility_file(args.scenario):
        if args.deadline:
            raise InputError("a facility keeps each trial's own deadline", field="--deadline")
        from sim.core.facility import load_facility

        return load_facility(args.scenario, args.overrides)
    sc = scenario_file(args.scenario, args.overrides, args.command)
    return with_deadline(sc, args.deadline) if args.deadline else sc


def with_deadline(scenario: Scenario, text: str) -> Scenario:
    """``scenario`` with ``target.deadline`` set from ``YYYY-MM-DD``."""
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            "must be a date, YYYY-MM-DD", field="--deadline", value=text, has_value=True
        ) from None
    try:
        return with_overrides(scenario, [f"target.deadline={day.isoformat()}"])
    except InputError as exc:
        raise InputError(exc.problem, field="--deadline", value=text, has_value=True) from None


def cmd_sweep(args: argparse.Namespace) -> int:
    scenario = _scenario(args, facility=True)
    grid = parse_grid(args.grid)
    executor = parse_executor(args.executor, args.workers)
    if args.out:
        check_folder(Path(args.out))
    if isinstance(scenario, Scenario):
        points = [point_scenario(scenario, point) for point in grid_points(grid)]
        trials = points
    else:  # a facility: every trial of every point
        points = [
            scenario.with_overrides([f"{k}={yaml_scalar(v)}" for k, v in p.items()], "--grid")
            for p in grid_points(grid)
        ]
        trials = [sc for f in points for sc in f.trials]
    check_work(combined([estimate_work(sc, args.reps) for sc in trials]), args.allow_large)
    n = len(points)
    with progress_bar(n * args.reps, args.quiet, "sweep") as update:
        result = sweep(scenario, grid, args.reps, args.seed, executor=executor, progress=update)
    if args.out:
        write_folder(
            Path(args.out),
            {
                "sweep.json": lambda f: f.write(json.dumps(result, indent=2) + "\n"),
                "sweep.csv": lambda f: sweep_frame(result).to_csv(f, index=False),
            },
        )
    written = f"\nsweep.csv and sweep.json written to {args.out}" if args.out else ""
    answer(args, result, format_sweep, written)
    return 0


def cmd_size(args: argparse.Namespace) -> int:
    scenario = _scenario(args, facility=True)
    resources = parse_resources(args.resources, scenario)
    costs = parse_costs(args.cost, resources)
    executor = parse_executor(args.executor, args.workers)
    evaluations = (len(resources) + 2) * math.ceil(math.log2(args.max_units + 1)) + 1
    trials = [scenario] if isinstance(scenario, Scenario) else list(scenario.trials)
    work = combined([estimate_work(sc, args.reps) for sc in trials])
    check_work(work.times(evaluations), args.allow_large)
    with progress_bar(None, args.quiet, "sizing") as update:
        result = size(
            scenario,
            resources,
            args.probability,
            reps=args.reps,
            seed=args.seed,
            costs=costs,
            max_units=args.max_units,
            executor=executor,
            progress=update,
            max_reps=max(args.max_reps, args.reps),
            limits=HarmLimits(
                args.max_lost_share, args.max_vein_to_vein, parse_waits(args.max_wait)
            ),
            min_gain=args.min_gain,
        )
    answer(args, result, format_sizing)
    return 0


def cmd_sensitivity(args: argparse.Namespace) -> int:
    scenario = _scenario(args)
    params = (
        load_ranges(args.ranges, scenario, args.method)
        if args.ranges
        else default_ranges(scenario, combined=args.method != "oat")
    )
    executor = parse_executor(args.executor, args.workers)
    samples = args.samples or (10 if args.method == "morris" else 64)
    runs = runs_needed(args.method, params, samples)
    check_work(estimate_work(scenario, args.reps).times(runs), args.allow_large)
    with progress_bar(runs * args.reps, args.quiet, f"sensitivity ({runs} runs)") as update:
        result = sensitivity(
            scenario,
            args.method,
            params,
            reps=args.reps,
            seed=args.seed,
            samples=samples,
            executor=executor,
            progress=update,
        )
    answer(args, result, format_sensitivity)
    return 0


PARSERS = {"sweep": _sweep_args, "size": _size_args, "sensitivity": _sensitivity_args}
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "sweep": cmd_sweep,
    "size": cmd_size,
    "sensitivity": cmd_sensitivity,
}


def add_planning_parsers(subparsers: Any) -> None:
    """Add ``sweep``, ``size`` and ``sensitivity`` to ``subparsers``."""
    add_subcommands(subparsers, PARSERS)


def cmd_planning(args: argparse.Namespace) -> int:
    """Run whichever of ``sweep``, ``size`` and ``sensitivity`` was parsed."""
    return COMMANDS[args.command](args)
