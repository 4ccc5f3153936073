"""Writing result files whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from sim.core.errors import InputError


def write_files(out: Path, files: dict[str, Callable[[IO[str]], Any]]) -> list[Path]:
    """Write each file into ``out`` through a temporary name: whole or not at all."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder ({exc.strerror})", source=str(out)) from None
    written = []
    for name, write in files.items():
        target = out / name
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out)
            try:
                with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
                    write(fh)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise InputError(f"cannot write ({exc.strerror})", source=str(target)) from None
        written.append(target)
    return written
