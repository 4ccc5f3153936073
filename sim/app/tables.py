"""The form's tables, without Streamlit: the referring sites (one column a value of a
:class:`~sim.core.schema.Site`), the screening criteria, and any other list of parts of a
scenario (closures, dose levels, capacity changes: one column a field of the part), to and
from data frames; and the weekdays picked in a list of choices."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.app.form import SITE_PARAMS, Param
from sim.app.sources import Sources
from sim.core.errors import InputError
from sim.core.schema import Site

SITE_COLUMNS = tuple(Site.model_fields)
"""The columns of the sites table: a site's values, in the schema's order."""
SITE_REQUIRED = frozenset(k for k, f in Site.model_fields.items() if f.is_required())
"""Columns a site must fill (an empty cell is left for validation to name)."""
_TEXT = frozenset(p.path.rpartition(".")[2] for p in SITE_PARAMS if p.kind == "text")


def sites_frame(sites: Sequence[Mapping[str, Any]], sources: Sources) -> pd.DataFrame:
    """The referring sites as an editable table, with each row's source beside it."""
    rows = []
    for i, s in enumerate(sites):
        cited = [sources.of(f"referral.sites.{i}.{k}") for k in SITE_COLUMNS]
        row = {k: s.get(k) if k in _TEXT else _float_or_nan(s.get(k)) for k in SITE_COLUMNS}
        row["source"] = " | ".join(
            f"{k}: {c}" for k, c in zip(SITE_COLUMNS, cited, strict=True) if c
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=[*SITE_COLUMNS, "source"])


def sites_from_frame(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Edited sites table -> the scenario's list of sites (empty rows dropped; an empty
    cell is the field's default, or null when it has none)."""
    out = []
    for rec in frame.to_dict("records"):
        values = {k: rec.get(k) for k in SITE_COLUMNS}
        if all(is_blank(v) for v in values.values()):
            continue
        out.append({k: _site_value(k, v) for k, v in values.items()})
    return out


def _site_value(key: str, v: Any) -> Any:
    if is_blank(v):
        return None if key in SITE_REQUIRED else Site.model_fields[key].default
    return str(v) if key in _TEXT else as_plain(v)


def criteria_frame(
    criteria: Mapping[str, float], sources: Sources, labels: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """The screening criteria as an editable table: criterion, label, failure_prob, source."""
    labels = labels or {}
    return pd.DataFrame(
        {
            "criterion": list(criteria),
            "label": [labels.get(k, "") for k in criteria],
            "failure_prob": [float(v) for v in criteria.values()],
            "source": [sources.of(f"screening.criteria.{k}") or "" for k in criteria],
        },
        columns=["criterion", "label", "failure_prob", "source"],
    )


def labels_from_frame(frame: pd.DataFrame) -> dict[str, str]:
    """Edited criteria table -> {name: label} of the rows that give a label."""
    out = {}
    for rec in frame.to_dict("records"):
        name, label = rec.get("criterion"), rec.get("label")
        if not is_blank(name) and not is_blank(label):
            out[str(name).strip()] = str(label).strip()
    return out


def criteria_from_frame(frame: pd.DataFrame) -> dict[str, Any]:
    """Edited criteria table -> {name: probability}; a repeated name is an InputError."""
    out: dict[str, Any] = {}
    for rec in frame.to_dict("records"):
        name, prob = rec.get("criterion"), rec.get("failure_prob")
        if is_blank(name) and is_blank(prob):
            continue
        if is_blank(name):
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
        out[name] = None if is_blank(prob) else as_plain(prob)
    return out


def rows_frame(rows: Sequence[Mapping[str, Any]] | None, p: Param) -> pd.DataFrame:
    """A list of parts of a scenario (``p.kind == "table"``) as an editable table: one
    column a field of the part (dates as dates, numbers as floats, empty as NaN)."""
    data: dict[str, pd.Series] = {}
    for c in p.columns:
        name = column_name(c)
        values = [r.get(name) for r in rows or ()]
        if c.kind == "date":
            data[name] = pd.Series(pd.to_datetime(values), dtype="datetime64[ns]")
        elif c.kind in ("number", "prob", "integer"):
            data[name] = pd.Series([_float_or_nan(v) for v in values], dtype=float)
        else:
            data[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(data, columns=[column_name(c) for c in p.columns])


def rows_from_frame(frame: pd.DataFrame, p: Param) -> list[dict[str, Any]] | None:
    """An edited table of parts -> the scenario's list (empty rows dropped; an empty cell is
    the field's default, or null when it has none, for validation to name). No rows: null
    when the list may be left out, else an empty list."""
    out = []
    for rec in frame.to_dict("records"):
        row = {column_name(c): _cell(rec.get(column_name(c)), c) for c in p.columns}
        if all(v is None or v == [] for v in row.values()):
            continue
        out.append(row)
    return out if out or not p.nullable else None


def column_name(c: Param) -> str:
    """The key of a table's column (the field's name in a row)."""
    return c.path.rpartition(".")[2]


def _cell(v: Any, c: Param) -> Any:
    """A table cell as a scenario value: a date as a date, a whole number as an int, the
    choices picked in their order, an empty cell as the field's starting value."""
    if c.kind == "multichoice":
        return picked(v, c) if isinstance(v, list | tuple | np.ndarray) else c.start
    if is_blank(v) or v is pd.NaT:
        return c.start
    if isinstance(v, pd.Timestamp):
        return v.date()
    if isinstance(v, dt.datetime):
        return v.date()
    v = as_plain(v)
    if c.kind == "integer" and isinstance(v, float) and v.is_integer():
        return int(v)
    return str(v).strip() if c.kind == "text" else v


def picked(values: Sequence[str] | None, p: Param) -> list[str] | None:
    """The choices picked in a multiple choice, in the choices' order (Mon before Tue);
    none picked: null when it may be left out (every day), else an empty list."""
    chosen = [c for c in p.choices if c in set(values or ())]
    return chosen if chosen or not p.nullable else None


def _float_or_nan(v: Any) -> float:
    return math.nan if v is None else float(v)


def is_blank(v: Any) -> bool:
    """An empty cell or input: None, NaN or blank text."""
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and not v.strip()


def as_plain(v: Any) -> Any:
    """A NumPy scalar (as a table gives it) as the Python number; anything else as it is."""
    if isinstance(v, np.generic):
        return v.item()
    return v
