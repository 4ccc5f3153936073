"""The run store: round trips, names, damaged files, schema versions, kills and concurrency."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, make_scenario

from sim.cli.main import _Parser
from sim.cli.runs import add_runs_parser, cmd_runs
from sim.core.errors import InputError
from sim.core.version import __version__
from sim.io import database, store
from sim.io.database import SCHEMA_VERSION
from sim.io.store import FAN_COLUMNS

SUMMARY = {
    "scenario": "Synthetic",
    "replications": 3,
    "prob_target_by_deadline": 0.25,
    "prob_target_by_deadline_ci95": [0.1, 0.5],
    "target": {"count": 30, "milestone": "infused", "deadline": "2019-12-31"},
    "target_date": {"p10": "2018-01-02", "p50": "2019-06-30", "p90": None},
    "resources": {"beds": {"capacity": 2, "mean_wait_days": None}},
}


def _rows(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(n)
    ttt = rng.uniform(300, 900, n)
    ttt[::2] = np.nan  # not reached in half the trials
    return pd.DataFrame(
        {
            "replication": np.arange(n, dtype="int64"),
            "time_to_target_days": ttt,
            "infused": rng.integers(0, 40, n),
            "beds.utilization": rng.random(n),
            "vein_to_vein_days": [rng.uniform(15, 30, i % 4).tolist() for i in range(n)],
        }
    )


def _fan(months: int = 2) -> pd.DataFrame:
    m = np.arange(1, months + 1)
    frames = [
        pd.DataFrame(
            {
                "month": m,
                "date": [f"2016-{k + 1:02d}-01" for k in m],
                "series": series,
                "p5": m * 0.5,
                "p25": m * 1.0,
                "p50": m * 1.5,
                "p75": m * 2.0,
                "p95": np.where(m == 1, np.nan, m * 2.5),
            }
        )
        for series in ("enrolled", "infused")
    ]
    return pd.concat(frames, ignore_index=True)


def _save(db: Path | None, name: str, n: int = 3, **changes: Any) -> None:
    args: dict[str, Any] = {
        "scenario_text": "name: Synthetic\n",
        "scenario_digest": "abc123",
        "scenario_name": "Synthetic",
        "seed": 7,
        "replications": n,
        "version": __version__,
        "summary": SUMMARY,
        "rows": _rows(n),
        "fan": _fan(),
        "path": db,
    }
    args.update(changes)
    store.save_run(name, **args)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store" / "runs.sqlite"


def _user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


# --- round trips ----------------------------------------------------------------------------


def test_round_trip_of_a_real_run(db: Path) -> None:
    """A simulated run loads back with an equal summary, rows, fan and scenario."""
    from sim.run.runner import run_replications

    sc = make_scenario()
    res = run_replications(sc, 3, seed=11)
    summary, rows, fan = res.summary(), res.frame(), res.fan()
    store.save_run(
        "baseline",
        scenario_text=sc.to_yaml(),
        scenario_digest=sc.digest(),
        scenario_name=sc.name,
        seed=11,
        replications=3,
        version=__version__,
        summary=summary,
        rows=rows,
        fan=fan,
        path=db,
    )
    run = store.load_run("baseline", db)
    assert run.summary == summary
    pd.testing.assert_frame_equal(run.rows, rows)
    pd.testing.assert_frame_equal(run.fan, fan)
    assert (run.name, run.scenario_name, run.scenario_digest) == ("baseline", sc.name, sc.digest())
    assert (run.seed, run.replications, run.version) == (11, 3, __version__)
    assert run.scenario_text == sc.to_yaml()
    created = datetime.fromisoformat(run.created)
    assert created.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - created).total_seconds()) < 60


def test_round_trip_keeps_dtypes_missing_values_and_lists(db: Path) -> None:
    """NaN stays NaN, int stays int, vein-to-vein arrays come back as equal lists."""
    rows = _rows(5)
    rows["vein_to_vein_days"] = [np.array(v) for v in rows["vein_to_vein_days"]]
    _save(db, "r", n=5, rows=rows)
    back = store.load_run("r", db).rows
    assert back["time_to_target_days"].isna().tolist() == [True, False, True, False, True]
    assert back["infused"].dtype == np.int64
    assert [list(v) for v in back["vein_to_vein_days"]] == [
        list(v) for v in rows["vein_to_vein_days"]
    ]
    pd.testing.assert_frame_equal(back.drop(columns="vein_to_vein_days"), rows.iloc[:, :4])


def test_empty_fan_round_trips_with_its_columns(db: Path) -> None:
    """An empty fan frame loads back empty, with the fan columns and dtypes."""
    _save(db, "r", fan=_fan().iloc[:0])
    fan = store.load_run("r", db).fan
    assert fan.empty
    assert list(fan.columns) == list(FAN_COLUMNS)
    assert fan["month"].dtype == np.int64 and fan["p50"].dtype == np.float64


def test_save_refuses_rows_that_do_not_match_replications(db: Path) -> None:
    """Rows must number the replications, and the fan must have the fan columns."""
    with pytest.raises(ValueError, match="4 replications"):
        _save(db, "r", n=3, replications=4)
    with pytest.raises(ValueError, match="fan columns"):
        _save(db, "r", fan=_fan().drop(columns="p95"))
    assert store.list_runs(db).empty


# --- list, delete, export -------------------------------------------------------------------


def test_list_runs_gives_headline_figures_oldest_first(db: Path) -> None:
    """list_runs has one row a run, in saving order, with the summary's headline figures."""
    _save(db, "first", seed=1)
    _save(db, "second", n=4, seed=2, summary={**SUMMARY, "prob_target_by_deadline": None})
    runs = store.list_runs(db)
    assert list(runs.columns) == list(store.LIST_COLUMNS)
    assert runs["name"].tolist() == ["first", "second"]
    assert runs["seed"].tolist() == [1, 2]
    assert runs["replications"].tolist() == [3, 4]
    assert runs["prob_target_by_deadline"].iloc[0] == 0.25
    assert np.isnan(runs["prob_target_by_deadline"].iloc[1])
    assert runs["target_date_p50"].tolist() == ["2019-06-30", "2019-06-30"]


def test_list_of_a_missing_store_is_empty_and_creates_nothing(db: Path) -> None:
    """Reading a store that does not exist yet lists no runs and writes no file."""
    runs = store.list_runs(db)
    assert runs.empty and list(runs.columns) == list(store.LIST_COLUMNS)
    assert not db.exists() and not db.parent.exists()


def test_delete_removes_the_run_and_its_rows(db: Path) -> None:
    """A deleted run is gone from the list, cannot be loaded, and leaves no rows behind."""
    _save(db, "keep", n=3)
    _save(db, "drop", n=5)
    store.delete_run("drop", db)
    assert store.list_runs(db)["name"].tolist() == ["keep"]
    with pytest.raises(InputError, match="no such run"):
        store.load_run("drop", db)
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT count(*) FROM replications").fetchone()[0] == 3
        assert conn.execute("SELECT count(*) FROM fan").fetchone()[0] == len(_fan())
    finally:
        conn.close()
    with pytest.raises(InputError, match="no such run"):
        store.delete_run("drop", db)


def test_export_writes_the_four_files(db: Path, tmp_path: Path) -> None:
    """Export creates the folder and writes summary, scenario, replications and fan."""
    _save(db, "r", n=4)
    out = tmp_path / "exports" / "r"
    store.export_run("r", out, db)
    assert sorted(p.name for p in out.iterdir()) == [
        "fan.csv",
        "replications.csv",
        "scenario.yaml",
        "summary.json",
    ]
    assert json.loads((out / "summary.json").read_text()) == SUMMARY
    assert (out / "scenario.yaml").read_text() == "name: Synthetic\n"
    reps = pd.read_csv(out / "replications.csv")
    assert len(reps) == 4 and reps["replication"].tolist() == [0, 1, 2, 3]
    assert json.loads(reps["vein_to_vein_days"].iloc[3]) == _rows(4)["vein_to_vein_days"][3]
    fan = pd.read_csv(out / "fan.csv")
    assert list(fan.columns) == list(FAN_COLUMNS) and len(fan) == len(_fan())


# --- names ----------------------------------------------------------------------------------


def test_duplicate_name_is_refused_then_replaced(db: Path) -> None:
    """Saving a name twice asks for --replace; with replace=True the new run wins."""
    _save(db, "r", n=3, seed=1)
    with pytest.raises(InputError, match="--replace") as err:
        _save(db, "r", n=5, seed=2)
    assert str(db) in err.value.message
    assert store.load_run("r", db).seed == 1
    _save(db, "r", n=5, seed=2, replace=True)
    run = store.load_run("r", db)
    assert (run.seed, run.replications, len(run.rows)) == (2, 5, 5)
    assert store.list_runs(db)["name"].tolist() == ["r"]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 101, "at most 100"),
        ("tab\there", "control"),
        ("two\nlines", "control"),
        ("nul\x00", "control"),
        ("bell\x07", "control"),
        (" padded", "start or end"),
        (42, "text"),
    ],
)
def test_bad_names_are_refused(db: Path, name: Any, why: str) -> None:
    """Empty, too long, control characters, edge spaces and non-text names are refused."""
    with pytest.raises(InputError, match=why) as err:
        _save(db, name)
    assert "\n" not in err.value.message
    assert store.list_runs(db).empty


def test_long_and_unicode_names_are_accepted(db: Path) -> None:
    """100 characters, inner spaces and non-ASCII letters make good names."""
    names = ["x" * 100, "Lyon, 3 suites (été) – v2"]
    for name in names:
        _save(db, name)
    assert store.list_runs(db)["name"].tolist() == names


def test_unknown_name_lists_saved_names(db: Path) -> None:
    """An unknown name names the file and a few saved runs, close matches first."""
    for i in range(7):
        _save(db, f"run-{i}")
    _save(db, "baseline")
    with pytest.raises(InputError) as err:
        store.load_run("baselin", db)
    msg = err.value.message
    assert msg.startswith(f"{db}: run = 'baselin': no such run; saved runs: 'baseline', ")
    assert "and 3 more" in msg
    with pytest.raises(InputError, match="has no saved runs"):
        store.load_run("anything", db.parent / "other.sqlite")


# --- damaged files and schema versions -------------------------------------------------------


def _all_calls(db: Path, tmp_path: Path) -> list[Any]:
    return [
        lambda: store.list_runs(db),
        lambda: store.load_run("r", db),
        lambda: store.delete_run("r", db),
        lambda: store.export_run("r", tmp_path / "out", db),
        lambda: _save(db, "new"),
    ]


def test_garbage_file_gives_one_line_error(db: Path, tmp_path: Path) -> None:
    """A file of random bytes is reported, naming the file, by every function."""
    db.parent.mkdir(parents=True)
    garbage = np.random.default_rng(1).bytes(10_000)
    db.write_bytes(garbage)
    for call in _all_calls(db, tmp_path):
        with pytest.raises(InputError, match="not a readable run store") as err:
            call()
        assert err.value.message.startswith(f"{db}: ")
        assert "\n" not in err.value.message
        assert err.value.__cause__ is None
    assert db.read_bytes() == garbage


def test_truncated_store_gives_one_line_error(db: Path, tmp_path: Path) -> None:
    """A real store cut to half its size is reported as damaged, naming the file."""
    _save(db, "r", n=20_000)
    size = db.stat().st_size
    with db.open("r+b") as fh:
        fh.truncate(size // 2)
    for call in _all_calls(db, tmp_path):
        with pytest.raises(InputError, match="damaged") as err:
            call()
        assert err.value.message.startswith(f"{db}: ")


def test_empty_file_is_a_new_store(db: Path) -> None:
    """A zero-byte file (schema version 0) is migrated to the current version on save."""
    db.parent.mkdir(parents=True)
    db.touch()
    assert store.list_runs(db).empty
    assert db.stat().st_size == 0  # reading does not migrate
    _save(db, "r")
    assert _user_version(db) == SCHEMA_VERSION
    assert store.load_run("r", db).replications == 3


def test_newer_schema_version_is_refused(db: Path, tmp_path: Path) -> None:
    """A store from a newer schema is refused by name and left untouched."""
    _save(db, "r")
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    for call in _all_calls(db, tmp_path):
        with pytest.raises(InputError, match="newer cart-trial-sim") as err:
            call()
        assert err.value.message.startswith(f"{db}: ")
    assert _user_version(db) == SCHEMA_VERSION + 1


def test_sqlite_file_of_another_program_is_refused(db: Path) -> None:
    """An SQLite file with other tables is refused, not written into."""
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(InputError, match="another program"):
        _save(db, "r")
    conn = sqlite3.connect(db)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    conn.close()
    assert tables == ["notes"]


def _add_note_column(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE runs ADD COLUMN note TEXT")


def _broken(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE half_done (x)")
    raise RuntimeError("migration failed")


def test_migrations_run_in_order_from_the_stored_version(db: Path) -> None:
    """Only the steps after the stored version run; a failing step changes nothing."""
    _save(db, "r")  # a version-1 store holding a run
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        with pytest.raises(RuntimeError):
            database.migrate(conn, str(db), (*database.MIGRATIONS, _add_note_column, _broken))
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "half_done" not in names
        assert database.migrate(conn, str(db), (*database.MIGRATIONS, _add_note_column)) == 2
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        assert conn.execute("SELECT name, note FROM runs").fetchall() == [("r", None)]
    finally:
        conn.close()
    with pytest.raises(InputError, match="schema version 2"):
        store.load_run("r", db)  # this code knows only version 1


# --- where the store is ---------------------------------------------------------------------


def test_environment_variable_chooses_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$CART_TRIAL_SIM_STORE replaces the default; an explicit path beats both."""
    monkeypatch.delenv(store.ENV_VAR, raising=False)
    assert store.store_path() == Path("runs/runs.sqlite")
    env_db = tmp_path / "env" / "runs.sqlite"
    monkeypatch.setenv(store.ENV_VAR, str(env_db))
    assert store.store_path() == env_db
    _save(None, "via-env")
    assert env_db.exists()
    assert store.list_runs()["name"].tolist() == ["via-env"]
    other = tmp_path / "explicit.sqlite"
    assert store.store_path(other) == other
    assert store.list_runs(other).empty


# --- processes ------------------------------------------------------------------------------

WRITER = """
import sys
from pathlib import Path
import numpy as np, pandas as pd
from sim.io import store

db, prefix, count, n, marker = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
    Path(sys.argv[5])
rows = pd.DataFrame({
    "replication": np.arange(n),
    "time_to_target_days": np.random.default_rng(0).uniform(300, 900, n),
    "infused": np.full(n, 30),
})
fan = pd.DataFrame({c: [1] if c == "month" else ["x"] if c in ("date", "series") else [0.5]
                    for c in store.FAN_COLUMNS})
for i in range(count):
    with marker.open("a") as fh:
        fh.write(f"start {i}\\n")
    store.save_run(f"{prefix}-{i}", scenario_text="name: x\\n", scenario_digest="d",
                   scenario_name="x", seed=i, replications=n, version="test", summary={"i": i},
                   rows=rows, fan=fan, path=db)
    with marker.open("a") as fh:
        fh.write(f"done {i}\\n")
"""


def _writer(db: Path, prefix: str, count: int, n: int, marker: Path) -> subprocess.Popen:
    args = [sys.executable, "-c", WRITER, str(db), prefix, str(count), str(n), str(marker)]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _lines(marker: Path) -> list[str]:
    return marker.read_text().split("\n")[:-1] if marker.exists() else []


def _assert_complete(db: Path) -> list[str]:
    names = store.list_runs(db)["name"].tolist()
    for name in names:
        run = store.load_run(name, db)
        assert len(run.rows) == run.replications, name
        assert len(run.fan) == 1
    return names


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_process_killed_mid_save_leaves_no_half_run(db: Path, tmp_path: Path) -> None:
    """SIGKILL during a 200,000-row save: the store opens and lists only whole runs."""
    marker = tmp_path / "marker"
    proc = _writer(db, "big", 100, 200_000, marker)
    try:
        deadline = time.monotonic() + 20
        while "start 1" not in _lines(marker):  # big-0 saved, big-1 under way
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the writer never started its second save"
            time.sleep(0.01)
        time.sleep(0.3)  # well inside the save (about a second for 200,000 rows)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    last = _lines(marker)[-1]
    assert last.startswith("start "), f"killed between saves, not during one: {last}"
    names = _assert_complete(db)
    assert "big-0" in names
    assert f"big-{last.split()[1]}" not in names
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    _save(db, "after")  # no lock or half transaction left behind
    assert "after" in store.list_runs(db)["name"].tolist()


def test_concurrent_saves_all_land_while_reading(db: Path, tmp_path: Path) -> None:
    """Two processes save into a new store while this one reads: every save lands."""
    procs = [_writer(db, p, 4, 20_000, tmp_path / f"marker-{p}") for p in ("a", "b")]
    seen = []
    try:
        while any(p.poll() is None for p in procs):
            names = store.list_runs(db)["name"].tolist()
            if names:
                run = store.load_run(names[-1], db)
                assert len(run.rows) == run.replications == 20_000
            seen.append(len(names))
            time.sleep(0.02)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    for p in procs:
        assert p.returncode == 0, p.stderr.read().decode()
    assert seen == sorted(seen)  # runs only ever appear
    names = _assert_complete(db)
    assert sorted(names) == [f"{p}-{i}" for p in ("a", "b") for i in range(4)]


# --- command line ---------------------------------------------------------------------------


def _cli(*argv: str) -> int:
    parser = _Parser(prog="cart-trial-sim")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add_runs_parser(sub)
    return cmd_runs(parser.parse_args(argv))


def test_runs_commands(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """runs list/show/export/delete print what they did; show --json prints the summary."""
    _save(db, "alpha")
    assert _cli("runs", "list", "--store", str(db)) == 0
    out = capsys.readouterr().out
    assert "alpha" in out and "25%" in out and "2019-06-30" in out
    _cli("runs", "show", "alpha", "--store", str(db))
    out = capsys.readouterr().out
    assert "Run: alpha" in out and "median 2019-06-30" in out and "25%" in out
    _cli("runs", "show", "alpha", "--json", "--store", str(db))
    assert json.loads(capsys.readouterr().out) == SUMMARY
    _cli("runs", "export", "alpha", str(tmp_path / "x"), "--store", str(db))
    assert (tmp_path / "x" / "fan.csv").exists()
    _cli("runs", "delete", "alpha", "--store", str(db))
    capsys.readouterr()
    _cli("runs", "list", "--store", str(db))
    assert capsys.readouterr().out.startswith("No saved runs")


def test_runs_command_errors_are_one_line(db: Path) -> None:
    """Unknown names and usage mistakes raise InputError (printed as one line, exit 2)."""
    _save(db, "alpha")
    with pytest.raises(InputError, match="'alpha'"):
        _cli("runs", "show", "beta", "--store", str(db))
    with pytest.raises(InputError, match="required: name"):
        _cli("runs", "delete", "--store", str(db))
    with pytest.raises(InputError, match="invalid choice"):
        _cli("runs", "frob")
