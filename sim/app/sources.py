"""Where each value of a scenario file comes from: the comment beside it, by dotted path,
and the help of a form input that cites it (no Streamlit)."""

from __future__ import annotations

from typing import Any

from sim.app.form import Param
from sim.report.sources import Sources, describe_value, read_sources

__all__ = ["Sources", "describe_value", "help_text", "read_sources"]


def help_text(
    param: Param, default: Any, sources: Sources, origin: str, path: str | None = None
) -> str:
    """The help of an input: what it means, its unit, and the source of its default."""
    path = path or param.path
    src = sources.of(path)
    shown = _shown(default, param)
    unit = f" Unit: {param.unit}." if param.unit else ""
    if sources.present and path not in sources.present:
        where = f"Not set in {origin}: the model's default"
        return f"{param.help}{unit}\n\n{where}{f', {shown}' if shown else ''}."
    where = f"Default in {origin}: {shown}" if shown else f"In {origin}"
    cite = f" — source: {src}" if src else " — no source noted beside it"
    return f"{param.help}{unit}\n\n{where}{cite}."


def _shown(value: Any, param: Param) -> str:
    """A default as the help shows it: ``Mon, Tue, Wed`` for weekdays, ``2 rows`` for a
    table, else as a person writes it."""
    if param.kind == "multichoice" and value:
        return ", ".join(value)
    if param.kind == "table" and value is not None:
        n = len(value)
        return "no rows" if n == 0 else f"{n} row{'s' if n > 1 else ''}"
    return describe_value(value, param)
