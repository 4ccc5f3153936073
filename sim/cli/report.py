"""``cart-trial-sim report SCENARIO --out FILE.html|FILE.pdf``: a one-page report of a
scenario's forecast (and of others beside it with ``--compare``), to share."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.cli.common import add_set_option, int_in, progress_bar, scenario_file
from sim.core.errors import InputError
from sim.core.yamlio import read_text
from sim.io.files import write_file
from sim.report.page import ReportRun, render_html
from sim.report.sources import read_sources
from sim.run.executors import parse_executor
from sim.run.runner import run_replications

SUFFIXES = (".html", ".pdf")


def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument(
        "--reps", type=int_in(1, 1_000_000, "--reps"), default=500, help="replications; default 500"
    )
    p.add_argument(
        "--seed", type=int_in(0, 2**63 - 1, "--seed"), default=1, help="master seed; default 1"
    )
    p.add_argument(
        "--compare",
        nargs="+",
        default=[],
        metavar="OTHER.yaml",
        help="scenarios to compare with it (same replications and seed: paired)",
    )
    p.add_argument("--out", required=True, metavar="FILE", help="FILE.html or FILE.pdf")
    p.add_argument("--executor", default="process", help="serial | process | dask[:ADDRESS]")
    p.add_argument("--workers", type=int_in(1, 1024, "--workers"), default=None)
    add_set_option(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def cmd_report(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() not in SUFFIXES:
        raise InputError("the report is written as .html or .pdf", field="--out", value=args.out)
    scenario = scenario_file(args.scenario, args.overrides, "report")
    others = [scenario_file(p, command="report") for p in args.compare]
    executor = parse_executor(args.executor, args.workers)
    runs = []
    with progress_bar(args.reps * (1 + len(others)), args.quiet) as update:
        for sc in (scenario, *others):
            runs.append(
                run_replications(sc, args.reps, args.seed, progress=update, executor=executor)
            )
    origin = Path(args.scenario).name + (" with --set" if args.overrides else "")
    page = render_html(ReportRun(runs[0], read_sources(read_text(args.scenario)), origin), runs[1:])
    if out.suffix.lower() == ".pdf":
        from sim.report.pdf import html_to_pdf

        write_file(out, html_to_pdf(page))
    else:
        write_file(out, page)
    if not args.quiet:
        print(f"Report written to {out}")
    return 0


PARSERS = {"report": _report_args}
COMMANDS = {"report": cmd_report}
