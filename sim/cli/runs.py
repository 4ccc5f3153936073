"""``cart-trial-sim runs list|show|export|delete``: the saved runs of the run store."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pandas as pd

from sim.io import store

_STORE_HELP = f"run store file (default: ${store.ENV_VAR}, else {store.DEFAULT_PATH.as_posix()})"


def add_runs_parser(subparsers: Any) -> None:
    """Add the ``runs`` command (with list, show, export, delete) to ``subparsers``."""
    runs = subparsers.add_parser("runs", help="list, show, export or delete saved runs")
    sub = runs.add_subparsers(dest="runs_command", required=True, metavar="ACTION")

    lst = sub.add_parser("list", help="the saved runs with their headline figures")
    lst.add_argument("--store", metavar="PATH", help=_STORE_HELP)

    show = sub.add_parser("show", help="the headline figures of one saved run")
    show.add_argument("name", help="run name")
    show.add_argument("--json", action="store_true", help="print the whole summary JSON")
    show.add_argument("--store", metavar="PATH", help=_STORE_HELP)

    export = sub.add_parser(
        "export", help="write summary.json, scenario.yaml, replications.csv, fan.csv"
    )
    export.add_argument("name", help="run name")
    export.add_argument("dir", help="folder to write into (created if missing)")
    export.add_argument("--store", metavar="PATH", help=_STORE_HELP)

    delete = sub.add_parser("delete", help="delete a saved run")
    delete.add_argument("name", help="run name")
    delete.add_argument("--store", metavar="PATH", help=_STORE_HELP)


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
            print(format_run(run))
    elif action == "export":
        store.export_run(args.name, args.dir, path)
        print(f"Run {args.name!r} written to {args.dir}")
    elif action == "delete":
        store.delete_run(args.name, path)
        print(f"Run {args.name!r} deleted from {path}")
    else:  # pragma: no cover - argparse allows only the choices above
        raise AssertionError(action)
    return 0


def _pct(x: Any) -> str:
    return "n/a" if x is None or pd.isna(x) else f"{100 * float(x):.0f}%"


def _text(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and pd.isna(x)) else str(x)


def format_run_list(runs: pd.DataFrame, source: str) -> str:
    """The saved runs as a text table, oldest first."""
    if runs.empty:
        return f"No saved runs in {source}"
    header = ("name", "created (UTC)", "scenario", "seed", "reps", "P(by deadline)", "median date")
    table = [
        (
            r.name,
            str(r.created).replace("T", " ").removesuffix("+00:00"),
            r.scenario_name,
            str(r.seed),
            str(r.replications),
            _pct(r.prob_target_by_deadline),
            _text(r.target_date_p50),
        )
        for r in runs.itertuples(index=False)
    ]
    widths = [min(40, max(len(row[i]) for row in [header, *table])) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(header), *(line(row) for row in table)])


def format_run(run: store.StoredRun) -> str:
    """A few lines: what was run, and the headline figures of its summary."""
    s = run.summary
    lines = [
        f"Run: {run.name}  (saved {run.created}, cart-trial-sim {run.version})",
        f"Scenario: {run.scenario_name}  ({run.replications} replications, seed {run.seed}, "
        f"digest {run.scenario_digest[:12]})",
    ]
    target = s.get("target") or {}
    if target:
        deadline = f" by {target['deadline']}" if target.get("deadline") else ""
        lines.append(f"Target: {target.get('count')} {target.get('milestone')}{deadline}")
    if s.get("prob_target_by_deadline") is not None:
        ci = s.get("prob_target_by_deadline_ci95") or [None, None]
        lines.append(
            f"  Chance of reaching the target by the deadline: "
            f"{_pct(s['prob_target_by_deadline'])} (95% interval {_pct(ci[0])} to {_pct(ci[1])})"
        )
    dates = s.get("target_date") or {}
    if dates:
        beyond = "beyond the horizon"
        lines.append(
            f"  Target date: median {dates.get('p50') or beyond}; 80% of trials between "
            f"{dates.get('p10') or beyond} and {dates.get('p90') or beyond}"
        )
    completion = (s.get("primary_completion_date") or {}).get("p50")
    if "primary_completion_date" in s:
        lines.append(
            f"  Primary completion (target + follow-up): median "
            f"{completion or 'beyond the horizon'}"
        )
    return "\n".join(lines)
