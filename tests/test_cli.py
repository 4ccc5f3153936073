"""The command line (DESIGN.md section 5): exit status 2 and one ``error:`` line for bad input,
``validate``, the summary JSON of section 6, and the tables written by ``--out``.

The subprocess runs all start at once (in a module fixture) so the file stays fast.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import REFERENCE_WORKLOAD as REFERENCE

from sim.cli.main import main

ROOT = Path(__file__).resolve().parents[1]

REF = str(REFERENCE)
SMALL = ["--reps", "2", "--executor", "serial", "--quiet"]
BAD_SCENARIO = "{bad}"
"""Placeholder for a malformed scenario file written into a temporary folder."""

# id -> (arguments after `python -m sim`, parts the single stderr line must hold).
# These run as real subprocesses, so an uncaught exception would show as a traceback.
BAD_INPUTS = {
    "missing-file": (["run", "no/such/scenario.yaml", *SMALL],
                     ["no/such/scenario.yaml: no such file"]),
    "bad-set-value": (["run", REF, "--set", "manufacturing.suites=0", *SMALL],
                      ["--set: manufacturing.suites = 0"]),
    "reps-zero": (["run", REF, "--reps", "0", "--executor", "serial", "--quiet"],
                  ["--reps", "not 0"]),
    "reps-not-a-number": (["run", REF, "--reps", "abc", "--executor", "serial", "--quiet"],
                          ["--reps", "'abc'"]),
    "unknown-subcommand": (["simulate", REF], ["invalid choice: 'simulate'"]),
    "unknown-executor": (["run", REF, "--reps", "2", "--executor", "threads", "--quiet"],
                         ["--executor = 'threads'", "allowed: serial"]),
    "malformed-scenario": (["run", BAD_SCENARIO, *SMALL],
                           [f"{BAD_SCENARIO}: horizon_days = True"]),
}
# More bad input, checked in-process through sim.cli.main (same contract, no interpreter start).
BAD_INPUTS_IN_PROCESS = {
    "bad-set-malformed": (["run", REF, "--set", "novalue", *SMALL],
                          ["--set: novalue", "dotted.key=value"]),
    "bad-set-unknown-key": (["run", REF, "--set", "infusion.bedz=3", *SMALL],
                            ["--set: infusion.bedz", "did you mean 'beds'"]),
    "impossible-date-set": (["run", REF, "--set", "start_date=2016-02-30", *SMALL],
                            ["--set: start_date = '2016-02-30'"]),
    "seed-negative": (["run", REF, "--seed", "-1", *SMALL], ["--seed"]),
    "workers-zero": (["run", REF, "--workers", "0", *SMALL], ["--workers", "not 0"]),
    "no-subcommand": ([], ["required"]),
    "run-without-scenario": (["run"], ["required: scenario"]),
    "unknown-option": (["run", REF, "--fast", *SMALL], ["unrecognized arguments: --fast"]),
    "validate-malformed": (["validate", BAD_SCENARIO], [f"{BAD_SCENARIO}: horizon_days = True"]),
    "validate-set-bad": (["validate", REF, "--set", "infusion.beds=0"],
                         ["--set: infusion.beds = 0"]),
    "out-is-a-file": (["run", REF, "--out", BAD_SCENARIO, *SMALL], [BAD_SCENARIO]),
}
GOOD_RUNS = {
    "validate-reference": ["validate", REF],
    "validate-good-and-bad": ["validate", REF, BAD_SCENARIO],
}


def _fill(args: list[str], bad: Path) -> list[str]:
    return [a.replace(BAD_SCENARIO, str(bad)) for a in args]


@pytest.fixture(scope="module")
def bad_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference workload with a boolean where horizon_days needs a number."""
    path = tmp_path_factory.mktemp("cli") / "bad scenario.yaml"
    text = REFERENCE.read_text(encoding="utf-8")
    assert "horizon_days: 3650" in text
    path.write_text(text.replace("horizon_days: 3650", "horizon_days: true"), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(bad_file: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every subprocess case, started together and waited for: id -> finished process."""
    commands = {k: args for k, (args, _) in BAD_INPUTS.items()} | GOOD_RUNS
    procs = {
        key: (
            cmd := [sys.executable, "-m", "sim", *_fill(args, bad_file)],
            subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, text=True),
        )
        for key, args in commands.items()
    }
    done = {}
    try:
        for key, (cmd, proc) in procs.items():
            out, err = proc.communicate(timeout=120)
            done[key] = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    finally:
        for _, proc in procs.values():
            if proc.poll() is None:  # only after a timeout: stop the ones this fixture started
                proc.kill()
                proc.wait()
    return done


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_exits_2_with_one_error_line(
    case: str, runs: dict[str, subprocess.CompletedProcess[str]], bad_file: Path
) -> None:
    """Bad input: exit status 2, stderr exactly one ``error:`` line naming it, no traceback."""
    proc = runs[case]
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), lines[0]
    for part in _fill(BAD_INPUTS[case][1], bad_file):
        assert part in lines[0], f"{part!r} missing from: {lines[0]}"
    assert proc.stdout == ""


@pytest.mark.parametrize("case", list(BAD_INPUTS_IN_PROCESS))
def test_bad_input_in_process_returns_2_with_one_error_line(
    case: str, bad_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """main() returns 2 for bad input and writes exactly one ``error:`` line naming it."""
    args, parts = BAD_INPUTS_IN_PROCESS[case]
    status = main(_fill(args, bad_file))
    captured = capsys.readouterr()
    assert status == 2, captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: "), lines[0]
    for part in _fill(parts, bad_file):
        assert part in lines[0], f"{part!r} missing from: {lines[0]}"
    assert captured.out == ""


def test_validate_reference_prints_ok(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    """``validate`` on the reference workload exits 0 and prints one ok line naming it."""
    proc = runs["validate-reference"]
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"ok: {REF} (Reference workload)"]
    assert proc.stderr == ""


def test_validate_good_and_bad_reports_both(
    runs: dict[str, subprocess.CompletedProcess[str]], bad_file: Path
) -> None:
    """``validate GOOD BAD`` exits 2, still prints ok for GOOD, and one error line for BAD."""
    proc = runs["validate-good-and-bad"]
    assert proc.returncode == 2
    assert proc.stdout.splitlines() == [f"ok: {REF} (Reference workload)"]
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad_file}: horizon_days"), lines
    assert "Traceback" not in proc.stderr


# --- in-process runs -----------------------------------------------------------------------

SECTION_6 = {
    "scenario": None,
    "replications": None,
    "seed": None,
    "target": {"count", "milestone", "deadline"},
    "time_to_target_days": {"mean", "p10", "p50", "p90", "reached_fraction"},
    "target_date": {"p10", "p50", "p90"},
    "primary_completion_date": {"p10", "p50", "p90"},
    "prob_target_by_deadline": None,
    "funnel": {"referred", "consented", "enrolled", "apheresed", "manufactured", "conditioned",
               "infused"},
    "outcomes": {"infused", "declined_consent", "screen_failed", "deteriorated",
                 "apheresis_failed", "manufacturing_failed", "in_pathway"},
    "screen_fail_by_criterion": {"any_criterion"},
    "resources": {"apheresis", "manufacturing", "beds"},
    "vein_to_vein_days": {"mean", "p50", "p90"},
}
RESOURCE_KEYS = {"capacity", "utilization", "mean_wait_days", "mean_queue_length"}


@pytest.fixture(scope="module")
def summary_json() -> dict:
    """The summary printed by an in-process ``run --json --reps 3`` with a deadline set.

    Parsing the whole of stdout as JSON checks that ``--json`` prints nothing else."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["run", REF, "--json", "--reps", "3", "--executor", "serial", "--quiet",
                       "--set", "target.deadline=2021-01-04"])
    assert status == 0, err.getvalue()
    assert err.getvalue() == ""
    return json.loads(out.getvalue())


def test_summary_json_has_every_section_6_key(summary_json: dict) -> None:
    """The JSON holds every top-level and nested key of DESIGN.md section 6."""
    missing = set(SECTION_6) - set(summary_json)
    assert not missing, missing
    for key, nested in SECTION_6.items():
        if nested is not None:
            assert isinstance(summary_json[key], dict), key
            assert nested <= set(summary_json[key]), (key, nested - set(summary_json[key]))
    for name, res in summary_json["resources"].items():
        assert set(res) >= RESOURCE_KEYS, (name, RESOURCE_KEYS - set(res))


def test_summary_json_values_are_consistent(summary_json: dict) -> None:
    """Run settings are echoed, capacities match the scenario, and the counts add up."""
    s = summary_json
    assert (s["scenario"], s["replications"], s["seed"]) == ("Reference workload", 3, 1)
    assert s["target"] == {"count": 50, "milestone": "infused", "deadline": "2021-01-04"}
    assert 0 <= s["prob_target_by_deadline"] <= 1
    assert 0 <= s["time_to_target_days"]["reached_fraction"] <= 1
    caps = {k: v["capacity"] for k, v in s["resources"].items()}
    assert caps == {"apheresis": 1, "manufacturing": 2, "beds": 4}
    for res in s["resources"].values():
        assert 0 <= res["utilization"] <= 1
    funnel = [s["funnel"][k] for k in ("referred", "consented", "enrolled", "apheresed",
                                       "manufactured", "conditioned", "infused")]
    assert funnel == sorted(funnel, reverse=True), funnel
    # Every referred patient has exactly one terminal outcome.
    assert sum(s["outcomes"].values()) == pytest.approx(s["funnel"]["referred"], abs=1e-3)
    assert s["outcomes"]["infused"] == pytest.approx(s["funnel"]["infused"], abs=1e-3)


def test_run_out_writes_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--out`` writes summary.json, patients.csv (a row a referred patient) and events.csv."""
    out = tmp_path / "out"
    reps = 2
    status = main(["run", REF, "--reps", str(reps), "--executor", "serial", "--quiet",
                   "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "Reference workload" in captured.out  # the readable summary still prints
    for name in ("summary.json", "patients.csv", "events.csv"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    patients = pd.read_csv(out / "patients.csv")
    events = pd.read_csv(out / "events.csv")
    assert "replication" in patients.columns and "replication" in events.columns
    assert set(patients["replication"]) == set(range(reps))
    assert set(events["replication"]) == set(range(reps))
    assert len(patients) == round(summary["funnel"]["referred"] * reps)
    # Each replication's patients are numbered once each.
    assert not patients.duplicated(["replication", "patient"]).any()
    infused = (patients["outcome"] == "infused").sum()
    assert infused == round(summary["outcomes"]["infused"] * reps)
    assert not list(out.glob(".*")), "temporary files left behind"


@pytest.mark.parametrize(
    "override",
    [
        "apheresis.slots=" + "9" * 400,
        "manufacturing.suites=" + "9" * 400,
        "infusion.beds=" + "9" * 400,
        f"apheresis.max_attempts={10**30}",
        f"manufacturing.max_attempts={10**30}",
    ],
    ids=["slots", "suites", "beds", "apheresis-max-attempts", "manufacturing-max-attempts"],
)
def test_huge_count_is_refused_or_runs(override: str, capsys: pytest.CaptureFixture[str]) -> None:
    """An absurdly large count is refused with one error line naming the field, never a crash."""
    key = override.split("=", 1)[0]
    status = main(["run", REF, "--reps", "1", "--executor", "serial", "--quiet", "--json",
                   "--set", override])
    captured = capsys.readouterr()
    assert status == 2, captured.err
    assert captured.err.startswith(f"error: --set: {key}"), captured.err
    assert len(captured.err.splitlines()) == 1
