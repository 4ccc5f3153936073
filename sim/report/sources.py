"""Where each value of a scenario file comes from: the comment beside it, by dotted path,
and a value as a person writes it (shared by the dashboard's help and the report's
settings)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from sim.core.distributions import DIST_CLASSES
from sim.report.text import plain


@dataclass(frozen=True)
class Sources:
    """Comments of a scenario file by dotted path: ``inline`` is the comment on the value's
    line (its source), ``notes`` the comment lines just above its key."""

    inline: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    present: frozenset[str] = frozenset()
    """Every path the file sets (with or without a comment)."""

    def of(self, path: str) -> str | None:
        """The source written beside the value at ``path``, if any."""
        return self.inline.get(path)


def read_sources(text: str) -> Sources:
    """The comments of scenario YAML ``text``, by dotted path (list items by index).

    The YAML parser gives each key and value its position, so the comment after a value
    (scalar or one-line mapping such as a distribution) is found on the value's last line,
    and the comment of a nested block on its key's line. Text that is not YAML gives none.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return Sources()
    if root is None:
        return Sources()
    lines = text.splitlines()
    inline: dict[str, str] = {}
    notes: dict[str, str] = {}
    present: set[str] = set()
    first_key_line = _first_key_line(root)

    def comment_from(line: int, col: int) -> str | None:
        if line >= len(lines):
            return None
        rest = lines[line][col:].strip()
        if rest.startswith("#"):
            return rest.lstrip("#").strip() or None
        return None

    def note_above(line: int) -> str | None:
        got = []
        i = line - 1
        while i >= 0 and lines[i].strip().startswith("#"):
            got.append(lines[i].strip().lstrip("#").strip())
            i -= 1
        return " ".join(reversed(got)) or None

    def walk(node: yaml.Node, path: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                p = f"{path}.{key.value}" if path else str(key.value)
                present.add(p)
                if _is_block(value):
                    line = lines[key.end_mark.line] if key.end_mark.line < len(lines) else ""
                    colon = line.find(":", key.end_mark.column)
                    c = comment_from(key.end_mark.line, colon + 1) if colon >= 0 else None
                elif isinstance(value, yaml.ScalarNode) and value.style in ("|", ">"):
                    c = None
                else:
                    c = comment_from(value.end_mark.line, value.end_mark.column)
                if c:
                    inline[p] = c
                if key.start_mark.line != first_key_line:
                    n = note_above(key.start_mark.line)
                    if n:
                        notes[p] = n
                if _is_block(value):
                    walk(value, p)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, f"{path}.{i}")

    walk(root, "")
    return Sources(inline, notes, frozenset(present))


def _is_block(node: yaml.Node) -> bool:
    return isinstance(node, yaml.MappingNode | yaml.SequenceNode) and not node.flow_style


def _first_key_line(root: yaml.Node) -> int:
    if isinstance(root, yaml.MappingNode) and root.value:
        return root.value[0][0].start_mark.line
    return -1


def describe_value(value: Any, param: Any = None) -> str:
    """A value as a person writes it: ``gamma (mean 14, sd 5)``, ``0.03``, ``2020-12-31``."""
    if value is None:
        return "not set"
    if isinstance(value, Mapping) and "dist" in value:
        kind = value["dist"]
        if kind == "fixed":
            return plain(value.get("value"))
        if kind == "empirical":
            vals = value.get("values") or []
            more = ", ..." if len(vals) > 8 else ""
            return f"empirical ({', '.join(plain(v) for v in vals[:8])}{more})"
        params = ", ".join(f"{k} {plain(value.get(k))}" for k in DIST_CLASSES[kind].param_names())
        return f"{kind} ({params})"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float | int):
        return plain(value)
    if isinstance(value, list | dict):
        return ""
    return str(value)
