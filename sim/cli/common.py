"""Pieces every command shares: number arguments with ranges, the simulation options,
progress bars on stderr, and writing output files whole or not at all."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sim.run.executors import EXECUTORS

MAX_REPS = 10_000_000


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
    """--reps, --seed, --executor, --workers, --set, --json and --quiet."""
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
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=set_help
        or "override a scenario value, e.g. "
        "manufacturing.suites=3 (repeatable; validated like the file)",
    )
    p.add_argument("--json", action="store_true", help="print only JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@contextmanager
def progress_bar(
    total: int | None, quiet: bool, desc: str = "replications"
) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr, shown after a second; yields its update function (None
    when quiet) and closes the bar however the work ends."""
    if quiet:
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(
        total=total,
        unit="rep",
        delay=1.0,
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
        desc=desc,
    )
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
