"""Command line: ``python -m sim COMMAND``. Bad input: one line on stderr, exit status 2.

Thin commands: each parses its arguments, calls the library and prints. Every command's
module (:data:`sim.cli.common.COMMANDS`) is imported only when that command runs, so a
quick command starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NoReturn

from sim.cli.common import COMMANDS, HELP
from sim.core.errors import InputError
from sim.core.version import __version__


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{message} (see {self.prog} --help)")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command; only ``command``'s arguments when it is named (the
    others list their help alone, which is all the top-level ``--help`` shows)."""
    parser = _Parser(
        prog="cart-trial-sim",
        description="Discrete-event simulation of the logistics of a CAR-T cell therapy trial.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, help in HELP.items():
        p = sub.add_parser(name, help=help)
        if command is None or command == name:
            importlib.import_module(COMMANDS[name]).PARSERS[name](p)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The command named on the command line, if any (the first word that is not an option)."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C, so that workers are stopped and temporary
    files removed on the way out."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """While a command runs, SIGTERM raises :class:`Terminated` (in the main thread only:
    elsewhere Python keeps the signal's handler as it is)."""
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with _sigterm_unwinds():
            args = build_parser(_command(argv)).parse_args(argv)
            return importlib.import_module(COMMANDS[args.command]).COMMANDS[args.command](args)
    except InputError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
