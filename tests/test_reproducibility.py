"""Same seed, same bytes: across runs, executors and worker counts; a pinned baseline."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import SCENARIOS, make_scenario

from sim.core.scenario import load_scenario
from sim.run.runner import run_replications

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "baseline_seed1_reps40.json")


def _json(results) -> str:
    return json.dumps(results.summary(), indent=2, sort_keys=True)


def test_process_pool_matches_serial_to_the_byte():
    """The summary JSON does not depend on the executor or the number of workers."""
    sc = make_scenario()
    serial = _json(run_replications(sc, 24, seed=5, executor="serial"))
    two = _json(run_replications(sc, 24, seed=5, executor="process", workers=2))
    three = _json(run_replications(sc, 24, seed=5, executor="process", workers=3))
    assert serial == two == three


def test_summary_differs_with_the_seed():
    """Another master seed gives another forecast."""
    sc = make_scenario()
    assert _json(run_replications(sc, 5, seed=1)) != _json(run_replications(sc, 5, seed=2))


def test_baseline_back_test():
    """The baseline summary for seed 1 and 40 replications is pinned: any change to the model
    or to the stream wiring shows here. Regenerate on purpose with UPDATE_GOLDEN=1 and note
    the change in CHANGELOG.md."""
    sc = load_scenario(str(SCENARIOS / "baseline.yaml"))
    summary = run_replications(sc, 40, seed=1).summary()
    summary.pop("version", None)
    text = json.dumps(summary, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        with open(GOLDEN, "w") as fh:
            fh.write(text)
    if not os.path.exists(GOLDEN):
        pytest.fail(f"no golden file; run with UPDATE_GOLDEN=1 to create {GOLDEN}")
    with open(GOLDEN) as fh:
        assert json.loads(fh.read()) == json.loads(text)


def test_dask_local_cluster_matches_serial_to_the_byte():
    """The Dask executor (a local cluster of 2 processes) gives the serial bytes."""
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    sc = make_scenario()
    serial = _json(run_replications(sc, 16, seed=8, executor="serial"))
    dask = _json(run_replications(sc, 16, seed=8, executor="dask", workers=2))
    assert serial == dask


def test_compare_paired_interval_is_narrower_than_unpaired():
    """On a capacity change, the paired interval of the wait difference is the narrower."""
    from sim.planning.compare import compare

    a = make_scenario("manufacturing.suites=1", "referral.sites.0.rate_per_month=5")
    b = make_scenario("manufacturing.suites=2", "referral.sites.0.rate_per_month=5")
    c = compare([a, b], 30, seed=3)
    d = c["differences"][0]["paired"]
    for key in ("time_to_target_days", "manufacturing_mean_wait_days",
                "vein_to_vein_mean_days"):
        lo, hi = d[key]["ci95"]
        ulo, uhi = d[key]["unpaired_ci95"]
        assert hi - lo < uhi - ulo, key
    assert d["manufacturing_mean_wait_days"]["mean"] < 0  # a second suite cuts the wait


def test_precision_stops_when_the_interval_is_tight():
    """--precision adds replications until the relative half-width is met (or the cap)."""
    from sim.run.runner import run_to_precision
    from sim.run.stats import half_width_ratio

    sc = make_scenario("target.count=10")
    res, rep = run_to_precision(sc, 0.02, 2000, seed=1, first=20)
    ttt = res.table["time_to_target_days"]
    assert rep["met"] and rep["replications_used"] == res.replications > 20
    assert half_width_ratio(ttt[~np.isnan(ttt)]) <= 0.02
    # the same replications as a plain run of that size
    plain = run_replications(sc, res.replications, seed=1)
    assert _json(plain) == _json(res)
    capped, rep2 = run_to_precision(sc, 0.0001, 60, seed=1, first=20)
    assert not rep2["met"] and capped.replications == 60
