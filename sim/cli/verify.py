"""``python -m sim verify``: run the verification checks and write the Markdown report."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.cli.common import add_subcommands
from sim.core.errors import InputError
from sim.io.files import check_file
from sim.verify import DEFAULT_OUT

if TYPE_CHECKING:
    from sim.verify import CheckFn


def _verify_args(p: argparse.ArgumentParser) -> None:
    """``verify [--full] [--out FILE] [--workers N] [--quiet]``."""
    p.description = (
        "Run the verification and validation checks and write a Markdown report. "
        "Exit status 0 when every check passes, 1 when any fails."
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="more replications and tighter checks (a few minutes); default: the fast subset",
    )
    p.add_argument(
        "--out", default=DEFAULT_OUT, metavar="FILE", help=f"report file (default {DEFAULT_OUT})"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="processes running checks at once (default: the cores available, at most 6)",
    )
    p.add_argument("--quiet", action="store_true", help="only the one-line summary")


def add_verify_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``verify`` on the CLI's subparsers; returns its parser."""
    add_subcommands(subparsers, PARSERS)
    return subparsers.choices["verify"]


def cmd_verify(args: argparse.Namespace, checks: Sequence[CheckFn] | None = None) -> int:
    """``python -m sim verify``: exit status 0 if every check passes, 1 if any fails
    (``checks``: all of them unless given)."""
    check_file(Path(args.out))  # before the checks' minutes of work
    from sim.verify import CHECKS, VerifyConfig, verify

    checks = CHECKS if checks is None else checks
    cfg = VerifyConfig.full() if args.full else VerifyConfig.fast()
    workers = args.workers
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if workers < 1:
        raise InputError("must be at least 1", field="--workers", value=workers, has_value=True)
    status, _ = verify(
        cfg, args.out, checks=checks, workers=min(workers, len(checks)), quiet=args.quiet
    )
    return status


PARSERS = {"verify": _verify_args}
COMMANDS = {"verify": cmd_verify}
