"""Every random quantity of every patient, drawn up front from per-activity streams.

Patient ``i`` takes the ``i``-th value of each stream whatever path it walks, so scenarios
that differ in capacity (or in a distribution's parameters) meet the same patients with the
same attributes: common random numbers. Each screening criterion has its own stream, and
each attempt of a retried activity too (``apheresis.duration#1`` is every patient's second
collection), made only when some patient needs it: so patient ``i``'s values depend on
neither the number of patients (a longer horizon, a higher rate) nor on ``max_attempts``
nor on the other criteria.
"""

from __future__ import annotations

import math

import numpy as np

from sim.core.distributions import Fixed, _Dist
from sim.core.scenario import Scenario
from sim.core.streams import Streams


def _draw(dist: _Dist, streams: Streams, name: str, shape: int | tuple[int, int]) -> np.ndarray:
    if isinstance(dist, Fixed):  # no stream needed: nothing random
        return np.full(shape, dist.value, dtype=float)
    return dist.ppf(streams[name].random(shape))


def _uniforms(streams: Streams, name: str, shape: int | tuple[int, int]) -> np.ndarray:
    return streams[name].random(shape)


class PatientDraws:
    """Columns of per-patient values, as Python lists for fast scalar access in the loop.

    Per-attempt values come from :meth:`at` (attempt ``k`` of patient ``i``); the columns
    of attempts after the first are drawn on first use.
    """

    def __init__(self, scenario: Scenario, n: int, streams: Streams) -> None:
        sc = scenario
        self.n = n
        self._streams = streams
        self.consent_u = _uniforms(streams, "screening.consent", n).tolist()
        self.screen_days = _draw(
            sc.screening.duration_days, streams, "screening.duration", n
        ).tolist()
        criteria = sc.screening.criteria
        self.criteria_fail = np.zeros((n, len(criteria)), dtype=bool)
        for k, (name, prob) in enumerate(criteria.items()):
            if prob > 0:
                self.criteria_fail[:, k] = (
                    _uniforms(streams, f"screening.criterion:{name}", n) < prob
                )
        self.screen_fails = self.criteria_fail.any(axis=1).tolist()
        self.weight_kg = _draw(sc.patients.weight_kg, streams, "patients.weight", n).tolist()
        self.height_cm = _draw(sc.patients.height_cm, streams, "patients.height", n).tolist()

        det = sc.deterioration
        if det is None:
            self.deterioration_days = [math.inf] * n
            self.bridging = [False] * n
        else:
            self.deterioration_days = _draw(
                det.time_to_event_days, streams, "deterioration", n
            ).tolist()
            prob = det.bridging.prob if det.bridging else 0.0
            self.bridging = (_uniforms(streams, "deterioration.bridging", n) < prob).tolist()

        ap, mf = sc.apheresis, sc.manufacturing
        # per-attempt columns: name -> how to draw one attempt's values for every patient
        self._attempt_specs = {
            "apheresis_days": lambda name: _draw(ap.duration_days, streams, name, n),
            "apheresis_fails": lambda name: _uniforms(streams, name, n) < ap.failure_prob,
            "apheresis_retry_days": lambda name: _draw(ap.retry_after_days, streams, name, n),
            "manufacturing_days": lambda name: _draw(mf.duration_days, streams, name, n),
            "qc_days": lambda name: _draw(mf.qc_release_days, streams, name, n),
            "batch_fails": lambda name: _uniforms(streams, name, n) < mf.failure_prob,
            "yield_cells": lambda name: _draw(mf.yield_cells, streams, name, n),
        }
        self._stream_names = {
            "apheresis_days": "apheresis.duration",
            "apheresis_fails": "apheresis.failure",
            "apheresis_retry_days": "apheresis.retry",
            "manufacturing_days": "manufacturing.duration",
            "qc_days": "manufacturing.qc",
            "batch_fails": "manufacturing.failure",
            "yield_cells": "manufacturing.yield",
        }
        self._attempts: dict[tuple[str, int], list] = {}
        self.has_yield = mf.yield_cells is not None

        inf = sc.infusion
        self.stay_days = _draw(inf.stay_days, streams, "infusion.stay", n).tolist()
        self.icu = (_uniforms(streams, "infusion.icu", n) < inf.icu_prob).tolist()
        self.icu_days = _draw(inf.icu_days, streams, "infusion.icu_days", n).tolist()
        # phase 1: a uniform per patient for its DLT (a DLT when below its level's chance)
        self.dlt_u = _uniforms(streams, "phase1.dlt", n).tolist() if sc.phase1 else []

    def at(self, column: str, patient: int, attempt: int):
        """Attempt ``attempt`` (0-based) of ``patient`` in a per-attempt column."""
        values = self._attempts.get((column, attempt))
        if values is None:
            name = self._stream_names[column]
            stream = name if attempt == 0 else f"{name}#{attempt}"
            values = self._attempts[column, attempt] = self._attempt_specs[column](stream).tolist()
        return values[patient]
