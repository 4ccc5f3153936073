"""Bayesian updates of a scenario from an observed log.

Each site's referral rate gets a gamma posterior (the scenario's rate as the prior mean,
worth ``prior_weight_months`` of observation, or the scenario's ``rate_shape`` where set);
the screen-failure and the patient's manufacturing-failure probabilities get beta posteriors
with the prior worth ``prior_patients`` patients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.core import special
from sim.core.scenario import Scenario, Site
from sim.forecasting.times import (
    DEFAULT_PRIOR_EVENTS,
    TimeUpdate,
    apply,
    deterioration_scale,
    stage_scales,
)
from sim.forecasting.trend import TrendFit, exposure_months, fit_trend
from sim.run.stats import rounded

if TYPE_CHECKING:  # the log's frame is pandas; this module is imported by every command
    from sim.forecasting.observed import ObservedLog

DEFAULT_PRIOR_WEIGHT_MONTHS = 6.0
"""Worth of a site's prior rate, in months of observation, when the scenario gives no
gamma shape for it."""


@dataclass(frozen=True)
class SitePosterior:
    name: str
    prior_rate_per_month: float
    observed: int
    exposure_months: float
    shape: float
    """Posterior gamma shape (pseudo-referrals plus observed)."""
    rate_months: float
    """Posterior gamma rate: prior weight plus exposure, in months."""
    trend: TrendFit | None = None
    """The trend the log shows (None: too few referrals to tell)."""
    fitted: bool = False
    """Whether the forecast uses the trend (else the scenario's)."""
    site: Site | None = None
    as_of_day: float = 0.0

    @property
    def mean_per_month(self) -> float:
        return self.shape / self.rate_months

    def rate_given_trend(self, per_year: float) -> float:
        """The posterior mean full rate (per month, at opening) were the trend ``per_year``:
        the exposure, and so the rate, depend on it."""
        assert self.site is not None
        weight = self.rate_months - self.exposure_months
        return self.shape / (weight + exposure_months(self.site, self.as_of_day, per_year))


@dataclass(frozen=True)
class BetaPosterior:
    prior_prob: float
    successes: float
    trials: float
    alpha: float
    beta: float

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)


@dataclass(frozen=True)
class Posterior:
    sites: tuple[SitePosterior, ...]
    screen_fail: BetaPosterior
    manufacturing_fail: BetaPosterior
    low_yield_prob: float
    """Share of batches below the minimum dose (part of the batch failures)."""
    attempts: int = 1
    """Batches a patient may get: manufacturing_fail is on the patient's failure, q = p^m."""
    times: TimeUpdate = field(default_factory=TimeUpdate)
    """Scales of the latent deterioration time and the stage durations (when updated)."""

    def batch_fail(self, patient_fail: float) -> float:
        """The per-batch failure probability that gives this patient-level one."""
        return patient_fail ** (1.0 / self.attempts)

    def as_dict(self) -> dict[str, Any]:
        return rounded(
            {
                "sites": {
                    s.name: {
                        "prior_rate_per_month": s.prior_rate_per_month,
                        "observed_referrals": s.observed,
                        "exposure_months": s.exposure_months,
                        "posterior_rate_per_month": s.mean_per_month,
                        "posterior_shape": s.shape,
                        "trend_per_year": s.trend.per_year if s.trend else None,
                        "trend_per_year_ci95": list(s.trend.interval()) if s.trend else None,
                        "trend_used": s.fitted,
                    }
                    for s in self.sites
                },
                "screen_fail_prob": _beta_dict(self.screen_fail),
                "manufacturing_failed_prob": _beta_dict(self.manufacturing_fail),
                "batch_fail_prob": {
                    "prior": self.batch_fail(self.manufacturing_fail.prior_prob),
                    "posterior_mean": self.batch_fail(self.manufacturing_fail.mean),
                },
                **self.times.as_dict(),
            }
        )


def _beta_dict(b: BetaPosterior) -> dict[str, float]:
    lo, hi = special.betaincinv(b.alpha, b.beta, [0.05, 0.95])
    return {
        "prior": b.prior_prob,
        "observed_failures": b.successes,
        "observed_trials": b.trials,
        "posterior_mean": b.mean,
        "posterior_90_interval": [float(lo), float(hi)],
    }


def screen_fail_prob(scenario: Scenario) -> float:
    """Probability that a screened patient fails at least one criterion."""
    return 1.0 - math.prod(1.0 - p for p in scenario.screening.criteria.values())


DEFAULT_PRIOR_PATIENTS = 50.0
"""Prior worth of the scenario's probabilities, in patients (an assumption: the published
figures behind them rest on some 50-100 patients, figures.md 1b and 1e)."""


def low_yield_prob(scenario: Scenario, draws: int = 20_000) -> float:
    """Share of batches whose yield is below the minimum dose for the patient's weight."""
    mf = scenario.manufacturing
    if mf.yield_cells is None:
        return 0.0
    rng = np.random.default_rng(20151201)  # fixed: a property of the scenario, not of a run
    cells = mf.yield_cells.sample(rng, draws)
    weight = scenario.patients.weight_kg.sample(rng, draws)
    return float(np.mean(cells < scenario.dose.min_per_kg * weight))


def batch_fail_prob(scenario: Scenario) -> float:
    """Probability that a batch fails QC release, by chance or by low yield."""
    return 1.0 - (1.0 - scenario.manufacturing.failure_prob) * (1.0 - low_yield_prob(scenario))


@dataclass(frozen=True)
class Priors:
    """How much the scenario's own values weigh against the observed log."""

    weight_months: float | None = None
    """Referral rates: months of observation (None: the scenario's rate_shape / rate, else
    DEFAULT_PRIOR_WEIGHT_MONTHS)."""
    patients: float = DEFAULT_PRIOR_PATIENTS
    """Screen-failure and manufacturing-failure probabilities, and stage durations when
    they are updated: patients."""
    deterioration: bool = False
    """Update the latent time to deterioration from the log's deteriorations."""
    deterioration_events: float = DEFAULT_PRIOR_EVENTS
    """Its prior's worth, in deteriorations."""
    durations: bool = False
    """Update the screening, manufacturing and stay durations from the log."""
    trend: bool = False
    """Fit each site's referral trend to the log and forecast with it (and its uncertainty)."""


def update(scenario: Scenario, log: ObservedLog, priors: Priors = Priors()) -> Posterior:
    """Posteriors of the site rates and the failure probabilities given the log."""
    frame = log.frame
    sites = []
    for site in scenario.referral.sites:
        rate = site.rate_per_month
        shape = site.rate_shape or scenario.referral.rate_shape
        if priors.weight_months is not None:
            weight = priors.weight_months
        elif shape is not None and rate > 0:
            weight = shape / rate  # the scenario's own gamma: shape / mean, in months
        else:
            weight = DEFAULT_PRIOR_WEIGHT_MONTHS
        days = frame.loc[frame["site"] == site.name, "referred_day"].to_numpy(float)
        n = int(days.size)
        fit = fit_trend(site, days, log.as_of_day)
        fitted = priors.trend and fit is not None
        per_year = fit.per_year if fitted else site.trend_per_year
        exposure = exposure_months(site, log.as_of_day, per_year)
        a0 = max(rate * weight, 1e-6)
        sites.append(
            SitePosterior(
                site.name,
                rate,
                n,
                exposure,
                a0 + n,
                weight + exposure,
                fit,
                fitted,
                site,
                log.as_of_day,
            )
        )
    pseudo = priors.patients

    p_sf = screen_fail_prob(scenario)
    screened = (
        frame["screen_failed"]
        | frame["screen_end_day"].notna()
        | (frame["outcome"] == "screen_failed")
    )
    fails = int(
        frame["screen_failed"].sum()
        + ((frame["outcome"] == "screen_failed") & ~frame["screen_failed"]).sum()
    )
    n_screened = int(screened.sum())
    fails = min(fails, n_screened)
    screen = BetaPosterior(p_sf, fails, n_screened, *_beta_prior(p_sf, pseudo, fails, n_screened))

    # A log shows patients, not batches: a patient fails manufacturing when all its
    # max_attempts batches fail, so the beta is on q = p ** max_attempts, per patient.
    attempts = scenario.manufacturing.max_attempts
    q0 = batch_fail_prob(scenario) ** attempts
    released = int(frame["release_day"].notna().sum())
    failed = int((frame["outcome"] == "manufacturing_failed").sum())
    made = released + failed
    make = BetaPosterior(q0, failed, made, *_beta_prior(q0, pseudo * (1 - p_sf), failed, made))
    times = TimeUpdate(
        deterioration_scale(scenario, log, priors.deterioration_events)
        if priors.deterioration
        else None,
        stage_scales(scenario, log, pseudo) if priors.durations else {},
    )
    return Posterior(tuple(sites), screen, make, low_yield_prob(scenario), attempts, times)


def _beta_prior(p: float, strength: float, k: int, n: int) -> tuple[float, float]:
    eps = 1e-3  # keeps the beta proper when the prior probability is 0 or 1
    strength = max(strength, 1.0)
    return (p * strength + eps + k, (1 - p) * strength + eps + (n - k))


def posterior_scenario(scenario: Scenario, post: Posterior) -> Scenario:
    """The scenario with each site's posterior rate (mean and gamma shape) and posterior
    mean probabilities."""
    sites = [
        s.model_copy(
            update={
                "rate_per_month": sp.mean_per_month,
                "rate_shape": sp.shape,
                "trend_per_year": sp.trend.per_year if sp.fitted else s.trend_per_year,
            }
        )
        for s, sp in zip(scenario.referral.sites, post.sites, strict=True)
    ]
    referral = scenario.referral.model_copy(update={"sites": sites})
    return with_probs(
        apply(scenario.model_copy(update={"referral": referral}), post.times),
        post.screen_fail.mean,
        post.batch_fail(post.manufacturing_fail.mean),
        post.low_yield_prob,
    )


def with_probs(scenario: Scenario, screen_fail: float, make_fail: float, low: float) -> Scenario:
    """The scenario with a combined screen-failure probability (every criterion's hazard
    scaled alike) and a total batch-failure probability (low yields included)."""
    make_fail = min(1.0, max(0.0, 1.0 - (1.0 - make_fail) / (1.0 - low))) if low < 1 else 0.0
    criteria = dict(scenario.screening.criteria)
    p0 = screen_fail_prob(scenario)
    if 0 < p0 < 1:
        # scale every criterion's hazard alike; the criteria (and so the rows' columns) stay
        k = math.log1p(-screen_fail) / math.log1p(-p0) if screen_fail < 1 else math.inf
        criteria = {name: 1.0 - (1.0 - c) ** k for name, c in criteria.items()}
    else:  # no criterion carries any hazard to scale: one stands for them all
        criteria = {name: 0.0 for name in criteria} | {"observed_screen_failure": screen_fail}
    screening = scenario.screening.model_copy(update={"criteria": criteria})
    manufacturing = scenario.manufacturing.model_copy(update={"failure_prob": make_fail})
    return scenario.model_copy(update={"screening": screening, "manufacturing": manufacturing})
