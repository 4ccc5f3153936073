"""Bounded work: the expected work of a run, estimated before it starts, and its budget.

A replication costs about as much as the patients it simulates. Referral stops when the
target is reached, so the patients simulated are the referrals expected up to the estimated
day of the target (or the horizon, if sooner): that day is when enough referred patients,
after the losses of screening, failed attempts and deterioration on the way, have come in,
or when the busiest station can have served the target's patients, whichever is later,
plus the pathway's mean delay to the milestone. Queues beyond capacity are not modelled, so
the estimate is a guide (within a factor of about two on the shipped scenarios and on
saturated ones), not a promise.

Every referral up to the horizon is drawn when a replication starts (common random
numbers), whether or not the target stops referral first; those draws cost time too, about
a twentieth of a simulated patient each, and their memory is bounded by the scenario's
schema (:data:`sim.core.schema.MAX_REFERRALS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from sim.core.distributions import _Dist
from sim.core.errors import InputError
from sim.core.referral import cumulative_intensity
from sim.core.scenario import DAYS_PER_MONTH, Scenario

WORK_BUDGET = 50_000_000
"""Work allowed without ``--allow-large``, in simulated patients (replications x patients
a replication): about 40 minutes of one core at the baseline's speed (about 50 µs a
simulated patient), ten minutes on four cores. The default Sobol analysis of a shipped
scenario (3,712 runs of 100 replications of the baseline) fits; 500 replications of a
trial referring 3,000 patients a month for ten years do not."""
REPLICATION_COST = 15
"""The fixed cost of a replication (its set-up and summary), in simulated patients."""
SECONDS_PER_PATIENT = 50e-6
"""One core's time for one simulated patient at the baseline's speed (measured: a baseline
replication of about 90 patients takes about 4.5 ms)."""
DRAWS_PER_PATIENT = 20
"""Referrals drawn up front that cost as much time as one simulated patient."""
KEPT_BUDGET = 100_000
"""Patients whose full tables (``--keep-logs``, ``--out``) may be held without
``--allow-large``: a kept patient holds about 8 kB until the tables are written (about
0.8 GB in all)."""
ALLOW_FLAG = "--allow-large"
"""The command-line flag that runs work beyond the budget."""
MAX_REPLICATIONS = 10_000_000
"""The most replications any command accepts."""

_GRID = (np.arange(512) + 0.5) / 512
"""Probabilities at which a distribution's quantiles stand in for the distribution."""


@dataclass(frozen=True)
class Work:
    """The expected work of ``runs`` runs of ``replications`` replications of a scenario
    (a planning command's configurations, or compared scenarios, each run alike)."""

    replications: int
    patients: float
    """Referred patients simulated in a replication (referral stops at the target)."""
    drawn: float
    """Referrals drawn in a replication (all of them up to the horizon)."""
    target_day: float | None
    """The estimated day the target is reached, or None (not within the horizon)."""
    runs: int = 1

    @property
    def per_replication(self) -> float:
        """The cost of one replication, in simulated patients."""
        return self.patients + self.drawn / DRAWS_PER_PATIENT + REPLICATION_COST

    @property
    def total(self) -> float:
        """The cost of the whole work, in simulated patients."""
        return self.runs * self.replications * self.per_replication

    def times(self, runs: int) -> Work:
        """``runs`` times this work (a sweep's points, a sensitivity's samples)."""
        return replace(self, runs=self.runs * runs)

    def describe(self) -> str:
        """The estimate in words: ``about 196,000,000 simulated patients (500 replications
        of about 392,000)``."""
        runs = f"{self.runs:,} runs of " if self.runs != 1 else ""
        reps = f"{self.replications:,} replication{'s' if self.replications != 1 else ''}"
        return (
            f"about {_round(self.total):,} simulated patients ({runs}{reps} of about "
            f"{_round(self.per_replication):,})"
        )

    @property
    def core_minutes(self) -> float:
        """The whole work in minutes of one core, roughly (:data:`SECONDS_PER_PATIENT`)."""
        return self.total * SECONDS_PER_PATIENT / 60

    def over_budget(self, budget: float = WORK_BUDGET) -> bool:
        """True when the work is beyond ``budget`` simulated patients."""
        return self.total > budget


def combined(works: list[Work]) -> Work:
    """Several runs of the same replications (compared scenarios, a sweep's points) as one
    work: their number of runs, the mean cost of a replication."""
    n = sum(w.runs for w in works)
    return Work(
        works[0].replications,
        sum(w.patients * w.runs for w in works) / n,
        sum(w.drawn * w.runs for w in works) / n,
        None,
        runs=n,
    )


def _round(x: float) -> int:
    """``x`` to two significant figures (an estimate claims no more)."""
    if x < 100:
        return round(x)
    return int(round(x, 1 - math.floor(math.log10(x))))


def referrals_by(scenario: Scenario, day: float) -> float:
    """Expected referrals of all sites in [0, day] (the mean rates; a site's uncertain rate
    has the same mean)."""
    return sum(
        cumulative_intensity(site, day, site.rate_per_month / DAYS_PER_MONTH)
        for site in scenario.referral.sites
    )


def _mean(dist: _Dist | None) -> float:
    return 0.0 if dist is None else float(dist.mean)


def _attempts(fail: float, most: int) -> tuple[float, float]:
    """(chance that one of ``most`` attempts succeeds, expected attempts made)."""
    ok = 1.0 - fail**most
    made = most if fail >= 1.0 else (1.0 - fail**most) / (1.0 - fail)
    return ok, made


def _reach(scenario: Scenario) -> tuple[float, float, float]:
    """(chance a referred patient reaches the target's milestone, mean days from referral
    to it, patients a day the busiest station can take to it)."""
    sc = scenario
    milestone = sc.target.milestone
    share = 1.0 - sc.screening.consent_decline_prob
    for prob in sc.screening.criteria.values():
        share *= 1.0 - prob
    delay = _mean(sc.screening.duration_days)
    rate = math.inf
    if milestone != "enrolled":
        ap = sc.apheresis
        ok, made = _attempts(ap.failure_prob, ap.max_attempts)
        share *= ok
        hold = _mean(ap.duration_days) * made / (5 / 7 if ap.weekdays_only else 1.0)
        delay += _mean(ap.duration_days) + (made - 1) * _mean(ap.retry_after_days)
        rate = min(rate, ap.slots / hold if hold > 0 else math.inf)
    if milestone == "infused":
        mf = sc.manufacturing
        fail = mf.failure_prob + (1 - mf.failure_prob) * _short_yield(sc)
        ok, made = _attempts(fail, mf.max_attempts)
        share *= ok
        hold = _mean(mf.duration_days) * made
        delay += (_mean(mf.duration_days) + _mean(mf.qc_release_days)) * made
        delay += sc.conditioning.days_before_infusion
        stay = _mean(sc.infusion.stay_days)
        rate = min(rate, mf.suites / hold if hold > 0 else math.inf)
        rate = min(rate, sc.infusion.beds / stay if stay > 0 else math.inf)
    if sc.deterioration is not None:
        lasting = sc.deterioration.time_to_event_days.ppf(_GRID)
        share *= float(np.mean(lasting > delay))
    return share, delay, rate


def _short_yield(scenario: Scenario) -> float:
    """Chance that a batch's yield is below the minimum dose for the patient's weight."""
    cells = scenario.manufacturing.yield_cells
    if cells is None:
        return 0.0
    need = scenario.dose.min_per_kg * scenario.patients.weight_kg.ppf(_GRID)
    return float(np.mean(cells.ppf(_GRID)[:, None] < need[None, :]))


def target_day(scenario: Scenario) -> float | None:
    """The estimated day the target is reached, None when not within the horizon."""
    sc = scenario
    share, delay, rate = _reach(sc)
    horizon = sc.horizon_days
    wanted = sc.target.count
    if share <= 0 or referrals_by(sc, horizon) * share < wanted:
        return None
    low, high = 0.0, horizon  # the day enough referred patients will reach the milestone
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if referrals_by(sc, mid) * share < wanted else (low, mid)
    day = max(high, wanted / rate if rate > 0 else math.inf) + delay
    return day if day <= horizon else None


def estimate_work(scenario: Scenario, replications: int) -> Work:
    """The expected work of ``replications`` replications of ``scenario``."""
    drawn = referrals_by(scenario, scenario.horizon_days)
    day = target_day(scenario)
    patients = drawn if day is None else referrals_by(scenario, day)
    return Work(int(replications), patients, drawn, day)


def check_work(work: Work, allowed: bool = False, budget: float = WORK_BUDGET) -> None:
    """InputError (one line, naming the estimate and the flag to go ahead) when ``work`` is
    beyond ``budget`` and not ``allowed``."""
    if allowed or not work.over_budget(budget):
        return
    raise InputError(
        f"this would be {work.describe()}, beyond the budget of {budget:,.0f}; lower the "
        f"replications, the rates or the horizon, or add {ALLOW_FLAG} to run it anyway"
    )


def check_kept(work: Work, kept: int, allowed: bool = False, budget: float = KEPT_BUDGET) -> None:
    """InputError when the full tables of ``kept`` replications would hold more than
    ``budget`` patients, and not ``allowed``."""
    patients = min(kept, work.replications) * work.patients
    if allowed or patients <= budget:
        return
    fits = max(1, int(budget // max(work.patients, 1.0)))
    raise InputError(
        f"full tables of {min(kept, work.replications):,} replications would hold about "
        f"{_round(patients):,} patients, beyond the {budget:,.0f} kept in memory; keep fewer "
        f"(--keep-logs {fits}, say) or add {ALLOW_FLAG} to keep them anyway",
        field="--keep-logs",
    )
