"""``cart-trial-sim runs list|show|export|delete``: the saved runs of the run store."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sim.cli.common import STORE_HELP, add_subcommands
from sim.core.errors import InputError
from sim.io import store
from sim.report.runs import format_run, format_run_list


def _runs_args(runs: argparse.ArgumentParser) -> None:
    """``runs`` and its actions: list, show, export, delete."""
    sub = runs.add_subparsers(dest="runs_command", required=True, metavar="ACTION")

    lst = sub.add_parser("list", help="the saved runs with their headline figures")
    lst.add_argument("--store", metavar="PATH", help=STORE_HELP)

    show = sub.add_parser("show", help="the headline figures of one saved run")
    show.add_argument("name", help="run name")
    show.add_argument("--json", action="store_true", help="print the whole summary JSON")
    show.add_argument("--store", metavar="PATH", help=STORE_HELP)

    export = sub.add_parser(
        "export", help="write summary.json, scenario.yaml, replications.csv, fan.csv"
    )
    export.add_argument("name", help="run name")
    export.add_argument("dir", help="folder to write into (created if missing)")
    export.add_argument("--store", metavar="PATH", help=STORE_HELP)

    delete = sub.add_parser("delete", help="delete a saved run")
    delete.add_argument("name", help="run name")
    delete.add_argument("--store", metavar="PATH", help=STORE_HELP)


def cmd_runs(args: argparse.Namespace) -> int:
    """Run ``runs ACTION``; bad input raises InputError (one line, exit 2, in sim.cli.main)."""
    path = store.store_path(args.store)
    action = args.runs_command
    if action == "list":
        print(format_run_list(store.list_runs(path), str(path)))
    elif action == "show":
        run = store.load_run(args.name, path)
        if args.json:
            print(json.dumps(run.summary, indent=2))
        else:
            print(_shown(run, str(path)))
    elif action == "export":
        store.export_run(args.name, args.dir, path)
        print(f"Run {args.name!r} written to {args.dir}")
    elif action == "delete":
        store.delete_run(args.name, path)
        print(f"Run {args.name!r} deleted from {path}")
    else:  # pragma: no cover - argparse allows only the choices above
        raise AssertionError(action)
    return 0


def _shown(run: store.StoredRun, source: str) -> str:
    """A saved run's headline figures, or one line saying its summary is damaged (a store
    edited by another program may hold any JSON there)."""
    try:
        return format_run(run)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        raise InputError(
            f"the stored run's summary is damaged ({type(exc).__name__}); `runs show "
            f"{run.name} --json` prints it as it is",
            source=source,
            field="run",
            value=run.name,
            has_value=True,
        ) from None


PARSERS = {"runs": _runs_args}
COMMANDS = {"runs": cmd_runs}


def add_runs_parser(subparsers: Any) -> None:
    """Add the ``runs`` command (with list, show, export, delete) to ``subparsers``."""
    add_subcommands(subparsers, PARSERS)
