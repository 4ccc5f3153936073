"""Safe YAML reading: no arbitrary objects, duplicate keys refused, ``5.0e6`` read as a number."""

from __future__ import annotations

import os
import re
import stat
from typing import Any

import yaml

from sim.core.errors import InputError

MAX_BYTES = 1_000_000
"""Scenario files above this size (bytes) are refused before parsing."""
MAX_NODES = 100_000
"""Scenario documents that expand (aliases included) to more nodes than this are refused."""

_SCI_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and reads 1e7 and 5.0e6 as floats (YAML 1.2)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # '<<: *anchor' merges; explicit keys may override merged ones
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark
                ) from None
            if key in seen:
                raise DuplicateKeyError(key, key_node.start_mark.line + 1)
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        """An impossible date (2016-02-30) stays text, so validation names its field."""
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _SCI_FLOAT, list("-+0123456789"))


class DuplicateKeyError(Exception):
    def __init__(self, key: Any, line: int) -> None:
        self.key, self.line = key, line
        super().__init__(f"duplicate key {key!r} (line {line})")


def parse_yaml(text: str, source: str) -> Any:
    """Parse one YAML document with the safe loader; errors name ``source``."""
    try:
        docs = list(yaml.load_all(text, Loader=_Loader))
    except DuplicateKeyError as exc:
        raise InputError(
            f"duplicate key {exc.key!r} on line {exc.line}; each key may appear once",
            source=source,
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"not valid YAML{where}: {problem}", source=source) from None
    except RecursionError:
        raise InputError("YAML nested too deeply", source=source) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. an impossible date 2016-02-30
        raise InputError(f"not valid YAML: {exc}", source=source) from None
    if len(docs) > 1:
        raise InputError(f"holds {len(docs)} YAML documents; one scenario a file", source=source)
    data = docs[0] if docs else None
    _check_size(data, source)
    return data


def read_bytes(path: str, max_bytes: int) -> bytes:
    """The first ``max_bytes + 1`` bytes of a regular file, refusing at once a missing file,
    a folder, and a FIFO, device or socket (whose reading could wait for ever)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise InputError(
                "is not a regular file (a pipe, device or socket); give a file", source=path
            )
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # swapped since the check
                raise InputError("is not a regular file; give a file", source=path)
            return fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError("no such file", source=path) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a file", source=path) from None
    except (OSError, ValueError) as exc:  # ValueError: a path with a NUL byte
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(f"cannot be read ({reason})", source=path) from None


def read_text(path: str, max_bytes: int = MAX_BYTES) -> str:
    """The text of a UTF-8 file, refusing missing, oversized or non-text files."""
    return decode_text(read_bytes(path, max_bytes), path, max_bytes, kind="YAML")


def decode_text(raw: bytes, source: str, max_bytes: int = MAX_BYTES, kind: str = "") -> str:
    """Bytes of an uploaded or read file as text, or a clear refusal (``kind`` names the
    text expected, YAML or CSV, where the caller knows it)."""
    if len(raw) > max_bytes:
        raise InputError(
            f"larger than the {max_bytes:,} bytes allowed for this kind of file", source=source
        )
    if b"\x00" in raw:
        raise InputError(f"is a binary file, not {kind + ' ' if kind else ''}text", source=source)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"is not UTF-8 text (byte {exc.start}: {raw[exc.start : exc.start + 1]!r})",
            source=source,
        ) from None


def _check_size(data: Any, source: str) -> None:
    """Refuse documents whose expansion (aliases repeat shared nodes) is huge."""
    budget = MAX_NODES
    stack = [data]
    while stack:
        item = stack.pop()
        budget -= 1
        if budget < 0:
            raise InputError(
                f"expands to more than {MAX_NODES:,} values (a YAML alias bomb?)", source=source
            )
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


class _Dumper(yaml.SafeDumper):
    """Quotes strings that our loader would read as numbers (such as ``1e7``)."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "'" if _SCI_FLOAT.match(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(data: Any) -> str:
    """YAML text, keys in the given order, that :func:`parse_yaml` reads back equal."""
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=None
    )
