"""An observed patient log: read, validated against the scenario and an as-of date, and
turned into the state a forecast starts from.

One row a patient. Columns: ``patient_id, site, referred_date`` and, where known,
``consent_date, screen_end_date, screen_failed, apheresis_date, release_date,
infusion_date, outcome, outcome_date``. Dates are ISO (YYYY-MM-DD). ``outcome`` is one of
the model's terminal outcomes (``infused``, ``declined_consent``, ``screen_failed``,
``deteriorated``, ``apheresis_failed``, ``manufacturing_failed``) or empty while the
patient is still inside the pathway.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from dataclasses import dataclass

import pandas as pd

from sim.core.errors import InputError
from sim.core.patient import OUTCOMES, InPathway, Observed, Outcome, Patient
from sim.core.scenario import Scenario
from sim.core.yamlio import decode_text, read_bytes

MAX_LOG_BYTES = 5_000_000
"""Observed logs above this size (bytes) are refused before parsing."""

REQUIRED = ("patient_id", "site", "referred_date")
DATES = (
    "referred_date",
    "consent_date",
    "screen_end_date",
    "apheresis_date",
    "release_date",
    "infusion_date",
    "outcome_date",
)
OPTIONAL = (
    "consent_date",
    "screen_end_date",
    "screen_failed",
    "apheresis_date",
    "release_date",
    "infusion_date",
    "outcome",
    "outcome_date",
)
_ORDER = DATES[:-1]  # the milestones, in pathway order (outcome_date last)
_AFTER_SCREENING = ("apheresis_date", "release_date", "infusion_date")
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}
FINAL_OUTCOMES = tuple(o for o in OUTCOMES if o != Outcome.IN_PATHWAY.value)


@dataclass(frozen=True)
class ObservedLog:
    """A validated log: one row a patient, dates as days from the scenario's start."""

    frame: pd.DataFrame
    as_of: dt.date
    as_of_day: float
    source: str


def read_log(path: str) -> str:
    return decode_text(read_bytes(path, MAX_LOG_BYTES), path, MAX_LOG_BYTES, kind="CSV")


def read_observed(path: str, scenario: Scenario, as_of: dt.date) -> ObservedLog:
    """Read and validate the observed log at ``path`` (complete to ``as_of``)."""
    return parse_log(read_log(path), scenario, as_of, source=str(path))


def parse_log(text: str, scenario: Scenario, as_of: dt.date, source: str = "<log>") -> ObservedLog:
    """Validate an observed log; every problem is one line naming the row and column."""
    last = scenario.start_date + dt.timedelta(days=math.floor(scenario.horizon_days) - 1)
    if as_of > last:
        raise InputError(
            f"must be before the scenario's horizon ends ({last})",
            field="--as-of",
            value=str(as_of),
            has_value=True,
        )
    if as_of < scenario.start_date:
        raise InputError(
            f"must not be before the scenario's start_date ({scenario.start_date})",
            field="--as-of",
            value=str(as_of),
            has_value=True,
        )
    # lines starting with '#' are comments (the example log documents itself this way)
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    _check_ragged(text, source)
    try:
        frame = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise InputError(
            f"not a readable CSV table ({str(exc).splitlines()[0]})", source=source
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    unknown = [c for c in frame.columns if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise InputError(
            f"unknown column {unknown[0]!r}; allowed: {', '.join(REQUIRED + OPTIONAL)}",
            source=source,
        )
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InputError(f"missing required column {missing[0]!r}", source=source)
    if frame.empty:
        raise InputError("has no patient rows", source=source)
    for col in OPTIONAL:
        if col not in frame.columns:
            frame[col] = ""
    frame = frame.apply(lambda c: c.str.strip())

    def bad(row: int, col: str, value: object, problem: str) -> InputError:
        pid = frame["patient_id"].iloc[row] if "patient_id" in frame else ""
        where = (
            f"patient {pid!r} (data row {row + 1}) {col}" if pid else f"data row {row + 1} {col}"
        )
        return InputError(problem, source=source, field=where, value=value, has_value=True)

    ids = frame["patient_id"]
    for i, pid in enumerate(ids):
        if not pid:
            raise bad(i, "patient_id", pid, "must not be empty")
    dupes = ids[ids.duplicated()]
    if len(dupes):
        i = int(dupes.index[0])
        raise bad(i, "patient_id", ids[i], "is repeated; each patient has one row")
    sites = [s.name for s in scenario.referral.sites]
    for i, site in enumerate(frame["site"]):
        if site not in sites:
            raise bad(i, "site", site, f"is not a site of the scenario ({', '.join(sites)})")
    start = scenario.start_date
    for col in DATES:
        days = []
        for i, text_value in enumerate(frame[col]):
            if not text_value:
                if col == "referred_date":
                    raise bad(i, col, text_value, "is required")
                days.append(math.nan)
                continue
            try:
                if not _ISO_DATE.match(text_value):  # fromisoformat takes 20160203 too
                    raise ValueError(text_value)
                d = dt.date.fromisoformat(text_value)
            except ValueError:
                raise bad(i, col, text_value, "is not a date (YYYY-MM-DD)") from None
            if d > as_of:
                raise bad(
                    i,
                    col,
                    text_value,
                    f"is after --as-of {as_of}: a log may hold only what was known by then",
                )
            if d < start:
                raise bad(i, col, text_value, f"is before the scenario's start_date {start}")
            days.append(float((d - start).days))
        frame[col.replace("_date", "_day")] = days
    flags = []
    for i, v in enumerate(frame["screen_failed"]):
        low = v.lower()
        if low not in _TRUE | _FALSE:
            raise bad(i, "screen_failed", v, "must be true or false (or empty)")
        flags.append(low in _TRUE)
    frame["screen_failed"] = flags
    for i, v in enumerate(frame["outcome"]):
        if v and v not in FINAL_OUTCOMES:
            raise bad(i, "outcome", v, f"allowed: {', '.join(FINAL_OUTCOMES)} or empty")
        if v and math.isnan(frame["outcome_day"].iloc[i]):
            raise bad(i, "outcome_date", "", "is required when outcome is given")
        if not v and not math.isnan(frame["outcome_day"].iloc[i]):
            raise bad(i, "outcome", "", "is required when outcome_date is given")
    order = [c.replace("_date", "_day") for c in _ORDER]
    for i in range(len(frame)):
        last, last_col = -math.inf, None
        for col in [*order, "outcome_day"]:
            v = frame[col].iloc[i]
            if math.isnan(v):
                continue
            if v < last:
                raise bad(
                    i,
                    col.replace("_day", "_date"),
                    frame[col.replace("_day", "_date")].iloc[i],
                    f"is before {last_col}",
                )
            last, last_col = v, col.replace("_day", "_date")
        outcome = frame["outcome"].iloc[i]
        if outcome == "infused" and math.isnan(frame["infusion_day"].iloc[i]):
            raise bad(i, "infusion_date", "", "is required for an infused outcome")
        later = [c for c in _AFTER_SCREENING if frame[c].iloc[i]]
        if frame["screen_failed"].iloc[i] and (later or outcome == "infused"):
            col = later[0] if later else "outcome"
            raise bad(
                i,
                col,
                frame[col].iloc[i],
                "a patient who failed screening is not collected, manufactured or infused",
            )
        if frame["infusion_date"].iloc[i] and not frame["apheresis_date"].iloc[i]:
            raise bad(i, "apheresis_date", "", "is required for a patient who was infused")
    as_of_day = float((as_of - start).days) + 1.0  # the whole as-of day is observed
    return ObservedLog(frame=frame, as_of=as_of, as_of_day=as_of_day, source=source)


def _check_ragged(text: str, source: str) -> None:
    """Every data row has one value per column of the header (empty where unknown): a row
    with more would shift its values under the wrong columns."""
    rows = (row for row in csv.reader(io.StringIO(text), skipinitialspace=True) if row)
    header = next(rows, None)
    if header is None:
        return
    for n, row in enumerate(rows, start=1):
        if len(row) != len(header):
            raise InputError(
                f"data row {n} has {len(row)} values where the header has {len(header)} "
                "columns; give every row one value per column (empty where unknown)",
                source=source,
            )


def _nan_or(v: float) -> float:
    return v if not math.isnan(v) else math.nan


def observed_state(log: ObservedLog, scenario: Scenario) -> Observed:
    """Where every patient stands at the as-of date: finished, or at which stage since when."""
    sites = {s.name: k for k, s in enumerate(scenario.referral.sites)}
    lead = scenario.conditioning.days_before_infusion
    finished: list[Patient] = []
    inside: list[InPathway] = []
    reached: list[tuple[str, float]] = []
    for k, r in enumerate(log.frame.itertuples(index=False)):
        enrolled = (
            r.screen_end_day if not r.screen_failed and r.outcome != "screen_failed" else math.nan
        )
        for name, day in (
            ("enrolled", enrolled),
            ("apheresed", r.apheresis_day),
            ("infused", r.infusion_day),
        ):
            if not math.isnan(day):
                reached.append((name, day))
        outcome = r.outcome or ("screen_failed" if r.screen_failed else "")
        if outcome:
            p = Patient(-1 - k, sites[r.site], r.referred_day, math.inf)
            p.consented = r.referred_day if outcome != "declined_consent" else math.nan
            if not math.isnan(r.consent_day):
                p.consented = r.consent_day
            p.screened = r.screen_end_day
            p.enrolled = enrolled
            p.apheresed = r.apheresis_day
            p.released = r.release_day
            p.infused = r.infusion_day
            p.conditioned = r.infusion_day - lead if not math.isnan(r.infusion_day) else math.nan
            p.exit = r.outcome_day if not math.isnan(r.outcome_day) else r.screen_end_day
            p.outcome = Outcome(outcome)
            finished.append(p)
            continue
        if not math.isnan(r.infusion_day):
            stage, since = "hospital", r.infusion_day
        elif not math.isnan(r.release_day):
            stage, since = "release", r.release_day
        elif not math.isnan(r.apheresis_day):
            stage, since = "manufacturing", r.apheresis_day
        elif not math.isnan(r.screen_end_day):
            stage, since = "apheresis", r.screen_end_day
        else:
            stage = "screening"
            since = r.consent_day if not math.isnan(r.consent_day) else r.referred_day
        consented = r.consent_day if not math.isnan(r.consent_day) else r.referred_day
        inside.append(
            InPathway(
                site=sites[r.site],
                referred=r.referred_day,
                stage=stage,
                since=since,
                consented=consented,
                screened=r.screen_end_day,
                apheresed=r.apheresis_day,
                released=r.release_day,
                infused=r.infusion_day,
            )
        )
    return Observed(
        start_day=log.as_of_day,
        in_pathway=tuple(inside),
        finished=tuple(finished),
        reached=tuple(reached),
    )


def log_from_patients(patients: pd.DataFrame, scenario: Scenario, as_of: dt.date) -> str:
    """The observed log (CSV text) a trial would have kept by ``as_of``: a simulated
    patients table cut at that date (what happened later is left out)."""
    start = scenario.start_date
    cut = float((as_of - start).days) + 1.0

    def date(day: float) -> str:
        if math.isnan(day) or day >= cut:
            return ""
        return (start + dt.timedelta(days=math.floor(day))).isoformat()

    rows = []
    for r in patients.itertuples(index=False):
        if r.referred_day >= cut:
            continue
        done = r.outcome != "in_pathway" and r.exit_day < cut
        screen_failed = r.outcome == "screen_failed" and r.exit_day < cut
        rows.append(
            {
                "patient_id": f"P{r.patient:04d}",
                "site": r.site,
                "referred_date": date(r.referred_day),
                "consent_date": date(r.consented_day),
                "screen_end_date": date(r.screened_day),
                "screen_failed": "true" if screen_failed else "",
                "apheresis_date": date(r.apheresed_day),
                "release_date": date(r.released_day),
                "infusion_date": date(r.infused_day),
                "outcome": r.outcome if done else "",
                "outcome_date": date(r.exit_day) if done else "",
            }
        )
    return pd.DataFrame(rows, columns=list(REQUIRED + OPTIONAL)).to_csv(index=False)
