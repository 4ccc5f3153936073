"""The malformed-input corpus in tests/corpus: every file exits 2 with one line, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SCENARIOS

from sim.cli.main import main
from sim.core.yamlio import MAX_BYTES

CORPUS = Path(__file__).parent / "corpus"
SCENARIO_FILES = sorted((CORPUS / "scenarios").iterdir())
LOG_FILES = sorted((CORPUS / "logs").iterdir())


def _one_error_line(capsys, needle: str) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error:") and needle in lines[0], lines[0]
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


def test_the_corpus_is_large_enough():
    """At least 30 malformed scenario files and 15 malformed logs."""
    assert len(SCENARIO_FILES) >= 30 and len(LOG_FILES) >= 15


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
def test_malformed_scenario_exits_2_with_one_line(path, capsys):
    """validate and run both refuse the file with one line naming it."""
    assert main(["validate", str(path)]) == 2
    _one_error_line(capsys, str(path))
    assert main(["run", str(path), "--reps", "2", "--executor", "serial", "--quiet"]) == 2
    _one_error_line(capsys, str(path))


@pytest.mark.parametrize("path", LOG_FILES, ids=[p.stem for p in LOG_FILES])
def test_malformed_log_exits_2_with_one_line(path, capsys):
    """forecast refuses a malformed observed log with one line naming it."""
    status = main(["forecast", str(SCENARIOS / "baseline.yaml"), "--observed", str(path),
                   "--as-of", "2016-07-01", "--reps", "2", "--executor", "serial", "--quiet"])
    assert status == 2
    _one_error_line(capsys, str(path))


def test_50_mb_file_is_refused_before_parsing(tmp_path, capsys):
    """A 50 MB scenario is refused by its size, without being read whole."""
    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    assert main(["validate", str(big)]) == 2
    line = _one_error_line(capsys, str(big))
    assert f"{MAX_BYTES:,}" in line


@pytest.mark.slow
def test_every_malformed_scenario_is_an_inline_message_in_the_app(tmp_path, monkeypatch):
    """Uploaded to the dashboard, each corpus file shows one error naming it; no exception."""
    pytest.importorskip("streamlit", reason="the app extra is not installed")
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CART_TRIAL_SIM_STORE", str(tmp_path / "runs.sqlite"))
    at = AppTest.from_file(str(Path(__file__).parents[1] / "app.py"), default_timeout=120)
    at.run()
    at.radio(key="source_kind").set_value("Upload").run()
    for path in SCENARIO_FILES:
        at.file_uploader(key="source_upload").set_value(
            (path.name, path.read_bytes(), "application/x-yaml"))
        at.run()
        assert not at.exception, path.name
        errors = [e.value for e in at.sidebar.error]
        assert any(path.name in e and len(e.splitlines()) == 1 for e in errors), (path, errors)
