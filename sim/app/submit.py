"""From the submitted form to a scenario, without Streamlit: the widgets' values (tables,
distributions) as scenario values, validated like a scenario file, and the YAML to
download."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.app.form import PARAMS, PARAMS_BY_PATH
from sim.app.tables import (
    as_plain,
    criteria_from_frame,
    is_blank,
    labels_from_frame,
    picked,
    rows_from_frame,
    sites_from_frame,
)
from sim.core.distributions import DIST_CLASSES
from sim.core.errors import InputError
from sim.core.scenario import Scenario, apply_overrides, validate_scenario


def as_dist(value: Any) -> dict[str, Any]:
    """A distribution spec as a mapping: a plain number is ``{dist: fixed, value: ...}``."""
    if isinstance(value, Mapping):
        return dict(value)
    return {"dist": "fixed", "value": float(value)}


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


@dataclass(frozen=True)
class DistInput:
    """What a distribution's inputs hold: the kind whose parameter fields were on screen,
    the kind now picked in its selector, and the values of those fields."""

    shown: str
    chosen: str
    params: dict[str, Any]


def dist_from_input(d: DistInput, path: str) -> tuple[dict[str, Any], bool]:
    """The distribution spec of a distribution's inputs, and whether its kind was changed
    (then it is converted to the new kind keeping its mean and spread; a distribution that
    is not valid as it stands is left as it is, for validation to name its fault)."""
    spec: dict[str, Any] = {"dist": d.shown}
    if d.shown == "empirical":
        spec["values"] = parse_values(str(d.params.get("values", "")), path)
    else:
        spec.update({k: as_plain(v) for k, v in d.params.items()})
    if d.chosen != d.shown:
        try:
            return DIST_CLASSES[d.shown].model_validate(spec).convert(d.chosen), True
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
            p = PARAMS_BY_PATH[path]
            if p.kind == "sites":
                out[path] = sites_from_frame(value)
            elif p.kind == "table":
                out[path] = rows_from_frame(value, p)
            else:  # the criteria's table holds their labels too
                out[path] = criteria_from_frame(value)
                if "label" in value.columns:
                    out["screening.criteria_labels"] = labels_from_frame(value)
        elif path in PARAMS_BY_PATH and PARAMS_BY_PATH[path].kind == "multichoice":
            out[path] = picked(value, PARAMS_BY_PATH[path])
        else:
            out[path] = as_plain(value)
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
        if p.kind == "text" and p.nullable and is_blank(value):
            value = None  # a blank description or currency: none
        pairs.append((p.path, value))
    data = apply_overrides(current.to_dict(), pairs)
    return validate_scenario(data, source=source)


def settings_yaml(scenario: Scenario, origin: str) -> str:
    """The scenario as YAML that loads back to the same scenario, with a header line."""
    head = f"# {scenario.name}: settings from the cart-trial-sim dashboard, started from {origin}\n"
    return head + scenario.to_yaml()
