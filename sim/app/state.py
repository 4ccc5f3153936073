"""What the dashboard (app.py) needs between a scenario and its views, without Streamlit.

- :data:`PARAMS`: every input of a scenario, grouped by pathway stage, with its label, unit
  and meaning (a registry shared by the form and its tests);
- :func:`read_sources`: the comment beside each value of a scenario file (its source), by
  dotted path, so each input's help can cite where its default comes from;
- :func:`build_scenario`: form values to a validated scenario (the validation the command
  line uses, so a bad value gets the same one-line message);
- :class:`RunView`: one run to draw, fresh or saved; :func:`headline`: the forecast in words;
  :func:`comparison_table`: paired differences between runs.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.core.errors import InputError
from sim.core.referral import cumulative_intensity
from sim.core.scenario import (
    DAYS_PER_MONTH,
    Scenario,
    apply_overrides,
    parse_scenario,
    validate_scenario,
)
from sim.core.yamlio import parse_yaml, read_text
from sim.planning.compare import METRICS, per_replication
from sim.run.results import RowTable, n_months
from sim.run.runner import Results
from sim.run.stats import paired_difference, welch_interval

# --- the inputs ------------------------------------------------------------------------------

STAGES = (
    "Referral",
    "Screening",
    "Apheresis",
    "Manufacturing",
    "Deterioration and bridging",
    "Conditioning",
    "Infusion",
    "Target and horizon",
)

KINDS = (
    "number",  # a float
    "integer",
    "prob",  # a probability, 0 to 1
    "bool",
    "date",
    "text",
    "choice",
    "dist",  # a number or a distribution spec
    "block",  # an optional part of the scenario, switched on or off (its fields follow)
    "sites",  # the referring sites (a table)
    "criteria",  # screening criteria and their failure probabilities (a table)
)


@dataclass(frozen=True)
class Param:
    """One input of the scenario form."""

    path: str
    """Dotted path in the scenario (``apheresis.slots``)."""
    label: str
    unit: str
    kind: str
    stage: str
    help: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    optional: bool = False
    """The value may be left out (null): a checkbox switches it on."""
    toggle: str = ""
    """Label of that checkbox."""
    choices: tuple[str, ...] = ()
    fmt: str = "%g"
    """How its numbers are shown (printf style)."""

    @property
    def title(self) -> str:
        """The label with its unit: ``Apheresis slots (count)``."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


_R, _S, _A, _M, _D, _C, _I, _T = STAGES
PARAMS: tuple[Param, ...] = (
    # Referral
    Param(
        "referral.sites",
        "Referring sites",
        unit="",
        kind="sites",
        stage=_R,
        help="Each site refers patients as a Poisson process at its full rate, from the day it "
        "opens, rising linearly to that rate over its ramp-up days.",
    ),
    Param(
        "referral.rate_shape",
        "Gamma shape of each site's rate",
        unit="no unit",
        kind="number",
        stage=_R,
        low=0.0,
        step=0.5,
        optional=True,
        toggle="Referral rates uncertain (Poisson-gamma)",
        help="Uncertainty about the referral rates: each simulated trial draws each site's "
        "rate from a gamma with this shape and the site's rate as mean (Poisson-gamma "
        "model); smaller = more uncertain (coefficient of variation 1/sqrt(shape)).",
    ),
    # Screening
    Param(
        "screening.consent_decline_prob",
        "Consent declined",
        unit="probability 0-1",
        kind="prob",
        stage=_S,
        help="Share of referred patients who decline consent.",
    ),
    Param(
        "screening.duration_days",
        "Screening duration",
        unit="days",
        kind="dist",
        stage=_S,
        step=1.0,
        help="From referral to the screening result.",
    ),
    Param(
        "screening.criteria",
        "Screening criteria",
        unit="failure probability 0-1",
        kind="criteria",
        stage=_S,
        help="Each protocol criterion fails independently with its probability; every failing "
        "criterion is recorded. Add or remove rows to change the criteria.",
    ),
    # Apheresis
    Param(
        "apheresis.slots",
        "Apheresis slots",
        unit="count",
        kind="integer",
        stage=_A,
        low=1,
        high=10000,
        step=1,
        help="Collections that can run at once.",
    ),
    Param(
        "apheresis.duration_days",
        "Apheresis duration",
        unit="days",
        kind="dist",
        stage=_A,
        step=1.0,
        help="How long one collection holds a slot.",
    ),
    Param(
        "apheresis.weekdays_only",
        "Collect on weekdays only",
        unit="",
        kind="bool",
        stage=_A,
        help="Collections start Monday to Friday only.",
    ),
    Param(
        "apheresis.failure_prob",
        "Collection failure",
        unit="probability 0-1",
        kind="prob",
        stage=_A,
        help="Chance that one collection fails (too few cells).",
    ),
    Param(
        "apheresis.max_attempts",
        "Collection attempts",
        unit="count, first included",
        kind="integer",
        stage=_A,
        low=1,
        high=100,
        step=1,
        help="All collection attempts allowed, the first included (1 = no retry).",
    ),
    Param(
        "apheresis.retry_after_days",
        "Retry after",
        unit="days",
        kind="dist",
        stage=_A,
        step=1.0,
        help="Delay before another collection after a failed one.",
    ),
    # Manufacturing
    Param(
        "manufacturing.suites",
        "Manufacturing suites",
        unit="count",
        kind="integer",
        stage=_M,
        low=1,
        high=10000,
        step=1,
        help="Batches that can be made at once.",
    ),
    Param(
        "manufacturing.duration_days",
        "Manufacturing duration",
        unit="days",
        kind="dist",
        stage=_M,
        step=1.0,
        help="How long a batch holds its suite.",
    ),
    Param(
        "manufacturing.qc_release_days",
        "QC release",
        unit="days",
        kind="dist",
        stage=_M,
        step=1.0,
        help="Quality-control release after the batch leaves its suite (does not hold the suite).",
    ),
    Param(
        "manufacturing.failure_prob",
        "Batch failure",
        unit="probability 0-1",
        kind="prob",
        stage=_M,
        help="Chance that a batch fails (besides a yield below the minimum dose).",
    ),
    Param(
        "manufacturing.max_attempts",
        "Manufacturing attempts",
        unit="count, first included",
        kind="integer",
        stage=_M,
        low=1,
        high=100,
        step=1,
        help="All batches allowed per patient, the first included (1 = no retry).",
    ),
    Param(
        "manufacturing.recollect_on_failure",
        "Collect again after a failed batch",
        unit="",
        kind="bool",
        stage=_M,
        help="After a failed batch, collect cells again (checked) or remake from stored cells.",
    ),
    Param(
        "manufacturing.yield_cells",
        "Batch yield",
        unit="cells",
        kind="dist",
        stage=_M,
        step=100000000.0,
        optional=True,
        toggle="Check the yield against the minimum dose",
        fmt="%.3e",
        help="Total cells of one batch; a batch below the minimum dose for the patient's "
        "weight fails.",
    ),
    Param(
        "dose.min_per_kg",
        "Minimum dose",
        unit="cells/kg",
        kind="number",
        stage=_M,
        low=0.0,
        step=1000000.0,
        fmt="%.3e",
        help="Smallest dose per kg of body weight that may be infused.",
    ),
    Param(
        "dose.max_per_kg",
        "Maximum dose",
        unit="cells/kg",
        kind="number",
        stage=_M,
        low=0.0,
        step=1000000.0,
        fmt="%.3e",
        help="Largest dose per kg of body weight.",
    ),
    # Deterioration and bridging
    Param(
        "deterioration",
        "Patients deteriorate while they wait",
        unit="",
        kind="block",
        stage=_D,
        help="Each patient carries a latent time from referral to death or loss of "
        "eligibility; reached before infusion, the patient leaves the pathway.",
    ),
    Param(
        "deterioration.time_to_event_days",
        "Time to deterioration",
        unit="days from referral",
        kind="dist",
        stage=_D,
        step=10.0,
        help="Latent time from referral to death or loss of eligibility.",
    ),
    Param(
        "deterioration.bridging",
        "Bridging therapy",
        unit="",
        kind="block",
        stage=_D,
        help="Bridging therapy after apheresis stretches the time left to deterioration.",
    ),
    Param(
        "deterioration.bridging.prob",
        "Patients bridged",
        unit="probability 0-1",
        kind="prob",
        stage=_D,
        help="Share of patients given bridging therapy after apheresis.",
    ),
    Param(
        "deterioration.bridging.time_ratio",
        "Time stretch by bridging",
        unit="ratio",
        kind="number",
        stage=_D,
        low=0.0,
        step=0.1,
        help="Factor on the time left to deterioration from the start of bridging.",
    ),
    # Conditioning
    Param(
        "conditioning.days_before_infusion",
        "Conditioning starts before infusion",
        unit="days",
        kind="number",
        stage=_C,
        low=0.0,
        step=1.0,
        help="Lymphodepletion starts this many days before the infusion (day 0).",
    ),
    Param(
        "conditioning.treatment_days",
        "Conditioning treatment days",
        unit="days",
        kind="integer",
        stage=_C,
        low=0,
        high=365,
        step=1,
        help="Days of fludarabine and cyclophosphamide.",
    ),
    Param(
        "conditioning.fludarabine_mg_per_m2_per_day",
        "Fludarabine",
        unit="mg/m² per day",
        kind="number",
        stage=_C,
        low=0.0,
        step=1.0,
        help="Daily fludarabine dose per m² of body surface area.",
    ),
    Param(
        "conditioning.cyclophosphamide_mg_per_m2_per_day",
        "Cyclophosphamide",
        unit="mg/m² per day",
        kind="number",
        stage=_C,
        low=0.0,
        step=10.0,
        help="Daily cyclophosphamide dose per m² of body surface area.",
    ),
    Param(
        "patients.weight_kg",
        "Patient weight",
        unit="kg",
        kind="dist",
        stage=_C,
        step=1.0,
        help="Body weight: body surface area for the drug doses, and the minimum cell dose.",
    ),
    Param(
        "patients.height_cm",
        "Patient height",
        unit="cm",
        kind="dist",
        stage=_C,
        step=1.0,
        help="Height: body surface area for the drug doses.",
    ),
    # Infusion
    Param(
        "infusion.beds",
        "Beds",
        unit="count",
        kind="integer",
        stage=_I,
        low=1,
        high=10000,
        step=1,
        help="Beds for infused patients, each held from infusion to discharge.",
    ),
    Param(
        "infusion.stay_days",
        "Inpatient stay",
        unit="days from infusion",
        kind="dist",
        stage=_I,
        step=1.0,
        help="Bed days from infusion (day 0) to discharge.",
    ),
    Param(
        "infusion.icu_prob",
        "Intensive care needed",
        unit="probability 0-1",
        kind="prob",
        stage=_I,
        help="Share of infused patients who need intensive care.",
    ),
    Param(
        "infusion.icu_days",
        "Intensive-care stay",
        unit="days",
        kind="dist",
        stage=_I,
        step=1.0,
        help="Intensive-care days of a patient who needs them (part of the stay).",
    ),
    # Target and horizon
    Param(
        "name", "Scenario name", unit="", kind="text", stage=_T, help="A name for this scenario."
    ),
    Param(
        "description",
        "Description",
        unit="",
        kind="text",
        stage=_T,
        help="What the scenario is (optional).",
    ),
    Param(
        "start_date",
        "Trial start",
        unit="date",
        kind="date",
        stage=_T,
        help="Day 0 of the simulation; all times count from it.",
    ),
    Param(
        "target.count",
        "Target",
        unit="patients",
        kind="integer",
        stage=_T,
        low=1,
        high=1000000,
        step=1,
        help="Patients who must reach the milestone.",
    ),
    Param(
        "target.milestone",
        "Target milestone",
        unit="",
        kind="choice",
        stage=_T,
        choices=("enrolled", "apheresed", "infused"),
        help="The milestone the target counts.",
    ),
    Param(
        "target.deadline",
        "Deadline",
        unit="date",
        kind="date",
        stage=_T,
        optional=True,
        toggle="Set a deadline",
        help="The date by which the target should be reached.",
    ),
    Param(
        "follow_up_days",
        "Follow-up",
        unit="days",
        kind="number",
        stage=_T,
        low=0.0,
        step=1.0,
        help="Primary completion is the target-th milestone plus this follow-up.",
    ),
    Param(
        "horizon_days",
        "Horizon",
        unit="days",
        kind="number",
        stage=_T,
        low=1.0,
        high=36525.0,
        step=30.0,
        help="A simulated trial stops here even if the target is not reached.",
    ),
)
PARAMS_BY_PATH = {p.path: p for p in PARAMS}


def params_in(stage: str) -> list[Param]:
    return [p for p in PARAMS if p.stage == stage]


def param_for_field(field_name: str | None) -> Param | None:
    """The form input a validation error's field (``referral.sites[0].name``) belongs to."""
    if not field_name:
        return None
    path = field_name.replace("[", ".").replace("]", "")
    best = None
    for p in PARAMS:
        if (path == p.path or path.startswith(p.path + ".")) and (
            best is None or len(p.path) > len(best.path)
        ):
            best = p
    return best


# --- the value of a path ---------------------------------------------------------------------


def get_path(data: Any, path: str) -> Any:
    """The value at a dotted path (list items by index) or None when any part is missing."""
    node = data
    for part in path.split("."):
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
        if node is None:
            return None
    return node


# Used only to fill the fields of a part the loaded scenario leaves out (null), so that
# switching it on starts from a sensible value. The app passes baseline.yaml first.
_LAST_RESORT: dict[str, Any] = {
    "referral.rate_shape": 4.0,
    "manufacturing.yield_cells": {"dist": "lognormal", "mean": 1.5e9, "sd": 9.0e8},
    "deterioration.time_to_event_days": {"dist": "exponential", "mean": 400.0},
    "deterioration.bridging.prob": 0.5,
    "deterioration.bridging.time_ratio": 1.2,
    "description": "",
}


def default_value(path: str, current: Mapping[str, Any], fallback: Mapping[str, Any] | None) -> Any:
    """The value a form input starts from: the current scenario's, else the fallback
    scenario's (for a part the current one leaves out), else a last resort."""
    value = get_path(current, path)
    if value is None and fallback is not None:
        value = get_path(fallback, path)
    if value is None and path == "target.deadline":
        start = current.get("start_date")
        if isinstance(start, dt.date):  # five years on (28 February for a 29th)
            value = start.replace(year=start.year + 5, day=min(start.day, 28))
    if value is None:
        value = _LAST_RESORT.get(path)
    return value


# --- sources: the comment beside each value --------------------------------------------------


@dataclass(frozen=True)
class Sources:
    """Comments of a scenario file by dotted path: ``inline`` is the comment on the value's
    line (its source), ``notes`` the comment lines just above its key."""

    inline: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    present: frozenset[str] = frozenset()
    """Every path the file sets (with or without a comment)."""

    def of(self, path: str) -> str | None:
        return self.inline.get(path)


def read_sources(text: str) -> Sources:
    """The comments of scenario YAML ``text``, by dotted path (list items by index).

    The YAML parser gives each key and value its position, so the comment after a value
    (scalar or one-line mapping such as a distribution) is found on the value's last line,
    and the comment of a nested block on its key's line. Text that is not YAML gives none.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return Sources()
    if root is None:
        return Sources()
    lines = text.splitlines()
    inline: dict[str, str] = {}
    notes: dict[str, str] = {}
    present: set[str] = set()
    first_key_line = _first_key_line(root)

    def comment_from(line: int, col: int) -> str | None:
        if line >= len(lines):
            return None
        rest = lines[line][col:].strip()
        if rest.startswith("#"):
            return rest.lstrip("#").strip() or None
        return None

    def note_above(line: int) -> str | None:
        got = []
        i = line - 1
        while i >= 0 and lines[i].strip().startswith("#"):
            got.append(lines[i].strip().lstrip("#").strip())
            i -= 1
        return " ".join(reversed(got)) or None

    def walk(node: yaml.Node, path: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                p = f"{path}.{key.value}" if path else str(key.value)
                present.add(p)
                if _is_block(value):
                    line = lines[key.end_mark.line] if key.end_mark.line < len(lines) else ""
                    colon = line.find(":", key.end_mark.column)
                    c = comment_from(key.end_mark.line, colon + 1) if colon >= 0 else None
                elif isinstance(value, yaml.ScalarNode) and value.style in ("|", ">"):
                    c = None
                else:
                    c = comment_from(value.end_mark.line, value.end_mark.column)
                if c:
                    inline[p] = c
                if key.start_mark.line != first_key_line:
                    n = note_above(key.start_mark.line)
                    if n:
                        notes[p] = n
                if _is_block(value):
                    walk(value, p)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, f"{path}.{i}")

    walk(root, "")
    return Sources(inline, notes, frozenset(present))


def _is_block(node: yaml.Node) -> bool:
    return isinstance(node, yaml.MappingNode | yaml.SequenceNode) and not node.flow_style


def _first_key_line(root: yaml.Node) -> int:
    if isinstance(root, yaml.MappingNode) and root.value:
        return root.value[0][0].start_mark.line
    return -1


def help_text(
    param: Param, default: Any, sources: Sources, origin: str, path: str | None = None
) -> str:
    """The help of an input: what it means, its unit, and the source of its default."""
    path = path or param.path
    src = sources.of(path)
    shown = describe_value(default, param)
    unit = f" Unit: {param.unit}." if param.unit else ""
    if sources.present and path not in sources.present:
        where = f"Not set in {origin}: the model's default"
        return f"{param.help}{unit}\n\n{where}{f', {shown}' if shown else ''}."
    where = f"Default in {origin}: {shown}" if shown else f"In {origin}"
    cite = f" — source: {src}" if src else " — no source noted beside it"
    return f"{param.help}{unit}\n\n{where}{cite}."


def describe_value(value: Any, param: Param | None = None) -> str:
    """A value as a person writes it: ``gamma (mean 14, sd 5)``, ``0.03``, ``2020-12-31``."""
    if value is None:
        return "not set"
    if isinstance(value, Mapping) and "dist" in value:
        kind = value["dist"]
        if kind == "fixed":
            return _num(value.get("value"))
        if kind == "empirical":
            vals = value.get("values") or []
            more = ", ..." if len(vals) > 8 else ""
            return f"empirical ({', '.join(_num(v) for v in vals[:8])}{more})"
        params = ", ".join(f"{k} {_num(value.get(k))}" for k in DIST_PARAMS[kind])
        return f"{kind} ({params})"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float | int):
        return _num(value)
    if isinstance(value, list | dict):
        return ""
    return str(value)


def _num(x: Any) -> str:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return str(x)
    return f"{x:g}"


# --- distributions ---------------------------------------------------------------------------

DIST_PARAMS: dict[str, tuple[str, ...]] = {
    "fixed": ("value",),
    "exponential": ("mean",),
    "uniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "lognormal": ("mean", "sd"),
    "gamma": ("mean", "sd"),
    "empirical": ("values",),
}
DIST_KINDS = tuple(DIST_PARAMS)


def as_dist(value: Any) -> dict[str, Any]:
    """A distribution spec as a mapping: a plain number is ``{dist: fixed, value: ...}``."""
    if isinstance(value, Mapping):
        return dict(value)
    return {"dist": "fixed", "value": float(value)}


def dist_moments(spec: Mapping[str, Any]) -> tuple[float, float]:
    """Mean and standard deviation of a distribution spec."""
    kind = spec["dist"]
    if kind == "fixed":
        return float(spec["value"]), 0.0
    if kind == "exponential":
        m = float(spec["mean"])
        return m, m
    if kind == "uniform":
        lo, hi = float(spec["low"]), float(spec["high"])
        return (lo + hi) / 2, (hi - lo) / math.sqrt(12)
    if kind == "triangular":
        a, c, b = float(spec["low"]), float(spec["mode"]), float(spec["high"])
        var = (a * a + b * b + c * c - a * b - a * c - b * c) / 18
        return (a + b + c) / 3, math.sqrt(max(var, 0.0))
    if kind in ("lognormal", "gamma"):
        return float(spec["mean"]), float(spec["sd"])
    if kind == "empirical":
        vals = np.asarray(spec["values"], dtype=float)
        return float(vals.mean()), float(vals.std())
    raise ValueError(f"unknown distribution {kind!r}")


def convert_dist(spec: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """``spec`` as a ``kind`` distribution with the same mean (and spread, where the kind
    has one), values rounded to 4 significant figures; a lower bound is kept at 0 or above
    when the original never goes below 0."""
    if spec["dist"] == kind:
        return dict(spec)
    mean, sd = dist_moments(spec)
    nonneg = _lowest(spec) >= 0
    r = _round4
    if kind == "fixed":
        return {"dist": "fixed", "value": r(mean)}
    if kind == "exponential":
        return {"dist": "exponential", "mean": r(mean)}
    if kind in ("lognormal", "gamma"):
        return {"dist": kind, "mean": r(mean), "sd": r(sd)}
    if kind == "uniform":
        half = math.sqrt(3) * sd
        lo = max(mean - half, 0.0) if nonneg else mean - half
        return {"dist": "uniform", "low": r(lo), "high": r(mean + half)}
    if kind == "triangular":
        half = math.sqrt(6) * sd
        lo = max(mean - half, 0.0) if nonneg else mean - half
        return {"dist": "triangular", "low": r(lo), "mode": r(mean), "high": r(mean + half)}
    if kind == "empirical":
        return {"dist": "empirical", "values": [r(mean)]}
    raise ValueError(f"unknown distribution {kind!r}")


def _lowest(spec: Mapping[str, Any]) -> float:
    kind = spec["dist"]
    if kind == "fixed":
        return float(spec["value"])
    if kind in ("uniform", "triangular"):
        return float(spec["low"])
    if kind == "empirical":
        return float(min(spec["values"]))
    return 0.0


def _round4(x: float) -> float:
    if x == 0 or not math.isfinite(x):
        return float(x)
    return float(f"{x:.4g}")


def parse_values(text: str, path: str) -> list[float]:
    """``"12, 14.5, 20"`` -> ``[12.0, 14.5, 20.0]`` (the values of an empirical distribution)."""
    parts = [t for t in text.replace(";", ",").replace("\n", ",").split(",") if t.strip()]
    try:
        values = [float(t) for t in parts]
    except ValueError:
        raise InputError(
            "an empirical distribution's values are numbers separated by commas",
            source="settings",
            field=f"{path}.values",
            value=text,
            has_value=True,
        ) from None
    if not values:
        raise InputError(
            "an empirical distribution needs at least one value",
            source="settings",
            field=f"{path}.values",
        )
    return values


# --- tables of the form ----------------------------------------------------------------------

SITE_COLUMNS = ("name", "rate_per_month", "opens_day", "ramp_up_days", "rate_shape")
_SITE_OPTIONAL = ("rate_shape",)
"""Site columns that may be left empty (null): the site then uses referral.rate_shape."""


def sites_frame(sites: Sequence[Mapping[str, Any]], sources: Sources) -> pd.DataFrame:
    """The referring sites as an editable table, with each row's source beside it."""
    rows = []
    for i, s in enumerate(sites):
        cited = [sources.of(f"referral.sites.{i}.{k}") for k in SITE_COLUMNS]
        rows.append(
            {
                "name": s.get("name"),
                "rate_per_month": float(s.get("rate_per_month", 0.0)),
                "opens_day": float(s.get("opens_day", 0.0)),
                "ramp_up_days": float(s.get("ramp_up_days", 0.0)),
                "rate_shape": _float_or_nan(s.get("rate_shape")),
                "source": " | ".join(
                    f"{k}: {c}" for k, c in zip(SITE_COLUMNS, cited, strict=True) if c
                ),
            }
        )
    return pd.DataFrame(rows, columns=[*SITE_COLUMNS, "source"])


def sites_from_frame(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Edited sites table -> the scenario's list of sites (empty rows dropped)."""
    out = []
    for rec in frame.to_dict("records"):
        values = {k: rec.get(k) for k in SITE_COLUMNS}
        if all(_blank(v) for v in values.values()):
            continue
        site: dict[str, Any] = {"name": None if _blank(values["name"]) else str(values["name"])}
        for k in SITE_COLUMNS[1:]:
            v = values[k]
            if k in _SITE_OPTIONAL:
                site[k] = None if _blank(v) else _plain(v)
            elif _blank(v):
                site[k] = None if k == "rate_per_month" else 0.0
            else:
                site[k] = _plain(v)
        out.append(site)
    return out


def criteria_frame(criteria: Mapping[str, float], sources: Sources) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "criterion": list(criteria),
            "failure_prob": [float(v) for v in criteria.values()],
            "source": [sources.of(f"screening.criteria.{k}") or "" for k in criteria],
        },
        columns=["criterion", "failure_prob", "source"],
    )


def criteria_from_frame(frame: pd.DataFrame) -> dict[str, Any]:
    """Edited criteria table -> {name: probability}; a repeated name is an InputError."""
    out: dict[str, Any] = {}
    for rec in frame.to_dict("records"):
        name, prob = rec.get("criterion"), rec.get("failure_prob")
        if _blank(name) and _blank(prob):
            continue
        if _blank(name):
            raise InputError(
                "every criterion needs a name", source="settings", field="screening.criteria"
            )
        name = str(name).strip()
        if name in out:
            raise InputError(
                "each criterion may appear once",
                source="settings",
                field="screening.criteria",
                value=name,
                has_value=True,
            )
        out[name] = None if _blank(prob) else _plain(prob)
    return out


def _float_or_nan(v: Any) -> float:
    return math.nan if v is None else float(v)


def _blank(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and not v.strip()


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


# --- from the form to a scenario --------------------------------------------------------------


@dataclass(frozen=True)
class DistInput:
    """What a distribution's inputs hold: the kind whose parameter fields were on screen,
    the kind now picked in its selector, and the values of those fields."""

    shown: str
    chosen: str
    params: dict[str, Any]


def dist_from_input(d: DistInput, path: str) -> tuple[dict[str, Any], bool]:
    """The distribution spec of a distribution's inputs, and whether its kind was changed
    (then it is converted to the new kind keeping its mean and spread)."""
    spec: dict[str, Any] = {"dist": d.shown}
    if d.shown == "empirical":
        spec["values"] = parse_values(str(d.params.get("values", "")), path)
    else:
        spec.update({k: _plain(v) for k, v in d.params.items()})
    if d.chosen != d.shown:
        try:
            return convert_dist(spec, d.chosen), True
        except (TypeError, ValueError, KeyError):
            return spec, False  # let validation name what is wrong with it
    return spec, False


def form_values(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The form's widget values as :func:`build_scenario` values, and the paths of the
    distributions whose kind was changed."""
    out: dict[str, Any] = {}
    changed: list[str] = []
    for path, value in raw.items():
        if isinstance(value, DistInput):
            spec, was_changed = dist_from_input(value, path)
            out[path] = spec
            if was_changed:
                changed.append(path)
        elif isinstance(value, pd.DataFrame):
            kind = PARAMS_BY_PATH[path].kind
            out[path] = sites_from_frame(value) if kind == "sites" else criteria_from_frame(value)
        else:
            out[path] = _plain(value)
    return out, changed


def build_scenario(
    current: Scenario, values: Mapping[str, Any], source: str = "settings"
) -> Scenario:
    """``current`` with the form's values (dotted path -> value; None leaves an optional part
    out; a block's value is whether it is on), validated like a scenario file."""
    pairs: list[tuple[str, Any]] = []
    off: list[str] = []
    for p in PARAMS:
        if p.path not in values or any(p.path.startswith(o + ".") for o in off):
            continue
        value = values[p.path]
        if p.kind == "block":
            if not value:
                pairs.append((p.path, None))
                off.append(p.path)
            continue
        if p.kind == "text" and p.path == "description" and _blank(value):
            value = None
        pairs.append((p.path, value))
    data = apply_overrides(current.to_dict(), pairs)
    return validate_scenario(data, source=source)


def settings_yaml(scenario: Scenario, origin: str) -> str:
    """The scenario as YAML that loads back to the same scenario, with a header line."""
    head = f"# {scenario.name}: settings from the cart-trial-sim dashboard, started from {origin}\n"
    return head + scenario.to_yaml()


# --- the scenario before any run ------------------------------------------------------------


def expected_referrals(scenario: Scenario) -> pd.DataFrame:
    """Expected referrals of each site in each calendar month (at its mean rate, with its
    opening day and ramp-up), up to the horizon: site, month, date (month end), referrals."""
    months = np.arange(1, n_months(scenario.horizon_days) + 1)
    ends = months * DAYS_PER_MONTH
    frames = []
    for site in scenario.referral.sites:
        rate = site.rate_per_month / DAYS_PER_MONTH
        cum = np.array([cumulative_intensity(site, d, rate) for d in np.concatenate([[0.0], ends])])
        frames.append(
            pd.DataFrame(
                {
                    "site": site.name,
                    "month": months,
                    "date": pd.Timestamp(scenario.start_date) + pd.to_timedelta(ends, unit="D"),
                    "referrals": np.diff(cum),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


# --- runs ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LoadedInput:
    """The scenario the inputs start from: a file, an upload or a saved run."""

    key: tuple[str, ...]
    """What was loaded (kind and name), to tell when the choice changes."""
    origin: str
    """How the help texts name it: ``baseline.yaml``, ``saved run 'x'``."""
    scenario: Scenario
    sources: Sources
    view: RunView | None = None
    """The saved run's results, when a saved run was opened."""


@dataclass(frozen=True, eq=False)
class RunView:
    """One run to draw: fresh from the model or opened from the run store."""

    label: str
    scenario: Scenario
    seed: int
    replications: int
    summary: dict[str, Any]
    fan: pd.DataFrame
    rows: pd.DataFrame
    vein_to_vein: np.ndarray | None
    """Every infused patient's vein-to-vein days (None for a saved run: it keeps means)."""
    results: Results | None = None
    """The model's results (to save them); None for a saved run."""
    saved_as: str | None = None


def view_from_results(results: Results, label: str) -> RunView:
    return RunView(
        label=label,
        scenario=results.scenario,
        seed=results.seed,
        replications=results.replications,
        summary=results.summary(),
        fan=results.fan(),
        rows=results.frame(),
        vein_to_vein=np.asarray(results.table.vein_to_vein, dtype=float),
        results=results,
    )


def view_from_stored(run: Any) -> RunView:
    """A :class:`sim.io.store.StoredRun` as a view (nothing is run)."""
    scenario = parse_scenario(run.scenario_text, source=f"saved run {run.name!r}")
    return RunView(
        label=f"saved run {run.name!r}",
        scenario=scenario,
        seed=run.seed,
        replications=run.replications,
        summary=run.summary,
        fan=run.fan,
        rows=run.rows,
        vein_to_vein=None,
        saved_as=run.name,
    )


def day_label(d: dt.date | str | None) -> str:
    """``31 Dec 2020``."""
    if d is None:
        return "n/a"
    if isinstance(d, str):
        d = dt.date.fromisoformat(d)
    return f"{d.day} {d:%b %Y}"


@dataclass(frozen=True)
class Headline:
    chance: str
    median: str
    interval: str
    reached: str
    completion: str


def headline(summary: Mapping[str, Any], horizon_end: dt.date | None = None) -> Headline:
    """The forecast in plain words, from a run's summary."""
    t = summary["target"]
    what = f"{t['count']} {t['milestone']}"
    n = summary["replications"]
    prob = summary.get("prob_target_by_deadline")
    if t.get("deadline") and prob is not None:
        ci = summary.get("prob_target_by_deadline_ci95") or [None, None]
        interval = f" (95% interval {ci[0]:.0%} to {ci[1]:.0%})" if None not in ci else ""
        chance = f"{prob:.0%} chance of {what} by {day_label(t['deadline'])}{interval}"
    else:
        chance = f"No deadline set for the target of {what}"
    dates = summary.get("target_date") or {}
    later = (
        f"after the end of the horizon ({day_label(horizon_end)})"
        if horizon_end
        else "after the end of the horizon"
    )
    p50 = dates.get("p50")
    median = f"Median date of reaching {what}: {day_label(p50) if p50 else later}"
    lo, hi = dates.get("p10"), dates.get("p90")
    interval_text = (
        f"80% interval: {day_label(lo) if lo else later} to {day_label(hi) if hi else later}"
    )
    ttt = summary.get("time_to_target_days") or {}
    frac = ttt.get("reached_fraction")
    reached = (
        f"{frac:.0%} of {n:,} simulated trials reach the target within the horizon"
        if frac is not None
        else ""
    )
    pc = (summary.get("primary_completion_date") or {}).get("p50")
    completion = (
        f"Median primary completion (target plus follow-up): {day_label(pc) if pc else later}"
    )
    return Headline(chance, median, interval_text, reached, completion)


# --- comparison ------------------------------------------------------------------------------


def _as_results(view: RunView) -> Results:
    if view.results is not None:
        return view.results
    rows = view.rows
    columns = {
        c: pd.to_numeric(rows[c], errors="coerce").to_numpy(float)
        for c in rows.columns
        if rows[c].dtype != object
    }
    n = len(rows)
    table = RowTable(
        columns,
        np.empty(0, np.float32),
        np.zeros((n, 0), np.int32),
        np.zeros((n, 0), np.int32),
    )
    return Results(view.scenario, view.seed, table)


def per_replication_frame(view: RunView) -> pd.DataFrame:
    """The compared figures of a run (sim.planning.compare.METRICS), a row a replication."""
    res = _as_results(view)
    values = per_replication(res)
    frame = pd.DataFrame(values)
    frame.index = res.table["replication"].astype(np.int64)
    return frame


def comparison_table(reference: RunView, other: RunView) -> pd.DataFrame:
    """``other`` minus ``reference`` on each compared figure: the means (columns
    ``reference`` and ``this run``), the difference,
    its paired 95% interval (common random numbers: same seed, replication by replication)
    and the unpaired (Welch) interval for contrast. Runs with different seeds share no
    random numbers: their paired interval is left empty."""
    a = per_replication_frame(reference)
    b = per_replication_frame(other)
    paired = reference.seed == other.seed
    common = a.index.intersection(b.index) if paired else pd.Index([])
    out = []
    for key, label in METRICS.items():
        x, y = a[key].to_numpy(float), b[key].to_numpy(float)
        mean_a = float(np.nanmean(x)) if np.isfinite(x).any() else math.nan
        mean_b = float(np.nanmean(y)) if np.isfinite(y).any() else math.nan
        unpaired = welch_interval(x, y)
        if len(common):
            d = paired_difference(
                a.loc[common, key].to_numpy(float), b.loc[common, key].to_numpy(float)
            )
            diff, (lo, hi), n = d["mean"], d["ci95"], d["n"]
        else:
            diff, lo, hi, n = mean_b - mean_a, None, None, 0
        out.append(
            {
                "figure": label,
                "reference": mean_a,
                "this run": mean_b,
                "difference": _nan(diff),
                "paired 95% CI": _interval(lo, hi),
                "unpaired 95% CI": _interval(*unpaired),
                "pairs": int(n),
            }
        )
    return pd.DataFrame(out)


def _nan(x: Any) -> float:
    return math.nan if x is None else float(x)


def _interval(lo: float | None, hi: float | None) -> str:
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return "n/a"
    return f"{lo:.3g} to {hi:.3g}"


def unique_labels(labels: Iterable[str]) -> list[str]:
    """Labels made unique by numbering repeats: a, b, a -> a, b, a (2)."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def scenario_files(folder: Path, first: str = "baseline.yaml") -> list[Path]:
    """The scenario files of a folder (YAML files that look like scenarios, not the other
    YAML kept beside them, such as sensitivity ranges), ``first`` first, then by name."""
    files = [
        p
        for p in folder.glob("*.y*ml")
        if p.is_file() and _looks_like_scenario(str(p), p.stat().st_mtime_ns)
    ]
    return sorted(files, key=lambda p: (p.name != first, p.name))


@functools.lru_cache(maxsize=256)
def _looks_like_scenario(path: str, mtime_ns: int) -> bool:
    """A YAML mapping with a name and a referral part (read again when the file changes)."""
    try:
        data = parse_yaml(read_text(path), path)
    except InputError:
        return True  # listed, so that choosing it says what is wrong with it
    return isinstance(data, dict) and "name" in data and "referral" in data
