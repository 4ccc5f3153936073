"""Loading a scenario: read, parse and validate a scenario file, with ``--set`` overrides,
and explain a validation error on one line (file, field, value and what is allowed).

The scenario's models are :mod:`sim.core.schema`; their names are importable from here too.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.core.distributions import DIST_CLASSES, DIST_NAMES
from sim.core.errors import InputError
from sim.core.fields import (
    DAYS_PER_MONTH,
    MAX_HORIZON_DAYS,
    MAX_REFERRALS,
    MILESTONES,
    Attempts,
    Count,
    NonNeg,
    Prob,
)
from sim.core.schema import (
    Apheresis,
    Bridging,
    Conditioning,
    Deterioration,
    Dose,
    Infusion,
    Manufacturing,
    Patients,
    Referral,
    Scenario,
    Screening,
    Site,
    Target,
)
from sim.core.yamlio import parse_yaml, read_text

__all__ = [
    "DAYS_PER_MONTH",
    "MAX_HORIZON_DAYS",
    "MAX_REFERRALS",
    "MILESTONES",
    "Apheresis",
    "Attempts",
    "Bridging",
    "Conditioning",
    "Count",
    "Deterioration",
    "Dose",
    "Infusion",
    "Manufacturing",
    "NonNeg",
    "Patients",
    "Prob",
    "Referral",
    "Scenario",
    "Screening",
    "Site",
    "Target",
    "apply_overrides",
    "load_scenario",
    "parse_override",
    "parse_scenario",
    "validate_scenario",
    "with_overrides",
]


# --- loading ---------------------------------------------------------------------------------


def load_scenario(path: str, overrides: Sequence[str] = ()) -> Scenario:
    """Read, parse and validate a scenario file, applying ``--set`` style overrides."""
    text = read_text(str(path))
    return parse_scenario(text, source=str(path), overrides=overrides)


def parse_scenario(
    text: str, source: str = "<scenario>", overrides: Sequence[str] = ()
) -> Scenario:
    """Validate scenario YAML text; every error names ``source``, the field and the value."""
    data = parse_yaml(text, source)
    if data is None:
        raise InputError(
            "is empty; a scenario is a YAML mapping of the keys in the README", source=source
        )
    if not isinstance(data, dict):
        raise InputError(
            f"must be a YAML mapping of scenario keys, not a {type(data).__name__}", source=source
        )
    parsed = [parse_override(o) for o in overrides]
    data = apply_overrides(data, parsed)
    return validate_scenario(data, source=source, overrides=parsed)


def validate_scenario(
    data: dict[str, Any],
    source: str = "<scenario>",
    overrides: Iterable[tuple[str, Any]] = (),
) -> Scenario:
    """Validate plain data as a scenario; an error is an :class:`InputError` naming
    ``source`` (or ``--set`` when an override set the field), the field and the value."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise explain(exc, data, source, list(overrides)) from None
    except RecursionError:
        raise InputError("nested too deeply", source=source) from None


def with_overrides(scenario: Scenario, overrides: Sequence[str], source: str = "--set") -> Scenario:
    """A new scenario: ``scenario`` with ``dotted.key=value`` overrides, validated."""
    parsed = [parse_override(o) for o in overrides]
    data = apply_overrides(scenario.to_dict(), parsed)
    return validate_scenario(data, source=source, overrides=parsed)


def parse_override(text: str) -> tuple[str, Any]:
    """``"manufacturing.suites=3"`` -> ``("manufacturing.suites", 3)``; the value is YAML."""
    if not isinstance(text, str) or "=" not in text:
        raise InputError(
            "an override is dotted.key=value, e.g. manufacturing.suites=3",
            source="--set",
            field=str(text),
            value=text,
        )
    key, _, raw = text.partition("=")
    key = key.strip()
    parts = key.split(".")
    if not key or any(not p.strip() for p in parts):
        raise InputError(
            "an override is dotted.key=value, e.g. manufacturing.suites=3",
            source="--set",
            field=text,
        )
    try:
        value = parse_yaml(raw, f"--set {key}")
    except InputError as exc:
        raise InputError(
            exc.problem, source="--set", field=key, value=raw, has_value=True
        ) from None
    return key, value


def apply_overrides(data: dict[str, Any], overrides: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """A deep copy of ``data`` with each ``(dotted.key, value)`` set; list items by index."""
    data = copy.deepcopy(data)
    for key, value in overrides:
        parts = key.split(".")
        node: Any = data
        for i, part in enumerate(parts[:-1]):
            node = _child(node, part, ".".join(parts[: i + 1]), key, create=True)
        last = parts[-1]
        if isinstance(node, list):
            idx = _index(node, last, key)
            node[idx] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise InputError(
                f"cannot set {last!r} inside a value that is not a mapping",
                source="--set",
                field=key,
            )
    return data


def _child(node: Any, part: str, path: str, key: str, create: bool) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, key)]
    if isinstance(node, dict):
        if node.get(part) is None and create:
            node[part] = {}
        return node[part]
    raise InputError(f"{path} is not a mapping, so {key} cannot be set", source="--set", field=key)


def _index(node: list, part: str, key: str) -> int:
    try:
        idx = int(part)
    except ValueError:
        raise InputError(
            f"{part!r} is not a list index (0 to {len(node) - 1})", source="--set", field=key
        ) from None
    if not 0 <= idx < len(node):
        raise InputError(
            f"list index {idx} is out of range 0 to {len(node) - 1}", source="--set", field=key
        )
    return idx


# --- error messages ----------------------------------------------------------------------------


PLAIN_WORDS = (
    (r"^Input should be greater than or equal to (.+)$", r"must be at least \1"),
    (r"^Input should be greater than (.+)$", r"must be above \1"),
    (r"^Input should be less than or equal to (.+)$", r"must be at most \1"),
    (r"^Input should be less than (.+)$", r"must be below \1"),
    (r"^List should have at least 1 item.*$", "needs at least one row"),
    (r"^List should have at least (\d+) items.*$", r"needs at least \1 rows"),
    (r"^List should have at most (\d+) items.*$", r"may have at most \1 rows"),
    (r"^String should have at least 1 character.*$", "must not be empty"),
    (r"^Input should be a valid integer.*$", "must be a whole number"),
    (r"^Input should be a valid number.*$", "must be a number"),
    (r"^Input should be a valid date.*$", "must be a date (YYYY-MM-DD)"),
    (r"^Input should be a valid boolean.*$", "must be true or false"),
    (r"^Input should be a valid string.*$", "must be text"),
    (r"^Input should be a valid list.*$", "must be a list"),
    (r"^Input should be a finite number.*$", "must be a finite number"),
    (r"^Input should be a valid dictionary.*$", "must be a mapping of keys and values"),
    (r"^Input should be (.+)$", r"must be \1"),
    (
        r"^Datetimes provided to dates should have zero time.*$",
        "must be a date without a time of day (YYYY-MM-DD)",
    ),
    (r"^Keys should be strings.*$", "keys must be text"),
    (r"^is required but missing$", "is empty, and it is required"),
)
"""Pydantic's validation messages in plain words (``must be at least 1`` for ``Input should
be greater than or equal to 1``): every error a user sees, on the command line and in the
dashboard, says what is allowed this way."""


def plain_words(problem: str) -> str:
    """A validation message in plain words (see :data:`PLAIN_WORDS`)."""
    for pattern, repl in PLAIN_WORDS:
        problem = re.sub(pattern, repl, problem)
    return problem


def explain(
    exc: ValidationError,
    data: Any,
    source: str,
    overrides: list[tuple[str, Any]],
    root: type[BaseModel] = Scenario,
) -> InputError:
    """A validation error of ``root`` (a scenario, or a facility file) as one
    :class:`InputError` naming the file (or ``--set``), the field, the value and what is
    allowed."""
    err = exc.errors(include_url=False)[0]
    raw_loc = err["loc"]
    loc = [
        p
        for p in raw_loc
        if not (isinstance(p, str) and (p in DIST_NAMES or p.startswith("function-")))
    ]
    field = _dotted(loc)
    msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    kind = err["type"]
    value, has_value = err.get("input"), True
    if kind == "extra_forbidden":
        allowed = _allowed_keys(raw_loc[:-1], root)
        name = str(loc[-1]) if loc else ""
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        msg = f"unknown key{hint}; allowed here: {', '.join(allowed)}"
        has_value = False
    elif kind == "missing":
        msg = "is required but missing"
        has_value = False
    elif isinstance(value, list) or (isinstance(value, dict) and "dist" not in value):
        has_value = False
    msg = plain_words(msg)
    if not field:
        field = "(top level)"
    where = source
    for key, _ in overrides:
        key = _dotted([int(p) if p.isdecimal() and p.isascii() else p for p in key.split(".")])
        parent = key.rsplit(".", 1)[0] if "." in key else key
        if (
            field == key
            or field.startswith((key + ".", key + "[", parent + "."))
            or (key.startswith(field + "."))
        ):
            where = "--set"
    return InputError(msg, source=where, field=field, value=value, has_value=has_value)


def _dotted(loc: Sequence[Any]) -> str:
    out = ""
    for p in loc:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out


def _allowed_keys(loc: Sequence[Any], root: type[BaseModel] = Scenario) -> list[str]:
    """Field names of the model found at ``loc`` inside ``root`` (for unknown-key hints)."""
    model: Any = root
    for part in loc:
        if isinstance(part, int) or (isinstance(part, str) and part.startswith("function-")):
            continue
        if part in DIST_CLASSES and "dist" in getattr(model, "model_fields", {}):
            model = DIST_CLASSES[part]  # the member of a distribution union, by its tag
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = _model_in(field.annotation)
        if model is None:
            return []
    fields = getattr(model, "model_fields", {})
    return [f.alias or name for name, f in fields.items()]


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    meta = getattr(annotation, "__origin__", None)
    if meta is not None and isinstance(meta, type) and issubclass(meta, BaseModel):
        return meta
    return None
