"""Verification and validation: the model against theory, exact arithmetic, invariants, and
a published funnel.

Each check is a function of a :class:`VerifyConfig` that runs the model and returns a
:class:`CheckGroup` of :class:`CheckResult` records (simulated value, expected value, the
acceptance interval and how it was set). :func:`run_checks` runs them, :func:`format_report`
turns them into Markdown, and :func:`cmd_verify` is ``python -m sim verify``.

Tolerances come from sampling error: a simulated mean passes when it lies within ``k``
standard errors of the expected value (``k = 4``, a two-sided chance of about 6 in 100,000 of
failing a correct model by bad luck). Identities and exact sums have a floating-point
tolerance; invariants allow no violation. Seeds are fixed, so the report is the same on
every run of the same code.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy
import simpy
from scipy import stats as sps

from sim.core.errors import InputError
from sim.core.model import run_trial
from sim.core.patient import OUTCOMES
from sim.core.referral import referral_days
from sim.core.scenario import DAYS_PER_MONTH, Scenario, load_scenario, validate_scenario
from sim.core.station import RESOURCES
from sim.core.streams import Streams, replication_seed
from sim.core.version import __version__
from sim.io.files import write_file
from sim.run.results import FUNNEL
from sim.run.runner import Replication, run_replications, simulate
from sim.run.stats import wilson_interval

DEFAULT_OUT = "docs/validation.md"
K_SE = 4.0
"""Standard errors either side of the expected value that a simulated mean may lie."""
Z95 = float(sps.norm.ppf(0.975))
EXACT_ABS = 1e-9
"""Days (or counts): the floating-point tolerance of exact sums and identities."""

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"


# --- records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """One comparison: passes when ``low <= simulated <= high``.

    ``tolerance`` says in words how ``[low, high]`` was set. A result with ``gating=False`` is
    reported but does not change the exit status (a secondary face-validity comparison).
    """

    name: str
    what: str
    simulated: float
    expected: float
    low: float
    high: float
    tolerance: str
    unit: str = ""
    gating: bool = True

    @property
    def passed(self) -> bool:
        return bool(self.low <= self.simulated <= self.high)  # NaN fails


@dataclass(frozen=True)
class CheckGroup:
    """The results of one check function, with its method note for the report."""

    key: str
    title: str
    method: str
    results: tuple[CheckResult, ...]
    seconds: float = field(default=0.0, compare=False)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results if r.gating)


def within_se(
    name: str,
    what: str,
    simulated: float,
    expected: float,
    se: float,
    k: float = K_SE,
    unit: str = "",
    note: str = "",
) -> CheckResult:
    """Pass when ``simulated`` is within ``k`` standard errors ``se`` of ``expected``."""
    half = k * se
    tol = f"±{_num(half)} ({k:g} SE; SE {_num(se)}{'; ' + note if note else ''})"
    return CheckResult(name, what, simulated, expected, expected - half, expected + half, tol, unit)


def exactly(
    name: str, what: str, simulated: float, expected: float, atol: float = EXACT_ABS, unit: str = ""
) -> CheckResult:
    """Pass when ``simulated`` equals ``expected`` up to floating point (``atol``)."""
    tol = "none: no violation allowed" if atol == 0 else f"±{atol:g} (floating point)"
    return CheckResult(name, what, simulated, expected, expected - atol, expected + atol, tol, unit)


# --- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyConfig:
    """Replications and horizons of every check; :meth:`fast` is run in CI."""

    label: str
    seed: int = 1
    queue_reps: int = 30
    mm1_horizon_days: float = 4000.0
    mmc_horizon_days: float = 10000.0
    md1_horizon_days: float = 20000.0
    count_draws: int = 4000
    little_reps: int = 300
    fixed_reps: int = 5
    invariant_reps: int = 60
    eliana_reps: int = 1000

    @classmethod
    def fast(cls) -> VerifyConfig:
        return cls(label="fast subset")

    @classmethod
    def full(cls) -> VerifyConfig:
        return cls(
            label="full",
            queue_reps=100,
            mm1_horizon_days=20000.0,
            mmc_horizon_days=36000.0,
            md1_horizon_days=36000.0,
            count_draws=40000,
            little_reps=2000,
            fixed_reps=50,
            invariant_reps=400,
            eliana_reps=5000,
        )

    def scaled(self, factor: float) -> VerifyConfig:
        """Fewer (or more) replications in every check, for quick tests."""

        def n(value: int, least: int) -> int:
            return max(least, round(value * factor))

        return replace(
            self,
            label=f"{self.label}, replications x{factor:g}",
            queue_reps=n(self.queue_reps, 5),
            count_draws=n(self.count_draws, 200),
            little_reps=n(self.little_reps, 5),
            fixed_reps=n(self.fixed_reps, 1),
            invariant_reps=n(self.invariant_reps, 3),
            eliana_reps=n(self.eliana_reps, 20),
        )


# --- scenarios -------------------------------------------------------------------------------

NEUTRAL: dict[str, Any] = {
    "name": "Verification: neutral pathway",
    "start_date": "2016-01-04",
    "horizon_days": 1000,
    "target": {"count": 1_000_000, "milestone": "infused", "deadline": None},
    "follow_up_days": 0,
    "referral": {"sites": [{"name": "A", "rate_per_month": 1.0}], "rate_shape": None},
    "screening": {"duration_days": 0, "consent_decline_prob": 0, "criteria": {}},
    "patients": {"weight_kg": 60, "height_cm": 165},
    "apheresis": {
        "slots": 10000,
        "duration_days": 0,
        "weekdays_only": False,
        "failure_prob": 0,
        "max_attempts": 1,
        "retry_after_days": 0,
    },
    "manufacturing": {
        "suites": 10000,
        "duration_days": 0,
        "qc_release_days": 0,
        "failure_prob": 0,
        "max_attempts": 1,
        "yield_cells": None,
    },
    "dose": {"min_per_kg": 5.0e6, "max_per_kg": 1.0e7},
    "deterioration": None,
    "conditioning": {
        "days_before_infusion": 0,
        "fludarabine_mg_per_m2_per_day": 30,
        "cyclophosphamide_mg_per_m2_per_day": 300,
        "treatment_days": 0,
    },
    "infusion": {"beds": 10000, "stay_days": 0, "icu_prob": 0},
}
"""A pathway that does nothing: no waits, no losses, zero durations, ample capacity. Each
analytic check switches on the one stage it tests."""


def neutral(**parts: Any) -> Scenario:
    """The neutral pathway with whole blocks (or top-level values) replaced or merged."""
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in NEUTRAL.items()}
    for key, value in parts.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return validate_scenario(data, source="verify")


def shipped_scenario(filename: str) -> Scenario:
    """A scenario file shipped in the repository's ``scenarios`` folder (or ``./scenarios``)."""
    for folder in (SCENARIO_DIR, Path.cwd() / "scenarios"):
        path = folder / filename
        if path.is_file():
            return load_scenario(str(path))
    raise InputError(
        "not found beside the package or in ./scenarios; run verify from the repository",
        source=f"scenarios/{filename}",
    )


def _rate_per_month(per_day: float) -> float:
    return per_day * DAYS_PER_MONTH


# --- 1. queueing theory ----------------------------------------------------------------------


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c (Erlang C), in the time unit of ``lam`` and ``mu``."""
    a = lam / mu
    rho = a / c
    if rho >= 1:
        return math.inf
    terms = sum(a**k / math.factorial(k) for k in range(c))
    last = a**c / (math.factorial(c) * (1 - rho))
    return last / (terms + last) / (c * mu - lam)


def pk_wait(lam: float, mean_s: float, var_s: float) -> float:
    """Pollaczek-Khinchine mean wait in queue of M/G/1: lam E[S^2] / (2 (1 - rho))."""
    rho = lam * mean_s
    return math.inf if rho >= 1 else lam * (var_s + mean_s**2) / (2 * (1 - rho))


def _queue_rows(
    key: str,
    res: str,
    table: Any,
    lam: float,
    wq: float,
    util: float,
    label: str,
) -> list[CheckResult]:
    """Mean wait, time-weighted queue length and utilisation of ``res`` against theory."""
    reps = len(table)
    waits = table[f"{res}.wait_sum_days"] / table[f"{res}.granted"]
    queue = table[f"{res}.mean_queue_length"]
    used = table[f"{res}.utilization"]

    def se(x: np.ndarray) -> float:
        return float(np.std(x, ddof=1) / math.sqrt(reps))

    return [
        within_se(
            f"{key}_wait",
            f"{label}: mean wait for {res} over granted requests = Wq",
            float(waits.mean()),
            wq,
            se(waits),
            unit="days",
        ),
        within_se(
            f"{key}_queue_length",
            f"{label}: time-weighted mean queue length = Lq = lambda Wq",
            float(queue.mean()),
            lam * wq,
            se(queue),
        ),
        within_se(
            f"{key}_utilisation",
            f"{label}: time-weighted utilisation = rho = lambda E[S] / c",
            float(used.mean()),
            util,
            se(used),
        ),
    ]


def check_queueing(cfg: VerifyConfig) -> CheckGroup:
    """M/M/1 at apheresis, M/M/c (Erlang C) and M/D/1 (Pollaczek-Khinchine) at manufacturing."""
    rows: list[CheckResult] = []
    reps, seed = cfg.queue_reps, cfg.seed

    def with_rate(lam: float) -> dict[str, Any]:
        return {"sites": [{"name": "A", "rate_per_month": _rate_per_month(lam)}]}

    # M/M/1: the apheresis stage alone: one slot, exponential collection, nothing else.
    lam, mean_s = 0.5, 1.0
    sc = neutral(
        horizon_days=cfg.mm1_horizon_days,
        referral=with_rate(lam),
        apheresis={"slots": 1, "duration_days": {"dist": "exponential", "mean": mean_s}},
    )
    res = run_replications(sc, reps, seed)
    rho = lam * mean_s
    rows += _queue_rows("mm1", "apheresis", res.table, lam, rho * mean_s / (1 - rho), rho, "M/M/1")

    # M/M/c: the manufacturing stage alone: c suites, exponential batches.
    lam, mean_s, c = 0.2, 10.0, 3
    sc = neutral(
        horizon_days=cfg.mmc_horizon_days,
        referral=with_rate(lam),
        manufacturing={"suites": c, "duration_days": {"dist": "exponential", "mean": mean_s}},
    )
    res = run_replications(sc, reps, seed)
    wq = erlang_c_wait(lam, 1 / mean_s, c)
    rows += _queue_rows("mmc", "manufacturing", res.table, lam, wq, lam * mean_s / c, "M/M/3")

    # M/D/1: one suite, a fixed manufacturing time.
    lam, d = 0.1, 5.0
    sc = neutral(
        horizon_days=cfg.md1_horizon_days,
        referral=with_rate(lam),
        manufacturing={"suites": 1, "duration_days": d},
    )
    res = run_replications(sc, reps, seed)
    rows += _queue_rows(
        "md1", "manufacturing", res.table, lam, pk_wait(lam, d, 0.0), lam * d, "M/D/1"
    )

    method = (
        "Each queue is the model with every other stage switched off: instant screening, "
        "no consent declines, criteria, deterioration or failures, zero durations and "
        "10,000 units at the other stages, so Poisson referrals arrive unchanged at the stage "
        "under test. M/M/1: apheresis, lambda = 0.5/day, exponential collection of mean 1 day, "
        f"1 slot (rho = 0.5), {_days(cfg.mm1_horizon_days)}. M/M/3: manufacturing, "
        "lambda = 0.2/day, exponential batches of mean 10 days, 3 suites (rho = 0.67; Erlang C), "
        f"{_days(cfg.mmc_horizon_days)}. M/D/1: manufacturing, lambda = 0.1/day, fixed 5-day "
        "batches, 1 suite (rho = 0.5; Pollaczek-Khinchine Wq = lambda D^2 / (2 (1 - rho))), "
        f"{_days(cfg.md1_horizon_days)}. {reps} replications each (seed {seed}); the "
        "simulated value is the mean of the replications' values (waits per replication are "
        "over its granted requests; queue length and utilisation are time-weighted over the "
        "replication, as in the summary JSON) and SE is their standard deviation / "
        "sqrt(replications). Each replication starts empty; that bias is of the order of the "
        "relaxation time (tens of days) over the horizon, well inside the tolerance."
    )
    return CheckGroup("queueing", "Queueing theory", method, tuple(rows))


# --- 2. Little's law on the baseline ---------------------------------------------------------

_QUEUE_EXITS = {
    "apheresis": ("start", "renege"),
    "manufacturing": ("start", "renege"),
    "beds": ("bed_booked", "renege"),
}


def queue_time_from_log(events: pd.DataFrame, resource: str, end: float) -> tuple[int, float]:
    """(requests that joined the queue of ``resource``, total days they spent in it), from
    the event log: each ``queue`` event is closed by the patient's next start (a booking for
    beds) or renege there, or by the end of the replication."""
    ev = events[events["resource"] == resource]
    joins = ev["event"] == "queue"
    exits = ev["event"].isin(_QUEUE_EXITS[resource])
    n_join = int(joins.sum())
    open_at_end = n_join - int(exits.sum())
    total = float(ev.loc[exits, "time"].sum() - ev.loc[joins, "time"].sum() + open_at_end * end)
    return n_join, total


def check_little(cfg: VerifyConfig) -> CheckGroup:
    """L = lambda W on every resource of the baseline scenario."""
    sc = shipped_scenario("baseline.yaml")
    reps, seed = cfg.little_reps, cfg.seed
    area = dict.fromkeys(RESOURCES, 0.0)
    joined = dict.fromkeys(RESOURCES, 0)
    in_queue = dict.fromkeys(RESOURCES, 0.0)
    total_end = 0.0
    for r in range(reps):
        rep = simulate(sc, seed, r)
        end = rep.row["end_days"]
        total_end += end
        for res in RESOURCES:
            area[res] += rep.row[f"{res}.queue_days"]
            n, days = queue_time_from_log(rep.events, res, end)
            joined[res] += n
            in_queue[res] += days
    rows = []
    for res in RESOURCES:
        lam = joined[res] / total_end
        w = in_queue[res] / joined[res] if joined[res] else 0.0
        length = area[res] / total_end
        rows.append(
            exactly(
                f"little_{res}",
                f"{res}: time-weighted mean queue length (the summary's mean_queue_length) = "
                f"arrival rate x mean time in queue (lambda = {_num(lam)}/day, "
                f"W = {_num(w)} days, from the event log)",
                length,
                lam * w,
                atol=EXACT_ABS * max(1.0, lam * w),
            )
        )
    method = (
        f"The baseline scenario (scenarios/baseline.yaml), {reps} replications (seed {seed}). "
        "L is the station's own time-weighted queue length (area under the queue-length curve "
        "over the replication's length), as reported in the summary. lambda and W are "
        "counted independently from the event log: every request that joined the queue, and "
        "its time until it started (apheresis, manufacturing), booked (beds) or left because "
        "the patient deteriorated, with requests still waiting cut at the end of the "
        "replication. Pooled over replications, L = lambda W is a sample-path identity "
        "(no steady state needed), so the tolerance is floating point: any difference is a "
        "bookkeeping error (a wait not counted, a renege not closed, a weekend deferral "
        "missed). The summary's mean_wait_days is over granted requests only and so excludes "
        "reneges; it is not this W."
    )
    return CheckGroup("little", "Little's law on the baseline", method, tuple(rows))


# --- 3. referral counts ----------------------------------------------------------------------


def _variance_se(n: int, var: float, mu4: float) -> float:
    """Standard error of the sample variance (ddof=1) of ``n`` values."""
    return math.sqrt(max(0.0, (mu4 - var * var * (n - 3) / (n - 1)) / n))


def negbin_moments(mean: float, shape: float | None) -> tuple[float, float]:
    """(variance, fourth central moment) of a Poisson count with mean ``mean`` whose rate is
    gamma with shape ``shape`` (None: plain Poisson). Cumulants from the factorial cumulants
    of the gamma mixture."""
    if shape is None:
        k2 = k4 = mean
    else:
        th = mean / shape  # gamma scale, in counts
        k2 = mean + mean * th
        k4 = mean + 7 * mean * th + 12 * mean * th**2 + 6 * mean * th**3
    return k2, k4 + 3 * k2 * k2


def referral_counts(sc: Scenario, draws: int, seed: int, until: float) -> np.ndarray:
    """Referrals before day ``until`` in each of ``draws`` replications of ``sc``."""
    return np.array(
        [
            int(np.sum(referral_days(sc, Streams(replication_seed(seed, r)))[0] < until))
            for r in range(draws)
        ]
    )


def check_referral_counts(cfg: VerifyConfig) -> CheckGroup:
    """Counts of a Poisson process, of a Poisson-gamma one, and over a linear ramp-up."""
    n, seed = cfg.count_draws, cfg.seed
    rate_month, t, shape = 2.0, 600.0, 3.0
    m = rate_month / DAYS_PER_MONTH * t
    rows = []
    for label, k in (("poisson", None), ("negbin", shape)):
        sc = neutral(
            horizon_days=1000,
            referral={"sites": [{"name": "A", "rate_per_month": rate_month}], "rate_shape": k},
        )
        counts = referral_counts(sc, n, seed, t)
        var, mu4 = negbin_moments(m, k)
        kind = "Poisson" if k is None else f"negative binomial (gamma rate, shape {k:g})"
        rows.append(
            within_se(
                f"referral_{label}_mean",
                f"{kind}: mean referrals in {t:g} days = rate x t",
                float(counts.mean()),
                m,
                math.sqrt(var / n),
                unit="patients",
            )
        )
        formula = "rate x t" if k is None else "m + m^2 / shape"
        rows.append(
            within_se(
                f"referral_{label}_variance",
                f"{kind}: variance of the count = {formula}",
                float(counts.var(ddof=1)),
                var,
                _variance_se(n, var, mu4),
            )
        )
    # a linear ramp from zero over R days: rate x R / 2 referrals in the ramp
    ramp = {"name": "A", "rate_per_month": 6.0, "opens_day": 100, "ramp_up_days": 300}
    sc = neutral(horizon_days=400, referral={"sites": [ramp], "rate_shape": None})
    counts = referral_counts(sc, n, seed, 400.0)
    m_ramp = 6.0 / DAYS_PER_MONTH * 300 / 2
    rows.append(
        within_se(
            "referral_ramp_mean",
            "ramp-up: a site opening on day 100 and ramping linearly over 300 days gives "
            "rate x 300 / 2 referrals by day 400",
            float(counts.mean()),
            m_ramp,
            math.sqrt(m_ramp / n),
            unit="patients",
        )
    )
    method = (
        f"Referral days drawn by the model's own referral module for {n} replications "
        f"(seed {seed}); counts in [0, {t:g}) days at 2 referrals/month (m = {_num(m)}). "
        "With rate_shape set, each replication's rate is a gamma draw of that shape and the "
        "same mean, so the count is negative binomial with variance m + m^2 / shape. SE of a "
        "mean is sqrt(variance / n); SE of a sample variance is "
        "sqrt((mu4 - sigma^4 (n - 3) / (n - 1)) / n) with the exact fourth central moment "
        "(Poisson: m + 3 m^2; negative binomial: from its cumulants)."
    )
    return CheckGroup("referral", "Referral counts", method, tuple(rows))


# --- 4. exact sums ---------------------------------------------------------------------------

FIXED = {
    "screening": 10.0,
    "apheresis": 1.0,
    "manufacturing": 9.0,
    "qc": 3.0,
    "lead": 5.0,
    "stay": 14.0,
}


def check_fixed_sums(cfg: VerifyConfig) -> CheckGroup:
    """All durations fixed and capacity ample: every milestone is the exact sum of stages."""
    f = FIXED
    sc = neutral(
        horizon_days=1500,
        referral={"sites": [{"name": "A", "rate_per_month": 4.0}], "rate_shape": None},
        screening={"duration_days": f["screening"]},
        apheresis={"duration_days": f["apheresis"]},
        manufacturing={"duration_days": f["manufacturing"], "qc_release_days": f["qc"]},
        conditioning={"days_before_infusion": f["lead"], "treatment_days": 3},
        infusion={"stay_days": f["stay"]},
    )
    frames = [simulate(sc, cfg.seed, r).patients for r in range(cfg.fixed_reps)]
    p = pd.concat(frames, ignore_index=True)
    inf = p[p["outcome"] == "infused"]
    gaps = (
        ("screened_day", "referred_day", f["screening"], "screening"),
        ("apheresed_day", "screened_day", f["apheresis"], "collection"),
        ("released_day", "apheresed_day", f["manufacturing"] + f["qc"], "manufacturing + QC"),
        ("infused_day", "released_day", f["lead"], "conditioning lead"),
        ("discharged_day", "infused_day", f["stay"], "stay"),
        ("vein_to_vein_days", None, f["apheresis"] + f["manufacturing"] + f["qc"] + f["lead"], ""),
    )
    rows = []
    for late, early, expected, label in gaps:
        diff = inf[late] if early is None else inf[late] - inf[early]
        worst = float(np.max(np.abs(diff - expected))) if len(inf) else math.nan
        what = (
            "vein to vein = collection + manufacturing + QC + conditioning lead "
            f"({_num(expected)} days)"
            if early is None
            else f"{label}: {late} - {early} = {_valued(expected, 'days')}"
        )
        rows.append(
            exactly(
                f"fixed_{late.removesuffix('_day').removesuffix('_days')}",
                f"{what}; largest deviation over {len(inf)} infused patients",
                worst,
                0.0,
                unit="days",
            )
        )
    rows.append(
        exactly(
            "fixed_all_infused",
            "no failure, loss or wait possible: every referred patient is infused "
            "(patients not infused, of those whose pathway fits before the horizon)",
            float(((p["outcome"] != "infused") & (p["referred_day"] < 1500 - 60)).sum()),
            0.0,
            atol=0,
            unit="patients",
        )
    )
    method = (
        f"A pathway with every duration fixed (screening {f['screening']:g}, collection "
        f"{f['apheresis']:g}, manufacturing {f['manufacturing']:g}, QC {f['qc']:g}, "
        f"conditioning lead {f['lead']:g}, stay {f['stay']:g} days), no failures, no "
        "deterioration and 10,000 units of every resource, so nobody waits; "
        f"{cfg.fixed_reps} replications (seed {cfg.seed}) of 4 referrals/month over 1,500 "
        "days. The simulated value is the largest absolute deviation from the sum."
    )
    return CheckGroup("fixed", "Exact sums with fixed durations", method, tuple(rows))


# --- 5. conservation and ordering ------------------------------------------------------------

MILESTONE_ORDER = (
    "referred_day",
    "consented_day",
    "screened_day",
    "apheresis_start_day",
    "apheresed_day",
    "manufacturing_start_day",
    "released_day",
    "conditioning_start_day",
    "infused_day",
    "discharged_day",
)

INVARIANTS = {
    "one_outcome": "every referred patient has exactly one outcome of the seven, and exactly "
    "one terminal event in the log (none while still in the pathway)",
    "outcomes_sum": "the outcome counts add up to the referred count, per replication",
    "funnel_monotone": "funnel counts never rise from one milestone to the next "
    "(referred >= consented >= ... >= infused)",
    "milestone_order": "each patient's milestone days are in pathway order "
    "(referral, consent, screening, apheresis, manufacturing, release, conditioning, "
    "infusion, discharge)",
    "exit_after_milestones": "a finished patient's exit is at or after every milestone it reached",
    "deteriorated_at_latent_time": "a deteriorated patient exits exactly at its "
    "(bridging-adjusted) latent time, and no infused patient passed it before day 0",
    "capacity": "units in use never exceed slots, suites or beds, nor bed bookings the beds, "
    "for longer than an instant",
    "weekday_apheresis": "with weekdays_only, no collection starts on a Saturday or Sunday",
    "closed_at_target": "no referral after the target is reached, and the replication ends "
    "with no patient left inside unless it ran to the horizon",
}


def invariant_violations(rep: Replication, sc: Scenario) -> dict[str, int]:
    """Violations of each invariant in one replication (all zero for a correct model)."""
    pts, row, ev = rep.patients, rep.row, rep.events
    v = dict.fromkeys(INVARIANTS, 0)

    terminal = ev[ev["event"].isin(OUTCOMES)].groupby("patient").size()
    n_term = terminal.reindex(pts["patient"], fill_value=0).to_numpy()
    want = (pts["outcome"] != "in_pathway").astype(int).to_numpy()
    v["one_outcome"] = int(
        (~pts["outcome"].isin(OUTCOMES)).sum()
        + int(not pts["patient"].is_unique)
        + (n_term != want).sum()
    )
    v["outcomes_sum"] = int(row["referred"] != sum(row[f"outcome.{o}"] for o in OUTCOMES))
    funnel = [row[k] for k in FUNNEL]
    v["funnel_monotone"] = sum(1 for a, b in itertools.pairwise(funnel) if b > a)

    days = pts[list(MILESTONE_ORDER)].to_numpy(dtype=float)
    running = np.maximum.accumulate(np.where(np.isnan(days), -np.inf, days), axis=1)
    bad = ~np.isnan(days) & (days < running - EXACT_ABS)
    v["milestone_order"] = int(bad.any(axis=1).sum())
    done = (pts["outcome"] != "in_pathway").to_numpy()
    last = np.nanmax(np.where(np.isnan(days), -np.inf, days), axis=1)
    v["exit_after_milestones"] = int((done & (pts["exit_day"].to_numpy() < last - EXACT_ABS)).sum())

    det = pts[pts["outcome"] == "deteriorated"]
    inf = pts[pts["infused_day"].notna()]
    v["deteriorated_at_latent_time"] = int(
        (np.abs(det["exit_day"] - det["deterioration_day"]) > EXACT_ABS).sum()
        + (inf["infused_day"] > inf["deterioration_day"] + EXACT_ABS).sum()
    )

    caps = {
        "apheresis": sc.apheresis.slots,
        "manufacturing": sc.manufacturing.suites,
        "beds": sc.infusion.beds,
    }
    tl = rep.timeline
    for res, cap in caps.items():
        sub = tl[tl["resource"] == res]
        if len(sub):
            t = sub["time"].to_numpy()
            held = np.diff(np.append(t, t[-1]))
            over = (sub["in_use"].to_numpy() > cap) & (held > EXACT_ABS)
            v["capacity"] += int(over.sum()) + int((sub["queue_length"] < 0).sum())
    beds = ev[ev["resource"] == "beds"]
    step = beds["event"].map({"bed_booked": 1, "booking_cancelled": -1, "handover": -1})
    booked = step.fillna(0).cumsum().to_numpy(dtype=float)
    v["capacity"] += int(((booked > sc.infusion.beds) | (booked < 0)).sum())

    if sc.apheresis.weekdays_only:
        starts = ev.loc[(ev["resource"] == "apheresis") & (ev["event"] == "start"), "time"]
        weekday = (sc.start_date.weekday() + np.floor(starts.to_numpy()).astype(int)) % 7
        v["weekday_apheresis"] = int((weekday >= 5).sum())

    ttt = row["time_to_target_days"]
    late = int((pts["referred_day"] > ttt).sum()) if not math.isnan(ttt) else 0
    stuck = row["end_days"] < sc.horizon_days and row["outcome.in_pathway"] > 0
    v["closed_at_target"] = late + int(stuck) + int(row["end_days"] > sc.horizon_days)
    return v


def stress_scenario(base: Scenario) -> Scenario:
    """The baseline made hard: busy, short of capacity, failing and deteriorating, with
    retries and re-collection, so every path of the pathway is walked."""
    data = base.to_dict()
    data["name"] = "Verification: stressed baseline"
    data["referral"]["sites"][0]["rate_per_month"] = 6.0
    data["apheresis"].update(failure_prob=0.3, max_attempts=3)
    data["manufacturing"].update(
        suites=1, failure_prob=0.3, max_attempts=2, recollect_on_failure=True
    )
    data["deterioration"]["time_to_event_days"] = {"dist": "exponential", "mean": 90}
    data["infusion"]["beds"] = 1
    return validate_scenario(data, source="verify")


def check_invariants(cfg: VerifyConfig) -> CheckGroup:
    """Conservation, ordering, capacity and closing rules over many replications."""
    baseline = shipped_scenario("baseline.yaml")
    scenarios = [
        baseline,
        shipped_scenario("central_manufacturing.yaml"),
        shipped_scenario("two_sites.yaml"),
        stress_scenario(baseline),
    ]
    reps, seed = cfg.invariant_reps, cfg.seed
    totals = dict.fromkeys(INVARIANTS, 0)
    patients = 0
    for sc in scenarios:
        for r in range(reps):
            rep = simulate(sc, seed, r)
            patients += len(rep.patients)
            for name, count in invariant_violations(rep, sc).items():
                totals[name] += count
    rows = [
        exactly(f"invariant_{name}", text, float(totals[name]), 0.0, atol=0, unit="violations")
        for name, text in INVARIANTS.items()
    ]
    method = (
        f"{reps} replications (seed {seed}) of each of four scenarios: baseline.yaml, "
        "central_manufacturing.yaml, two_sites.yaml and a stressed baseline (6 referrals/"
        "month, 30% collection and batch failures with retries and re-collection, 1 suite, "
        f"1 bed, deterioration mean 90 days): {len(scenarios) * reps} replications and "
        f"{patients:,} referred patients in all. Each row counts violations over all of them, "
        "read from the patients table, the event log and the resource timeline; a correct "
        "model has none."
    )
    return CheckGroup("invariants", "Conservation and ordering", method, tuple(rows))


# --- 6. face validity: the ELIANA funnel -----------------------------------------------------

ELIANA_ENROLLED = 97
ELIANA_COUNTS = {"infused": 79, "manufacturing_failed": 8, "deteriorated": 10}
ELIANA_MEDIAN_DAYS = 43.0
ELIANA_MEDIAN_N = 137
"""Enrolment to infusion: median 43 days, pooled ELIANA and ENSIGN (137 infused)."""


def eliana_cohort(sc: Scenario, reps: int, seed: int) -> tuple[dict[str, np.ndarray], list]:
    """Per replication: enrolled, and the enrolled by outcome; and each replication's
    enrolment-to-infusion days."""
    counts = {k: np.zeros(reps) for k in ("enrolled", *OUTCOMES)}
    times = []
    for r in range(reps):
        trial = run_trial(sc, replication_seed(seed, r), keep_log=False)
        days = []
        for p in trial.patients:
            if math.isnan(p.enrolled):
                continue
            counts["enrolled"][r] += 1
            counts[p.outcome.value][r] += 1
            if not math.isnan(p.infused):
                days.append(p.infused - p.enrolled)
        times.append(np.asarray(days))
    return counts, times


def ratio_se(x: np.ndarray, n: np.ndarray) -> float:
    """Standard error of the pooled share sum(x) / sum(n) over replications (ratio estimator)."""
    r = len(x)
    share = x.sum() / n.sum()
    resid = x - share * n
    return float(math.sqrt(np.sum(resid**2) / (r * (r - 1))) / n.mean())


def compare_share(
    name: str, what: str, hits: np.ndarray, enrolled: np.ndarray, published: int, n_pub: int
) -> CheckResult:
    """Simulated share against a published count: the 95% Wilson interval of
    ``published / n_pub``, widened by 1.96 simulation standard errors."""
    share = float(hits.sum() / enrolled.sum())
    se = ratio_se(hits, enrolled)
    lo, hi = wilson_interval(published, n_pub)
    widen = Z95 * se
    tol = (
        f"[{_num(lo)}, {_num(hi)}] (95% Wilson interval of {published}/{n_pub}) "
        f"± {_num(widen)} (1.96 simulation SE)"
    )
    return CheckResult(name, what, share, published / n_pub, lo - widen, hi + widen, tol)


def compare_median(
    name: str, what: str, times: list, published: float, n_pub: int, gating: bool
) -> CheckResult:
    """Simulated median against a published median of ``n_pub`` patients: passes when the
    published median lies between the simulated quantiles that bound the median of a sample
    of ``n_pub`` (0.5 ± 1.96 x 0.5 / sqrt(n_pub)), widened by 1.96 simulation SE."""
    pooled = np.concatenate(times) if times else np.empty(0)
    if pooled.size == 0:
        return CheckResult(name, what, math.nan, published, math.nan, math.nan, "no infusions")
    half = Z95 * 0.5 / math.sqrt(n_pub)
    q_lo, med, q_hi = np.quantile(pooled, [0.5 - half, 0.5, 0.5 + half])
    per_rep = np.array([np.median(t) for t in times if t.size])
    se = float(np.std(per_rep, ddof=1) / math.sqrt(per_rep.size)) if per_rep.size > 1 else 0.0
    widen = Z95 * se
    # published in [q_lo - w, q_hi + w]  <=>  simulated median in the interval below
    low = published - (q_hi - med) - widen
    high = published + (med - q_lo) + widen
    tol = (
        f"[{_num(low)}, {_num(high)}]: the published median must lie between the simulated "
        f"{100 * (0.5 - half):.1f}th and {100 * (0.5 + half):.1f}th percentiles "
        f"({_num(q_lo)}-{_num(q_hi)} days; the spread of a median of {n_pub}) "
        f"± {_num(widen)} (1.96 simulation SE)"
    )
    return CheckResult(name, what, float(med), published, low, high, tol, "days", gating)


def eliana_reading(sc: Scenario, rows: Sequence[CheckResult]) -> str:
    """What the comparison says, in words, from the results and the scenario's parameters."""
    by_name = {r.name: r for r in rows}
    median = by_name["eliana_enrolment_to_infusion"]
    mf = sc.manufacturing
    path_days = (
        sc.apheresis.duration_days.mean
        + mf.duration_days.mean
        + mf.qc_release_days.mean
        + sc.conditioning.days_before_infusion
    )
    words = []
    if median.passed:
        words.append(
            f"The simulated median ({_num(median.simulated)} days) matches the published one."
        )
    else:
        words.append(
            f"The simulated median ({_num(median.simulated)} days) does not match the "
            f"published {_num(median.expected)} days. The scenario's path from enrolment is a "
            f"weekday wait for a slot, then collection, manufacturing with shipping, QC with "
            f"shipping and the conditioning lead, {_num(round(path_days, 1))} days on average; "
            "ELIANA's extra two weeks are scheduling and clinical delays that the model does "
            "not represent (booking a manufacturing slot and courier, recovery from bridging "
            "chemotherapy or infection before lymphodepletion)."
        )
    det = sc.deterioration
    ttd = det.time_to_event_days if det is not None else None
    if ttd is not None and getattr(ttd, "dist", "") == "exponential":
        hazard = 1.0 / ttd.mean
        at_pub = 1 - math.exp(-hazard * ELIANA_MEDIAN_DAYS)
        loss = by_name["eliana_deteriorated"]
        words.append(
            f"The loss share ({_num(loss.simulated)}) comes from a constant hazard of "
            f"{_num(hazard)}/day over the simulated wait; over ELIANA's {_num(ELIANA_MEDIAN_DAYS)}"
            f"-day median wait the same hazard would lose about {_num(at_pub)}"
            + (
                f", above the published interval (upper bound {_num(loss.high)}), so the match "
                "relies on the shorter simulated wait offsetting a hazard (from adult lymphoma) "
                "that is probably too high for this population."
                if at_pub > loss.high
                else ", still within the published interval."
            )
        )
    return " ".join(words)


def check_eliana(cfg: VerifyConfig) -> CheckGroup:
    """The ELIANA funnel (figures.md section 2) against eliana_face_validity.yaml."""
    sc = shipped_scenario("eliana_face_validity.yaml")
    reps, seed = cfg.eliana_reps, cfg.seed
    counts, times = eliana_cohort(sc, reps, seed)
    enrolled = counts["enrolled"]
    n, labels = (
        ELIANA_ENROLLED,
        {
            "infused": "share of the enrolled infused (ELIANA 79/97)",
            "manufacturing_failed": "share of the enrolled lost to manufacturing failure "
            "(ELIANA 8/97)",
            "deteriorated": "share of the enrolled lost to death or adverse event before infusion "
            "(ELIANA 10/97; the model's deterioration)",
        },
    )
    rows = [
        compare_share(f"eliana_{k}", labels[k], counts[k], enrolled, ELIANA_COUNTS[k], n)
        for k in ("infused", "manufacturing_failed", "deteriorated")
    ]
    rows.append(
        compare_median(
            "eliana_enrolment_to_infusion",
            "median days from enrolment to infusion (published: 43 days, ELIANA and ENSIGN "
            "pooled); secondary, not gating: the model has no scheduling delay between "
            "enrolment and apheresis, nor a clinical one between release and conditioning",
            times,
            ELIANA_MEDIAN_DAYS,
            ELIANA_MEDIAN_N,
            gating=False,
        )
    )
    other = sum(counts[k].sum() for k in ("apheresis_failed", "in_pathway"))
    method = (
        "scenarios/eliana_face_validity.yaml: a central-manufacturing, multicentre trial "
        "parameterised only from mechanism and parameter rows of figures.md (beside the "
        "repository in shared/reference), never from the ELIANA outcomes compared here; each "
        "value's source is in the file. It closes at the 97th enrolment, like the published "
        f"cohort. {reps} replications (seed {seed}), {int(enrolled.sum()):,} enrolled "
        f"patients in all ({int(other)} apheresis failures or still in the pathway). A share "
        "passes when it lies in the 95% Wilson interval of the published count out of 97 "
        "(the sampling error of one trial of that size), widened by 1.96 standard errors of "
        "the simulated share (ratio estimator over replications). The three shares are the "
        "gating face-validity checks. The enrolment-to-infusion median (n = 137, ELIANA and "
        "ENSIGN pooled) is a secondary comparison, reported but not counted. "
        + eliana_reading(sc, rows)
    )
    return CheckGroup("eliana", "Face validity: the ELIANA funnel", method, tuple(rows))


# --- running ---------------------------------------------------------------------------------

CheckFn = Callable[[VerifyConfig], CheckGroup]
CHECKS: tuple[CheckFn, ...] = (
    check_queueing,
    check_little,
    check_referral_counts,
    check_fixed_sums,
    check_invariants,
    check_eliana,
)


def _timed(check: CheckFn, cfg: VerifyConfig) -> CheckGroup:
    start = time.perf_counter()
    group = check(cfg)
    return replace(group, seconds=time.perf_counter() - start)


def run_checks(
    cfg: VerifyConfig,
    checks: Sequence[CheckFn] = CHECKS,
    workers: int = 1,
    progress: Callable[[CheckGroup], None] | None = None,
) -> list[CheckGroup]:
    """Run ``checks`` (in parallel processes when ``workers > 1``); results in check order."""
    if workers <= 1 or len(checks) <= 1:
        groups = []
        for check in checks:
            group = _timed(check, cfg)
            if progress is not None:
                progress(group)
            groups.append(group)
        return groups
    with ProcessPoolExecutor(max_workers=min(workers, len(checks))) as pool:
        futures = [pool.submit(_timed, check, cfg) for check in checks]
        groups = []
        for fut in futures:
            group = fut.result()
            if progress is not None:
                progress(group)
            groups.append(group)
        return groups


# --- report ----------------------------------------------------------------------------------


def _num(x: float) -> str:
    """Four significant figures; whole numbers as integers; NaN as n/a."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    x = float(x)
    if x == 0:
        return "0"
    if x.is_integer() and abs(x) < 1e7:
        return f"{int(x):d}"
    text = f"{x:.4g}"
    return text.replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")


def _valued(x: float, unit: str) -> str:
    """A number with its unit, singular for exactly one ("1 day", "0 days")."""
    if not unit:
        return _num(x)
    if x == 1 and unit.endswith("s"):
        unit = unit[:-1]
    return f"{_num(x)} {unit}"


def _days(horizon: float) -> str:
    return f"horizon {horizon:,.0f} days"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _result_word(r: CheckResult) -> str:
    if r.passed:
        return "pass"
    return "FAIL" if r.gating else "no match (secondary)"


def command_line(cfg: VerifyConfig, out: str) -> str:
    parts = ["python -m sim verify"]
    if cfg.label == "full":
        parts.append("--full")
    if out != DEFAULT_OUT:  # an absolute path is this machine's, not the report's business
        parts.append("--out FILE" if Path(out).is_absolute() else f"--out {out}")
    return " ".join(parts)


def summary_counts(groups: Sequence[CheckGroup]) -> tuple[int, int, list[str]]:
    """(gating checks passed, gating checks, names of the failed ones)."""
    gating = [r for g in groups for r in g.results if r.gating]
    failed = [r.name for r in gating if not r.passed]
    return len(gating) - len(failed), len(gating), failed


def format_report(groups: Sequence[CheckGroup], cfg: VerifyConfig, command: str) -> str:
    """The Markdown report: no timestamps or timings, so a re-run of the same code gives the
    same bytes."""
    passed, total, failed = summary_counts(groups)
    secondary = [r for g in groups for r in g.results if not r.gating]
    lines = [
        "# Verification and validation report",
        "",
        f"Generated by `{command}` ({cfg.label}) with cart-trial-sim {__version__} on Python "
        f"{platform.python_version()}, NumPy {np.__version__}, SciPy {scipy.__version__}, "
        f"SimPy {simpy.__version__}, pandas {pd.__version__}. Seeds and replications are "
        "fixed, so re-running the same code gives this file byte for byte. Do not edit it by "
        "hand: regenerate it with the command above (`--full` runs more replications, so the "
        "statistical checks are tighter).",
        "",
        (
            f"**Result: all {total} checks pass.**"
            if not failed
            else f"**Result: {passed} of {total} checks pass; failed: {', '.join(failed)}.**"
        ),
    ]
    if secondary:
        s_pass = sum(r.passed for r in secondary)
        lines[-1] += (
            f" {len(secondary)} secondary comparison{'s' if len(secondary) > 1 else ''} "
            f"(reported, not counted): {s_pass} match{'es' if s_pass == 1 else ''}."
            if s_pass
            else f" {len(secondary)} secondary comparison (reported, not counted) does not "
            "match; see its section."
        )
    lines += [
        "",
        "How to read the tables: a check passes when the simulated value lies in the "
        "acceptance interval given by the tolerance column. Statistical tolerances are "
        f"{K_SE:g} standard errors of the simulated estimate (a correct model fails one such "
        "check by chance about 6 times in 100,000); identities and exact sums allow "
        "floating-point error only; invariants allow no violation; face-validity comparisons "
        "allow the sampling error of the published trial as well as the simulation's. Units: "
        "days, patients, or none (queue lengths, utilisations, shares).",
        "",
    ]
    for i, g in enumerate(groups, 1):
        lines += [
            f"## {i}. {g.title}",
            "",
            g.method,
            "",
            "| Check | What it checks | Simulated | Expected | Tolerance | Result |",
            "|---|---|---|---|---|---|",
        ]
        for r in g.results:
            lines.append(
                f"| `{r.name}` | {_cell(r.what)} | {_valued(r.simulated, r.unit)} | "
                f"{_valued(r.expected, r.unit)} | {_cell(r.tolerance)} | {_result_word(r)} |"
            )
        lines.append("")
    return "\n".join(lines)


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


# --- command line ----------------------------------------------------------------------------


def add_verify_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``verify [--full] [--out FILE] [--workers N] [--quiet]`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "verify",
        help="check the model against queueing theory, invariants and the ELIANA funnel",
        description="Run the verification and validation checks and write a Markdown report. "
        "Exit status 0 when every check passes, 1 when any fails.",
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
    return p


def cmd_verify(args: argparse.Namespace, checks: Sequence[CheckFn] = CHECKS) -> int:
    """``python -m sim verify``: exit status 0 if every check passes, 1 if any fails."""
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
