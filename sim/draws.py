"""Every random quantity of every patient, drawn up front from per-activity streams.

Patient ``i`` takes the ``i``-th value of each stream whatever path it walks, so scenarios
that differ in capacity (or in a distribution's parameters) meet the same patients with the
same attributes: common random numbers. Per-attempt draws are laid out attempt by attempt
(row ``j`` of a stream is attempt ``j`` of every patient), so raising ``max_attempts``
leaves earlier attempts unchanged.
"""

from __future__ import annotations

import math

import numpy as np

from sim.distributions import Fixed, _Dist
from sim.scenario import Scenario
from sim.streams import Streams


def _draw(dist: _Dist, streams: Streams, name: str, shape: int | tuple[int, int]) -> np.ndarray:
    if isinstance(dist, Fixed):  # no stream needed: nothing random
        return np.full(shape, dist.value, dtype=float)
    return dist.ppf(streams[name].random(shape))


def _uniforms(streams: Streams, name: str, shape: int | tuple[int, int]) -> np.ndarray:
    return streams[name].random(shape)


class PatientDraws:
    """Columns of per-patient values, as Python lists for fast scalar access in the loop.

    Per-attempt columns are flat, attempt-major: attempt ``k`` of patient ``i`` is at
    ``k * n + i`` (see :meth:`at`).
    """

    def __init__(self, scenario: Scenario, n: int, streams: Streams) -> None:
        sc = scenario
        self.n = n
        self.consent_u = _uniforms(streams, "screening.consent", n).tolist()
        self.screen_days = _draw(
            sc.screening.duration_days, streams, "screening.duration", n
        ).tolist()
        probs = np.array(list(sc.screening.criteria.values()), dtype=float)
        if len(probs):
            u = _uniforms(streams, "screening.criteria", (len(probs), n))
            self.criteria_fail = (u < probs[:, None]).T  # (n, k) bool
            self.screen_fails = self.criteria_fail.any(axis=1).tolist()
        else:
            self.criteria_fail = np.zeros((n, 0), dtype=bool)
            self.screen_fails = [False] * n
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

        cycles = sc.manufacturing.max_attempts if sc.manufacturing.recollect_on_failure else 1
        a = sc.apheresis.max_attempts * cycles
        ap = sc.apheresis
        self.apheresis_days = (
            _draw(ap.duration_days, streams, "apheresis.duration", (a, n)).ravel().tolist()
        )
        self.apheresis_fails = (
            (_uniforms(streams, "apheresis.failure", (a, n)) < ap.failure_prob).ravel().tolist()
        )
        self.apheresis_retry_days = (
            _draw(ap.retry_after_days, streams, "apheresis.retry", (a, n)).ravel().tolist()
        )

        mf = sc.manufacturing
        m = mf.max_attempts
        self.manufacturing_days = (
            _draw(mf.duration_days, streams, "manufacturing.duration", (m, n)).ravel().tolist()
        )
        self.qc_days = (
            _draw(mf.qc_release_days, streams, "manufacturing.qc", (m, n)).ravel().tolist()
        )
        self.batch_fails = (
            (_uniforms(streams, "manufacturing.failure", (m, n)) < mf.failure_prob).ravel().tolist()
        )
        if mf.yield_cells is None:
            self.yield_cells = None
        else:
            self.yield_cells = (
                _draw(mf.yield_cells, streams, "manufacturing.yield", (m, n)).ravel().tolist()
            )

        inf = sc.infusion
        self.stay_days = _draw(inf.stay_days, streams, "infusion.stay", n).tolist()
        self.icu = (_uniforms(streams, "infusion.icu", n) < inf.icu_prob).tolist()
        self.icu_days = _draw(inf.icu_days, streams, "infusion.icu_days", n).tolist()

    def at(self, column: list, patient: int, attempt: int):
        """Attempt ``attempt`` (0-based) of ``patient`` in a per-attempt column."""
        return column[attempt * self.n + patient]
