"""Sensitivity: default ranges, the ranges file and its one-line errors, the one-at-a-time
tornado, Morris and Sobol through SALib on a tiny setting, and the command in-process."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SCENARIOS, make_scenario
from test_sweep import planning_main

from sim.core.errors import InputError
from sim.core.scenario import load_scenario
from sim.planning.ranges import Parameter, default_ranges, load_ranges, parse_ranges
from sim.planning.sensitivity import (
    OUTPUTS,
    morris_checks,
    noise_share,
    paired_effects,
    responses,
    runs_needed,
    sensitivity,
    sobol_checks,
    tornado,
    variant,
)
from sim.report.planning import format_sensitivity
from sim.run.runner import run_replications

RATE = Parameter("referral.sites.0.rate_per_month", 3.0, 2.0, 4.0)
FLU = Parameter("conditioning.fludarabine_mg_per_m2_per_day", 30.0, 20.0, 40.0)
CY = Parameter("conditioning.cyclophosphamide_mg_per_m2_per_day", 300.0, 200.0, 400.0)
BEDS = Parameter("infusion.beds", 2.0, 1.0, 3.0, integer=True)


# --- default ranges ----------------------------------------------------------------------------


def test_default_ranges_follow_the_rules(base_scenario):
    """+/-25% of numbers, +/-1 for counts (not below what the schema allows), probabilities
    within [0, 1], triangular modes within low..high; the question's keys left out; every
    end valid."""
    params = {p.key: p for p in default_ranges(base_scenario)}
    rate = params["referral.sites.0.rate_per_month"]
    assert (rate.low, rate.high) == pytest.approx((2.25, 3.75))
    beds = params["infusion.beds"]
    assert (beds.low, beds.high, beds.integer) == (1.0, 3.0, True)
    slots = params["apheresis.slots"]
    assert (slots.low, slots.high) == (1.0, 2.0)  # no zero slots
    mode = params["manufacturing.duration_days.mode"]
    assert (mode.low, mode.high) == (7.0, 11.25)  # the low end stops at the low of 7
    assert all(0 <= params[k].low <= params[k].high <= 1 for k in params if "prob" in k)
    assert not any(k.startswith(("target.", "horizon_days", "follow_up_days")) for k in params)
    assert "referral.sites.0.opens_day" not in params  # zero: nothing to scale
    for p in params.values():
        for end in (p.low, p.high):
            variant(base_scenario, [p], [end])  # raises if invalid


def test_probabilities_at_an_edge_are_left_out():
    """A probability of 0 or 1 has no +/-25% range."""
    sc = make_scenario("apheresis.failure_prob=0", "infusion.icu_prob=1")
    keys = {p.key for p in default_ranges(sc)}
    assert "apheresis.failure_prob" not in keys and "infusion.icu_prob" not in keys


# --- the ranges file ---------------------------------------------------------------------------


def test_the_shipped_baseline_ranges_load_for_every_method():
    """scenarios/ranges/baseline.yaml is valid against the baseline, corners included, and
    every entry carries a comment."""
    sc = load_scenario(str(SCENARIOS / "baseline.yaml"))
    path = SCENARIOS / "ranges" / "baseline.yaml"
    for method in ("oat", "morris", "sobol"):
        params = load_ranges(str(path), sc, method)
    assert len(params) >= 15
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            assert "#" in line, line


@pytest.mark.parametrize(
    ("text", "method", "parts"),
    [
        ("infusion.bedz: [1, 2]", "oat", ["infusion.bedz", "did you mean 'infusion.beds'"]),
        ("infusion.beds: [3, 1]", "oat", ["infusion.beds", "low is above high"]),
        (
            "apheresis.failure_prob: [0.1, 1.5]",
            "oat",
            ["apheresis.failure_prob = 1.5", "makes the scenario invalid"],
        ),
        ("infusion.beds: [0, 2]", "oat", ["infusion.beds = 0", "makes the scenario invalid"]),
        ("infusion.beds: [1.5, 2]", "oat", ["infusion.beds", "whole numbers"]),
        ("infusion.beds: 2", "oat", ["infusion.beds", "[low, high]"]),
        ("infusion.beds: [1, true]", "oat", ["infusion.beds", "[low, high]"]),
        (
            "manufacturing.duration_days: [1, 2]",
            "oat",
            ["manufacturing.duration_days", "manufacturing.duration_days.mode"],
        ),
        ("target.count: [10, 20]", "oat", ["target.count", "defines the question"]),
        ("infusion.beds: [2, 2]", "sobol", ["infusion.beds", "needs a range of some width"]),
        (
            "manufacturing.duration_days.low: [7, 8.5]\nmanufacturing.duration_days.mode: [8, 9]",
            "morris",
            [
                "manufacturing.duration_days.low, manufacturing.duration_days.mode",
                "combine into an invalid scenario",
            ],
        ),
        ("[1, 2]", "oat", ["dotted.key: [low, high]"]),
        ("", "oat", ["dotted.key: [low, high]"]),
    ],
)
def test_ranges_file_errors_name_the_file_and_key(base_scenario, text, method, parts):
    """Each problem is one line that starts with the file and names the key."""
    with pytest.raises(InputError) as err:
        parse_ranges(text, "my ranges.yaml", base_scenario, method)
    message = err.value.message
    assert message.startswith("my ranges.yaml")
    assert "\n" not in message
    for part in parts:
        assert part in message


def test_a_fixed_duration_is_addressed_by_its_key(base_scenario):
    """`apheresis.duration_days: [1, 2]` means its fixed value."""
    (p,) = parse_ranges("apheresis.duration_days: [1, 2]", "r.yaml", base_scenario)
    assert p.key == "apheresis.duration_days.value"


def test_a_missing_ranges_file_is_one_line(base_scenario, tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_ranges(str(tmp_path / "none.yaml"), base_scenario)


# --- one at a time -----------------------------------------------------------------------------


def test_responses_count_unreached_at_the_horizon():
    """The median of days to target treats a never-reached replication as the horizon."""
    sc = make_scenario("referral.sites.0.rate_per_month=0.2")
    table = run_replications(sc, 4, seed=1).table
    r = responses(sc, table)
    assert np.isnan(table["time_to_target_days"]).all()
    assert r["median_time_to_target_days"] == 2000.0
    assert r["prob_target_by_deadline"] == 0.0
    assert r["median_time_to_target_days_ci95"] == [2000.0, 2000.0]
    lo, hi = r["prob_target_by_deadline_ci95"]
    assert lo == 0.0 and 0.0 < hi < 1.0


def test_tornado_orders_by_swing_and_keeps_both_ends():
    """Largest swing first; the swing spans low end, base and high end."""
    params = [FLU, RATE]
    base = {"median_time_to_target_days": 100.0, "prob_target_by_deadline": None}
    lows = [dict(base), {"median_time_to_target_days": 150.0, "prob_target_by_deadline": None}]
    highs = [dict(base), {"median_time_to_target_days": 90.0, "prob_target_by_deadline": None}]
    t = tornado(params, base, lows, highs)
    assert list(t) == ["median_time_to_target_days"]  # no deadline, no probability tornado
    rows = t["median_time_to_target_days"]
    assert [r["parameter"] for r in rows] == [RATE.key, FLU.key]
    assert rows[0]["swing"] == 60.0 and rows[0]["effect_high"] == -10.0
    assert rows[1]["swing"] == 0.0


def test_oat_puts_conditioning_doses_at_the_bottom_with_no_effect():
    """Drug doses do not change timing: on common random numbers their swing is exactly
    zero, below the referral rate's, for both figures (the deadline near the median)."""
    sc = make_scenario("target.deadline=2017-05-31")
    r = sensitivity(sc, "oat", [FLU, RATE, CY], reps=6, seed=2)
    assert r["runs"] == 7
    for name in OUTPUTS:
        rows = r["tornado"][name]
        assert rows[0]["parameter"] == RATE.key
        assert rows[0]["swing"] > 0
        assert {row["parameter"] for row in rows[1:]} == {FLU.key, CY.key}
        assert all(row["swing"] == 0 for row in rows[1:])
    assert "#" in format_sensitivity(r)


def test_oat_skips_an_end_equal_to_the_scenario_value():
    """A count already at its lower bound adds one run, not two."""
    p = Parameter("apheresis.slots", 1.0, 1.0, 2.0, integer=True)
    assert runs_needed("oat", [p], 0) == 2
    assert sensitivity(make_scenario(), "oat", [p], reps=2)["runs"] == 2


# --- global methods ----------------------------------------------------------------------------


def _finite_rows(rows, keys):
    for row in rows:
        assert set(keys) <= set(row)
        for k in keys:
            assert row[k] is not None and np.isfinite(row[k]), (row["parameter"], k)


def test_morris_returns_finite_indices():
    """Morris on 3 parameters, 2 trajectories, 4 replications: mu*, sigma (and conf) for
    every parameter of both figures; the dose has no effect."""
    pytest.importorskip("SALib")
    r = sensitivity(make_scenario(), "morris", [RATE, FLU, BEDS], reps=4, seed=1, samples=2)
    assert r["runs"] == 2 * 4
    assert set(r["indices"]) == set(OUTPUTS)
    for rows in r["indices"].values():
        assert {row["parameter"] for row in rows} == {RATE.key, FLU.key, BEDS.key}
        _finite_rows(rows, ["mu_star", "mu_star_conf", "sigma", "mu"])
        flu = next(row for row in rows if row["parameter"] == FLU.key)
        assert flu["mu_star"] == 0
    assert "mu_star" in format_sensitivity(r)


def test_sobol_returns_finite_indices():
    """Sobol on 2 parameters with 8 base samples: S1, ST and their half-widths, finite."""
    pytest.importorskip("SALib")
    r = sensitivity(make_scenario(), "sobol", [RATE, FLU], reps=4, seed=1, samples=8)
    assert r["runs"] == 8 * 4
    rows = r["indices"]["median_time_to_target_days"]
    _finite_rows(rows, ["S1", "S1_conf", "ST", "ST_conf"])
    assert rows[0]["parameter"] == RATE.key
    assert rows[0]["ST"] > 0.5
    with pytest.raises(InputError, match="power of two"):
        sensitivity(make_scenario(), "sobol", [RATE, FLU], reps=2, samples=6)


def test_cli_sensitivity_json_with_a_ranges_file(tmp_path, capsys):
    """`sensitivity --ranges FILE --json` prints only JSON; a bad file is one line, exit 2."""
    sc_path = tmp_path / "s.yaml"
    sc_path.write_text(make_scenario().to_yaml(), encoding="utf-8")
    ranges = tmp_path / "ranges.yaml"
    ranges.write_text(
        "referral.sites.0.rate_per_month: [2, 4]   # why\n"
        "conditioning.fludarabine_mg_per_m2_per_day: [20, 40]\n",
        encoding="utf-8",
    )
    base = ["sensitivity", str(sc_path), "--reps", "3", "--executor", "serial", "--quiet"]
    assert planning_main([*base, "--ranges", str(ranges), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["method"] == "oat" and len(data["parameters"]) == 2
    ranges.write_text("infusion.beds: [3, 1]\n", encoding="utf-8")
    assert planning_main([*base, "--ranges", str(ranges)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ranges.yaml: infusion.beds" in err


# --- Monte Carlo error and warnings ---------------------------------------------------------------


def _sobol_rows(*triples: tuple[float, float, float]) -> list[dict]:
    return [
        {"parameter": f"p{i}", "S1": s1, "S1_conf": c, "ST": max(s1, 0.0), "ST_conf": c}
        for i, (s1, c, _) in enumerate(triples)
    ]


def test_settled_sobol_indices_raise_no_warning():
    rows = _sobol_rows((0.6, 0.03, 0), (0.3, 0.02, 0), (0.05, 0.01, 0))
    c = sobol_checks(rows, samples=256)
    assert c["warnings"] == [] and c["samples_needed"] is None
    assert c["error"] == pytest.approx(0.03)
    assert c["sum_S1"] == pytest.approx(0.95)
    assert c["sum_S1_error"] == pytest.approx(np.sqrt(0.03**2 + 0.02**2 + 0.01**2))


def test_a_negative_index_beyond_its_interval_warns_and_asks_for_samples():
    """S1 = -0.2 +/- 0.05 is impossible: the error is at least 0.2, so 0.05 needs
    (0.2 / 0.05)^2 = 16 times the samples, rounded up to a power of two."""
    rows = _sobol_rows((0.5, 0.04, 0), (-0.2, 0.05, 0))
    c = sobol_checks(rows, samples=64)
    assert len(c["warnings"]) == 1 and "negative beyond" in c["warnings"][0]
    assert "p1" in c["warnings"][0]
    assert c["samples_needed"] == 1024


def test_a_negative_index_within_its_interval_does_not_warn():
    rows = _sobol_rows((0.5, 0.04, 0), (-0.03, 0.04, 0))
    assert sobol_checks(rows, samples=64)["warnings"] == []


def test_indices_summing_above_one_beyond_their_error_warn():
    rows = _sobol_rows((0.8, 0.03, 0), (0.5, 0.04, 0))  # sum 1.3, error 0.05
    c = sobol_checks(rows, samples=64)
    assert any("sum to 1.30" in w for w in c["warnings"])
    # the contradiction (0.3) sets the error: (0.3 / 0.05)^2 * 64 = 2304 -> 4096
    assert c["samples_needed"] == 4096
    loose = _sobol_rows((0.8, 0.3, 0), (0.5, 0.3, 0))  # sum 1.3 within error 0.42
    assert not any("sum to" in w for w in sobol_checks(loose, samples=64)["warnings"])


def test_replication_noise_is_the_mean_squared_error_over_the_variance():
    """Points 0, 2 (variance 2), each with standard error 1 (half-width 1.96): share 1/2."""
    z = 1.959964
    assert noise_share([0.0, 2.0], [[-z, z], [2 - z, 2 + z]]) == pytest.approx(0.5)
    assert noise_share([1.0, 1.0], [[0, 2], [0, 2]]) is None
    rows = _sobol_rows((0.6, 0.01, 0), (0.3, 0.01, 0))
    c = sobol_checks(rows, samples=64, noise=0.5, reps=100)
    assert any("replication noise" in w for w in c["warnings"])
    assert c["reps_needed"] == 1000  # noise falls as 1/reps: 0.5 -> 0.05


def test_morris_warns_when_mu_star_is_loose_among_the_parameters_that_matter():
    rows = [
        {"parameter": "a", "mu_star": 10.0, "mu_star_conf": 5.0, "sigma": 1.0, "mu": 10.0},
        {"parameter": "b", "mu_star": 4.0, "mu_star_conf": 0.5, "sigma": 1.0, "mu": 4.0},
        {"parameter": "tiny", "mu_star": 0.5, "mu_star_conf": 5.0, "sigma": 1.0, "mu": 0.5},
    ]
    c = morris_checks(rows, trajectories=10)
    assert c["error"] == pytest.approx(0.5)  # "tiny" (under 10% of the largest) is not judged
    assert c["samples_needed"] == 40  # (0.5 / 0.25)^2 * 10
    assert "a" in c["warnings"][0] and "tiny" not in c["warnings"][0]
    rows[0]["mu_star_conf"] = 1.0
    assert morris_checks(rows, trajectories=10)["warnings"] == []


def test_paired_effects_of_a_run_with_itself_are_nil_and_of_a_shift_are_the_shift():
    sc = make_scenario()
    base = np.arange(100, 200, dtype=float)
    same = paired_effects(base, base.copy(), sc, seed=3)
    assert same["median_time_to_target_days"] == [0.0, 0.0]
    shifted = paired_effects(base, base + 10, sc, seed=3)
    assert shifted["median_time_to_target_days"] == pytest.approx([10.0, 10.0])
    # every replication reaches it 10 days later: those within 10 days of the deadline flip
    d = sc.deadline_day
    flips = ((base <= d) & (base + 10 > d)).mean()
    lo, hi = shifted["prob_target_by_deadline"]
    assert lo <= -flips <= hi


def test_tornado_says_which_swings_cannot_be_told_from_chance():
    base = {"median_time_to_target_days": 100.0, "prob_target_by_deadline": None}
    lo = {"median_time_to_target_days": 90.0, "prob_target_by_deadline": None,
          "effects_ci95": {"median_time_to_target_days": [-20.0, 1.0]}}  # fmt: skip
    hi = {"median_time_to_target_days": 95.0, "prob_target_by_deadline": None,
          "effects_ci95": {"median_time_to_target_days": [-8.0, -2.0]}}  # fmt: skip
    (row,) = tornado([RATE], base, [lo], [hi])["median_time_to_target_days"]
    assert row["within_noise"] is False  # the high end's change is clear of 0
    hi["effects_ci95"]["median_time_to_target_days"] = [-8.0, 2.0]
    (row,) = tornado([RATE], base, [lo], [hi])["median_time_to_target_days"]
    assert row["within_noise"] is True


def test_the_text_names_the_warnings_and_the_samples_needed():
    rows = _sobol_rows((0.5, 0.04, 0), (-0.2, 0.05, 0))
    result = {
        "method": "sobol", "scenario": "s", "runs": 256, "replications": 10, "seed": 1,
        "samples": 64, "parameters": [{"key": "p0"}, {"key": "p1"}],
        "outputs": {"median_time_to_target_days": "median days"},
        "indices": {"median_time_to_target_days": rows},
        "checks": {"median_time_to_target_days": sobol_checks(rows, samples=64)},
    }  # fmt: skip
    text = format_sensitivity(result)
    assert "WARNING: 1 first-order index negative beyond its 95% interval" in text
    assert "--samples 1024" in text
