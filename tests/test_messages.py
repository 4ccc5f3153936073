"""Messages that name the real problem, and observed logs read as strictly as the README says
(issue 11, finding 11).

Each test's docstring names the finding of issue 11 ("Why", 1 to 11) it guards.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from conftest import ROOT, SCENARIOS

from sim.cli.main import main

BASELINE = str(SCENARIOS / "baseline.yaml")
EXAMPLE = SCENARIOS / "observed_example.csv"
HEADER = ("patient_id,site,referred_date,consent_date,screen_end_date,screen_failed,"
          "apheresis_date,release_date,infusion_date,outcome,outcome_date")
SITE = "Soochow University First Affiliated Hospital"
INFUSED = (f"P1,{SITE},2015-12-14,2015-12-14,2015-12-29,,2015-12-30,2016-01-10,2016-01-15,"
           "infused,2016-02-11")
"""A patient infused, every date known (the first row of the example log)."""


def _forecast(log, capsys) -> str:
    status = main(["forecast", BASELINE, "--observed", str(log), "--as-of", "2016-06-01",
                   "--reps", "2", "--executor", "serial", "--quiet"])
    err = capsys.readouterr().err
    assert status == 2, err
    (line,) = err.splitlines()
    assert line.startswith(f"error: {log}"), line
    return line


def test_a_binary_log_is_not_called_yaml(tmp_path, capsys):
    """Finding 11: a binary CSV was "not YAML text"."""
    log = tmp_path / "log.csv"
    log.write_bytes(b"patient_id,site\x00\x01\x02")
    line = _forecast(log, capsys)
    assert "binary" in line and "CSV" in line and "YAML" not in line


def test_a_ragged_log_names_the_row_not_a_date_as_a_patient(tmp_path, capsys):
    """Finding 11: a row with one value too many blamed "patient '2015-12-14'" (its values
    had shifted under the wrong columns); now the row and the counts are named."""
    log = tmp_path / "log.csv"
    log.write_text(f"{HEADER}\n{INFUSED},extra\n")
    line = _forecast(log, capsys)
    assert "data row 1 has 12 values where the header has 11 columns" in line
    assert "2015-12-14" not in line


@pytest.mark.parametrize("date", ["20151214", "2015-W51-1", "2015-12-14T00:00", "2015-348"])
def test_observed_dates_are_yyyy_mm_dd_only(tmp_path, capsys, date):
    """Finding 11: observed dates ``20160203`` and ``2016-W05-1`` were accepted, though the
    README says YYYY-MM-DD."""
    log = tmp_path / "log.csv"
    log.write_text(f"{HEADER}\n{INFUSED.replace('2015-12-14,2015-12-14', f'{date},2015-12-14')}\n")
    line = _forecast(log, capsys)
    assert "referred_date" in line and "YYYY-MM-DD" in line


def test_an_infused_patient_needs_an_apheresis_date(tmp_path, capsys):
    """Finding 11: a patient infused with no apheresis date was accepted."""
    log = tmp_path / "log.csv"
    log.write_text(f"{HEADER}\n{INFUSED.replace(',2015-12-30,', ',,')}\n")
    line = _forecast(log, capsys)
    assert "apheresis_date" in line and "infused" in line


@pytest.mark.parametrize("row", [
    f"P1,{SITE},2015-12-14,2015-12-14,2015-12-29,true,,,2016-01-15,infused,2016-02-11",
    f"P1,{SITE},2015-12-14,2015-12-14,2015-12-29,true,,2016-01-10,,,",
    f"P1,{SITE},2015-12-14,2015-12-14,2015-12-29,true,2015-12-30,,,,",
], ids=["infused", "released", "collected"])
def test_a_screen_failed_patient_is_not_infused(tmp_path, capsys, row):
    """Finding 11: a patient who failed screening yet was infused was accepted."""
    log = tmp_path / "log.csv"
    log.write_text(f"{HEADER}\n{row}\n")
    line = _forecast(log, capsys)
    assert "failed screening" in line


def test_the_example_log_still_reads(capsys):
    """The shipped example log passes the stricter reading."""
    assert main(["forecast", BASELINE, "--observed", str(EXAMPLE), "--as-of", "2017-06-01",
                 "--reps", "2", "--executor", "serial", "--quiet"]) == 0
    assert "Observed to 2017-06-01" in capsys.readouterr().out


def test_verify_refuses_a_bad_report_path_before_its_checks(tmp_path):
    """Finding 11: ``verify --out afile/x.md`` ran every check for 27 s before failing on
    the path; now the path is refused first, in a moment."""
    afile = tmp_path / "afile"
    afile.write_text("")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "sim", "verify", "--out", str(afile / "x.md"),
                           "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert time.monotonic() - started < 15
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"{afile} is a file, not a folder" in proc.stderr
