"""The run store: saved simulation runs in one SQLite file (a library: no printing).

SQLite rather than DuckDB because several processes may save while another reads: WAL mode
lets readers go on during a save, and a busy timeout queues writers, where DuckDB's file lock
admits a single writer process. Each save is one ``BEGIN IMMEDIATE ... COMMIT`` transaction,
so a process killed mid-save leaves the store as it was before that save.

Layout (schema version 1, kept in ``PRAGMA user_version``; ``PRAGMA application_id`` marks the
file as a run store so another program's SQLite file is refused rather than written into):

- ``runs``: one row a run (name, created, version, scenario, seed, replications, summary JSON,
  and the column names and dtypes of the per-replication table);
- ``replications``: one row a replication, keyed by (run_id, position), its values a JSON
  array in the run's column order (the columns differ between scenarios, e.g. the screening
  criteria, so they are not SQL columns);
- ``fan``: the fan-chart percentiles, one row a (month, series), keyed by (run_id, position).
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import sqlite3
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.core.errors import InputError
from sim.io.database import open_store
from sim.io.files import write_folder

if TYPE_CHECKING:  # pandas is imported where frames are made, not for every command
    import pandas as pd

ENV_VAR = "CART_TRIAL_SIM_STORE"
DEFAULT_PATH = Path("runs") / "runs.sqlite"
NAME_MAX = 100
FAN_COLUMNS = ("month", "date", "series", "p5", "p25", "p50", "p75", "p95")
LIST_COLUMNS = (
    "name",
    "created",
    "scenario_name",
    "seed",
    "replications",
    "version",
    "prob_target_by_deadline",
    "target_date_p50",
    "cost_per_infused",
    "currency",
)
"""The columns of :func:`list_runs`; ``cost_per_infused`` is the summary's mean over the
trials with one or more infused of each trial's cost per infused patient (empty without
costs), in ``currency``."""


class NameTaken(InputError):
    """A save under a name that is already saved (without ``replace``)."""


@dataclass(frozen=True, eq=False)
class StoredRun:
    """One saved run, as loaded (``rows`` and ``fan`` are fresh frames: yours to change)."""

    name: str
    created: str  # UTC, ISO 8601
    version: str  # of cart-trial-sim that made the run
    scenario_name: str
    scenario_text: str  # the scenario YAML as run
    scenario_digest: str
    seed: int
    replications: int
    summary: dict[str, Any]
    rows: pd.DataFrame  # one row a replication
    fan: pd.DataFrame  # FAN_COLUMNS; may be empty


def store_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The store file: ``path`` if given, else $CART_TRIAL_SIM_STORE, else runs/runs.sqlite."""
    if path is not None and str(path) != "":
        return Path(path).expanduser()
    env = os.environ.get(ENV_VAR, "")
    return Path(env).expanduser() if env.strip() else DEFAULT_PATH


def validate_name(name: Any) -> str:
    """``name`` if it can name a run (1-100 characters, no control characters), else InputError."""
    if not isinstance(name, str):
        raise InputError("a run name must be text", field="run name", value=name, has_value=True)
    problem = None
    if not name.strip():
        problem = "a run name must not be empty"
    elif len(name) > NAME_MAX:
        problem = f"a run name has at most {NAME_MAX} characters, not {len(name)}"
    elif any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in name):
        problem = "a run name must not contain control characters (tabs, newlines, ...)"
    elif name != name.strip():
        problem = "a run name must not start or end with a space"
    if problem:
        raise InputError(problem, field="run name", value=name, has_value=True)
    return name


# --- encoding -------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON-ready value: numpy scalars and arrays to Python numbers and lists."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):  # a pandas Timestamp too
        return value.isoformat()
    return value


def _json_default(value: Any) -> Any:
    plain = _plain(value)
    if plain is value:
        raise TypeError(f"cannot store a {type(value).__name__} in a run")
    return plain


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, separators=(",", ":"))


def _encoded_rows(rows: pd.DataFrame) -> Iterator[str]:
    columns = [rows[c].tolist() for c in rows.columns]
    for values in zip(*columns, strict=True):
        yield _dumps(values)


def _none_if_nan(x: Any) -> Any:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _fan_records(run_id: int, fan: pd.DataFrame) -> Iterator[tuple[Any, ...]]:
    for pos, rec in enumerate(fan.itertuples(index=False, name=None)):
        month, date, series, *pcts = rec
        yield (run_id, pos, int(month), str(date), str(series), *map(_none_if_nan, pcts))


def table_digests(rows: pd.DataFrame, fan: pd.DataFrame) -> dict[str, str]:
    """SHA-256 of a run's replications and fan tables as the store keeps them (so a saved
    run and a fresh one compare equal exactly when they would be stored alike)."""
    import hashlib

    digests = {}
    for name, records in (
        ("replications", _encoded_rows(rows)),
        ("fan", (_dumps(rec[2:]) for rec in _fan_records(0, fan))),
    ):
        digest = hashlib.sha256()
        for record in records:
            digest.update(record.encode("utf-8") + b"\n")
        digests[name] = digest.hexdigest()
    return digests


def _empty_fan() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(
        {
            "month": pd.Series(dtype="int64"),
            "date": pd.Series(dtype="str"),
            "series": pd.Series(dtype="str"),
            **{c: pd.Series(dtype="float64") for c in FAN_COLUMNS[3:]},
        }
    )


# --- the public functions -------------------------------------------------------------------


def save_run(
    name: str,
    *,
    scenario_text: str,
    scenario_digest: str,
    scenario_name: str,
    seed: int,
    replications: int,
    version: str,
    summary: dict[str, Any],
    rows: pd.DataFrame,
    fan: pd.DataFrame,
    replace: bool = False,
    path: str | os.PathLike[str] | None = None,
) -> None:
    """Save a run under ``name`` in one transaction: all of it lands, or none of it.

    ``rows`` has one row a replication (``len(rows) == replications``); array cells such as
    ``vein_to_vein_days`` are stored as JSON lists and load back as lists. ``fan`` has the
    columns FAN_COLUMNS (it may be empty). A name already saved is an InputError unless
    ``replace`` is true, when the old run is replaced in the same transaction.
    """
    validate_name(name)
    if isinstance(replications, bool) or not isinstance(replications, (int, np.integer)):
        raise TypeError("replications must be an integer")
    if replications < 1:
        raise ValueError(f"replications must be at least 1, not {replications}")
    if len(rows) != replications:
        raise ValueError(f"rows has {len(rows)} rows for {replications} replications")
    if list(fan.columns) != list(FAN_COLUMNS):
        raise ValueError(f"fan columns must be {list(FAN_COLUMNS)}, not {list(fan.columns)}")
    if rows.columns.duplicated().any():
        raise ValueError("rows has duplicate column names")
    summary_text = _dumps(summary)
    columns = _dumps([[str(c), str(rows[c].dtype)] for c in rows.columns])
    created = datetime.now(UTC).isoformat(timespec="seconds")
    where = store_path(path)
    with open_store(where, create=True) as conn:
        assert conn is not None
        conn.execute("BEGIN IMMEDIATE")
        try:
            old = conn.execute("SELECT id FROM runs WHERE name = ?", (name,)).fetchone()
            if old is not None:
                if not replace:
                    raise NameTaken(
                        "a run of this name is already saved; use --replace to overwrite it "
                        "or choose another name",
                        source=str(where),
                        field="run",
                        value=name,
                        has_value=True,
                    )
                _delete(conn, old[0])
            cur = conn.execute(
                "INSERT INTO runs (name, created, version, scenario_name, scenario_text, "
                "scenario_digest, seed, replications, summary, row_columns) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    created,
                    str(version),
                    str(scenario_name),
                    str(scenario_text),
                    str(scenario_digest),
                    int(seed),
                    int(replications),
                    summary_text,
                    columns,
                ),
            )
            run_id = cur.lastrowid
            conn.executemany(
                "INSERT INTO replications (run_id, position, data) VALUES (?, ?, ?)",
                ((run_id, pos, data) for pos, data in enumerate(_encoded_rows(rows))),
            )
            conn.executemany(
                "INSERT INTO fan (run_id, position, month, date, series, p5, p25, p50, p75, "
                "p95) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _fan_records(run_id, fan),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def _delete(conn: sqlite3.Connection, run_id: int) -> None:
    conn.execute("DELETE FROM replications WHERE run_id = ?", (run_id,))
    conn.execute("DELETE FROM fan WHERE run_id = ?", (run_id,))
    conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))


def _unknown(conn: sqlite3.Connection | None, where: Path, name: Any) -> InputError:
    names = (
        [r[0] for r in conn.execute("SELECT name FROM runs ORDER BY created DESC, id DESC")]
        if conn is not None
        else []
    )
    if not names:
        problem = "no such run: the store has no saved runs"
    else:
        key = name if isinstance(name, str) else str(name)
        close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
        shown = close + [n for n in names if n not in close]
        listed = ", ".join(repr(n) for n in shown[:5])
        more = f" and {len(names) - 5} more (see `runs list`)" if len(names) > 5 else ""
        problem = f"no such run; saved runs: {listed}{more}"
    return InputError(problem, source=str(where), field="run", value=name, has_value=True)


def _run_id(conn: sqlite3.Connection | None, where: Path, name: Any) -> int:
    row = None
    if conn is not None:
        row = conn.execute("SELECT id FROM runs WHERE name = ?", (str(name),)).fetchone()
    if row is None:
        raise _unknown(conn, where, name)
    return int(row[0])


def run_names(path: str | os.PathLike[str] | None = None) -> list[str]:
    """The names of the saved runs, oldest first (read without decoding any run, so a
    damaged run does not hide the others)."""
    where = store_path(path)
    with open_store(where, create=False) as conn:
        if conn is None:
            return []
        return [str(r[0]) for r in conn.execute("SELECT name FROM runs ORDER BY created, id")]


def check_free(
    name: str, *, replace: bool = False, path: str | os.PathLike[str] | None = None
) -> None:
    """Refuse, before a run, a bad name or one already saved (unless ``replace``)."""
    validate_name(name)
    if not replace and name in run_names(path):
        raise NameTaken(
            f"a run named {name!r} is already saved; add --replace to overwrite it, or "
            f"choose another name ({next_free_name(name, path)!r} is free)",
            field="--save",
        )


_VERSIONED = re.compile(r"^(?P<base>.*) \((?P<n>[0-9]+)\)$")


def next_free_name(name: str, path: str | os.PathLike[str] | None = None) -> str:
    """``name`` if no run is saved under it, else the first free ``name (2)``, ``name (3)``,
    ... (a name that already ends in `` (n)`` counts on from its base). Several sessions
    saving at once may be offered the same name: :func:`save_run` (without ``replace``)
    refuses all but the first, and a caller asks again."""
    validate_name(name)
    taken = set(run_names(path))
    if name not in taken:
        return name
    match = _VERSIONED.match(name)
    base = match.group("base") if match and match.group("base").strip() else name
    n = 2
    while True:
        suffix = f" ({n})"
        candidate = base[: NAME_MAX - len(suffix)].rstrip() + suffix
        if candidate not in taken:
            return candidate
        n += 1


def list_runs(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The saved runs, oldest first: LIST_COLUMNS (headline figures from each summary)."""
    import pandas as pd

    where = store_path(path)
    records = []
    with open_store(where, create=False) as conn:
        if conn is not None:
            records = conn.execute(
                "SELECT name, created, scenario_name, seed, replications, version, summary "
                "FROM runs ORDER BY created, id"
            ).fetchall()
    out = []
    for *head, summary_text in records:
        try:
            summary = json.loads(summary_text)
        except ValueError:
            summary = {}
        if not isinstance(summary, dict):
            summary = {}
        target = summary.get("target_date")
        prob = summary.get("prob_target_by_deadline")
        p50 = target.get("p50") if isinstance(target, dict) else None
        costs = summary.get("costs")
        costs = costs if isinstance(costs, dict) else {}
        per_infused = costs.get("per_infused_patient")
        per_infused = (
            per_infused.get("mean_of_trial_ratios") if isinstance(per_infused, dict) else None
        )
        currency = costs.get("currency")
        out.append(
            (
                *head,
                _number(prob),
                p50 if isinstance(p50, str) else None,
                _number(per_infused),
                currency if isinstance(currency, str) else None,
            )
        )
    frame = pd.DataFrame(out, columns=list(LIST_COLUMNS))
    frame["prob_target_by_deadline"] = frame["prob_target_by_deadline"].astype("float64")
    frame["cost_per_infused"] = frame["cost_per_infused"].astype("float64")
    for column in ("seed", "replications"):  # a damaged value shows as missing
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    return frame


def _number(value: object) -> float | None:
    """A stored figure as a number, or None when it is missing or damaged."""
    return float(value) if isinstance(value, float | int) and not isinstance(value, bool) else None


def load_run(name: str, path: str | os.PathLike[str] | None = None) -> StoredRun:
    """The run saved under ``name``; InputError naming the saved runs if there is none, or
    saying the run is damaged."""
    where = store_path(path)
    with open_store(where, create=False) as conn:
        # One read transaction, so a concurrent replace cannot mix two versions of the run.
        if conn is not None:
            conn.execute("BEGIN")
        run_id = _run_id(conn, where, name)
        assert conn is not None
        head = conn.execute(
            "SELECT name, created, version, scenario_name, scenario_text, scenario_digest, "
            "seed, replications, summary, row_columns FROM runs WHERE id = ?",
            (run_id,),
        ).fetchone()
        data = [
            r[0]
            for r in conn.execute(
                "SELECT data FROM replications WHERE run_id = ? ORDER BY position", (run_id,)
            )
        ]
        fan_rows = conn.execute(
            f"SELECT {', '.join(FAN_COLUMNS)} FROM fan WHERE run_id = ? ORDER BY position",
            (run_id,),
        ).fetchall()
        conn.execute("COMMIT")
    try:
        return _decoded(head, data, fan_rows)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise InputError(
            f"the stored run is damaged ({type(exc).__name__}: {str(exc)[:120]}); delete it "
            "with `runs delete`",
            source=str(where),
            field="run",
            value=name,
            has_value=True,
        ) from None


def _decoded(head: tuple[Any, ...], data: list[Any], fan_rows: list[Any]) -> StoredRun:
    """A stored run from its rows in the store; ValueError (or another) when they are not
    what a save writes (a store edited by another program)."""
    import pandas as pd

    (*fields, summary_text, columns_text) = head
    summary = json.loads(summary_text)
    if not isinstance(summary, dict):
        raise ValueError("its summary is not a JSON object")
    rows = _decode_rows(data, json.loads(columns_text))
    seed, replications = _whole(fields[6], "seed"), _whole(fields[7], "replications")
    if len(rows) != replications:
        raise ValueError(f"it has {len(rows)} rows for {replications} replications")
    fan = _empty_fan()
    if fan_rows:
        fan = pd.DataFrame(fan_rows, columns=list(FAN_COLUMNS)).astype(fan.dtypes.to_dict())
    return StoredRun(
        name=str(fields[0]),
        created=str(fields[1]),
        version=str(fields[2]),
        scenario_name=str(fields[3]),
        scenario_text=str(fields[4]),
        scenario_digest=str(fields[5]),
        seed=seed,
        replications=replications,
        summary=summary,
        rows=rows,
        fan=fan,
    )


def _whole(value: Any, what: str) -> int:
    """A stored whole number (SQLite keeps whatever another program wrote)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"its {what} is not a whole number: {value!r}")
    return value


def _decode_rows(data: list[str], columns: Any) -> pd.DataFrame:
    import pandas as pd

    if not isinstance(columns, list) or not all(
        isinstance(c, list) and len(c) == 2 and all(isinstance(x, str) for x in c) for c in columns
    ):
        raise ValueError("its column list is not [[name, dtype], ...]")
    names = [c[0] for c in columns]
    values = [json.loads(d) for d in data]
    if any(not isinstance(v, list) or len(v) != len(names) for v in values):
        raise ValueError(f"a row does not hold the {len(names)} values of its columns")
    by_column: dict[str, Any] = {}
    for i, (col, dtype) in enumerate(columns):
        cells = [v[i] for v in values]
        if dtype == "object":
            by_column[col] = pd.Series(cells, dtype="object")
        else:
            by_column[col] = pd.Series(cells, dtype="object").astype(dtype)
    return pd.DataFrame(by_column, columns=names)


def delete_run(name: str, path: str | os.PathLike[str] | None = None) -> None:
    """Delete the run saved under ``name``; InputError if there is none."""
    where = store_path(path)
    with open_store(where, create=False) as conn:
        if conn is None:
            raise _unknown(conn, where, name)
        conn.execute("BEGIN IMMEDIATE")
        try:
            _delete(conn, _run_id(conn, where, name))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def export_run(
    name: str, directory: str | os.PathLike[str], path: str | os.PathLike[str] | None = None
) -> list[Path]:
    """Write summary.json, scenario.yaml, replications.csv and fan.csv of a run into
    ``directory`` (created if missing; each file appears whole or not at all)."""
    run = load_run(name, path)
    out = Path(directory)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder ({exc.strerror})", source=str(out)) from None
    rows = run.rows.copy()
    for col in rows.columns:
        if rows[col].dtype == object:
            rows[col] = [c if isinstance(c, str) else _dumps(c) for c in rows[col]]
    files = {
        "summary.json": lambda f: f.write(json.dumps(run.summary, indent=2) + "\n"),
        "scenario.yaml": lambda f: f.write(run.scenario_text),
        "replications.csv": lambda f: rows.to_csv(f, index=False),
        "fan.csv": lambda f: run.fan.to_csv(f, index=False),
    }
    return write_folder(out, files)


def save_results(
    name: str,
    results: Any,
    summary: dict[str, Any],
    *,
    replace: bool = False,
    path: str | os.PathLike[str] | None = None,
) -> None:
    """Keep a finished run (a :class:`sim.run.runner.Results` and its summary) in the store."""
    from sim.core.version import __version__

    sc = results.scenario
    save_run(
        name,
        scenario_text=sc.to_yaml(),
        scenario_digest=sc.digest(),
        scenario_name=sc.name,
        seed=results.seed,
        replications=results.replications,
        version=__version__,
        summary=summary,
        rows=results.frame(),
        fan=results.fan(),
        replace=replace,
        path=store_path(path),
    )
