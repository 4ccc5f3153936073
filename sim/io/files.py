"""The one writer of result files: a folder, or a single file, appears whole or not at all.

A folder is written into a new temporary folder beside it, then renamed into place, so a
reader (or a run killed half way) never sees a mix of two runs' files. An existing folder is
replaced only when it holds nothing but result files; anything else in it is never touched.
Files get the user's umask (0644 under umask 022), not the private mode of temporary files.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from sim.core.errors import InputError

Writer = Callable[[IO[str]], Any]
"""Writes one file's text to the open file it is given."""

RESULT_FILES = frozenset(
    {
        "summary.json",
        "scenario.yaml",
        "replications.csv",
        "patients.csv",
        "events.csv",
        "timeline.csv",
        "fan.csv",
        "forecast.json",
        "fan_prior.csv",
        "fan_updated.csv",
        "observed.csv",
        "sweep.json",
        "sweep.csv",
    }
)
"""Names this project writes into an output folder: a folder holding only these (and
:data:`RESULT_PATTERN`'s) may be replaced by a new set."""
RESULT_PATTERN = re.compile(r"(facility\.yaml|facility_replications\.csv|"
                            r"trial[1-9][0-9]?_(scenario\.yaml|replications\.csv))")  # fmt: skip
"""A facility's output files: its file, its rows, and each trial's scenario and rows."""


def is_result_file(name: str) -> bool:
    """Whether a file name is one this project writes into an output folder."""
    return name in RESULT_FILES or RESULT_PATTERN.fullmatch(name) is not None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _failed(what: str, target: Path, exc: OSError) -> InputError:
    reason = exc.strerror or type(exc).__name__
    return InputError(f"cannot {what} ({reason})", source=str(target))


def _replaceable(out: Path) -> bool:
    """``out`` is missing, or a folder of result files only (a previous output)."""
    if not out.exists():
        return True
    if not out.is_dir() or out.is_symlink():
        return False
    return all(p.is_file() and is_result_file(p.name) for p in out.iterdir())


def write_folder(out: Path, files: Mapping[str, Writer]) -> list[Path]:
    """Write ``files`` (name -> writer) as the folder ``out``, whole or not at all.

    Refused with an InputError (nothing written) when ``out`` is a file, or a folder that
    holds anything but result files.
    """
    out = Path(out)
    unknown = {name for name in files if not is_result_file(name)}
    if unknown:  # a programming error, not a user's
        raise ValueError(f"not result file names: {sorted(unknown)}")
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder; give a folder to write into", source=str(out))
    if not _replaceable(out):
        raise InputError(
            "is a folder that holds other files; give a new or empty folder, or one "
            "written before by this command",
            source=str(out),
        )
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    except OSError as exc:
        raise _failed("create the folder", out, exc) from None
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        for name, write in files.items():
            with open(tmp / name, "w", newline="", encoding="utf-8") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
        _swap_in(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _failed("write the folder", out, exc) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / name for name in files]


def _swap_in(tmp: Path, out: Path) -> None:
    """Put the finished folder ``tmp`` in the place of ``out``."""
    if not out.exists():
        os.rename(tmp, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    os.rmdir(old)
    os.rename(out, old)  # the old set stays whole beside it until the new one is in place
    try:
        os.rename(tmp, out)
    except OSError:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_file(path: Path, text: str | bytes) -> None:
    """Write ``text`` (or bytes) to ``path`` whole or not at all (a temporary file renamed
    into place)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise _failed("write", path, exc) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        binary = isinstance(text, bytes)
        kw = {} if binary else {"encoding": "utf-8", "newline": "\n"}
        with os.fdopen(fd, "wb" if binary else "w", **kw) as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _failed("write", path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
