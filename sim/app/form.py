"""The inputs of the settings form, built from the scenario's schema (no Streamlit).

Each value of a :class:`~sim.core.schema.Scenario` is one input (a :class:`Param`): its
label, unit, step, number format, stage and checkbox label come from the field's
:func:`~sim.core.schema.ui` metadata, its help from the field's description, its limits
from the field's constraints (``ge``/``gt``, ``le``/``lt``) and its kind from its type. So a
field, or a change of a limit, is one edit of the schema.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from sim.core.distributions import DIST_CLASSES
from sim.core.schema import STAGES, Scenario, Site, field_docs

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
    "labels",  # the criteria's labels (a column of the criteria's table)
    "multichoice",  # some of a fixed set of choices (weekdays)
    "table",  # a list of rows, each a part of the scenario (its fields the columns)
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
    low_open: bool = False
    """The value must be above ``low`` (not equal to it)."""
    step: float | None = None
    optional: bool = False
    """The value may be left out (null): a checkbox switches it on."""
    nullable: bool = False
    """The value may be null (a blank text, an empty weekday list or table is then left out)."""
    toggle: str = ""
    """Label of that checkbox."""
    choices: tuple[str, ...] = ()
    fmt: str = "%g"
    """How its numbers are shown (printf style)."""
    start: Any = field(default=None, compare=False)
    """The value its input starts from when neither the scenario nor the baseline sets it
    (given in the schema, else the field's default)."""
    columns: tuple[Param, ...] = ()
    """A table's columns: the values of one of its rows (``path.column``)."""

    @property
    def title(self) -> str:
        """The label with its unit: ``Apheresis slots (count)``."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


# --- reading the schema ----------------------------------------------------------------------


def _unwrap(annotation: Any) -> tuple[Any, bool, list[Any]]:
    """The type inside ``Annotated[...]`` and ``X | None``, whether None is allowed, and the
    metadata met on the way (constraints such as ``Gt(0)``)."""
    nullable, found = False, []
    while True:
        args = typing.get_args(annotation)
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            for meta in args[1:]:
                found += meta.metadata if isinstance(meta, FieldInfo) else [meta]
            annotation = args[0]
        elif origin in (typing.Union, types.UnionType) and type(None) in args:
            nullable = True
            rest = tuple(a for a in args if a is not type(None))
            annotation = rest[0] if len(rest) == 1 else typing.Union[rest]  # noqa: UP007
        else:
            return annotation, nullable, found


def _kind(core: Any, constraints: list[Any]) -> str:
    """The input's kind from the type of its value."""
    members = set(typing.get_args(core)) or {core}
    if members <= set(DIST_CLASSES.values()):
        return "dist"
    origin = typing.get_origin(core)
    if origin is list and core != list[Site]:
        item = _unwrap(typing.get_args(core)[0])[0]
        return "multichoice" if typing.get_origin(item) is Literal else "table"
    kinds = {list: "sites", dict: "criteria", Literal: "choice"}
    if origin is dict and typing.get_args(core)[1] is str:
        return "labels"
    if origin in kinds:
        return kinds[origin]
    if isinstance(core, type) and issubclass(core, BaseModel):
        return "block"
    if core is float:
        return "prob" if _limits(constraints) == (0.0, 1.0) else "number"
    scalars = {bool: "bool", int: "integer", dt.date: "date", str: "text"}
    return scalars[core]


def _limits(constraints: list[Any]) -> tuple[float | None, float | None]:
    """The lowest and highest values a field's constraints allow (strict or not)."""
    low = high = None
    for c in constraints:
        if isinstance(c, annotated_types.Ge | annotated_types.Gt):
            low = float(c.ge if isinstance(c, annotated_types.Ge) else c.gt)
        elif isinstance(c, annotated_types.Le | annotated_types.Lt):
            high = float(c.le if isinstance(c, annotated_types.Le) else c.lt)
    return low, high


def _low_open(constraints: list[Any]) -> bool:
    """Whether the lowest value is excluded (``gt``)."""
    return any(isinstance(c, annotated_types.Gt) for c in constraints)


def _form(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    return dict(extra.get("form", {})) if isinstance(extra, Mapping) else {}


def _walk(
    model: type[BaseModel], prefix: str, stage: str, rank: int
) -> Iterator[tuple[int, Param]]:
    """(rank, input) of each value of ``model``, in the schema's order; a required block
    gives its fields only, an optional one its switch and then its fields."""
    for name, info in model.model_fields.items():
        meta = _form(info)
        path = prefix + (info.alias or name)
        if meta.get("hidden"):  # not in the form yet: the scenario's value is kept
            continue
        here, at = meta.get("stage", stage), meta.get("rank", rank)
        core, nullable, found = _unwrap(info.annotation)
        kind = _kind(core, [*info.metadata, *found])
        if kind == "block" and not nullable:
            yield from _walk(core, path + ".", here, at)
            continue
        constraints = [*info.metadata, *found]
        low, high = _limits(constraints)
        item = _unwrap(typing.get_args(core)[0])[0] if kind in ("multichoice", "table") else None
        param = Param(
            path,
            meta.get("label", name),
            unit=meta.get("unit", ""),
            kind=kind,
            stage=here,
            help=" ".join(field_docs(model).get(name, "").split()),
            low=low,
            high=high,
            low_open=_low_open(constraints),
            step=meta.get("step", 1 if kind == "integer" else None),
            optional="toggle" in meta,
            nullable=nullable,
            toggle=meta.get("toggle", ""),
            choices=typing.get_args(core if kind == "choice" else item)
            if kind in ("choice", "multichoice")
            else (),
            fmt=meta.get("fmt", "%g"),
            start=meta.get("start", _default(info)),
            columns=params_of(item, path + ".", here) if kind == "table" else (),
        )
        yield at, param
        if kind == "block":
            yield from _walk(core, path + ".", here, at)


def _default(info: FieldInfo) -> Any:
    """A field's default as plain data (None when it has none)."""
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return None
    else:
        value = info.default
    return value.model_dump(by_alias=True) if isinstance(value, BaseModel) else value


def params_of(model: type[BaseModel], prefix: str = "", stage: str = "") -> tuple[Param, ...]:
    """The inputs of a model's values, by stage (in :data:`STAGES` order) and rank, else in
    the schema's order."""
    found = list(_walk(model, prefix, stage, 0))
    order = {s: i for i, s in enumerate(STAGES)}
    found.sort(key=lambda item: (order.get(item[1].stage, -1), item[0]))
    return tuple(p for _, p in found)


PARAMS: tuple[Param, ...] = params_of(Scenario)
"""Every input of a scenario, grouped by pathway stage."""
PARAMS_BY_PATH = {p.path: p for p in PARAMS}
SITE_PARAMS: tuple[Param, ...] = params_of(Site, "referral.sites.", stage=STAGES[0])
"""The columns of the table of referring sites (a site's values)."""


def _hidden(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    for name, info in model.model_fields.items():
        path = prefix + (info.alias or name)
        if _form(info).get("hidden"):
            yield path
            continue
        core, _, _ = _unwrap(info.annotation)
        if isinstance(core, type) and issubclass(core, BaseModel):
            yield from _hidden(core, path + ".")


NOT_IN_FORM: tuple[str, ...] = tuple(_hidden(Scenario))
"""Fields (and blocks) the form does not show yet (``ui(in_form=False)``): a scenario's
values there are kept as they are when the form is submitted."""


def params_in(stage: str) -> list[Param]:
    """The inputs of one stage, in the form's order."""
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


# --- the values the inputs start from --------------------------------------------------------


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


def default_value(path: str, current: Mapping[str, Any], fallback: Mapping[str, Any] | None) -> Any:
    """The value a form input starts from: the current scenario's, else the fallback
    scenario's (for a part the current one leaves out, or a value switched off), else the
    schema's ``start``. A value that may be empty (a weekday list, a table, a region) is
    the current scenario's, empty or not, when its part is there. The app passes
    baseline.yaml as the fallback (:data:`sim.app.session.FALLBACK_FILES`)."""
    value = get_path(current, path)
    p = PARAMS_BY_PATH.get(path)
    parent = path.rpartition(".")[0]
    own = p is not None and p.nullable and not p.optional and p.kind != "block"
    if own and (not parent or get_path(current, parent) is not None):
        return value
    if value is None and fallback is not None:
        value = get_path(fallback, path)
    if value is None and path == "target.deadline":
        start = current.get("start_date")
        if isinstance(start, dt.date):  # five years on (28 February for a 29th)
            value = start.replace(year=start.year + 5, day=min(start.day, 28))
    if value is None and path in PARAMS_BY_PATH:
        value = PARAMS_BY_PATH[path].start
    return value
