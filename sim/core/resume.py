"""A forecast's start: the patients already inside the pathway at the as-of date, each
resumed at its stage.

What is already known is kept (the milestones passed, the targets counted); what is not is
drawn from the model's own distributions given what was observed: the time left of the
stage each patient stands in, given how long it has lasted, and the latent time to
deterioration, given that it has not come by the as-of date. Both by inversion of the
patient's own uniforms, so any distribution is honoured, not only the memoryless
exponential.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.core.errors import InputError
from sim.core.patient import InPathway, Observed, Patient, Remaining

if TYPE_CHECKING:
    from sim.core.model import Trial
    from sim.core.schema import Scenario

INF = math.inf


def check_resumable(scenario: Scenario) -> None:
    """Refuse, on one line, a forecast the model cannot resume: one whose scenario has a
    dose-finding phase 1 (an observed log does not say which cohort slot, dose level and
    DLT each patient has)."""
    if scenario.phase1 is not None:
        raise InputError(
            "forecasts do not support a dose-finding phase yet: the observed log does not "
            "record cohorts, dose levels or DLTs; forecast a copy of the scenario without "
            "phase1",
            field="phase1",
        )


def resume(trial: Trial, obs: Observed) -> None:
    """Count what was already reached, and resume every patient still in the pathway."""
    check_resumable(trial.scenario)
    for milestone, day in sorted(obs.reached, key=lambda m: m[1]):
        n = trial.reached[milestone] = trial.reached[milestone] + 1
        if milestone == trial.milestone and n == trial.target_count:
            trial.time_to_target = day
            trial.closed = True
    now = trial.env.now
    for k, ip in enumerate(obs.in_pathway):
        p = Patient(k, ip.site, ip.referred, _death(trial, k, ip, now))
        p.consented, p.screened, p.apheresed = ip.consented, ip.screened, ip.apheresed
        p.released, p.infused = ip.released, ip.infused
        p.apheresis_start = p.collection_start = ip.apheresed  # the collection used
        if ip.stage in ("apheresis", "manufacturing", "release", "hospital"):
            p.enrolled = p.screened
        if ip.stage == "hospital":  # conditioned before its day 0, as the funnel counts
            p.conditioned = ip.infused - trial.scenario.conditioning.days_before_infusion
        if _bridged(trial, k, ip):
            p.bridging_start = ip.apheresed
        trial.patients.append(p)
        trial.active += 1
        trial._event(p, "resumed", ip.stage)
        trial.env.process(trial.patient(p, ip.stage, _remaining(trial, k, ip, now)))
    if trial.closed and trial.active == 0:
        trial.end = now
        trial.done.succeed()


def _bridged(trial: Trial, k: int, ip: InPathway) -> bool:
    """Whether resumed patient ``k`` has been on bridging therapy since its apheresis."""
    det = trial.scenario.deterioration
    collected = ip.stage in ("manufacturing", "release", "hospital")
    return bool(
        det is not None
        and det.bridging is not None
        and collected
        and not math.isnan(ip.apheresed)
        and trial.draws.bridging[k]
    )


def _death(trial: Trial, k: int, ip: InPathway, now: float) -> float:
    """The day resumed patient ``k`` deteriorates: its latent time drawn given that it has
    not come by ``now`` (the latent clock runs from referral, slowed by bridging since
    apheresis), so any distribution, not only the memoryless exponential, is honoured."""
    det = trial.scenario.deterioration
    if det is None:
        return INF
    u = trial.streams.uniform("deterioration", k)
    if not _bridged(trial, k, ip):
        used = now - ip.referred
        return ip.referred + used + det.time_to_event_days.remaining(u, used)
    ratio = det.bridging.time_ratio
    before = ip.apheresed - ip.referred
    used = before + (now - ip.apheresed) / ratio
    latent = used + det.time_to_event_days.remaining(u, used)
    return ip.apheresed + (latent - before) * ratio


def _remaining(trial: Trial, k: int, ip: InPathway, now: float) -> Remaining:
    """Days left of resumed patient ``k``'s stage, given how long it has lasted."""
    sc, elapsed = trial.scenario, now - ip.since

    def left(dist: Any, stream: str, lasted: float) -> float:
        return dist.remaining(trial.streams.uniform(stream, k), lasted)

    if ip.stage == "screening":
        return Remaining(left(sc.screening.duration_days, "screening.duration", elapsed))
    if ip.stage == "manufacturing":
        mf = sc.manufacturing
        if float(mf.duration_days.cdf(np.array([elapsed]))[0]) < 1.0:  # still in its suite
            make = left(mf.duration_days, "manufacturing.duration", elapsed)
            return Remaining(make, trial.draws.at("qc_days", k, 0))
        made = trial.draws.at("manufacturing_days", k, 0)  # out of the suite: in QC
        return Remaining(0.0, left(mf.qc_release_days, "manufacturing.qc", elapsed - made))
    if ip.stage == "hospital":
        return Remaining(left(sc.infusion.stay_days, "infusion.stay", elapsed))
    return Remaining()
