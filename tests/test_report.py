"""The one-page report (sim.report.page, `python -m sim report`): offline HTML whose charts
are inline SVG and which fetches nothing, every setting with its source, what makes it
reproducible; the PDF printed from the same page."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
from conftest import SCENARIOS

from sim.cli.main import main
from sim.core.scenario import load_scenario
from sim.core.version import __version__
from sim.core.yamlio import read_text
from sim.report import figures
from sim.report.page import ReportRun, render_html, settings_rows
from sim.report.sources import read_sources
from sim.run.runner import run_replications

BASELINE = SCENARIOS / "baseline.yaml"


def _fake_svg(spec: dict) -> str:
    """A stand-in for vl-convert: an SVG naming the chart's title."""
    return f'<svg xmlns="http://www.w3.org/2000/svg"><text>{spec["title"]["text"]}</text></svg>'


@pytest.fixture(scope="module")
def runs():
    base = load_scenario(str(BASELINE))
    other = load_scenario(str(SCENARIOS / "central_manufacturing.yaml"))
    return run_replications(base, 12, seed=2), run_replications(other, 12, seed=2)


def _fetches(page: str) -> list[str]:
    """Every address the page would load: src/href attributes, CSS url() and @import."""
    found = re.findall(r"""(?:src|href)\s*=\s*["']?([^"' >]+)""", page, flags=re.I)
    found += re.findall(r"url\(([^)]*)\)|@import\s+([^;]+)", page)
    return [str(f) for f in found if f]


def test_the_page_holds_the_answer_every_setting_and_its_provenance(runs) -> None:
    base, other = runs
    page = render_html(
        ReportRun(base, read_sources(read_text(str(BASELINE))), "baseline.yaml"),
        [other],
        draw=_fake_svg,
    )
    summary = base.summary()
    assert f"{summary['prob_target_by_deadline']:.0%} chance of 50 infused by 31 Dec 2020" in page
    assert page.count('class="tile"') == 4
    for title in ("Cumulative patients enrolled and infused", "Patient flow", "Capacity"):
        assert title in page
    assert "Comparison" in page and "run by run" in page
    assert f"cart-trial-sim {__version__}" in page and base.scenario.digest() in page
    assert "Seed 2; 12 replications" in page
    assert "figures.md 1c" in page  # the source written beside apheresis.failure_prob
    assert not _fetches(page), _fetches(page)
    assert "<script" not in page.lower() and "<link" not in page.lower()


def test_every_setting_is_listed_with_its_source() -> None:
    sc = load_scenario(str(BASELINE))
    rows = {k: (v, s) for k, v, s in settings_rows(sc, read_sources(read_text(str(BASELINE))))}
    assert rows["apheresis.slots"] == ("1", "brief: one apheresis slot at the centre")
    assert rows["manufacturing.duration_days"][0] == "triangular (low 7, mode 9, high 12)"
    assert rows["manufacturing.recollect_on_failure"][1].startswith("not in the file")
    assert rows["referral.sites.0.rate_per_month"][1].startswith("assumption")


def test_report_html_from_the_command_line_is_offline_svg(tmp_path: Path) -> None:
    pytest.importorskip("vl_convert")
    out = tmp_path / "r.html"
    args = ["report", str(BASELINE), "--reps", "20", "--executor", "serial", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    page = out.read_text()
    assert page.count("<svg") >= 3 and "<img" not in page
    assert not _fetches(page), _fetches(page)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?https?:""", page, flags=re.I)


@pytest.mark.skipif(not shutil.which("chromium"), reason="no Chromium to print the PDF")
def test_report_pdf_from_the_same_page(tmp_path: Path) -> None:
    pytest.importorskip("vl_convert")
    out = tmp_path / "r.pdf"
    args = ["report", str(BASELINE), "--reps", "20", "--executor", "serial", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 10_000


def test_report_errors_are_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    """A wrong suffix, or no vl-convert: one line, exit status 2, nothing written."""
    assert main(["report", str(BASELINE), "--out", str(tmp_path / "r.txt")]) == 2
    assert "--out" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "vl_convert", None)
    out = tmp_path / "r.html"
    args = ["report", str(BASELINE), "--reps", "2", "--executor", "serial", "--quiet"]
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and figures.REQUIREMENT in err
    assert not out.exists()
