"""Re-run a saved run or an ``--out`` folder and confirm the results are identical: the
summary, and every table (each file of a folder; a saved run's replications and fan)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.core.errors import InputError
from sim.core.scenario import Scenario, parse_scenario
from sim.core.version import __version__
from sim.core.yamlio import read_text
from sim.io import store
from sim.io.outputs import file_digest, kept_logs, run_files, writer_digest
from sim.run.budget import MAX_REPLICATIONS
from sim.run.executors import ExecutorSpec
from sim.run.runner import Results, run_replications

IGNORED = ("version", "precision")
"""Summary keys that may differ on a faithful re-run (the package version is reported)."""
MAX_SEED = 2**63 - 1
NOT_COMPARED = ("summary.json", "scenario.yaml")
"""Files of a folder compared otherwise: the summary figure by figure, the scenario by the
digest in the summary."""


@dataclass(frozen=True)
class Record:
    """What a run needs to be re-run: the scenario text, seed, replications, summary, and
    the digests of its tables (name -> SHA-256)."""

    source: str
    scenario_text: str
    seed: int
    replications: int
    summary: dict[str, Any]
    tables: dict[str, str] = field(default_factory=dict)
    kept_logs: int = 0
    stored: bool = False
    """True for a saved run (tables: its replications and fan), False for a folder."""

    def scenario(self) -> Scenario:
        """The recorded scenario, checked against the digest in its summary."""
        scenario = parse_scenario(self.scenario_text, source=f"{self.source} scenario")
        if scenario.digest() != self.summary.get("scenario_digest", scenario.digest()):
            raise InputError(
                "its scenario does not match the digest in its summary", source=self.source
            )
        return scenario


def _checked(source: str, summary: Any) -> tuple[dict[str, Any], int, int]:
    """The summary with its seed and replications, or one line saying what is wrong."""
    if not isinstance(summary, dict):
        raise InputError("is not a summary written by 'run' (not a JSON object)", source=source)
    seed, reps = summary.get("seed"), summary.get("replications")
    for key, value, high in (("seed", seed, MAX_SEED), ("replications", reps, MAX_REPLICATIONS)):
        low = 0 if key == "seed" else 1
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InputError(
                f"is damaged: {key} must be a whole number from {low:,} to {high:,}",
                source=source,
                field=key,
                value=value,
                has_value=True,
            )
    return summary, seed, reps


def find_record(target: str, store_path: str | None = None) -> Record:
    """An ``--out`` folder (summary.json + scenario.yaml) or the name of a saved run."""
    folder = Path(target)
    if folder.is_dir():
        return _folder_record(folder)
    run = store.load_run(target, store.store_path(store_path))
    source = f"saved run {target!r}"
    summary, seed, reps = _checked(source, run.summary)
    if (seed, reps) != (run.seed, run.replications):
        raise InputError(
            "is damaged: its seed or replications differ from its summary's", source=source
        )
    return Record(
        source,
        run.scenario_text,
        seed,
        reps,
        summary,
        tables=store.table_digests(run.rows, run.fan),
        stored=True,
    )


def _folder_record(folder: Path) -> Record:
    summary_file, scenario_file = folder / "summary.json", folder / "scenario.yaml"
    for f in (summary_file, scenario_file):
        if not f.is_file():
            raise InputError(
                f"has no {f.name}; is it an --out folder of 'run'?", source=str(folder)
            )
    try:
        summary = json.loads(read_text(str(summary_file)))
    except ValueError:
        raise InputError("is not a summary written by 'run'", source=str(summary_file)) from None
    summary, seed, reps = _checked(str(summary_file), summary)
    tables = {
        p.name: file_digest(p)
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.startswith(".") and p.name not in NOT_COMPARED
    }
    return Record(
        str(folder),
        read_text(str(scenario_file)),
        seed,
        reps,
        summary,
        tables=tables,
        kept_logs=kept_logs(folder),
    )


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Dotted paths where two JSON-like values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if not path and key in IGNORED:
                continue
            out += differences(a.get(key), b.get(key), f"{path}.{key}" if path else key)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [path]


def _fresh_tables(record: Record, results: Results, summary: dict[str, Any]) -> dict[str, str]:
    if record.stored:
        return store.table_digests(results.frame(), results.fan())
    files = run_files(results, summary)
    return {name: writer_digest(w) for name, w in files.items() if name not in NOT_COMPARED}


def reproduce(
    record: Record, executor: ExecutorSpec | str = "process", progress: Any = None
) -> dict[str, Any]:
    """Re-run and compare; ``identical`` is True when every summary figure and every table
    matches (``differences`` names the summary keys and the tables that do not)."""
    scenario = record.scenario()
    results = run_replications(
        scenario,
        record.replications,
        record.seed,
        keep_logs=record.kept_logs,
        executor=executor,
        progress=progress,
    )
    fresh = json.loads(json.dumps(results.summary()))
    diffs = differences(record.summary, fresh)
    tables = _fresh_tables(record, results, fresh)
    diffs += [
        name
        for name in sorted(set(tables) | set(record.tables))
        if tables.get(name) != record.tables.get(name)
    ]
    return {
        "source": record.source,
        "seed": record.seed,
        "replications": record.replications,
        "recorded_version": record.summary.get("version"),
        "current_version": __version__,
        "identical": not diffs,
        "differences": diffs,
        "tables_compared": sorted(record.tables),
    }
