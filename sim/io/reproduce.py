"""Re-run a saved run or an ``--out`` folder and confirm the results are identical."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.core.errors import InputError
from sim.core.scenario import parse_scenario
from sim.core.version import __version__
from sim.core.yamlio import read_text
from sim.io import store
from sim.run.executors import ExecutorSpec
from sim.run.runner import run_replications

IGNORED = ("version", "precision")
"""Summary keys that may differ on a faithful re-run (the package version is reported)."""


@dataclass(frozen=True)
class Record:
    """What a run needs to be re-run: the scenario text, seed, replications, summary."""

    source: str
    scenario_text: str
    seed: int
    replications: int
    summary: dict[str, Any]


def find_record(target: str, store_path: str | None = None) -> Record:
    """An ``--out`` folder (summary.json + scenario.yaml) or the name of a saved run."""
    folder = Path(target)
    if folder.is_dir():
        summary_file, scenario_file = folder / "summary.json", folder / "scenario.yaml"
        for f in (summary_file, scenario_file):
            if not f.is_file():
                raise InputError(
                    f"has no {f.name}; is it an --out folder of 'run'?", source=str(folder)
                )
        try:
            summary = json.loads(read_text(str(summary_file)))
            seed, reps = int(summary["seed"]), int(summary["replications"])
        except (ValueError, KeyError, TypeError):
            raise InputError(
                "is not a summary written by 'run'", source=str(summary_file)
            ) from None
        return Record(str(folder), read_text(str(scenario_file)), seed, reps, summary)
    run = store.load_run(target, store.store_path(store_path))
    return Record(
        f"saved run {target!r}", run.scenario_text, run.seed, run.replications, run.summary
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


def reproduce(
    record: Record, executor: ExecutorSpec | str = "process", progress: Any = None
) -> dict[str, Any]:
    """Re-run and compare; ``identical`` is True when every summary figure matches."""
    scenario = parse_scenario(record.scenario_text, source=f"{record.source} scenario")
    if scenario.digest() != record.summary.get("scenario_digest", scenario.digest()):
        raise InputError(
            "its scenario does not match the digest in its summary", source=record.source
        )
    results = run_replications(
        scenario, record.replications, record.seed, executor=executor, progress=progress
    )
    fresh = json.loads(json.dumps(results.summary()))
    diffs = differences(record.summary, fresh)
    return {
        "source": record.source,
        "seed": record.seed,
        "replications": record.replications,
        "recorded_version": record.summary.get("version"),
        "current_version": __version__,
        "identical": not diffs,
        "differences": diffs,
    }
