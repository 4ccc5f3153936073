"""Running the checks: each in turn, or in worker processes, and the report written."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

from sim.io.files import write_file
from sim.run.scheduler import Scheduler
from sim.verify import DEFAULT_OUT
from sim.verify.calendars import check_calendars
from sim.verify.eliana import check_eliana
from sim.verify.fixed import check_fixed_sums
from sim.verify.invariants import check_invariants
from sim.verify.little import check_little
from sim.verify.phase1 import check_phase1
from sim.verify.queueing import check_queueing
from sim.verify.records import CheckGroup, VerifyConfig
from sim.verify.referral import check_referral_counts
from sim.verify.report import command_line, format_report, summary_counts

CheckFn = Callable[[VerifyConfig], CheckGroup]
"""A check: runs the model under ``cfg`` and returns its group of results."""
CHECKS: tuple[CheckFn, ...] = (
    check_queueing,
    check_little,
    check_referral_counts,
    check_fixed_sums,
    check_invariants,
    check_calendars,
    check_phase1,
    check_eliana,
)
"""The checks of the report, in its order."""


def _timed(check: CheckFn, cfg: VerifyConfig) -> CheckGroup:
    """``check(cfg)`` with its wall time in seconds (module level, so workers can run it)."""
    start = time.perf_counter()
    group = check(cfg)
    return replace(group, seconds=time.perf_counter() - start)


def run_checks(
    cfg: VerifyConfig,
    checks: Sequence[CheckFn] = CHECKS,
    workers: int = 1,
    progress: Callable[[CheckGroup], None] | None = None,
) -> list[CheckGroup]:
    """Run ``checks`` (in parallel processes when ``workers > 1``); results in check order,
    ``progress`` called with each group as it is taken in that order."""
    executor = "process" if workers > 1 else "serial"
    groups = []
    with Scheduler(executor, workers=max(1, min(workers, len(checks)))) as scheduler:
        for group in scheduler.map(partial(_timed, cfg=cfg), checks):
            if progress is not None:
                progress(group)
            groups.append(group)
    return groups


def verify(
    cfg: VerifyConfig,
    out: str | Path = DEFAULT_OUT,
    *,
    checks: Sequence[CheckFn] = CHECKS,
    workers: int = 1,
    quiet: bool = True,
    command: str | None = None,
) -> tuple[int, list[CheckGroup]]:
    """Run the checks, write the report to ``out``; (exit status 0 or 1, the groups)."""
    start = time.perf_counter()

    def show(group: CheckGroup) -> None:
        if not quiet:
            n_ok = sum(r.passed for r in group.results)
            print(
                f"  {group.title}: {n_ok}/{len(group.results)} as expected ({group.seconds:.1f} s)",
                file=sys.stderr,
            )

    groups = run_checks(cfg, checks, workers=workers, progress=show)
    out = Path(out)
    text = format_report(groups, cfg, command or command_line(cfg, out.as_posix()))
    write_file(out, text)
    _, total, failed = summary_counts(groups)
    took = time.perf_counter() - start
    if failed:
        print(
            f"verify: {len(failed)} of {total} checks FAIL ({', '.join(failed)}); "
            f"{cfg.label}, {took:.0f} s; report {out.as_posix()}"
        )
        return 1, groups
    print(f"verify: all {total} checks pass ({cfg.label}, {took:.0f} s); report {out.as_posix()}")
    return 0, groups
