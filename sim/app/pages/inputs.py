"""The inputs of the settings form, one a value of the scenario, each drawn by its kind
(:data:`sim.app.form.KINDS`): numbers, switches, dates, text, choices (one, or some such as
weekdays), distributions, the tables of sites and criteria and the tables of parts of a
scenario (closures, dose levels, capacity changes)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from sim.app import form, submit, tables
from sim.core.distributions import DIST_CLASSES, DIST_NAMES
from sim.core.fields import FIRST_DATE, LAST_DATE

DATES = {"min_value": FIRST_DATE, "max_value": LAST_DATE}
"""The dates a date input offers: exactly those a scenario may hold (the schema's)."""
"""The range of every date input."""
DATE_PX, CHOICES_PX, TEXT_PX = 88, 92, 80
"""Widths of a table's date, multiple-choice and text columns (pixels): a closure's four
columns fit the sidebar."""
EVERY_DAY = "Every day (none picked)"
"""What an empty list of weekdays means."""
CONVERTS = (
    "\n\nPicking another kind converts the values on Run (same mean and spread); check "
    "them afterwards."
)


def widget(p: form.Param, key: str, default: Any, help: str) -> Any:
    """One input of the form, its kind chosen by the parameter's kind."""
    if p.kind in ("number", "integer", "prob"):
        return st.number_input(p.title, **_number(p, default), key=key, help=help)
    if p.kind in ("bool", "block"):
        return st.checkbox(p.title, value=bool(default), key=key, help=help)
    if p.kind == "date":
        return st.date_input(
            p.title, value=default, **DATES, format="YYYY-MM-DD", key=key, help=help
        )
    if p.kind == "text":
        if p.path == "description":
            return st.text_area(p.title, value=default or "", key=key, help=help, height=90)
        return st.text_input(p.title, value=default or "", key=key, help=help)
    if p.kind == "choice":
        return st.selectbox(p.title, p.choices, index=p.choices.index(default), key=key, help=help)
    if p.kind == "multichoice":
        return st.multiselect(
            p.title,
            p.choices,
            default=[c for c in p.choices if c in (default or ())],
            key=key,
            help=help,
            placeholder=EVERY_DAY if p.nullable else "Pick at least one",
        )
    if p.kind == "dist":
        return _dist(p, key, default, help)
    raise AssertionError(p.kind)


def _number(p: form.Param, default: Any) -> dict[str, Any]:
    """Value, step and format of a number input. No limits: a browser refuses a typed
    value beyond them without a word and keeps the last one, so the value is taken as typed
    and checked against the schema's limits, which the field then names
    (:func:`sim.app.edits.field_problem`)."""
    if p.kind == "integer":
        value, step, fmt = int(default), 1, "%d"
    else:
        value = float(default)
        step, fmt = (0.01, "%g") if p.kind == "prob" else (p.step, p.fmt)
    return {"value": value, "step": step, "format": fmt}


def _dist(p: form.Param, key: str, default: Any, help: str) -> submit.DistInput:
    """A distribution: its kind, then the fields of the kind shown (a kind picked anew is
    converted on submit, and its own fields are drawn then)."""
    spec = submit.as_dist(default)
    shown = spec["dist"]
    chosen = st.selectbox(
        f"{p.title}: distribution",
        DIST_NAMES,
        index=DIST_NAMES.index(shown),
        key=f"{key}:dist",
        help=help + CONVERTS,
    )
    names = DIST_CLASSES[shown].param_names()
    params: dict[str, Any] = {}
    if shown == "empirical":
        params["values"] = st.text_input(
            f"{p.label}: values ({p.unit}, separated by commas)",
            value=", ".join(f"{v:g}" for v in spec["values"]),
            key=f"{key}:{shown}:values",
        )
    else:
        for col, name in zip(st.columns(len(names)), names, strict=True):
            params[name] = col.number_input(
                f"{name} ({p.unit})",
                value=float(spec[name]),
                step=p.step,
                format=p.fmt,
                key=f"{key}:{shown}:{name}",
            )
    return submit.DistInput(shown, chosen, params)


def _site_columns() -> dict[str, Any]:
    """The sites table's columns: each a value of a site, titled and explained (no limits:
    a cell beyond one would be refused without a word; validation names the limit)."""
    cfg = st.column_config
    columns = {}
    for p in form.SITE_PARAMS:
        name = p.path.rpartition(".")[2]
        required = True if name in tables.SITE_REQUIRED else None
        if p.kind == "text":
            columns[name] = cfg.TextColumn(p.title, required=required, width="medium")
            continue
        columns[name] = cfg.NumberColumn(
            p.title,
            format=p.fmt,
            required=required,
            help=p.help or None,
        )
    return columns


def _criteria_columns() -> dict[str, Any]:
    cfg = st.column_config
    return {
        "criterion": cfg.TextColumn("Criterion", required=True, width="medium"),
        "label": cfg.TextColumn(
            "Label", width="medium", help="How charts and reports name it (optional)."
        ),
        "failure_prob": cfg.NumberColumn(
            "Fails (probability 0-1)",
            step=0.001,
            format="%.3f",
            required=True,
        ),
    }


def _row_columns(p: form.Param) -> dict[str, Any]:
    """A table's columns, one a field of its rows, each by its kind (no limits: a cell
    beyond one would be refused without a word; validation names the limit)."""
    cfg = st.column_config
    columns = {}
    for c in p.columns:
        name = tables.column_name(c)
        required = True if c.start is None and not c.nullable else None
        common = {"help": c.help or None, "required": required}
        if c.kind == "date":
            columns[name] = cfg.DateColumn(c.title, format="YYYY-MM-DD", width=DATE_PX, **common)
        elif c.kind == "multichoice":
            columns[name] = cfg.MultiselectColumn(
                c.title, options=list(c.choices), width=CHOICES_PX, **common
            )
        elif c.kind == "text":
            columns[name] = cfg.TextColumn(c.title, width=TEXT_PX, **common)
        else:
            fmt = "%d" if c.kind == "integer" else c.fmt
            columns[name] = cfg.NumberColumn(c.title, format=fmt, step=c.step, **common)
    return columns


def rows_table(p: form.Param, key: str, default: Any, help: str) -> pd.DataFrame:
    """A list of parts of the scenario as a table (closures, dose levels, capacity
    changes), rows added or removed at will."""
    st.markdown(f"**{p.title}**", help=help)
    return st.data_editor(
        tables.rows_frame(default, p),
        column_config=_row_columns(p),
        num_rows="dynamic",
        hide_index=True,
        key=key,
        width="stretch",
    )


def table(p: form.Param, key: str, current: dict[str, Any], help: str) -> pd.DataFrame:
    """The table of the referring sites or of the screening criteria, rows added or
    removed at will, each row's source beside it."""
    sources = st.session_state.loaded.sources
    if p.kind == "sites":
        frame = tables.sites_frame(current["referral"]["sites"], sources)
        columns = _site_columns()
    else:
        screening = current["screening"]
        frame = tables.criteria_frame(
            screening["criteria"], sources, screening.get("criteria_labels")
        )
        columns = _criteria_columns()
    columns["source"] = st.column_config.TextColumn(
        "Source of the default", disabled=True, width="large"
    )
    st.markdown(f"**{p.title}**", help=help)
    edited = st.data_editor(
        frame,
        column_config=columns,
        num_rows="dynamic",
        hide_index=True,
        key=key,
        width="stretch",
    )
    note = sources.notes.get(p.path)
    if note:
        st.caption(note)
    return edited
