"""The ranges over which sensitivity varies a scenario's numbers: from a ranges file
(``dotted.key: [low, high]``, validated against the scenario) or by default from the
scenario itself.

By default: +/-25% of every number that is not a count or a date and is not a probability at
0 or 1 (probabilities clipped to [0, 1], distribution parameters kept in order), and +/-1 for
whole counts; the start, horizon, target and follow-up define the question and are left out.
"""

from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sim.core.errors import InputError
from sim.core.scenario import Scenario
from sim.core.yamlio import parse_yaml, read_text
from sim.planning.grid import is_number, leaves, point_scenario

DEFAULT_RELATIVE = 0.25
EXCLUDED = ("start_date", "horizon_days", "follow_up_days", "target")
"""Top-level keys that define the question rather than the trial's logistics."""
MAX_GROUP_CORNERS = 12
"""Ranges of up to this many keys of one block are checked at every corner."""


@dataclass(frozen=True)
class Parameter:
    """One varied scenario value: its dotted key, the scenario's value and the range."""

    key: str
    base: float
    low: float
    high: float
    integer: bool = False


def numeric_values(scenario: Scenario) -> dict[str, int | float]:
    """Every number of the scenario by dotted key (distribution parameters included;
    booleans, text and dates left out)."""
    return {k: v for k, v in leaves(scenario.to_dict()) if is_number(v)}


def _is_probability(key: str) -> bool:
    last = key.rsplit(".", 1)[-1]
    return last == "prob" or last.endswith("_prob") or key.startswith("screening.criteria.")


def _excluded(key: str) -> bool:
    return key.split(".", 1)[0] in EXCLUDED


def default_ranges(
    scenario: Scenario, relative: float = DEFAULT_RELATIVE, combined: bool = False
) -> list[Parameter]:
    """+/-``relative`` of each number (whole counts +/-1), clipped to valid values; numbers
    at zero, probabilities at 0 or 1, and ranges that clip to nothing are left out.

    ``combined`` (the global methods, which vary every number at once): values that must
    stay in order (a distribution's low, mode and high; the minimum and maximum dose; the
    conditioning's treatment days within its lead) get ranges that meet at most half way
    between their scenario values, so that every combination is a valid scenario.
    """
    values = numeric_values(scenario)
    params = []
    for key, base in values.items():
        if _excluded(key):
            continue
        integer = isinstance(base, int)
        if integer:
            low, high = base - 1, base + 1
        else:
            if base == 0 or (_is_probability(key) and base in (0.0, 1.0)):
                continue
            low, high = sorted((base * (1 - relative), base * (1 + relative)))
            if _is_probability(key):
                low, high = max(low, 0.0), min(high, 1.0)
            low, high = _clip_to_siblings(key, values, low, high)
        low = _shrink_to_valid(scenario, key, base, low, integer)
        high = _shrink_to_valid(scenario, key, base, high, integer)
        if high - low > 0:
            params.append(Parameter(key, float(base), float(low), float(high), integer))
    return _apart(params) if combined else params


ORDERED = (
    ("low", "mode", "high"),
    ("min_per_kg", "max_per_kg"),
    ("treatment_days", "days_before_infusion"),
)
"""Values of one block that the schema keeps in this order (each at most the next)."""


def _apart(params: list[Parameter]) -> list[Parameter]:
    """Ranges of values kept in order, cut where they overlap at the point half way between
    the two scenario values (rounded down and up for whole counts); a range cut to nothing
    is left out."""
    by_key = {p.key: p for p in params}
    for names in ORDERED:
        for parent in {p.key.rpartition(".")[0] for p in params}:
            chain = [by_key.get(f"{parent}.{n}" if parent else n) for n in names]
            present = [p for p in chain if p is not None]
            for a, b in itertools.pairwise(present):
                a, b = by_key[a.key], by_key[b.key]  # as cut so far
                if a.high <= b.low:
                    continue
                mid = (a.base + b.base) / 2
                by_key[a.key] = replace(a, high=math.floor(mid) if a.integer else mid)
                by_key[b.key] = replace(b, low=math.ceil(mid) if b.integer else mid)
    return [q for q in (by_key[p.key] for p in params) if q.high > q.low]


def _clip_to_siblings(
    key: str, values: dict[str, int | float], low: float, high: float
) -> tuple[float, float]:
    """Keep a distribution's low <= mode <= high when one of them moves."""
    parent, _, name = key.rpartition(".")
    sib = {n: values.get(f"{parent}.{n}") for n in ("low", "mode", "high")}
    if name == "low":
        cap = sib["mode"] if sib["mode"] is not None else sib["high"]
        high = min(high, cap) if cap is not None else high
    elif name == "mode":
        low = max(low, sib["low"]) if sib["low"] is not None else low
        high = min(high, sib["high"]) if sib["high"] is not None else high
    elif name == "high":
        floor = sib["mode"] if sib["mode"] is not None else sib["low"]
        low = max(low, floor) if floor is not None else low
    return low, high


def _valid(scenario: Scenario, assignment: dict[str, float]) -> str | None:
    """None if the scenario with these values is valid, else the reason."""
    try:
        point_scenario(scenario, assignment, source="ranges")
    except InputError as exc:
        return exc.problem
    return None


def _shrink_to_valid(scenario: Scenario, key: str, base: float, end: float, integer: bool) -> float:
    """``end``, or the value nearest to it on the way to ``base`` that keeps the scenario
    valid (the last resort after the explicit clips)."""
    if _valid(scenario, {key: cast(end, integer)}) is None:
        return end
    if integer:
        step = 1 if end < base else -1
        v = int(end)
        while v != base and _valid(scenario, {key: v}) is not None:
            v += step
        return float(v)
    good, bad = base, end
    for _ in range(40):
        mid = (good + bad) / 2
        if _valid(scenario, {key: mid}) is None:
            good = mid
        else:
            bad = mid
    return good


def cast(value: float, integer: bool) -> int | float:
    return int(np.rint(value)) if integer else float(value)


def load_ranges(path: str, scenario: Scenario, method: str = "oat") -> list[Parameter]:
    """Read and validate a ranges file (YAML of ``dotted.key: [low, high]``)."""
    return parse_ranges(read_text(str(path)), str(path), scenario, method)


def parse_ranges(
    text: str, source: str, scenario: Scenario, method: str = "oat"
) -> list[Parameter]:
    """Validate ranges against ``scenario``; every error is one line naming ``source`` and the
    key: unknown keys, ends that are not numbers, low above high, and values that make the
    scenario invalid (for the global methods, any combination within one block)."""
    data = parse_yaml(text, source)
    if not isinstance(data, dict) or not data:
        raise InputError(
            "must be a YAML mapping of dotted.key: [low, high], e.g. "
            "manufacturing.duration_days.mode: [8, 11]",
            source=source,
        )
    values = numeric_values(scenario)
    dicts = _distribution_keys(scenario)
    params = []
    for raw_key, rng in data.items():
        key = str(raw_key)
        if key in dicts:
            if dicts[key] is None:
                key = f"{key}.value"
            else:
                raise InputError(
                    f"is a distribution; give its parameters instead: {dicts[key]}",
                    source=source,
                    field=key,
                )
        if key not in values:
            close = difflib.get_close_matches(key, list(values), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InputError(
                f"is not a number of the scenario{hint}; keys are dotted paths such as "
                "manufacturing.duration_days.mode or referral.sites.0.rate_per_month",
                source=source,
                field=key,
            )
        if _excluded(key):
            raise InputError(
                "defines the question (start, horizon, target, follow-up), not a parameter to vary",
                source=source,
                field=key,
            )
        if (
            not isinstance(rng, list)
            or len(rng) != 2
            or any(isinstance(v, bool) or not isinstance(v, int | float) for v in rng)
            or not all(math.isfinite(v) for v in rng)
        ):
            raise InputError(
                "must be [low, high], two numbers",
                source=source,
                field=key,
                value=rng,
                has_value=True,
            )
        low, high = float(rng[0]), float(rng[1])
        if low > high:
            raise InputError(
                "low is above high", source=source, field=key, value=rng, has_value=True
            )
        integer = isinstance(values[key], int)
        if integer and not (low.is_integer() and high.is_integer()):
            raise InputError(
                "is a whole count: its range needs whole numbers",
                source=source,
                field=key,
                value=rng,
                has_value=True,
            )
        if method != "oat" and low == high:
            raise InputError(
                f"low equals high; the {method} method needs a range of some width",
                source=source,
                field=key,
                value=rng,
                has_value=True,
            )
        for end in (low, high):
            why = _valid(scenario, {key: cast(end, integer)})
            if why is not None:
                raise InputError(
                    f"makes the scenario invalid: {why}",
                    source=source,
                    field=key,
                    value=cast(end, integer),
                    has_value=True,
                )
        params.append(Parameter(key, float(values[key]), low, high, integer))
    if method != "oat":
        check_combinations(scenario, params, source)
    return params


def _distribution_keys(scenario: Scenario) -> dict[str, str | None]:
    """Dotted keys of distributions -> their parameter keys (None for a fixed value)."""
    out: dict[str, str | None] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if "dist" in node and path:
                names = [k for k in node if k != "dist"]
                out[path] = (
                    None if node["dist"] == "fixed" else ", ".join(f"{path}.{n}" for n in names)
                )
            for k, v in node.items():
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}.{i}")

    walk(scenario.to_dict(), "")
    return out


def check_combinations(scenario: Scenario, params: Sequence[Parameter], source: str) -> None:
    """Global methods combine ranges: check every corner of the ranges within each block
    (the schema's cross-field rules live within one block, and they are linear, so valid
    corners mean a valid box)."""
    groups: dict[str, list[Parameter]] = {}
    for p in params:
        groups.setdefault(p.key.rpartition(".")[0], []).append(p)
    for group in groups.values():
        if len(group) < 2 or len(group) > MAX_GROUP_CORNERS:
            continue
        for corner in itertools.product(*[(p.low, p.high) for p in group]):
            assignment = {p.key: cast(v, p.integer) for p, v in zip(group, corner, strict=True)}
            why = _valid(scenario, assignment)
            if why is not None:
                shown = ", ".join(f"{k}={v:g}" for k, v in assignment.items())
                raise InputError(
                    f"these ranges combine into an invalid scenario at {shown}: {why}",
                    source=source,
                    field=", ".join(p.key for p in group),
                )
