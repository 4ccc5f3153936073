"""The run store's SQLite file: its schema, its migrations, and opening it safely.

Schema version 1, kept in ``PRAGMA user_version``; ``PRAGMA application_id`` marks the file
as a run store so that another program's SQLite file is refused rather than written into.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from sim.core.errors import InputError

SCHEMA_VERSION = 1
APPLICATION_ID = 0x43415254  # "CART": marks the file as a cart-trial-sim run store
BUSY_TIMEOUT_S = 30.0
"""Seconds a save waits for another process's save before it gives up."""


def _create_v1(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created TEXT NOT NULL,
            version TEXT NOT NULL,
            scenario_name TEXT NOT NULL,
            scenario_text TEXT NOT NULL,
            scenario_digest TEXT NOT NULL,
            seed INTEGER NOT NULL,
            replications INTEGER NOT NULL,
            summary TEXT NOT NULL,
            row_columns TEXT NOT NULL
        )"""
    )
    conn.execute(
        """CREATE TABLE replications (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (run_id, position)
        ) WITHOUT ROWID"""
    )
    conn.execute(
        """CREATE TABLE fan (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            month INTEGER NOT NULL,
            date TEXT NOT NULL,
            series TEXT NOT NULL,
            p5 REAL, p25 REAL, p50 REAL, p75 REAL, p95 REAL,
            PRIMARY KEY (run_id, position)
        ) WITHOUT ROWID"""
    )


Migration = Callable[[sqlite3.Connection], None]

# MIGRATIONS[i] takes a store from schema version i to i + 1. Version 0 is an empty file.
# To change the layout: append a function, never edit or reorder the ones before it.
MIGRATIONS: tuple[Migration, ...] = (_create_v1,)
assert len(MIGRATIONS) == SCHEMA_VERSION


def migrate(conn: sqlite3.Connection, source: str, migrations: tuple[Migration, ...]) -> int:
    """Bring the store to ``len(migrations)`` in one transaction; the version it ends at."""
    target = len(migrations)
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Read again under the write lock: another process may have migrated meanwhile.
        version = _check_header(conn, source, target)
        for step in migrations[version:]:
            step(conn)
        if version < target:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {target}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return target


def _check_header(conn: sqlite3.Connection, source: str, known: int) -> int:
    """The schema version of the open file; InputError if it is not a store this code reads."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    app = conn.execute("PRAGMA application_id").fetchone()[0]
    if version == 0:
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables and app == APPLICATION_ID:  # its runs are there, its version is not
            raise InputError(
                "the run store is damaged: it holds tables but its schema version says it "
                "is empty (PRAGMA user_version was reset); it is left untouched",
                source=source,
            )
        if tables:
            raise InputError(
                "not a run store: an SQLite file of another program (it has other tables)",
                source=source,
            )
        if app == 0:
            return 0
    if app != APPLICATION_ID:
        raise InputError("not a run store: an SQLite file of another program", source=source)
    if version > known:
        raise InputError(
            f"the run store has schema version {version}, made by a newer cart-trial-sim; "
            f"this one reads up to version {known} (upgrade cart-trial-sim)",
            source=source,
        )
    return version


def _fail(path: Path, exc: sqlite3.Error) -> InputError:
    detail = " ".join(str(exc).split()) or type(exc).__name__
    if "locked" in detail or "busy" in detail:
        problem = f"the run store is busy ({detail}); try again"
    elif "readonly" in detail or "read-only" in detail:
        problem = f"the run store is read-only ({detail}); give a store you may write to"
    elif isinstance(exc, sqlite3.OperationalError) and "unable to open" in detail:
        problem = f"cannot open the run store ({detail})"
    else:
        problem = f"not a readable run store, damaged or not SQLite ({detail})"
    return InputError(problem, source=str(path))


@contextmanager
def open_store(
    path: Path, *, create: bool, migrations: tuple[Migration, ...] = MIGRATIONS
) -> Iterator[sqlite3.Connection | None]:
    """A connection to the store at ``path``, at the current schema, closed afterwards.

    Yields None for a store with no runs yet when ``create`` is false (nothing is written).
    Every sqlite3 error inside the block becomes a one-line InputError naming the file.
    """
    if not create and not path.exists():
        yield None
        return
    if path.is_dir():
        raise InputError("is a folder, not a run store file", source=str(path))
    if create:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                f"cannot create the folder of the run store ({exc.strerror})", source=str(path)
            ) from None
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise _fail(path, exc) from None
    with closing(conn):
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            version = _check_header(conn, str(path), len(migrations))
            if version == 0 and not create:
                yield None
                return
            if create:
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
            if version < len(migrations):
                migrate(conn, str(path), migrations)
            conn.execute("PRAGMA foreign_keys = ON")
            yield conn
        except sqlite3.Error as exc:
            raise _fail(path, exc) from None
