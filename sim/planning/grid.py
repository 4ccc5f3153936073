"""Points of a scenario's values: the dotted keys of its numbers, grids of values to sweep,
and a scenario moved to one point (validated like a scenario file)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from typing import Any

from sim.core.errors import InputError
from sim.core.scenario import Scenario, with_overrides
from sim.core.yamlio import parse_yaml

MAX_GRID_POINTS = 10_000
"""A sweep of more points than this is refused (split it, or narrow the grid)."""


def leaves(data: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of every value that is neither a mapping nor a list, list items
    by index: ``referral.sites.0.rate_per_month``."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield from leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from leaves(v, f"{path}.{i}")
    else:
        yield path, data


def is_number(value: Any) -> bool:
    """An int or a float, not a boolean."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def value_at(scenario: Scenario, key: str) -> Any:
    """The scenario's value at a dotted key (list items by index)."""
    node: Any = scenario.to_dict()
    for part in key.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def parse_grid(texts: Sequence[str]) -> dict[str, list[Any]]:
    """``["manufacturing.suites=1,2,3", "apheresis.slots=1..3"]`` -> key -> values.

    Values are YAML scalars separated by commas; ``A..B`` is every whole number from A to B.
    """
    grid: dict[str, list[Any]] = {}
    for text in texts:
        if not isinstance(text, str) or "=" not in text:
            raise InputError(
                "a grid axis is dotted.key=V1,V2,... or dotted.key=A..B, "
                "e.g. manufacturing.suites=1,2,3",
                source="--grid",
                field=str(text),
            )
        key, _, raw = text.partition("=")
        key = key.strip()
        if not key or any(not part.strip() for part in key.split(".")):
            raise InputError(
                "a grid axis is dotted.key=V1,V2,..., e.g. manufacturing.suites=1,2,3",
                source="--grid",
                field=text,
            )
        if key in grid:
            raise InputError("is given twice; give each key one --grid", source="--grid", field=key)
        values = _grid_values(key, raw)
        grid[key] = values
    n = math.prod(len(v) for v in grid.values()) if grid else 0
    if n > MAX_GRID_POINTS:
        raise InputError(
            f"the grid has {n:,} points; at most {MAX_GRID_POINTS:,} are allowed in one sweep",
            source="--grid",
        )
    return grid


def _grid_values(key: str, raw: str) -> list[Any]:
    raw = raw.strip()
    if ".." in raw and "," not in raw:
        a, _, b = raw.partition("..")
        try:
            lo, hi = int(a), int(b)
        except ValueError:
            raise InputError(
                "a range is A..B with whole numbers A <= B",
                source="--grid",
                field=key,
                value=raw,
                has_value=True,
            ) from None
        if lo > hi or hi - lo >= MAX_GRID_POINTS:
            raise InputError(
                f"a range is A..B with A <= B and at most {MAX_GRID_POINTS:,} values",
                source="--grid",
                field=key,
                value=raw,
                has_value=True,
            )
        return list(range(lo, hi + 1))
    parts = [p.strip() for p in raw.split(",")]
    if not raw or any(not p for p in parts):
        raise InputError(
            "needs values separated by commas, e.g. 1,2,3",
            source="--grid",
            field=key,
            value=raw,
            has_value=True,
        )
    values = []
    for p in parts:
        v = parse_yaml(p, f"--grid {key}")
        if v in values:
            raise InputError("repeats a value", source="--grid", field=key, value=p, has_value=True)
        values.append(v)
    return values


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination, the last key varying fastest."""
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def point_scenario(scenario: Scenario, point: dict[str, Any], source: str = "--grid") -> Scenario:
    """``scenario`` with the point's values, validated (errors name ``source``)."""
    overrides = [f"{k}={yaml_scalar(v)}" for k, v in point.items()]
    try:
        return with_overrides(scenario, overrides, source=source)
    except InputError as exc:
        raise exc.with_source(source) if exc.source == "--set" else exc from None


def yaml_scalar(value: Any) -> str:
    """A value as the YAML text of an override (strings quoted)."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)
