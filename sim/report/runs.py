"""Saved runs as text: the list of the run store, and one run's headline figures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.report.summary import completion_line, cost_lines, target_lines
from sim.report.text import MISSING, missing, money, pct

if TYPE_CHECKING:
    import pandas as pd

    from sim.io.store import StoredRun


def format_run_list(runs: pd.DataFrame, source: str) -> str:
    """The saved runs as a text table, oldest first."""
    if runs.empty:
        return f"No saved runs in {source}"
    header = (
        "name",
        "created (UTC)",
        "scenario",
        "seed",
        "reps",
        "P(by deadline)",
        "median date",
        "cost per infused (mean)",
    )
    table = [
        (
            r.name,
            str(r.created).replace("T", " ").removesuffix("+00:00"),
            r.scenario_name,
            str(r.seed),
            str(r.replications),
            pct(r.prob_target_by_deadline),
            _text(r.target_date_p50),
            money(r.cost_per_infused, None if missing(r.currency) else r.currency, none=""),
        )
        for r in runs.itertuples(index=False)
    ]
    widths = [min(40, max(len(row[i]) for row in [header, *table])) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(header), *(line(row) for row in table)])


def format_run(run: StoredRun) -> str:
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
    lines += target_lines(s)
    if "primary_completion_date" in s:
        lines.append(completion_line(s))
    lines += cost_lines(s.get("costs"))
    return "\n".join(lines)


def _text(x: Any) -> str:
    return MISSING if missing(x) else str(x)
