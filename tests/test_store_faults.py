"""The run store when things go wrong: a save that fails after a run, runs damaged by another
program, a store whose version was reset, names for a new version of a run, and what held up
(issue 11).

Each test's docstring names the finding of issue 11 ("Why", 1 to 11) it guards.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from pathlib import Path

import pytest
from conftest import REFERENCE_WORKLOAD
from test_store import _save

from sim.cli import run as run_command
from sim.cli.main import main
from sim.core.errors import InputError
from sim.io import database, store

REF = str(REFERENCE_WORKLOAD)
QUICK = ["--executor", "serial", "--quiet"]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "store" / "runs.sqlite"
    monkeypatch.setenv(store.ENV_VAR, str(path))
    return path


def _lines(text: str) -> list[str]:
    return text.splitlines()


# --- finding 7: a save that fails after the run -----------------------------------------------


def test_a_busy_store_still_prints_the_results(db, monkeypatch, capsys):
    """Finding 7: with the store busy for longer than the wait, the finished results were
    thrown away (no summary, exit 2). Now the summary is printed and one line says the run
    was not saved."""
    _save(db, "other")
    monkeypatch.setattr(database, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process in the middle of a long save
    try:
        status = main(["run", REF, "--reps", "3", "--save", "mine", *QUICK])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    captured = capsys.readouterr()
    assert status == 2
    assert "Scenario: Reference workload" in captured.out  # the results are shown
    (line,) = _lines(captured.err)
    assert line.startswith("error: the run was not saved:") and "busy" in line, line
    assert store.run_names(db) == ["other"]


def test_a_name_taken_during_the_run_saves_under_the_next_free_name(db, monkeypatch, capsys):
    """Finding 7: a name saved by another process while the run went on lost the run; now
    it is saved as ``name (2)`` and the output says why."""
    real = run_command.run_replications

    def and_meanwhile(*args, **kwargs):
        _save(db, "mine")  # another session takes the name
        return real(*args, **kwargs)

    monkeypatch.setattr(run_command, "run_replications", and_meanwhile)
    assert main(["run", REF, "--reps", "3", "--save", "mine", *QUICK]) == 0
    out = capsys.readouterr().out
    assert "Saved as 'mine (2)'" in out and "while this one ran" in out
    assert store.run_names(db) == ["mine", "mine (2)"]
    assert store.load_run("mine (2)", db).replications == 3


def test_a_read_only_store_is_named_read_only():
    """Finding 7: a read-only store was reported as "damaged or not SQLite"."""
    error = sqlite3.OperationalError("attempt to write a readonly database")
    message = database._fail(Path("runs.sqlite"), error).message
    assert "read-only" in message and "damaged" not in message


@pytest.mark.skipif(os.geteuid() == 0, reason="the superuser may write to read-only files")
def test_a_read_only_store_file_still_prints_the_results(db, capsys):
    """Finding 7: saving into a store file this user may not write prints the results and
    one line saying the store is read-only."""
    _save(db, "other")
    db.chmod(0o444)
    db.parent.chmod(0o555)
    try:
        status = main(["run", REF, "--reps", "2", "--save", "mine", *QUICK])
    finally:
        db.parent.chmod(0o755)
        db.chmod(0o644)
    captured = capsys.readouterr()
    assert status == 2 and "Scenario: Reference workload" in captured.out
    (line,) = _lines(captured.err)
    assert "not saved" in line and "read-only" in line, line


# --- finding 8: runs damaged by another program ----------------------------------------------


HURT = "(SELECT id FROM runs WHERE name = 'hurt')"
DAMAGE = {
    "seed-text": "UPDATE runs SET seed = 'abc' WHERE name = 'hurt'",
    "replications-text": "UPDATE runs SET replications = 'x' WHERE name = 'hurt'",
    "replications-wrong": "UPDATE runs SET replications = 7 WHERE name = 'hurt'",
    "summary-garbage": "UPDATE runs SET summary = 'not json' WHERE name = 'hurt'",
    "summary-list": "UPDATE runs SET summary = '[1, 2]' WHERE name = 'hurt'",
    "summary-fields": "UPDATE runs SET summary = '{\"target\": 5, \"target_date\": 3}' "
    "WHERE name = 'hurt'",
    "columns-object": "UPDATE runs SET row_columns = '{}' WHERE name = 'hurt'",
    "columns-short": "UPDATE runs SET row_columns = '[[\"replication\"]]' WHERE name = 'hurt'",
    "row-short": f"UPDATE replications SET data = '[1]' WHERE run_id = {HURT} AND position = 0",
    "row-not-json": f"UPDATE replications SET data = 'zz' WHERE run_id = {HURT}",
    "row-number": f"UPDATE replications SET data = 3 WHERE run_id = {HURT} AND position = 1",
    "fan-month": f"UPDATE fan SET month = 'm' WHERE run_id = {HURT}",
}


@pytest.fixture
def damaged(db, request) -> Path:
    assert main(["run", REF, "--reps", "3", "--save", "hurt", *QUICK]) == 0
    _save(db, "fine")
    conn = sqlite3.connect(db)
    with conn:
        assert conn.execute(DAMAGE[request.param]).rowcount > 0
    conn.close()
    return db


@pytest.mark.parametrize("damaged", list(DAMAGE), indirect=True)
def test_a_damaged_run_is_one_line_everywhere(damaged, tmp_path, capsys):
    """Finding 8: runs edited with sqlite3 (rows, summaries, seeds) crashed ``runs show``,
    ``export``, ``reproduce``, ``runs list`` and later saves with IndexError, AttributeError
    or ValueError. Now each command shows the run or says in one line that it is damaged;
    the other runs stay usable and a later save works."""
    capsys.readouterr()
    for argv in (["runs", "list"], ["runs", "show", "hurt"], ["runs", "show", "hurt", "--json"],
                 ["runs", "export", "hurt", str(tmp_path / "exported")],
                 ["reproduce", "hurt", *QUICK],
                 ["run", REF, "--reps", "2", "--save", "later", *QUICK]):
        status = main(argv)
        captured = capsys.readouterr()
        assert status in (0, 1, 2), argv
        if status == 2:
            (line,) = _lines(captured.err)
            assert line.startswith("error: ") and "hurt" in line, (argv, line)
    assert main(["runs", "show", "fine"]) == 0
    assert "later" in store.run_names(damaged)
    assert main(["runs", "list"]) == 0
    listed = capsys.readouterr().out
    assert "hurt" in listed and "fine" in listed and "later" in listed


def test_a_store_whose_version_was_reset_is_not_called_empty(db, capsys):
    """Finding 11: a store whose schema version was reset to 0 listed "No saved runs" while
    holding ten; now it is reported as damaged and left untouched."""
    for i in range(10):
        _save(db, f"run {i}")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 0")
    conn.close()
    before = db.read_bytes()
    assert main(["runs", "list"]) == 2
    (line,) = _lines(capsys.readouterr().err)
    assert "schema version" in line and "damaged" in line, line
    assert main(["run", REF, "--reps", "2", "--save", "new", *QUICK]) == 2
    assert db.read_bytes() == before


# --- names for a new version of a run (the dashboard's saves) --------------------------------


def test_next_free_name_counts_versions(db):
    """Deliverable 5 (the store's part): a taken name gives ``name (2)``, ``name (3)``, ...;
    a name that is itself a version counts on from its base; long names stay within the
    limit."""
    assert store.next_free_name("trial", db) == "trial"
    _save(db, "trial")
    assert store.next_free_name("trial", db) == "trial (2)"
    _save(db, "trial (2)")
    assert store.next_free_name("trial", db) == "trial (3)"
    assert store.next_free_name("trial (2)", db) == "trial (3)"
    long = "x" * store.NAME_MAX
    _save(db, long)
    following = store.next_free_name(long, db)
    assert following.endswith(" (2)") and len(following) == store.NAME_MAX
    with pytest.raises(InputError):
        store.next_free_name("", db)


def test_save_never_overwrites_without_replace(db):
    """Deliverable 5 (the store's part), and what held up: a save under a taken name is
    refused, so one session's run is never overwritten by another's unless it asks to
    replace it."""
    _save(db, "trial", seed=1)
    with pytest.raises(InputError, match="already saved"):
        _save(db, "trial", seed=2)
    assert store.load_run("trial", db).seed == 1


# --- what held up ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../../etc/passwd", "/tmp/x", "C:\\\\runs", "a/b/c", ".."])
def test_run_names_never_touch_the_file_system(db, tmp_path, name):
    """What held up: a run name is a key in the store, never a path."""
    before = {p for p in tmp_path.rglob("*")}
    _save(db, name)
    assert store.load_run(name, db).name == name
    after = {p for p in tmp_path.rglob("*")}
    new = {p.name for p in after - before}
    assert new <= {"store", "runs.sqlite", "runs.sqlite-wal", "runs.sqlite-shm"}, new


def test_replace_and_delete_racing_leave_one_whole_run_or_none(db):
    """What held up: replaces and deletes of one name from several threads leave either no
    run or one whole run of that name, never a half of two."""
    _save(db, "race", seed=0)
    errors: list[BaseException] = []

    def replace(k: int) -> None:
        try:
            for i in range(5):
                _save(db, "race", n=3 + k, seed=10 * k + i, replace=True)
        except BaseException as exc:
            errors.append(exc)

    def delete() -> None:
        for _ in range(5):
            with contextlib.suppress(InputError):  # already gone: a fair outcome
                store.delete_run("race", db)

    threads = [threading.Thread(target=replace, args=(k,)) for k in range(3)]
    threads.append(threading.Thread(target=delete))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    names = store.list_runs(db)["name"].tolist()
    assert names in ([], ["race"])
    if names:
        run = store.load_run("race", db)
        assert len(run.rows) == run.replications == 3 + run.seed // 10
    conn = sqlite3.connect(db)
    try:
        orphans = conn.execute(
            "SELECT count(*) FROM replications WHERE run_id NOT IN (SELECT id FROM runs)"
        ).fetchone()[0]
    finally:
        conn.close()
    assert orphans == 0


def test_the_streamlit_upload_limit_fits_the_largest_file_the_app_reads():
    """Deliverable 5 / finding 9: uploads up to 200 MB were held in memory before the app's
    own check; ``server.maxUploadSize`` is now the smallest whole number of megabytes that
    still admits the largest file the project reads (an observed log, 5,000,000 bytes)."""
    import tomllib

    from sim.core.yamlio import MAX_BYTES
    from sim.forecasting.observed import MAX_LOG_BYTES

    config = tomllib.loads((Path(__file__).parents[1] / ".streamlit" / "config.toml").read_text())
    limit = config["server"]["maxUploadSize"] * 1024 * 1024
    largest = max(MAX_BYTES, MAX_LOG_BYTES)
    assert largest <= limit < largest + 1024 * 1024
    json.dumps(config)  # plain values only
