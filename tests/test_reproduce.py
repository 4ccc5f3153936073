"""Reproducibility record: --out folders and saved runs re-run to identical results."""

from __future__ import annotations

import json

from conftest import REFERENCE_WORKLOAD

from sim.cli.main import main


def _run(tmp_path, *extra: str) -> int:
    return main(["run", str(REFERENCE_WORKLOAD), "--reps", "6", "--seed", "4", "--executor",
                 "serial", "--quiet", *extra])


def test_out_folder_carries_the_record_and_reproduces(tmp_path, capsys):
    """--out keeps version, scenario, digest, seed, replications; reproduce says identical."""
    out = tmp_path / "out"
    assert _run(tmp_path, "--out", str(out)) == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in ("version", "scenario_digest", "seed", "replications"):
        assert key in summary
    assert (out / "scenario.yaml").read_text().startswith("name: Reference workload")
    capsys.readouterr()
    assert main(["reproduce", str(out), "--executor", "serial", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("identical")


def test_tampered_summary_is_reported_different(tmp_path, capsys):
    """A summary whose figures were changed does not reproduce: exit 1, the field named."""
    out = tmp_path / "out"
    _run(tmp_path, "--out", str(out))
    data = json.loads((out / "summary.json").read_text())
    data["funnel"]["infused"] += 1
    (out / "summary.json").write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["reproduce", str(out), "--executor", "serial", "--quiet"]) == 1
    assert "funnel.infused" in capsys.readouterr().out


def test_saved_run_reproduces(tmp_path, capsys, monkeypatch):
    """A run saved in the store re-runs to the same summary."""
    monkeypatch.setenv("CART_TRIAL_SIM_STORE", str(tmp_path / "store.sqlite"))
    assert _run(tmp_path, "--save", "first") == 0
    capsys.readouterr()
    assert main(["reproduce", "first", "--executor", "serial", "--quiet", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["identical"] is True


def test_not_a_run_folder_is_refused(tmp_path, capsys):
    """A folder without summary.json: one error line, exit 2."""
    assert main(["reproduce", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "summary.json" in err and len(err.splitlines()) == 1
