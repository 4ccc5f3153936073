"""Pieces every command shares: the list of commands, number arguments with ranges, the
simulation options, progress bars on stderr, and printing an answer as text or JSON."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sim.io.store import DEFAULT_PATH, ENV_VAR
from sim.run.budget import ALLOW_FLAG, MAX_REPLICATIONS, WORK_BUDGET
from sim.run.executors import EXECUTORS

if TYPE_CHECKING:
    from sim.core.scenario import Scenario

MAX_REPS = MAX_REPLICATIONS
STORE_HELP = f"run store file (default: ${ENV_VAR}, else {DEFAULT_PATH.as_posix()})"

HELP = {
    "run": "simulate a scenario and summarise the forecast",
    "compare": "paired comparison of scenarios (common random numbers)",
    "validate": "check scenario files",
    "reproduce": "re-run a saved run or an --out folder and confirm identical results",
    "runs": "list, show, export or delete saved runs",
    "verify": "check the model against queueing theory, invariants and the ELIANA funnel",
    "sweep": "the main figures at every point of a grid of scenario values",
    "size": "the cheapest capacities that reach the target by the deadline",
    "sensitivity": "which parameters move the time to target and the probability",
    "forecast": "update the forecast from an observed patient log",
    "backtest": "coverage of the forecast's 80%% interval on simulated truths",
    "report": "a one-page report of a scenario's forecast, as HTML or PDF",
    "goal": "what must change to reach the wanted chance of the target by the deadline",
}
"""Each command's one-line help, in the order ``--help`` lists them."""
MODULES = {
    "sim.cli.run": ("run", "compare", "validate", "reproduce"),
    "sim.cli.runs": ("runs",),
    "sim.cli.verify": ("verify",),
    "sim.cli.planning": ("sweep", "size", "sensitivity"),
    "sim.cli.forecast": ("forecast", "backtest"),
    "sim.cli.report": ("report",),
    "sim.cli.goal": ("goal",),
}
"""The module that defines each command's options (``PARSERS``) and runs it
(``COMMANDS``); it is imported only when one of its commands runs."""
COMMANDS = {name: module for module, names in MODULES.items() for name in names}


Fill = Callable[[argparse.ArgumentParser], None]
"""Adds a command's arguments to its (sub)parser."""


def add_subcommands(subparsers: Any, fills: dict[str, Fill]) -> None:
    """A subparser for each command of ``fills``, with its help and arguments."""
    for name, fill in fills.items():
        fill(subparsers.add_parser(name, help=HELP[name]))


def int_in(low: int, high: int, what: str) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{what} must be a whole number from {low:,} to {high:,}, not {text!r}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{what} must be from {low:,} to {high:,}, not {value:,}"
            )
        return value

    return parse


def float_in(low: float, high: float, what: str) -> Callable[[str], float]:
    """An argparse type: a number above ``low`` and at most ``high``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (low < value <= high):
            raise argparse.ArgumentTypeError(
                f"{what} must be a number above {low:g} and at most {high:g}, not {text!r}"
            )
        return value

    return parse


def add_sim_options(
    p: argparse.ArgumentParser,
    reps: int,
    min_reps: int = 1,
    reps_help: str | None = None,
    set_help: str | None = None,
) -> None:
    """--reps, --seed, --executor, --workers, --set, --json, --quiet and --allow-large."""
    p.add_argument(
        "--reps",
        type=int_in(min_reps, MAX_REPS, "--reps"),
        default=reps,
        help=reps_help or f"replications (simulated trials); default {reps}",
    )
    p.add_argument(
        "--seed", type=int_in(0, 2**63 - 1, "--seed"), default=1, help="master seed; default 1"
    )
    p.add_argument(
        "--executor",
        default="process",
        help=f"where replications run: {' | '.join(EXECUTORS)}[:ADDRESS] (default process)",
    )
    p.add_argument(
        "--workers",
        type=int_in(1, 1024, "--workers"),
        default=None,
        help="worker processes (default: all cores)",
    )
    add_set_option(p, set_help or SET_HELP)
    p.add_argument("--json", action="store_true", help="print only JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_allow_large(p)


def add_allow_large(p: argparse.ArgumentParser) -> None:
    """``--allow-large``: run work beyond the budget."""
    p.add_argument(
        ALLOW_FLAG,
        dest="allow_large",
        action="store_true",
        help=f"run even when the estimated work is beyond {WORK_BUDGET:,} simulated patients",
    )


class _LateBar:
    """A tqdm bar on stderr that exists only once the work has lasted ``delay`` seconds, so
    a quick command neither draws nor imports it."""

    def __init__(self, total: int | None, desc: str, delay: float) -> None:
        self.total, self.desc, self.delay = total, desc, delay
        self.started = time.monotonic()
        self.done = 0
        self.bar: Any = None

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is None:
            if time.monotonic() - self.started < self.delay:
                return
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total,
                initial=self.done - n,
                unit="rep",
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
                desc=self.desc,
            )
        self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


SET_HELP = (
    "override a scenario value, e.g. manufacturing.suites=3 (repeatable; validated like the file)"
)


def add_set_option(p: argparse.ArgumentParser, help: str = SET_HELP) -> None:
    """``--set KEY=VALUE``, repeatable, collected in ``overrides``."""
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help
    )


@contextmanager
def progress_bar(
    total: int | None, quiet: bool, desc: str = "replications", delay: float = 1.0
) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr, shown once the work has lasted ``delay`` seconds; yields
    its update function (None when quiet) and closes the bar however the work ends."""
    if quiet:
        yield None
        return
    bar = _LateBar(total, desc, delay)
    try:
        yield bar.update
    finally:
        bar.close()


def answer(args: argparse.Namespace, data: Any, text: Callable[[Any], str], *notes: str) -> None:
    """Print ``data`` as JSON with ``--json``, else as ``text(data)`` followed by the notes
    that apply (empty ones are left out)."""
    if args.json:
        print(json.dumps(data, indent=2))
        return
    print(text(data))
    for note in notes:
        if note:
            print(note)


def scenario_file(path: str, overrides: Sequence[str] = (), command: str = "") -> Scenario:
    """The scenario in ``path`` (with ``--set`` overrides) for a command that takes a scenario
    only: a facility file is refused in one line that says what to do instead."""
    from sim.core.errors import InputError
    from sim.core.scenario import load_scenario

    if is_facility_file(path):
        raise InputError(
            f"takes a scenario file; {command} of a facility is not available yet "
            "(run each trial alone, or run, compare, sweep or size the facility)",
            source=path,
        )
    return load_scenario(path, overrides)


def is_facility_file(path: str) -> bool:
    """Whether ``path`` holds a facility (a ``trials`` list) rather than a scenario; a file
    that cannot be read is left to the scenario loader to explain."""
    from sim.core.errors import InputError
    from sim.core.facility import is_facility_text
    from sim.core.yamlio import read_text

    try:
        return is_facility_text(read_text(path))
    except InputError:
        return False
