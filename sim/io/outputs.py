"""The files of a run's ``--out`` folder, written by ``run`` and re-made by ``reproduce``.

One writer a file: summary.json, scenario.yaml, replications.csv and fan.csv always;
patients.csv, events.csv and timeline.csv when full tables were kept (``--keep-logs``).
A file's digest is taken from its writer without holding its text, so a re-run can be
compared with a folder of any size.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.io.files import Writer

if TYPE_CHECKING:
    from sim.run.runner import Results

LOG_FILES = ("patients.csv", "events.csv", "timeline.csv")
"""The tables of kept replications (one row a patient, an event, a change of a resource)."""


def run_files(results: Results, summary: dict[str, Any]) -> dict[str, Writer]:
    """Name -> writer of every file of the run's folder (the log tables only when some
    replication's tables were kept)."""
    files: dict[str, Writer] = {
        "summary.json": lambda f: f.write(json.dumps(summary, indent=2) + "\n"),
        "scenario.yaml": lambda f: f.write(results.scenario.to_yaml()),
        "replications.csv": lambda f: results.frame().to_csv(f, index=False),
    }
    if results.kept:
        files["patients.csv"] = lambda f: results.patients().to_csv(f, index=False)
        files["events.csv"] = lambda f: results.events().to_csv(f, index=False)
        files["timeline.csv"] = lambda f: results.timeline().to_csv(f, index=False)
    files["fan.csv"] = lambda f: results.fan().to_csv(f, index=False)
    return files


class _Digest:
    """A text sink that keeps only the SHA-256 of what is written to it."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()

    def write(self, text: str) -> int:
        self.hash.update(text.encode("utf-8"))
        return len(text)

    def flush(self) -> None:
        pass


def writer_digest(write: Writer) -> str:
    """SHA-256 of the text ``write`` produces (as :func:`sim.io.files.write_folder` would
    write it)."""
    sink = _Digest()
    write(sink)  # type: ignore[arg-type]
    return sink.hash.hexdigest()


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def kept_logs(folder: Path) -> int:
    """How many replications' tables a folder holds: one past the last replication in its
    patients.csv (every event and resource change belongs to a patient; kept replications
    after the last with a patient add no row to any table), 0 without the file."""
    path = Path(folder) / "patients.csv"
    if not path.is_file():
        return 0
    import pandas as pd

    try:
        reps = pd.read_csv(path, usecols=["replication"])["replication"]
        return int(reps.max()) + 1 if len(reps) else 1
    except (ValueError, TypeError, KeyError, OSError, pd.errors.ParserError):
        return 1  # a damaged table: re-made from one replication, it will differ
