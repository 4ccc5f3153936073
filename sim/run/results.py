"""What one replication leaves behind: a compact summary row and, when asked, full tables.

The row holds counts and time-weighted resource figures of one simulated trial; the tables
(patients, events, resource timeline) are built only on request, from the finished trial.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.core.model import Trial
from sim.core.patient import Outcome, outcomes_of
from sim.core.scenario import DAYS_PER_MONTH
from sim.core.station import RESOURCES, unit_days, units_at

if TYPE_CHECKING:  # pandas is imported where tables are built, not for summary-only runs
    import pandas as pd

FUNNEL = (
    "referred",
    "consented",
    "enrolled",
    "apheresed",
    "manufactured",
    "conditioned",
    "infused",
)

_MILESTONE_ATTR = {
    "consented": "consented",
    "enrolled": "enrolled",
    "apheresed": "apheresed",
    "manufactured": "released",
    "conditioned": "conditioned",
    "infused": "infused",
}


def summary_row(trial: Trial, replication: int) -> dict[str, Any]:
    """One replication as flat numbers (plus the vein-to-vein days of its infused patients)."""
    sc = trial.scenario
    patients = trial.patients
    # patients who had left the pathway before a forecast's start count in the totals too
    everyone = patients + list(trial.observed.finished) if trial.observed else patients
    end = trial.end
    length = end - trial.start  # the simulated window (a forecast starts late)
    row: dict[str, Any] = {
        "replication": replication,
        "end_days": end,
        "time_to_target_days": trial.time_to_target,
        "referred": len(everyone),
    }
    for name, attr in _MILESTONE_ATTR.items():
        row[name] = sum(1 for p in everyone if not math.isnan(getattr(p, attr)))
    outcomes = outcomes_of(sc.phase1 is not None)
    counts = dict.fromkeys(outcomes, 0)
    for p in everyone:
        counts[p.outcome.value] += 1
    for name in outcomes:
        row[f"outcome.{name}"] = counts[name]

    failed_ids = [p.id for p in patients if p.outcome is Outcome.SCREEN_FAILED]
    fails = trial.draws.criteria_fail[failed_ids].sum(axis=0) if failed_ids else None
    for k, name in enumerate(sc.screening.criteria):
        row[f"criterion.{name}"] = int(fails[k]) if fails is not None else 0

    for station in trial.stations:
        r = station.name
        available = unit_days(station.schedule, trial.start, end)
        row[f"{r}.capacity"] = units_at(station.schedule, trial.start)
        row[f"{r}.unit_days"] = available
        row[f"{r}.busy_days"] = station.busy_area
        row[f"{r}.utilization"] = station.busy_area / available if available > 0 else 0.0
        row[f"{r}.queue_days"] = station.queue_area
        row[f"{r}.mean_queue_length"] = station.queue_area / length if length > 0 else 0.0
        row[f"{r}.wait_sum_days"] = station.wait_sum
        row[f"{r}.granted"] = station.n_granted
        row[f"{r}.started"] = station.n_started

    infused = [p for p in patients if p.outcome is Outcome.INFUSED]
    row["in_hospital"] = sum(1 for p in infused if math.isnan(p.discharged))
    row["lost_while_waiting"] = sum(
        1 for p in everyone if p.outcome is Outcome.DETERIORATED and not math.isnan(p.enrolled)
    )
    row["bed_days"] = trial.bed_bookings.busy_area
    icu_days = trial.draws.icu_days
    row["icu_patients"] = sum(1 for p in infused if p.icu)
    row["icu_days"] = sum(
        min(icu_days[p.id], trial.draws.stay_days[p.id]) for p in infused if p.icu
    )
    row["fludarabine_mg"] = sum(p.fludarabine_mg for p in patients)
    row["cyclophosphamide_mg"] = sum(p.cyclophosphamide_mg for p in patients)
    if not math.isnan(trial.time_to_target):
        row["overrun_days"] = end - trial.time_to_target
        row["beyond_target"] = max(0, row[sc.target.milestone] - sc.target.count)
    else:
        row["overrun_days"] = math.nan
        row["beyond_target"] = 0
    v2v = np.array([p.infused - p.collection_start for p in infused])
    v2v = v2v[~np.isnan(v2v)]  # a forecast's resumed patient may lack its collection day
    row["vein_to_vein_mean_days"] = float(v2v.mean()) if v2v.size else math.nan
    row["vein_to_vein_days"] = v2v
    if trial.pacing is not None:
        row.update(phase1_row(trial))
    month_ends = np.arange(1, n_months(sc.horizon_days) + 1) * DAYS_PER_MONTH
    for name in ("enrolled", "infused"):
        days = np.sort([getattr(p, name) for p in everyone if not math.isnan(getattr(p, name))])
        row[f"{name}_by_month"] = np.searchsorted(days, month_ends, side="right").astype(np.int32)
    return row


def phase1_row(trial: Trial) -> dict[str, float]:
    """Phase 1 of one replication: patients infused in it, cohorts decided, DLTs, whether it
    stopped the trial, the level recommended (0-based; -1: none; NaN: phase 1 unfinished)
    and the days from its first infusion to its end (NaN: unfinished)."""
    pace = trial.pacing
    infused = [p for p in trial.patients if p.phase == 1 and not math.isnan(p.infused)]
    return {
        "phase1.patients": len(infused),
        "phase1.cohorts": sum(1 for c in pace.cohorts if not math.isnan(c.decided_day)),
        "phase1.dlts": sum(1 for p in infused if p.dlt and not math.isnan(p.dlt_day)),
        "phase1.stopped": float(trial.stopped),
        "phase1.recommended_level": pace.recommended,
        "phase1.end_day": pace.end_day,
        "phase1.days": pace.end_day - pace.first_infusion,
    }


def n_months(horizon_days: float) -> int:
    """Calendar months (of 365.25/12 days) needed to cover the horizon."""
    return max(1, math.ceil(horizon_days / DAYS_PER_MONTH - 1e-9))


_ARRAY_KEYS = ("vein_to_vein_days", "enrolled_by_month", "infused_by_month")


class RowTable:
    """Per-replication results in columns, compact enough for 100,000 replications.

    Scalars are float64 columns; the vein-to-vein days of all infused patients are pooled
    in one float32 array; cumulative enrolled and infused counts by month are int32
    matrices (replications x months).
    """

    def __init__(
        self,
        columns: dict[str, np.ndarray],
        vein_to_vein: np.ndarray,
        enrolled_by_month: np.ndarray,
        infused_by_month: np.ndarray,
    ) -> None:
        self.columns = columns
        self.vein_to_vein = vein_to_vein
        self.enrolled_by_month = enrolled_by_month
        self.infused_by_month = infused_by_month

    @classmethod
    def from_rows(cls, rows: list[dict[str, Any]]) -> RowTable:
        if not rows:
            raise ValueError("no rows")
        keys = [k for k in rows[0] if k not in _ARRAY_KEYS]
        columns = {k: np.array([r[k] for r in rows], dtype=float) for k in keys}
        v2v = np.concatenate([np.asarray(r["vein_to_vein_days"], dtype=np.float32) for r in rows])
        return cls(
            columns,
            v2v,
            np.stack([r["enrolled_by_month"] for r in rows]),
            np.stack([r["infused_by_month"] for r in rows]),
        )

    @classmethod
    def concat(cls, tables: list[RowTable]) -> RowTable:
        keys = list(tables[0].columns)
        return cls(
            {k: np.concatenate([t.columns[k] for t in tables]) for k in keys},
            np.concatenate([t.vein_to_vein for t in tables]),
            np.concatenate([t.enrolled_by_month for t in tables]),
            np.concatenate([t.infused_by_month for t in tables]),
        )

    def __len__(self) -> int:
        return len(self.columns["replication"])

    @staticmethod
    def builder(total: int) -> RowTableBuilder:
        """Fills a table of ``total`` replications from blocks as they arrive."""
        return RowTableBuilder(total)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def frame(self) -> pd.DataFrame:
        """The scalar columns as a table, one row a replication."""
        import pandas as pd

        frame = pd.DataFrame(self.columns)
        frame["replication"] = frame["replication"].astype(np.int64)
        return frame

    @property
    def nbytes(self) -> int:
        return (
            sum(c.nbytes for c in self.columns.values())
            + self.vein_to_vein.nbytes
            + self.enrolled_by_month.nbytes
            + self.infused_by_month.nbytes
        )


# --- full tables ------------------------------------------------------------------------------

PATIENT_COLUMNS = (
    "replication",
    "patient",
    "site",
    "referred_day",
    "consented_day",
    "screened_day",
    "enrolled_day",
    "apheresis_attempts",
    "apheresis_start_day",
    "apheresed_day",
    "product_collection_day",
    "bridging_start_day",
    "manufacturing_attempts",
    "manufacturing_start_day",
    "released_day",
    "bed_booked_day",
    "conditioning_start_day",
    "infused_day",
    "discharged_day",
    "exit_day",
    "outcome",
    "failed_criteria",
    "weight_kg",
    "height_cm",
    "bsa_m2",
    "dose_per_kg",
    "fludarabine_mg",
    "cyclophosphamide_mg",
    "icu",
    "stay_days",
    "deterioration_day",
    "vein_to_vein_days",
)


def patients_table(trial: Trial, replication: int = 0) -> pd.DataFrame:
    """One row a referred patient: milestone days (NaN = not reached), attempts, outcome."""
    import pandas as pd

    draws, sc = trial.draws, trial.scenario
    names = list(sc.screening.criteria)
    sites = [s.name for s in sc.referral.sites]
    rows = []
    for p in trial.patients:
        i = p.id
        failed = ""
        if not math.isnan(p.screened):
            failed = ";".join(n for n, f in zip(names, draws.criteria_fail[i], strict=True) if f)
        rows.append(
            (
                replication,
                i,
                sites[p.site],
                p.referred,
                p.consented,
                p.screened,
                p.enrolled,
                p.apheresis_attempts,
                p.apheresis_start,
                p.apheresed,
                p.collection_start,
                p.bridging_start,
                p.manufacturing_attempts,
                p.manufacturing_start,
                p.released,
                p.bed_booked,
                p.conditioned,
                p.infused,
                p.discharged,
                p.exit,
                p.outcome.value,
                failed,
                draws.weight_kg[i],
                draws.height_cm[i],
                p.bsa_m2,
                p.dose_per_kg,
                p.fludarabine_mg,
                p.cyclophosphamide_mg,
                bool(p.icu),
                draws.stay_days[i] if not math.isnan(p.infused) else math.nan,
                p.death,
                p.infused - p.collection_start,
            )
        )
    frame = pd.DataFrame.from_records(rows, columns=list(PATIENT_COLUMNS))
    if trial.pacing is not None:
        for name, values in phase1_columns(trial).items():
            frame[name] = values
    return frame


PHASE1_COLUMNS = (
    "phase",
    "cohort",
    "dose_level",
    "slot_day",
    "turn_day",
    "dlt",
    "dlt_decision_day",
)
"""Columns a scenario with phase 1 adds to the patients table: the phase (1 or 2; 0: not
enrolled), cohort (1-based; empty: none), dose level (1-based, of phase 1), the day the
cohort slot was taken, the day its turn to be infused came (from then it may be
conditioned), whether it had a DLT and the day the cohort's DLT decision was made."""


def phase1_columns(trial: Trial) -> dict[str, list[Any]]:
    """The :data:`PHASE1_COLUMNS` of every patient, in the table's order."""
    nan = math.nan
    pts = trial.patients
    decided = [not math.isnan(p.dlt_day) for p in pts]
    return {
        "phase": [p.phase for p in pts],
        "cohort": [p.cohort + 1 if p.cohort >= 0 else nan for p in pts],
        "dose_level": [p.level + 1 if p.level >= 0 and p.phase == 1 else nan for p in pts],
        "slot_day": [p.slot_day for p in pts],
        "turn_day": [p.turn_day for p in pts],
        "dlt": [bool(p.dlt) if d else None for p, d in zip(pts, decided, strict=True)],
        "dlt_decision_day": [p.dlt_day for p in pts],
    }


EVENT_COLUMNS = ("replication", "patient", "time", "event", "resource")


def events_table(trial: Trial, replication: int = 0) -> pd.DataFrame:
    """The event log in time order: (replication, patient, time, event, resource)."""
    import pandas as pd

    if trial.log is None:
        raise ValueError("this replication was run without its event log (keep_log=False)")
    frame = pd.DataFrame.from_records(trial.log, columns=list(EVENT_COLUMNS[1:]))
    frame.insert(0, "replication", replication)
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


# event -> (change in queue length, change in units in use), per resource
_DELTAS = {
    "queue": (1, 0),
    "renege": (-1, 0),
    "start": (0, 1),
    "end": (0, -1),
    "bed_booked": (-1, 0),
}


def resource_timeline(events: pd.DataFrame) -> pd.DataFrame:
    """Units in use and queue length of each resource after every change, from the events.

    For apheresis and manufacturing, waiting ends at the start of use; for beds it ends at
    the booking (conditioning start) and use runs from infusion to discharge. Columns:
    replication, time (days), resource, in_use, queue_length.
    """
    import pandas as pd

    ev = events[events["resource"].isin(RESOURCES)]
    out = []
    for (rep, resource), sub in ev.groupby(["replication", "resource"], sort=True):
        kinds = sub["event"].to_numpy()
        dq = np.zeros(len(sub), dtype=np.int64)
        du = np.zeros(len(sub), dtype=np.int64)
        for name, (q, u) in _DELTAS.items():
            mask = kinds == name
            dq[mask] = q
            du[mask] = u
        if resource != "beds":
            dq[kinds == "start"] = -1
        out.append(
            pd.DataFrame(
                {
                    "replication": rep,
                    "time": sub["time"].to_numpy(),
                    "resource": resource,
                    "in_use": np.cumsum(du),
                    "queue_length": np.cumsum(dq),
                }
            )
        )
    if not out:
        return pd.DataFrame(columns=["replication", "time", "resource", "in_use", "queue_length"])
    return pd.concat(out, ignore_index=True)


class RowTableBuilder:
    """Fills one table of ``total`` replications from blocks as they arrive, into arrays
    allocated once (so the rows are never held twice over)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.filled = 0
        self._columns: dict[str, np.ndarray] | None = None
        self._v2v: list[np.ndarray] = []
        self._enrolled: np.ndarray | None = None
        self._infused: np.ndarray | None = None

    def add(self, part: RowTable) -> None:
        n = len(part)
        if self._columns is None:
            self._columns = {
                k: np.empty(self.total, dtype=v.dtype) for k, v in part.columns.items()
            }
            months = part.enrolled_by_month.shape[1]
            self._enrolled = np.empty((self.total, months), dtype=np.int32)
            self._infused = np.empty((self.total, months), dtype=np.int32)
        a, b = self.filled, self.filled + n
        if b > self.total:
            raise ValueError("more rows than announced")
        for k, col in self._columns.items():
            col[a:b] = part.columns[k]
        self._enrolled[a:b] = part.enrolled_by_month
        self._infused[a:b] = part.infused_by_month
        self._v2v.append(part.vein_to_vein)
        self.filled = b

    def table(self) -> RowTable:
        if self._columns is None or self.filled != self.total:
            raise ValueError(f"{self.filled} of {self.total} rows filled")
        return RowTable(self._columns, np.concatenate(self._v2v), self._enrolled, self._infused)
