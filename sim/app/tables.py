"""The form's two tables, without Streamlit: the referring sites (one column a value of a
:class:`~sim.core.schema.Site`) and the screening criteria, to and from data frames."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.app.form import SITE_PARAMS
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
