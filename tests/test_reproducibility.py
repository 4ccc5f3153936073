"""Same seed, same bytes: across runs, executors and worker counts; a pinned baseline."""

from __future__ import annotations

import json
import os

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


@pytest.mark.slow
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


def test_precision_stops_when_the_chance_is_tight():
    """--precision (of the chance by the deadline, by default) adds replications until the
    Wilson half-width is within the wanted points (or the cap), on the same replications as
    a plain run of that size."""
    from sim.run.runner import run_to_precision
    from sim.run.stats import prob_by, wilson_interval

    sc = make_scenario("target.count=10")
    res, rep = run_to_precision(sc, 0.05, 2000, seed=1, first=20)
    hits, n = prob_by(res.table["time_to_target_days"], sc.deadline_day)
    lo, hi = wilson_interval(hits, n)
    assert rep["figure"] == "probability" and not rep["relative"]
    assert rep["met"] and rep["replications_used"] == res.replications == n > 20
    assert (hi - lo) / 2 <= 0.05 == rep["wanted_half_width"]
    assert rep["half_width"] == pytest.approx((hi - lo) / 2, abs=1e-4)
    plain = run_replications(sc, res.replications, seed=1)
    assert _json(plain) == _json(res)
    capped, rep2 = run_to_precision(sc, 0.001, 60, seed=1, first=20)
    assert not rep2["met"] and capped.replications == 60


def test_precision_of_the_median_is_relative_and_says_when_unbounded():
    """--precision-of median: the half-width of the median's distribution-free interval
    relative to the median; where that interval reaches beyond the horizon it cannot be met,
    and the report says so rather than claiming a figure."""
    from sim.run.runner import run_to_precision

    sc = make_scenario("target.count=10")
    _, rep = run_to_precision(sc, 0.03, 3000, seed=1, first=20, figure="median")
    assert rep["met"] and rep["relative"] and rep["half_width"] <= 0.03
    never = make_scenario("target.count=500", "horizon_days=200")
    _, rep2 = run_to_precision(never, 0.03, 80, seed=1, first=20, figure="median")
    assert not rep2["met"] and rep2["half_width"] is None and rep2["value"] is None
