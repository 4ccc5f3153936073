"""Optional updates of the scenario's times from an observed log: the latent time to
deterioration, and the durations of screening, manufacturing with QC, and the hospital stay.

Each is a scale on the scenario's own distribution (its shape is kept):

- deterioration: a gamma posterior on the hazard. The prior has the scenario's mean latent
  time and is worth ``events`` deteriorations; the log adds its deteriorations and the time
  its patients were at risk before infusion (after apheresis, slowed by bridging as the
  scenario expects it: a share ``bridging.prob`` of that time runs ``time_ratio`` times
  slower). The scale is the posterior mean time over the prior's. Exact for an exponential
  latent time; for other shapes it moves the mean and keeps the shape.
- durations: the mean of each stage's completed durations in the log against the
  scenario's mean, shrunk towards the scenario's by a prior worth ``patients`` patients:
  scale = (patients + n x observed / expected) / (patients + n). Only stages that ended by
  the as-of date are seen, so long ones are under-represented while the trial is young;
  the manufacturing figure (apheresis to release) includes any wait for a suite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.core.scenario import Scenario

if TYPE_CHECKING:
    from sim.forecasting.observed import ObservedLog

DEFAULT_PRIOR_EVENTS = 10.0
"""Worth of the scenario's deterioration time, in deteriorations (an assumption: about as
many as a published cohort of some 100 enrolled patients reports, figures.md section 2)."""

STAGES = ("screening", "manufacturing", "stay")
"""The durations a log shows: consent to screening result, apheresis to release (the batch
with its QC), infusion to discharge."""


@dataclass(frozen=True)
class Scale:
    """An observed figure against the scenario's, and the scale it gives."""

    expected: float
    observed: float | None
    n: float
    scale: float


@dataclass(frozen=True)
class TimeUpdate:
    """The scales to apply (1 where a figure was not updated)."""

    deterioration: Scale | None = None
    stages: dict[str, Scale] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.deterioration is not None:
            d = self.deterioration
            out["deterioration"] = {
                "prior_mean_days": d.expected,
                "observed_deteriorations": d.n,
                "posterior_mean_days": d.expected * d.scale,
                "scale": d.scale,
            }
        for name, s in self.stages.items():
            out[f"{name}_days"] = {
                "prior_mean_days": s.expected,
                "observed_mean_days": s.observed,
                "observed_patients": s.n,
                "posterior_mean_days": s.expected * s.scale,
                "scale": s.scale,
            }
        return out


def deterioration_scale(scenario: Scenario, log: ObservedLog, events: float) -> Scale | None:
    """The gamma-posterior scale of the latent time to deterioration (None without one)."""
    det = scenario.deterioration
    if det is None:
        return None
    f = log.frame
    end = f["outcome_day"].where(f["outcome"] != "infused", f["infusion_day"])
    end = end.fillna(f["infusion_day"]).fillna(log.as_of_day).to_numpy(float)
    start = f["referred_day"].to_numpy(float)
    apheresis = np.fmin(f["apheresis_day"].fillna(np.inf).to_numpy(float), end)
    slow = 1.0
    if det.bridging is not None:
        slow = det.bridging.prob / det.bridging.time_ratio + (1.0 - det.bridging.prob)
    exposure = float(np.sum(apheresis - start) + slow * np.sum(end - apheresis))
    deteriorated = float((f["outcome"] == "deteriorated").sum())
    mean = det.time_to_event_days.mean
    posterior = (events * mean + exposure) / (events + deteriorated)
    return Scale(mean, None, deteriorated, posterior / mean)


def stage_scales(scenario: Scenario, log: ObservedLog, patients: float) -> dict[str, Scale]:
    """The shrunk ratio of each stage's observed mean duration to the scenario's."""
    f, sc = log.frame, scenario
    mf = sc.manufacturing
    discharged = f["outcome_day"].where(f["outcome"] == "infused")
    spans = {
        "screening": (
            f["screen_end_day"] - f["consent_day"].fillna(f["referred_day"]),
            sc.screening.duration_days.mean,
        ),
        "manufacturing": (
            f["release_day"] - f["apheresis_day"],
            mf.duration_days.mean + mf.qc_release_days.mean,
        ),
        "stay": (discharged - f["infusion_day"], sc.infusion.stay_days.mean),
    }
    out = {}
    for name, (days, expected) in spans.items():
        seen = days.dropna().to_numpy(float)
        n = float(seen.size)
        observed = float(seen.mean()) if n else None
        if not n or expected <= 0:
            out[name] = Scale(expected, observed, n, 1.0)
            continue
        out[name] = Scale(
            expected, observed, n, (patients + seen.sum() / expected) / (patients + n)
        )
    return out


def apply(scenario: Scenario, update: TimeUpdate) -> Scenario:
    """``scenario`` with each updated time scaled."""
    sc = scenario
    changes: dict[str, Any] = {}
    det = update.deterioration
    if det is not None and sc.deterioration is not None and math.isfinite(det.scale):
        ttd = sc.deterioration.time_to_event_days.scaled(det.scale)
        changes["deterioration"] = sc.deterioration.model_copy(update={"time_to_event_days": ttd})
    s = update.stages
    if "screening" in s:
        changes["screening"] = sc.screening.model_copy(
            update={"duration_days": sc.screening.duration_days.scaled(s["screening"].scale)}
        )
    if "manufacturing" in s:
        k = s["manufacturing"].scale
        mf = sc.manufacturing
        changes["manufacturing"] = mf.model_copy(
            update={
                "duration_days": mf.duration_days.scaled(k),
                "qc_release_days": mf.qc_release_days.scaled(k),
            }
        )
    if "stay" in s:
        changes["infusion"] = sc.infusion.model_copy(
            update={"stay_days": sc.infusion.stay_days.scaled(s["stay"].scale)}
        )
    return sc.model_copy(update=changes)
