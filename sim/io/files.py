"""The one writer of result files: a folder, or a single file, appears whole or not at all.

A folder is written into a new temporary folder beside it, then put in place in one step
(an atomic exchange with the old folder where the system offers it, Linux's
``renameat2(RENAME_EXCHANGE)``), so a reader, or a run killed at any moment, finds the old
set of files or the new one, never a mix. An existing folder is replaced only when it holds
nothing but result files; anything else in it is never touched. Temporary folders left
beside the target by a killed process are removed by the next write (their names carry the
writer's process id). Files get the user's umask (0644 under umask 022), not the private
mode of temporary files.
"""

from __future__ import annotations

import ctypes
import glob
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
    try:
        return all(p.is_file() and is_result_file(p.name) for p in out.iterdir())
    except OSError:  # a folder this user cannot list is not known to hold results only
        return False


def write_folder(out: Path, files: Mapping[str, Writer]) -> list[Path]:
    """Write ``files`` (name -> writer) as the folder ``out``, whole or not at all.

    Refused with an InputError (nothing written) when ``out`` is a file, or a folder that
    holds anything but result files.
    """
    out = Path(out)
    unknown = {name for name in files if not is_result_file(name)}
    if unknown:  # a programming error, not a user's
        raise ValueError(f"not result file names: {sorted(unknown)}")
    check_folder(out)
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(parent, out.name)
        tmp = Path(tempfile.mkdtemp(prefix=_prefix(out.name), suffix=".tmp", dir=parent))
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


def check_folder(out: Path) -> None:
    """Refuse, before any work, an ``out`` that :func:`write_folder` could not replace: a
    file, a folder of other files, or a path under a file."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder; give a folder to write into", source=str(out))
    if not _replaceable(out):
        raise InputError(
            "is a folder that holds other files; give a new or empty folder, or one "
            "written before by this command",
            source=str(out),
        )
    blocker = _file_above(out)
    if blocker is not None:
        raise InputError(f"cannot be created: {blocker} is a file, not a folder", source=str(out))


def check_file(path: Path) -> None:
    """Refuse, before any work, a ``path`` that :func:`write_file` could not write: a folder,
    or a path under a file."""
    path = Path(path)
    if path.is_dir():
        raise InputError("is a folder; give a file name to write", source=str(path))
    blocker = _file_above(path)
    if blocker is not None:
        raise InputError(f"cannot be created: {blocker} is a file, not a folder", source=str(path))


def _file_above(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` when it is not a folder (so ``path`` cannot
    be made), else None."""
    for above in Path(path).absolute().parents:
        if above.exists():
            return None if above.is_dir() else above
    return None


def _prefix(name: str) -> str:
    """Temporary names beside ``name``: ``.NAME.PID.`` (the writer's process id)."""
    return f".{name}.{os.getpid()}."


def _remove_stale(parent: Path, name: str) -> None:
    """Remove temporary folders beside ``name`` left by writers that no longer run (killed
    half way); a folder of a live writer, or one holding anything but result files, stays."""
    pattern = re.compile(rf"\.{re.escape(name)}\.(\d+)\.[^/]*\.(?:tmp|old)")
    for path in parent.glob(f".{glob.escape(name)}.*"):
        match = pattern.fullmatch(path.name)
        if match is None or _alive(int(match.group(1))) or not _replaceable(path):
            continue
        shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process (or no such number)
        return True
    return True


def _exchange(a: Path, b: Path) -> bool:
    """Swap the folders ``a`` and ``b`` in one atomic step; False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if done == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (38, 22, 95):  # ENOSYS, EINVAL (file system without it), EOPNOTSUPP
        return False
    raise OSError(errno, os.strerror(errno))


def _swap_in(tmp: Path, out: Path) -> None:
    """Put the finished folder ``tmp`` in the place of ``out`` (the old one, if any, is
    removed once the new one is in place)."""
    if not out.exists():
        os.rename(tmp, out)
        return
    if _exchange(tmp, out):  # ``tmp`` now holds the old set
        shutil.rmtree(tmp, ignore_errors=True)
        return
    old = Path(tempfile.mkdtemp(prefix=_prefix(out.name), suffix=".old", dir=out.parent))
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
