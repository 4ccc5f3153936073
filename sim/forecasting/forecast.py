"""Re-forecasting from observed enrollment: Bayesian updates, then simulation from today.

Every replication draws its own failure probabilities and (inside the model) its own site
rates from the posteriors of :mod:`sim.forecasting.posterior`, and starts at the as-of date with
every observed patient at its stage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sim.core import special
from sim.core.model import run_trial
from sim.core.patient import Observed
from sim.core.resume import check_resumable
from sim.core.scenario import Scenario
from sim.core.streams import Streams, replication_seed
from sim.forecasting.observed import ObservedLog, observed_state
from sim.forecasting.posterior import (
    DEFAULT_PRIOR_PATIENTS,
    Posterior,
    Priors,
    posterior_scenario,
    update,
    with_probs,
)
from sim.run.executors import ExecutorSpec
from sim.run.results import RowTable, summary_row
from sim.run.runner import Results
from sim.run.scheduler import Job, Scheduler


def forecast_block(
    scenario: Scenario, post: Posterior, state: Observed, seed: int, start: int, stop: int
) -> RowTable:
    """Rows of forecast replications: each draws its failure probabilities first."""
    rows = []
    for r in range(start, stop):
        seq = replication_seed(seed, r)
        u = Streams(seq)["forecast.posterior"].random(2)
        sf = float(special.betaincinv(post.screen_fail.alpha, post.screen_fail.beta, u[0]))
        mfp = post.batch_fail(
            float(
                special.betaincinv(
                    post.manufacturing_fail.alpha, post.manufacturing_fail.beta, u[1]
                )
            )
        )
        variant = with_probs(_with_trends(scenario, post, seq), sf, mfp, post.low_yield_prob)
        rows.append(summary_row(run_trial(variant, seq, keep_log=False, observed=state), r))
    return RowTable.from_rows(rows)


def _with_trends(scenario: Scenario, post: Posterior, seq: object) -> Scenario:
    """The scenario with each fitted site's trend drawn for this replication (from its
    normal approximation) and its rate's posterior given that trend."""
    if not any(sp.fitted for sp in post.sites):
        return scenario
    streams = Streams(seq)
    sites = []
    for site, sp in zip(scenario.referral.sites, post.sites, strict=True):
        if sp.fitted and sp.trend is not None:
            z = special.norm_ppf(streams[f"forecast.trend:{site.name}"].random())
            per_year = sp.trend.draw(z)
            site = site.model_copy(
                update={"trend_per_year": per_year, "rate_per_month": sp.rate_given_trend(per_year)}
            )
        sites.append(site)
    referral = scenario.referral.model_copy(update={"sites": sites})
    return scenario.model_copy(update={"referral": referral})


@dataclass
class Forecast:
    prior: Results
    updated: Results
    posterior: Posterior
    log: ObservedLog
    state: Observed
    priors: Priors = Priors()  # noqa: RUF009 - frozen, shared safely

    def summary(self) -> dict[str, Any]:
        """The forecast's summary. The updated forecast carries no costs: it simulates from
        the as-of date only, so its suite-days, batches and drugs would miss those before it
        (the prior forecast, a whole trial, keeps them)."""
        obs = self.log.frame
        updated = self.updated.summary()
        if updated.pop("costs", None) is not None:
            updated["costs_note"] = (
                "not given for a forecast from observed data: it simulates from the as-of "
                "date only; see the prior forecast for a whole trial's costs"
            )
        return {
            "as_of": self.log.as_of.isoformat(),
            "replications": self.updated.replications,
            "seed": self.updated.seed,
            "updated": updated_parameters(self.priors),
            "observed": {
                "referred": len(obs),
                "enrolled": int(sum(1 for m, _ in self.state.reached if m == "enrolled")),
                "apheresed": int(sum(1 for m, _ in self.state.reached if m == "apheresed")),
                "infused": int(sum(1 for m, _ in self.state.reached if m == "infused")),
                "in_pathway": len(self.state.in_pathway),
            },
            "posterior": self.posterior.as_dict(),
            "prior_forecast": self.prior.summary(),
            "updated_forecast": updated,
        }

    def observed_cumulative(self) -> dict[str, list[float]]:
        """Observed milestone days (sorted), for drawing over the fan chart."""
        out: dict[str, list[float]] = {"enrolled": [], "infused": []}
        for m, day in self.state.reached:
            if m in out:
                out[m].append(day)
        return {k: sorted(v) for k, v in out.items()}


@dataclass(frozen=True)
class Plan:
    """What a forecast simulates: the updated scenario, the posteriors and where every
    observed patient stands at the as-of date."""

    scenario: Scenario
    posterior: Posterior
    state: Observed

    def job(self, reps: int, seed: int) -> Job:
        """The forecast's replications, each drawing its own probabilities first."""
        return Job(
            partial(forecast_block, self.scenario, self.posterior, self.state, seed), 0, reps
        )


def plan(scenario: Scenario, log: ObservedLog, priors: Priors = Priors()) -> Plan:  # noqa: B008
    """The posteriors given the log, and the simulation that continues from the as-of date."""
    check_resumable(scenario)
    post = update(scenario, log, priors)
    return Plan(posterior_scenario(scenario, post), post, observed_state(log, scenario))


def updated_parameters(priors: Priors) -> dict[str, str]:
    """Which parameters the log updates, and the prior's worth of each, in words."""
    weight = (
        "the scenario's rate_shape / rate months, else 6"
        if priors.weight_months is None
        else f"{priors.weight_months:g} months"
    )
    out = {
        "referral rates": f"gamma-Poisson, prior worth {weight} of observation",
        "screen failure": f"beta-binomial, prior worth {priors.patients:g} patients",
        "manufacturing failure": f"beta-binomial, prior worth {priors.patients:g} patients",
    }
    if priors.deterioration:
        out["time to deterioration"] = (
            f"gamma posterior on the hazard, prior worth {priors.deterioration_events:g} "
            "deteriorations"
        )
    if priors.trend:
        out["referral trends"] = (
            "fitted per site (maximum likelihood, normal approximation), no prior"
        )
    if priors.durations:
        out["screening, manufacturing and stay durations"] = (
            f"scaled to the observed means, prior worth {priors.patients:g} patients"
        )
    return out


def forecast(
    scenario: Scenario,
    log: ObservedLog,
    reps: int,
    seed: int = 0,
    prior_weight_months: float | None = None,
    executor: ExecutorSpec | str = "serial",
    progress: Callable[[int], None] | None = None,
    prior_patients: float = DEFAULT_PRIOR_PATIENTS,
    with_prior: bool = True,
    priors: Priors | None = None,
) -> Forecast:
    """The prior forecast (the scenario alone) and the updated one (from the as-of date),
    run on one scheduler. ``priors`` (when given) replaces ``prior_weight_months`` and
    ``prior_patients`` and says which times are updated too."""
    priors = priors or Priors(prior_weight_months, prior_patients)
    p = plan(scenario, log, priors)
    jobs = [Job.of(scenario, reps if with_prior else 1, seed), p.job(reps, seed)]
    with Scheduler(executor, progress=progress) as scheduler:
        prior, updated = scheduler.run(jobs)
    return Forecast(
        Results(scenario, seed, prior),
        Results(p.scenario, seed, updated),
        p.posterior,
        log,
        p.state,
        priors,
    )
