"""Verification and validation: the model against queueing theory, exact sums, invariants
and a published funnel, written up as a Markdown report.

Each check (:mod:`~sim.verify.queueing`, :mod:`~sim.verify.little`,
:mod:`~sim.verify.referral`, :mod:`~sim.verify.fixed`, :mod:`~sim.verify.invariants`,
:mod:`~sim.verify.calendars`, :mod:`~sim.verify.phase1`, :mod:`~sim.verify.eliana`) is a
function of a :class:`VerifyConfig` that runs the model and
returns a :class:`CheckGroup` of :class:`CheckResult` records (simulated value, expected
value, the acceptance interval and how it was set). :func:`run_checks` runs them,
:func:`~sim.verify.report.format_report` turns them into Markdown, :func:`verify` does both
and writes the file, and ``python -m sim verify`` is :mod:`sim.cli.verify`.

Tolerances come from sampling error: a simulated mean passes when it lies within ``k``
standard errors of the expected value (``k = 4``, a two-sided chance of about 6 in 100,000 of
failing a correct model by bad luck). Identities and exact sums have a floating-point
tolerance; invariants allow no violation. Seeds are fixed, so the report is the same on
every run of the same code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.core.lazy import lazy_attributes

DEFAULT_OUT = "docs/validation.md"
"""Where ``python -m sim verify`` writes its report."""

_LAZY = {
    "CheckGroup": "sim.verify.records",
    "CheckResult": "sim.verify.records",
    "VerifyConfig": "sim.verify.records",
    "CHECKS": "sim.verify.runner",
    "CheckFn": "sim.verify.runner",
    "run_checks": "sim.verify.runner",
    "verify": "sim.verify.runner",
}
__all__ = [
    "CHECKS",
    "DEFAULT_OUT",
    "CheckFn",
    "CheckGroup",
    "CheckResult",
    "VerifyConfig",
    "run_checks",
    "verify",
]

if TYPE_CHECKING:
    from sim.verify.records import CheckGroup, CheckResult, VerifyConfig
    from sim.verify.runner import CHECKS, CheckFn, run_checks, verify


__getattr__ = lazy_attributes(__name__, _LAZY)
"""The checks import SciPy's statistics and pandas: only when they are used."""
