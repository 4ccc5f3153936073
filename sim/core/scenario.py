"""The scenario: an immutable, validated description of one trial's logistics.

Loaded from YAML (DESIGN.md section 4). Times are in days from ``start_date``; a month is
365.25/12 days. Every field name carries its unit or kind (``_days``, ``_per_month``,
``_prob``, ``_kg``, ``slots``/``suites``/``beds`` for counts).
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.core.distributions import (
    DIST_CLASSES,
    DIST_NAMES,
    Duration,
    Fixed,
    NonNegQuantity,
    PositiveQuantity,
)
from sim.core.errors import InputError
from sim.core.yamlio import dump_yaml, parse_yaml, read_text

DAYS_PER_MONTH = 365.25 / 12
"""A month, in days, everywhere in the project."""

MILESTONES = ("enrolled", "apheresed", "infused")

Prob = Annotated[float, Field(ge=0, le=1)]
NonNeg = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=1, le=10_000)]
"""A count of units (slots, suites, beds): 1 to 10,000."""
Attempts = Annotated[int, Field(ge=1, le=100)]
"""Attempts in all, the first included: 1 to 100."""
MAX_HORIZON_DAYS = 36525.0


class _Block(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, allow_inf_nan=False, populate_by_name=True
    )


class Target(_Block):
    count: Annotated[int, Field(ge=1, le=1_000_000)]
    """Number of patients that must reach the milestone."""
    milestone: Literal["enrolled", "apheresed", "infused"] = "infused"
    deadline: Annotated[dt.date | None, Field(strict=False)] = None

    def as_dict(self) -> dict[str, object]:
        """The target as plain data, for summaries: count, milestone, deadline (ISO)."""
        return {
            "count": self.count,
            "milestone": self.milestone,
            "deadline": self.deadline.isoformat() if self.deadline else None,
        }


class Site(_Block):
    name: Annotated[str, Field(min_length=1)]
    rate_per_month: Annotated[float, Field(ge=0, le=100_000)]
    """Mean referrals per month at full rate."""
    opens_day: NonNeg = 0.0
    ramp_up_days: NonNeg = 0.0
    """Days over which the rate rises linearly from zero to full after opening."""
    rate_shape: Annotated[float, Field(gt=0)] | None = None
    """This site's gamma shape, overriding referral.rate_shape (a forecast sets it)."""


class Referral(_Block):
    sites: Annotated[list[Site], Field(min_length=1)]
    rate_shape: Annotated[float, Field(gt=0)] | None = None
    """Shape of the gamma from which each replication draws each site's rate (mean kept)."""

    @model_validator(mode="after")
    def _unique_names(self) -> Referral:
        names = [s.name for s in self.sites]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"site names must be unique; repeated: {', '.join(dupes)}")
        return self


class Screening(_Block):
    duration_days: Duration
    consent_decline_prob: Prob
    criteria: dict[Annotated[str, Field(min_length=1)], Prob] = Field(default_factory=dict)
    """Criterion name -> probability that a patient fails it (independent criteria)."""


class Patients(_Block):
    weight_kg: PositiveQuantity
    height_cm: PositiveQuantity


class Apheresis(_Block):
    slots: Count
    duration_days: Duration
    weekdays_only: bool = False
    failure_prob: Prob
    max_attempts: Attempts
    """All attempts, the first included (1 = no retry)."""
    retry_after_days: Duration


class Manufacturing(_Block):
    suites: Count
    """Batches that can be made at once."""
    duration_days: Duration
    qc_release_days: Duration
    """Delay from the batch leaving its suite to release; does not hold the suite."""
    failure_prob: Prob
    max_attempts: Attempts
    yield_cells: NonNegQuantity | None = None
    """Total cells of one batch; a batch below dose.min_per_kg x weight fails."""
    recollect_on_failure: bool = False
    """After a failed batch, collect again (True) or remake from stored cells (False)."""


class Dose(_Block):
    min_per_kg: Annotated[float, Field(gt=0)]
    max_per_kg: Annotated[float, Field(gt=0)]

    @model_validator(mode="after")
    def _ordered(self) -> Dose:
        if self.max_per_kg < self.min_per_kg:
            raise ValueError(
                f"max_per_kg ({self.max_per_kg:g}) must be at least min_per_kg "
                f"({self.min_per_kg:g})"
            )
        return self


class Bridging(_Block):
    prob: Prob
    time_ratio: Annotated[float, Field(gt=0)]
    """Factor on the time left to deterioration from the start of bridging (after apheresis)."""


class Deterioration(_Block):
    time_to_event_days: Duration
    """Latent time from referral to death or loss of eligibility."""
    bridging: Bridging | None = None


class Conditioning(_Block):
    days_before_infusion: NonNeg
    fludarabine_mg_per_m2_per_day: NonNeg
    cyclophosphamide_mg_per_m2_per_day: NonNeg
    treatment_days: Annotated[int, Field(ge=0)]

    @model_validator(mode="after")
    def _fits(self) -> Conditioning:
        if self.treatment_days > self.days_before_infusion:
            raise ValueError(
                f"treatment_days ({self.treatment_days}) must fit within days_before_infusion "
                f"({self.days_before_infusion:g})"
            )
        return self


class Infusion(_Block):
    beds: Count
    stay_days: Duration
    """Bed days from infusion (day 0) to discharge."""
    icu_prob: Prob
    icu_days: Duration = Fixed(value=0.0)
    """Intensive-care days of a patient who needs them (part of the stay)."""


class Scenario(_Block):
    """One trial's logistics. Immutable; build variants with :func:`with_overrides`."""

    name: Annotated[str, Field(min_length=1)]
    description: str | None = None
    start_date: Annotated[dt.date, Field(strict=False)]
    horizon_days: Annotated[float, Field(gt=0, le=MAX_HORIZON_DAYS)]
    target: Target
    follow_up_days: NonNeg = 0.0
    referral: Referral
    screening: Screening
    patients: Patients
    apheresis: Apheresis
    manufacturing: Manufacturing
    dose: Dose
    deterioration: Deterioration | None = None
    conditioning: Conditioning
    infusion: Infusion

    @field_validator("target")
    @classmethod
    def _deadline_after_start(cls, target: Target, info: ValidationInfo) -> Target:
        start = info.data.get("start_date")
        if start is not None and target.deadline is not None and target.deadline < start:
            raise ValueError(
                f"deadline ({target.deadline}) must not be before start_date ({start})"
            )
        return target

    @property
    def deadline_day(self) -> float | None:
        """The deadline as days from the start, or None."""
        d = self.target.deadline
        return None if d is None else float((d - self.start_date).days)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that validates back to an equal scenario."""
        return self.model_dump(mode="python", by_alias=True, exclude_none=False)

    def to_yaml(self) -> str:
        return dump_yaml(self.to_dict())

    def digest(self) -> str:
        """SHA-256 of the scenario's canonical JSON: same digest, same scenario."""
        data = self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        text = json.dumps(data, sort_keys=True)  # defaults left out: new optional fields
        # leave the digests of existing scenarios unchanged
        return hashlib.sha256(text.encode()).hexdigest()


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
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, data, source, list(overrides)) from None
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


def _explain(
    exc: ValidationError, data: Any, source: str, overrides: list[tuple[str, Any]]
) -> InputError:
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
        allowed = _allowed_keys(raw_loc[:-1])
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


def _allowed_keys(loc: Sequence[Any]) -> list[str]:
    """Field names of the model found at ``loc`` inside a Scenario (for unknown-key hints)."""
    model: Any = Scenario
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
