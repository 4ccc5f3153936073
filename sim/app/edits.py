"""The settings in plain words, without Streamlit: what is wrong with a field (its name,
value, allowed range and unit), the edits made to the loaded scenario and the name they
give it, the edits as ``--set`` style overrides (the page's URL keeps them), and what
changed between two runs."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sim.app.form import (
    PARAMS,
    SITE_PARAMS,
    Param,
    get_path,
    param_for_field,
)
from sim.app.sources import describe_value
from sim.core.errors import InputError
from sim.core.scenario import (
    Scenario,
    apply_overrides,
    parse_override,
    plain_words,
    validate_scenario,
)
from sim.report.text import date_label, pct, plain

NUMBER_KINDS = ("number", "integer", "prob")
NAMES_MAX = 90
"""Characters of edits in an edited scenario's name at most (the rest are counted)."""
SKIPPED = ("name", "description")
"""Values that are not edits of the model (the name follows the edits)."""

# --- what is wrong with a value ---------------------------------------------------------------


def allowed(p: Param) -> str:
    """What a number field allows, in words: ``a whole number from 1 to 10,000``."""
    what = "a whole number" if p.kind == "integer" else "a number"
    low = None if p.low is None else f"{p.low:,g}"
    high = None if p.high is None else f"{p.high:,g}"
    if low is not None and high is not None and not p.low_open:
        return f"{what} from {low} to {high}"
    parts = []
    if low is not None:
        parts.append(f"above {low}" if p.low_open else f"at least {low}")
    if high is not None:
        parts.append(f"at most {high}")
    return f"{what} {' and '.join(parts)}" if parts else what


def _unit(p: Param) -> str:
    return f" ({p.unit})" if p.unit else ""


def field_problem(p: Param, value: Any) -> str | None:
    """What is wrong with the value of a number field, in plain words (None when it is
    allowed): ``Beds = 0: not allowed; it must be a whole number from 1 to 10,000 (count)``."""
    if p.kind not in NUMBER_KINDS or (value is None and p.optional):
        return None
    rule = f"it must be {allowed(p)}{_unit(p)}"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{p.label} is empty: {rule}"
    x = float(value)
    bad = (
        (p.kind == "integer" and not x.is_integer())
        or (p.low is not None and (x <= p.low if p.low_open else x < p.low))
        or (p.high is not None and x > p.high)
    )
    return f"{p.label} = {plain(value)}: not allowed; {rule}" if bad else None


_PLAIN = ((r"<=", "≤"),)
"""The form's own touches on top of the plain words every message has already
(:func:`sim.core.scenario.plain_words`)."""


def plain_problem(problem: str) -> str:
    """A validation message in plain words (``must be at least 1`` for pydantic's
    ``Input should be greater than or equal to 1``)."""
    text = plain_words(problem)
    for pattern, repl in _PLAIN:
        text = re.sub(pattern, repl, text)
    return text


def plain_message(exc: InputError) -> tuple[str | None, str]:
    """An invalid scenario in the form's words: the path of the input it belongs to (None
    when none does) and ``Stage › Label = value: problem (allowed: ...)``; never the
    internal names of fields or a mapping's text."""
    p = param_for_field(exc.field)
    problem = plain_problem(exc.problem)
    inner = _named_in(exc.field, problem)
    whole = inner is not None and (p is None or p.kind == "block")
    if whole:  # two values that do not go together: at the first one named
        p, problem = inner, _labels_for_names(exc.field, problem)
        problem = problem.removeprefix(f"{p.label.lower()}: ")
    if p is None:
        where = f"{exc.field}: " if exc.field else ""
        return None, f"{where}{problem}"
    shown = ""
    if exc.has_value and not isinstance(exc.value, list | tuple):
        text = describe_value(exc.value, p)
        shown = f" = {text}" if text else ""
    row = _row(exc.field, p)
    if shown:
        problem = re.sub(r", got .*$", "", problem)  # the value is shown already
    rule = ""
    if p.kind in NUMBER_KINDS and not row and problem.startswith("must be"):
        problem, rule = f"must be {allowed(p)}", _unit(p)
    elif p.unit and p.kind not in ("sites", "criteria", "table") and not whole:
        rule = f" ({p.unit})"
    return p.path, f"{p.stage} › {p.label}{row}{shown}: {problem}{rule}"


def _row(field: str | None, p: Param) -> str:
    """``, row 2 (Rate)`` for an error inside a table (the sites, the dose levels...)."""
    m = re.match(rf"^{re.escape(p.path)}\[(\d+)\]\.?(\w*)", field or "")
    if not m:
        return ""
    path = f"{p.path}.{m.group(2)}"
    columns = (*p.columns, *SITE_PARAMS, *PARAMS)
    label = next((c.label for c in columns if c.path == path), None) if m.group(2) else None
    return f", row {int(m.group(1)) + 1}" + (f" ({label})" if label else "")


def _inside(block: str | None) -> list[Param]:
    """The inputs of the values right inside a part of the scenario (``apheresis``)."""
    if not block:
        return []
    return [p for p in PARAMS if p.path.rpartition(".")[0] == block]


def _named_in(block: str | None, problem: str) -> Param | None:
    """For a problem of a whole part of the scenario (two of its values that do not go
    together), the input of the value it names first: ``weekdays_only is true but days
    include Sat`` -> Collect on weekdays only."""
    found = [
        (m.start(), p)
        for p in _inside(block)
        if (m := re.search(rf"\b{re.escape(p.path.rpartition('.')[2])}\b", problem))
    ]
    return min(found, key=lambda f: f[0])[1] if found else None


def _labels_for_names(block: str | None, problem: str) -> str:
    """A problem of a whole part with its values' names in the form's words (their labels
    in lower case): ``collect on weekdays only is true but collection days include Sat``."""
    for p in _inside(block):
        key = p.path.rpartition(".")[2]
        problem = re.sub(rf"\b{re.escape(key)}\b", p.label.lower(), problem)
        for c in p.columns:
            problem = re.sub(
                rf"\b{re.escape(c.path.rpartition('.')[2])}\b", c.label.lower(), problem
            )
    return problem


# --- the edits made to a scenario --------------------------------------------------------------


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[tuple[Param, Any]]:
    """The inputs whose value differs between two scenarios (as ``Scenario.to_dict``), with
    the value in ``after``; a part switched on or off counts once (not its fields)."""
    out: list[tuple[Param, Any]] = []
    off: list[str] = []
    for p in PARAMS:
        if p.path in SKIPPED or any(p.path.startswith(o + ".") for o in off):
            continue
        old, new = get_path(before, p.path), get_path(after, p.path)
        if p.kind == "block":
            if (old is None) != (new is None):
                out.append((p, new))
                off.append(p.path)
            continue
        if old != new:
            out.append((p, new))
    return out


def value_words(p: Param, value: Any) -> str:
    """A value as the edits name it: ``1``, ``gamma (mean 14, sd 6)``, ``off``, ``edited``."""
    if p.kind == "block":
        return "off" if value is None else "on"
    if value is None:
        return "not set"
    if p.kind in ("sites", "criteria", "table"):
        return "edited"
    if p.kind == "multichoice":
        return f"{value[0]}-{value[-1]}" if len(value) > 2 and _runs(value, p) else ", ".join(value)
    return describe_value(value, p) or "edited"


def _runs(value: list[str], p: Param) -> bool:
    """Whether the choices picked follow each other (Mon, Tue, Wed: ``Mon-Wed``)."""
    idx = [p.choices.index(v) for v in value]
    return idx == list(range(idx[0], idx[0] + len(idx)))


def edit_label(p: Param) -> str:
    """How the edits name an input: its label in lower case (``beds``), a part switched on
    or off by its key (``deterioration``)."""
    return p.path.rpartition(".")[2] if p.kind == "block" else p.label.lower()


def edit_words(edits: Sequence[tuple[Param, Any]], limit: int = NAMES_MAX) -> str:
    """``beds 1, manufacturing suites 3`` (the first edits, then how many more)."""
    words = [f"{edit_label(p)} {value_words(p, v)}" for p, v in edits]
    text = ""
    for i, w in enumerate(words):
        nxt = w if not text else f"{text}, {w}"
        if len(nxt) > limit and text:
            return f"{text} and {len(words) - i} more"
        text = nxt
    return text


def edited_name(base: str, edits: Sequence[tuple[Param, Any]]) -> str:
    """The name of a scenario edited in the form: ``baseline (edited: beds 1)``."""
    return f"{base} (edited: {edit_words(edits)})" if edits else base


def named(loaded: Scenario, scenario: Scenario, name_typed: str | None = None) -> Scenario:
    """``scenario`` named after its edits to ``loaded`` (unless a name of one's own was
    typed: ``name_typed``)."""
    if name_typed and name_typed.strip():
        name = name_typed
    else:
        name = edited_name(loaded.name, changes(loaded.to_dict(), scenario.to_dict()))
    return scenario if name == scenario.name else scenario.model_copy(update={"name": name})


# --- the edits as overrides (the page's URL) --------------------------------------------------


def _json(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


def as_overrides(loaded: Scenario, scenario: Scenario, own_name: bool) -> list[str]:
    """The edits of ``scenario`` to ``loaded`` as ``path=value`` overrides (values in JSON,
    which YAML reads back); its name too when it is one's own."""
    out = [f"{p.path}={_json(v)}" for p, v in changes(loaded.to_dict(), scenario.to_dict())]
    if own_name:
        out.append(f"name={_json(scenario.name)}")
    return out


def from_overrides(loaded: Scenario, overrides: Sequence[str]) -> Scenario:
    """``loaded`` with the overrides of :func:`as_overrides`, validated and named after its
    edits (unless the overrides name it); InputError naming the page's address."""
    pairs = [parse_override(o) for o in overrides]
    data = apply_overrides(loaded.to_dict(), pairs)
    scenario = validate_scenario(data, source="the page's address")
    own = next((v for k, v in pairs if k == "name"), None)
    return named(loaded, scenario, str(own) if own is not None else None)


# --- between two runs ---------------------------------------------------------------------------


def _days_between(a: str | None, b: str | None) -> int | None:
    import datetime as dt

    if not a or not b:
        return None
    return (dt.date.fromisoformat(b) - dt.date.fromisoformat(a)).days


def what_changed(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    old: tuple[Scenario, int, int],
    new: tuple[Scenario, int, int],
) -> str:
    """The edits between two runs (scenario, replications, seed) and the change in the
    chance by the deadline and the median target date, from their summaries."""
    (sa, ra, da), (sb, rb, db) = old, new
    edits = [
        f"{edit_label(p)} {value_words(p, get_path(sa.to_dict(), p.path))} → {value_words(p, v)}"
        for p, v in changes(sa.to_dict(), sb.to_dict())
    ]
    if ra != rb:
        edits.append(f"replications {ra:,} → {rb:,}")
    if da != db:
        edits.append(f"seed {da} → {db}")
    what = "; ".join(edits) if edits else "nothing (the same settings)"
    parts = [f"Changed: {what}."]
    pa, pb = before.get("prob_target_by_deadline"), after.get("prob_target_by_deadline")
    if pa is not None and pb is not None:
        points = round(100 * pb) - round(100 * pa)
        parts.append(f"Chance by the deadline {pct(pa)} → {pct(pb)} ({points:+d} points).")
    ma = (before.get("target_date") or {}).get("p50")
    mb = (after.get("target_date") or {}).get("p50")
    shift = _days_between(ma, mb)
    later = "" if shift is None else f" ({abs(shift):,} days {'later' if shift > 0 else 'earlier'})"
    if shift == 0:
        later = " (the same day)"
    parts.append(
        f"Median target date {date_label(ma) if ma else 'not reached'} → "
        f"{date_label(mb) if mb else 'not reached'}{later}."
    )
    return " ".join(parts)
