"""A fast start: a summary-only command imports no heavy library it does not need.

Each command runs in a fresh interpreter, which then reports which of the heavy libraries
were imported. pandas, SciPy (its statistics and, for a scenario with no gamma distribution
and no uncertain referral rate, its special functions), SALib, Dask, Streamlit, Altair and
tqdm (whose bar only appears after a second) must stay out.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REFERENCE_WORKLOAD, ROOT

HEAVY = ("pandas", "scipy", "SALib", "dask", "distributed", "streamlit", "altair", "tqdm")

PROBE = """
import contextlib, io, json, sys
from sim.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    status = main(sys.argv[1:])
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & set(json.loads({heavy!r})))
print(json.dumps({{"status": status, "heavy": heavy}}))
"""


def imported(args: list[str]) -> dict:
    code = PROBE.format(heavy=json.dumps(HEAVY))
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "args",
    [
        ["run", str(REFERENCE_WORKLOAD), "--reps", "3", "--executor", "serial", "--json"],
        ["run", str(REFERENCE_WORKLOAD), "--reps", "3", "--executor", "serial"],
        ["validate", str(REFERENCE_WORKLOAD)],
        ["compare", str(REFERENCE_WORKLOAD), str(REFERENCE_WORKLOAD), "--reps", "3",
         "--executor", "serial", "--set", "manufacturing.suites=3", "--json"],
    ],
    ids=["run-json", "run-text", "validate", "compare"],
)
def test_summary_commands_import_no_heavy_library(args: list[str]) -> None:
    result = imported(args)
    assert result["status"] == 0
    assert result["heavy"] == []


def test_the_probe_sees_a_heavy_import(tmp_path: Path) -> None:
    """Writing tables (--out) needs pandas: the probe must notice it."""
    args = ["run", str(REFERENCE_WORKLOAD), "--reps", "2", "--executor", "serial",
            "--out", str(tmp_path / "out")]  # fmt: skip
    assert "pandas" in imported(args)["heavy"]


def test_import_sim_is_light() -> None:
    """The package's public API is imported name by name on first use."""
    code = "import sys, sim; print(sorted(m for m in sys.modules if m.startswith('sim.')))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "['sim.core', 'sim.core.lazy', 'sim.core.version']"
