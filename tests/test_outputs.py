"""Output folders whole or not at all, and ``reproduce`` comparing every table (issue 11).

Each test's docstring names the finding of issue 11 ("Why", 1 to 11) it guards.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import REFERENCE_WORKLOAD, ROOT, SCENARIOS

from sim.cli.main import main
from sim.core.errors import InputError
from sim.io.files import write_folder

REF = str(REFERENCE_WORKLOAD)
QUICK = ["--executor", "serial", "--quiet"]


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def _one_error(capsys: pytest.CaptureFixture[str], *parts: str) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for part in parts:
        assert part in lines[0], (part, lines[0])
    return lines[0]


# --- finding 1: --keep-logs 0 with --out, umask -----------------------------------------------


def test_out_with_keep_logs_0_writes_the_folder_without_log_tables(tmp_path, capsys):
    """Finding 1: ``run --reps 5 --out DIR --keep-logs 0`` ended in a traceback ("No objects
    to concatenate"); now it writes the summary, scenario, replications and fan chart, says
    that the patient tables were left out, and reproduces."""
    out = tmp_path / "DIR"
    status = main(["run", str(SCENARIOS / "baseline.yaml"), "--reps", "5", "--out", str(out),
                   "--keep-logs", "0", *QUICK])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert captured.err == ""
    assert sorted(p.name for p in out.iterdir()) == [
        "fan.csv", "replications.csv", "scenario.yaml", "summary.json"]
    assert "no patient tables: --keep-logs 0" in captured.out
    assert len(pd.read_csv(out / "replications.csv")) == 5
    assert main(["reproduce", str(out), *QUICK]) == 0
    assert "replications.csv" in capsys.readouterr().out


def test_a_failed_write_leaves_no_folder_and_no_temporary_files(tmp_path):
    """Finding 1: a failure while writing left a partial DIR; now DIR does not exist after a
    failure and nothing is left beside it."""
    out = tmp_path / "DIR"

    def broken(fh):
        fh.write("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(InputError, match="No space left"):
        write_folder(out, {"summary.json": lambda f: f.write("{}"), "patients.csv": broken})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask, file_mode, dir_mode", [(0o022, 0o644, 0o755),
                                                         (0o077, 0o600, 0o700)])
def test_output_files_take_the_umask(tmp_path, capsys, umask, file_mode, dir_mode):
    """Finding 1: output files were created 0600 whatever the umask; now 0644 under umask
    022 (and private under 077)."""
    out = tmp_path / "DIR"
    old = os.umask(umask)
    try:
        assert main(["run", REF, "--reps", "2", "--out", str(out), *QUICK]) == 0
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == dir_mode
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()}
    assert set(modes.values()) == {file_mode}, modes


# --- finding 3: a kill during --out, reproduce compares every table --------------------------


WRITE = [sys.executable, "-m", "sim", "run", REF, "--reps", "40", "--seed", "2", *QUICK]


def _run_into(out: Path) -> subprocess.Popen:
    return subprocess.Popen([*WRITE, "--out", str(out)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def _temporaries(out: Path) -> list[Path]:
    return list(out.parent.glob(f".{out.name}.*"))


def test_a_kill_during_out_leaves_the_old_folder_or_the_new_one(tmp_path):
    """Finding 3: kill -9 of a second run into the same folder while it writes left seed 2's
    summary beside seed 1's tables and a leftover temporary file. Now the folder is always
    one whole set, the old or the new, and the next write removes what the killed one left
    beside it."""
    out, new = tmp_path / "DIR", tmp_path / "NEW"
    assert main(["run", REF, "--reps", "40", "--seed", "1", "--out", str(out), *QUICK]) == 0
    old_set = _digests(out)
    proc = _run_into(new)
    assert proc.wait(120) == 0, proc.stderr.read()
    new_set = _digests(new)
    assert old_set.keys() == new_set.keys() and old_set != new_set
    saved = tmp_path / "saved"
    shutil.copytree(out, saved)
    killed_mid_write = 0
    for delay in (0.0, 0.02, 0.08, 0.3):
        shutil.rmtree(out)
        shutil.copytree(saved, out)
        proc = _run_into(out)
        try:
            deadline = time.monotonic() + 120
            while not _temporaries(out) and proc.poll() is None:
                assert time.monotonic() < deadline, "the run never began to write"
                time.sleep(0.002)
            time.sleep(delay)
            writing = bool(_temporaries(out))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        now = _digests(out)
        assert now in (old_set, new_set), f"a mix after a kill {delay} s into the write"
        killed_mid_write += writing and now == old_set
    assert killed_mid_write, "no kill landed while the folder was being written"
    assert main(["run", REF, "--reps", "2", "--out", str(out), *QUICK]) == 0
    assert _temporaries(out) == [], "temporary folders of killed runs were left behind"


@pytest.fixture
def folder(tmp_path) -> Path:
    out = tmp_path / "out"
    assert main(["run", REF, "--reps", "4", "--seed", "3", "--out", str(out), *QUICK]) == 0
    return out


@pytest.mark.parametrize("table", ["patients.csv", "events.csv", "timeline.csv",
                                   "replications.csv", "fan.csv"])
def test_reproduce_compares_every_table(folder, capsys, table):
    """Finding 3: ``reproduce`` compared only the summary, so a folder whose tables were
    not the summary's printed "identical". Now a changed table is reported by name."""
    path = folder / table
    lines = path.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace("0", "1", 1) if "0" in lines[1] else "x" + lines[1]
    path.write_text("".join(lines))
    capsys.readouterr()
    assert main(["reproduce", str(folder), *QUICK]) == 1
    out = capsys.readouterr().out
    assert out.startswith("DIFFERENT") and table in out


def test_reproduce_finds_a_mix_of_two_runs(folder, tmp_path, capsys):
    """Finding 3: seed 2's summary beside seed 1's tables reproduced as "identical"."""
    other = tmp_path / "other"
    assert main(["run", REF, "--reps", "4", "--seed", "9", "--out", str(other), *QUICK]) == 0
    shutil.copy(other / "summary.json", folder / "summary.json")
    capsys.readouterr()
    assert main(["reproduce", str(folder), *QUICK]) == 1
    assert "patients.csv" in capsys.readouterr().out


def test_reproduce_of_a_whole_folder_names_the_tables_it_compared(folder, capsys):
    """Deliverable 4: an untouched folder re-runs to the same summary and tables."""
    capsys.readouterr()
    assert main(["reproduce", str(folder), *QUICK]) == 0
    out = capsys.readouterr().out
    assert out.startswith("identical") and "events.csv" in out and "fan.csv" in out


# --- finding 8: damaged folders --------------------------------------------------------------


@pytest.mark.parametrize("key, value, shown", [
    ("replications", 0, "replications = 0"),
    ("replications", -3, "replications = -3"),
    ("replications", "many", "replications = 'many'"),
    ("replications", True, "replications = True"),
    ("seed", 2**70, "seed"),
    ("seed", None, "seed = None"),
])
def test_a_damaged_summary_is_one_line(folder, capsys, key, value, shown):
    """Finding 8: an --out folder whose summary says ``replications: 0`` crashed
    ``reproduce``; any damaged seed or count is now one line and exit status 2."""
    summary = json.loads((folder / "summary.json").read_text())
    summary[key] = value
    (folder / "summary.json").write_text(json.dumps(summary))
    capsys.readouterr()
    assert main(["reproduce", str(folder), *QUICK]) == 2
    _one_error(capsys, "summary.json", shown)


def test_a_summary_asking_for_ten_million_replications_is_refused_at_once(folder):
    """Finding 8: a summary saying 10000000 replications started an 11-hour run; now the
    work budget refuses it at once (one line naming --allow-large)."""
    summary = json.loads((folder / "summary.json").read_text())
    summary["replications"] = 10_000_000
    (folder / "summary.json").write_text(json.dumps(summary))
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "sim", "reproduce", str(folder), *QUICK],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert time.monotonic() - started < 30
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "--allow-large" in proc.stderr


def test_a_summary_that_is_not_an_object_is_one_line(folder, capsys):
    """Finding 8: a summary.json holding a list is one line, not a traceback."""
    (folder / "summary.json").write_text("[1, 2]")
    capsys.readouterr()
    assert main(["reproduce", str(folder), *QUICK]) == 2
    _one_error(capsys, "summary.json", "not a summary")


# --- finding 11: --out onto a file ------------------------------------------------------------


def test_out_onto_a_file_says_so_before_the_run(tmp_path, capsys):
    """Finding 11: ``--out`` onto an existing file, or under one, said "cannot create the
    folder (File exists)" (after the run); now it names the file, before any work."""
    afile = tmp_path / "afile"
    afile.write_text("mine")
    for target, part in ((afile, "exists and is not a folder"),
                         (afile / "x", f"{afile} is a file, not a folder")):
        assert main(["run", REF, "--reps", "2", "--out", str(target), *QUICK]) == 2
        _one_error(capsys, part)
    assert afile.read_text() == "mine"


def test_a_folder_of_other_files_is_never_touched(tmp_path, capsys):
    """What held up: ``--out`` and ``runs export`` write only their own file names; a folder
    holding anything else is refused and left as it was."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["run", REF, "--reps", "2", "--out", str(out), *QUICK]) == 2
    _one_error(capsys, "holds other files")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
