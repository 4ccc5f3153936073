"""``cart-trial-sim goal SCENARIO --probability P``: what must change (referral rate,
referring sites, a site's opening) to reach the wanted chance of the target by the
deadline."""

from __future__ import annotations

import argparse

from sim.cli.common import add_sim_options, answer, float_in, progress_bar, scenario_file
from sim.planning.goal import LEVERS, goal
from sim.report.goal import format_goal
from sim.run.executors import parse_executor


def _goal_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario YAML file")
    add_sim_options(p, 200, reps_help="replications of each value tried; default 200")
    p.add_argument(
        "--probability",
        type=float_in(0.0, 1.0, "--probability"),
        default=0.8,
        help="the chance of the target by the deadline wanted; default 0.8",
    )
    p.add_argument(
        "--lever",
        choices=LEVERS,
        action="append",
        help="search this lever only (repeatable); default: all of " + ", ".join(LEVERS),
    )


def cmd_goal(args: argparse.Namespace) -> int:
    scenario = scenario_file(args.scenario, args.overrides, "goal")
    executor = parse_executor(args.executor, args.workers)
    levers = tuple(args.lever or LEVERS)
    with progress_bar(None, args.quiet, desc="trials") as update:
        how = {"reps": args.reps, "seed": args.seed, "executor": executor, "progress": update}
        result = goal(scenario, args.probability, levers=levers, **how)
    answer(args, result, format_goal)
    return 0


PARSERS = {"goal": _goal_args}
COMMANDS = {"goal": cmd_goal}
