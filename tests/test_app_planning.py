"""The dashboard's planning helpers (sim.app.planning): sizing with its heat map, sensitivity
with readable names, the forecast from an observed log, and their results in words.

Runs use few replications: these tests check wiring and wording, not the figures
themselves (tests/test_sizing.py, test_sensitivity.py and test_forecast.py do).
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import SCENARIOS, make_scenario

from sim.app.planning import observed, sensitivity, sizing
from sim.core.errors import InputError
from sim.core.scenario import load_scenario
from sim.forecasting.observed import MAX_LOG_BYTES, parse_log


@pytest.fixture(scope="module")
def baseline():
    return load_scenario(str(SCENARIOS / "baseline.yaml"))


# --- sizing ----------------------------------------------------------------------------------


def test_counts_in_words() -> None:
    assert sizing.count_words("manufacturing.suites", 2) == "2 manufacturing suites"
    assert sizing.count_words("apheresis.slots", 1) == "1 apheresis slot"
    assert sizing.count_words("infusion.beds", 1) == "1 infusion bed"
    assert sizing.config_words({"manufacturing.suites": 1}) == "1 manufacturing suite"
    three = {"manufacturing.suites": 2, "apheresis.slots": 1, "infusion.beds": 3}
    assert sizing.config_words(three) == (
        "2 manufacturing suites, 1 apheresis slot and 3 infusion beds"
    )
    assert sizing.resource_title("apheresis.slots") == "Apheresis slots"


def test_sizeable_lists_the_defaults_first(baseline) -> None:
    keys = sizing.sizeable(baseline)
    assert keys[:2] == list(sizing.DEFAULT_RESOURCES)
    assert "infusion.beds" in keys


def _result(feasible: bool, answer: dict[str, int], **extra: Any) -> dict[str, Any]:
    """A sizing result as ``sim.planning.sizing.size`` returns it (only what the app reads)."""

    def entry(config: dict[str, int], hits: int, meets: bool) -> dict[str, Any]:
        p = hits / 100
        return {
            "set": dict(config),
            "units": sum(config.values()),
            "prob_target_by_deadline": p,
            "prob_ci95": [max(p - 0.09, 0.0), min(p + 0.08, 1.0)],
            "reached_by_deadline": hits,
            "replications": 100,
            "verdict": "enough" if meets else "short",
            "meets": meets,
            "harm": [],
        }

    chosen = entry(answer, 82 if feasible else 50, feasible)
    one_less = []
    for key, v in answer.items():
        if v == 1:
            one_less.append({"resource": key, "set": None, "note": "already at the minimum, 1"})
        else:
            lower = {**answer, key: v - 1}
            one_less.append({"resource": key, **entry(lower, 70 if feasible else 41, False)})
    out = {
        "target": {"count": 50, "milestone": "infused", "deadline": "2020-12-31"},
        "replications": 100,
        "seed": 1,
        "probability_wanted": 0.8,
        "capacity_binds": True,
        "gain_at_max": {"mean": 0.3, "ci95": [0.2, 0.4], "replications": 100, "min_gain": 0.02},
        "kept": None,
        "undecided": [],
        "resources": list(answer),
        "current": {k: 2 for k in answer},
        "max_units": 10,
        "feasible": feasible,
        "answer": chosen if feasible else None,
        "best_found": None if feasible else chosen,
        "highest_probability": None if feasible else entry(dict.fromkeys(answer, 10), 50, False),
        "one_unit_less": one_less,
        "configurations_simulated": 7,
        "lattice_size": 100,
        "cheaper_points_ruled_out": True,
        "notes": [],
        "evaluations": [chosen] + [e for e in one_less if e["set"] is not None],
    }
    out.update(extra)
    return out


def test_sizing_in_words_feasible() -> None:
    """The answer with its chance and interval, the wanted chance, and one unit less of each
    resource falling short; the effort and the scenario's own configuration."""
    r = _result(True, {"manufacturing.suites": 3, "apheresis.slots": 1})
    words = sizing.sizing_words(r)
    assert words.answer.startswith("**3 manufacturing suites and 1 apheresis slot**")
    assert "82% (95% interval 73% to 90%) of 50 infused by 31 Dec 2020" in words.answer
    assert "enough for the 80% wanted (its 99% interval lies above it), with the fewest units" in (
        words.answer
    )
    assert words.evidence == [
        "With 2 manufacturing suites (one less): 70% (95% interval 61% to 78%): short.",
        "Apheresis slots: already at the minimum, 1.",
    ]
    assert "Simulated 7 of 100 configurations, 100 trials each" in words.effort
    assert "every configuration with fewer units was ruled out" in words.effort
    assert words.effort.endswith("2 manufacturing suites and 2 apheresis slots.")
    partial = sizing.sizing_words({**r, "cheaper_points_ruled_out": False})
    assert "may not be the fewest" in partial.effort
    priced = {
        **r,
        "cost_basis": "costs block",
        "currency": "CNY",
        "costs": {"manufacturing.suites": 1.0e7, "apheresis.slots": 0.0},
        "answer": {**r["answer"], "cost": 3.0e7, "mean_total_cost_per_trial": 2.5e7},
    }
    priced_words = sizing.sizing_words(priced)
    assert "with the least availability price of its units over the horizon" in (
        priced_words.answer
    )
    assert "CNY 30,000,000; mean simulated total cost per trial CNY 25,000,000" in (
        priced_words.answer
    )
    assert "every configuration cheaper was ruled out" in priced_words.effort
    kept = sizing.sizing_words(
        {**r, "capacity_binds": False, "feasible": False, "answer": None, "kept": r["answer"]}
    )
    assert kept.answer.startswith("**Capacity does not bind:**")
    assert "Keep **3 manufacturing suites and 1 apheresis slot**" in kept.answer
    assert kept.evidence == []


def test_sizing_in_words_infeasible() -> None:
    """No configuration reaches it: said plainly, with the highest chance found and the
    fewest units reaching that."""
    r = _result(False, {"manufacturing.suites": 2, "apheresis.slots": 1})
    words = sizing.sizing_words(r)
    assert words.answer.startswith("**Not reachable:** no configuration with each resource at")
    assert "most 10 is enough for a chance of 80% of 50 infused by 31 Dec 2020" in words.answer
    assert "with every resource at 10, is 50%" in words.answer
    assert "**2 manufacturing suites and 1 apheresis slot**" in words.answer
    assert words.evidence[0].endswith(": short.")
    table = sizing.evaluations_table(r)
    assert list(table.columns[:3]) == ["Manufacturing suites", "Apheresis slots", "units"]
    assert list(table["units"]) == sorted(table["units"])


def test_heatmap_axes_around_the_answer(baseline) -> None:
    """1 to one above the answer, at least 1 to 3, at most five values; an axis not sized is
    centred on the scenario's own value."""

    def axes(answer: dict[str, int]) -> dict[str, list[int]]:
        return sizing.heatmap_axes(baseline, _result(True, answer))

    assert axes({"manufacturing.suites": 1, "apheresis.slots": 1}) == {
        "manufacturing.suites": [1, 2, 3],
        "apheresis.slots": [1, 2, 3],
    }
    big = axes({"manufacturing.suites": 7, "apheresis.slots": 3})
    assert big == {"manufacturing.suites": [4, 5, 6, 7, 8], "apheresis.slots": [1, 2, 3, 4]}
    beds_only = axes({"infusion.beds": 4})  # the baseline has 2 suites and 1 slot
    assert beds_only == {"manufacturing.suites": [1, 2, 3], "apheresis.slots": [1, 2, 3]}
    held = sizing.heatmap_scenario(baseline, _result(True, {"infusion.beds": 4}))
    assert held.infusion.beds == 4


@pytest.fixture(scope="module")
def sized() -> dict[str, Any]:
    """Plenty of referrals and a 40-day manufacturing run: one suite cannot make 30 products
    by mid-2018, two can."""
    scenario = make_scenario(
        "referral.sites.0.rate_per_month=6.0",
        "manufacturing.duration_days={dist: fixed, value: 40}",
        "target.deadline=2018-06-30",
        "deterioration=null",
    )
    return sizing.sizing_with_grid(
        scenario,
        ["manufacturing.suites", "apheresis.slots"],
        0.5,
        reps=8,
        seed=3,
        max_units=4,
    )


def test_sizing_with_grid_on_common_random_numbers(sized: dict[str, Any]) -> None:
    """Two suites and one slot, one suite less falls short. The heat map runs on the
    sizing's seed and replications, so its cell at the answer has the answer's own
    probability, and its cell at one suite less has the one-less figure."""
    result, heat = sized["sizing"], sized["heatmap"]
    chosen = sizing.chosen_config(result)
    assert result["feasible"]
    assert chosen == {"manufacturing.suites": 2, "apheresis.slots": 1}
    assert heat["seed"] == result["seed"] and heat["replications"] == result["replications"]
    points = sizing.heatmap_points(heat)
    at = points[
        (points["manufacturing.suites"] == chosen["manufacturing.suites"])
        & (points["apheresis.slots"] == chosen["apheresis.slots"])
    ]
    assert len(at) == 1
    pick = result["answer"] if result["feasible"] else result["best_found"]
    assert at["prob_target_by_deadline"].iloc[0] == pick["prob_target_by_deadline"]
    one_less = result["one_unit_less"][0]
    assert one_less["set"] == {"manufacturing.suites": 1, "apheresis.slots": 1}
    below = points[(points["manufacturing.suites"] == 1) & (points["apheresis.slots"] == 1)]
    assert below["prob_target_by_deadline"].iloc[0] == one_less["prob_target_by_deadline"]
    words = sizing.sizing_words(result, heat)
    assert words.evidence[0].startswith("With 1 manufacturing suite (one less): 0%")
    assert words.evidence[0].endswith("short.")
    assert words.grid.startswith("Over the heat map (manufacturing suites 1 to 3 x apheresis")
    assert words.grid.endswith("the chance ranges from 0% to 100%.")
    assert f"{len(points)} configurations" in words.grid
    assert len(sizing.heatmap_subtitle(result, heat)) == 4


# --- sensitivity -----------------------------------------------------------------------------


def test_parameter_labels(baseline) -> None:
    """Scenario keys in words, with their units."""
    assert sensitivity.parameter_label("apheresis.slots") == "Apheresis slots (count)"
    assert (
        sensitivity.parameter_label("manufacturing.duration_days.mode")
        == "Manufacturing duration, mode (days)"
    )
    assert sensitivity.parameter_label("manufacturing.qc_release_days.value") == "QC release (days)"
    assert (
        sensitivity.parameter_label("referral.sites.0.rate_per_month", baseline)
        == "Referral rate (patients/month)"
    )
    two = load_scenario(str(SCENARIOS / "two_sites.yaml"))
    assert (
        sensitivity.parameter_label("referral.sites.1.ramp_up_days", two)
        == "Ramp-up, site 2 (days)"
    )
    assert (
        sensitivity.parameter_label("screening.criteria.active_infection")
        == "Fails screening: active infection (probability 0-1)"
    )
    assert sensitivity.parameter_label("no.such.key") == "no.such.key"
    row = {"parameter": "x", "label": "Batch yield, mean (cells)", "low": 1e9, "high": 2e9}
    assert sensitivity.range_label(row) == "Batch yield, mean (cells): 1e9 to 2e9"


def test_ranges_files_and_bad_ranges(baseline) -> None:
    assert [p.name for p in sensitivity.ranges_files(SCENARIOS)] == ["baseline.yaml"]
    text = (SCENARIOS / "ranges" / "baseline.yaml").read_text()
    params, source = sensitivity.sensitivity_params(baseline, text, "ranges/baseline.yaml")
    assert source == "ranges/baseline.yaml" and len(params) == 21
    params, source = sensitivity.sensitivity_params(baseline)
    assert source == sensitivity.DEFAULT_RANGES and len(params) > 21
    with pytest.raises(InputError) as err:
        sensitivity.sensitivity_params(baseline, "apheresis.slotz: [1, 2]\n", "mine.yaml")
    assert err.value.message.startswith("mine.yaml: apheresis.slotz: is not a number")


def test_sensitivity_labelled_tabled_and_in_words() -> None:
    """Two parameters, one at a time: each tornado row has its readable label; the table
    has a row a parameter; the words name the figure and what moves it most."""
    scenario = make_scenario()
    ranges = "apheresis.slots: [1, 2]\nreferral.sites.0.rate_per_month: [2.0, 4.0]\n"
    params, _ = sensitivity.sensitivity_params(scenario, ranges, "test ranges")
    result = sensitivity.run_sensitivity(scenario, params, reps=6, seed=2)
    rows = sensitivity.tornado_rows(result, "median_time_to_target_days")
    assert {r["label"] for r in rows} == {
        "Apheresis slots (count): 1 to 2",
        "Referral rate (patients/month): 2 to 4",
    }
    table = sensitivity.sensitivity_table(result)
    assert list(table["scenario key"]) == [r["parameter"] for r in rows]
    assert set(table.columns) >= {"swing (days)", "swing (points)", "chance at low (%)"}
    words = sensitivity.sensitivity_words(result, scenario)
    assert words[0].startswith("**Median time to the target:**")
    assert "Moved most by referral rate from 2 to 4" in words[0]
    assert words[1].startswith("**Chance of the target by the deadline:**")
    assert sensitivity.sensitivity_runs(params) == result["runs"]


def test_morris_indices_tabled_with_their_sampling_error() -> None:
    """Morris over two parameters: one row a parameter with its readable label and the
    index columns in words; the sampling error in words without command-line flags."""
    scenario = make_scenario()
    ranges = "apheresis.slots: [1, 2]\nreferral.sites.0.rate_per_month: [2.0, 4.0]\n"
    params, _ = sensitivity.sensitivity_params(scenario, ranges, "test ranges", "morris")
    result = sensitivity.run_sensitivity(
        scenario, params, reps=4, seed=2, method="morris", samples=4
    )
    assert result["runs"] == sensitivity.sensitivity_runs(params, "morris", 4) == 12
    table = sensitivity.indices_table(result, "median_time_to_target_days")
    assert list(table.columns) == [
        "parameter", "scenario key", *sensitivity.INDEX_COLUMNS["morris"].values()
    ]  # fmt: skip
    assert set(table["parameter"]) == {"Apheresis slots (count)", "Referral rate (patients/month)"}
    notes, warnings = sensitivity.sampling_words(result, "median_time_to_target_days")
    assert notes[0].startswith("sampling error: mu* known to within")
    assert not any("--" in line for line in notes + warnings)


def test_tornado_rows_carry_their_error_and_the_words_discount_noise() -> None:
    """Each row carries the paired intervals of its two changes; the words name only the
    swings clear of chance, and say when none is."""
    scenario = make_scenario()
    ranges = "referral.sites.0.rate_per_month: [1.0, 4.0]\ninfusion.stay_days.mean: [20, 22]\n"
    params, _ = sensitivity.sensitivity_params(scenario, ranges, "test ranges")
    result = sensitivity.run_sensitivity(scenario, params, reps=6, seed=2)
    rows = sensitivity.tornado_rows(result, "median_time_to_target_days")
    assert all(len(r["effect_low_ci95"]) == len(r["effect_high_ci95"]) == 2 for r in rows)
    table = sensitivity.sensitivity_table(result)
    assert "±95% (days)" in table.columns and "±95% (points)" in table.columns
    for r in rows:  # as if no swing were clear of chance
        r["within_noise"] = True
    result["tornado"]["median_time_to_target_days"] = rows
    words = sensitivity.sensitivity_words(result, scenario)
    assert "by more than chance (6 trials a run)" in words[0]
    rows[0]["within_noise"] = False
    words = sensitivity.sensitivity_words(result, scenario)
    assert "Moved most by" in words[0] and "1 of 2 swings cannot be told from chance" in words[0]


def test_facility_tables_and_chart_from_a_run() -> None:
    """The shipped facility file: its trials' table (one row each, chances in %), its
    resources' table and the chart's bars (one a trial, whiskers inside 0-100)."""
    from sim.app import charts
    from sim.app.planning import facility

    (path,) = facility.facility_files(SCENARIOS)
    out = facility.run(facility.load(path), reps=4, seed=2)
    trials = facility.trials_table(out)
    assert list(trials["priority"]) == [0, 0, 1]
    assert trials["chance by deadline (%)"].between(0, 100).all()
    assert list(facility.resources_table(out)["resource"]) == ["apheresis", "manufacturing", "beds"]
    spec = charts.facility_chances(out).to_dict()
    assert len(spec["layer"]) == 2
    assert "every trial reaches its target" in facility.headline(out)


# --- forecast from observed data -------------------------------------------------------------


def test_forecast_from_the_example_log(baseline) -> None:
    """The shipped example: the observed counts, the posterior in words (prior -> posterior),
    both forecasts, and the observed days for the step lines."""
    text = (SCENARIOS / observed.EXAMPLE_LOG).read_text()
    log = parse_log(text, baseline, observed.EXAMPLE_AS_OF, observed.EXAMPLE_LOG)
    view = observed.run_forecast(baseline, log, reps=4, seed=1)
    assert view.as_of == observed.EXAMPLE_AS_OF and view.source == observed.EXAMPLE_LOG
    assert len(view.observed["infused"]) == view.summary["observed"]["infused"] == 32
    assert set(view.updated_fan["series"]) == {"enrolled", "infused"}
    words = observed.posterior_words(view.summary)
    assert words[0] == (
        "Observed to 1 Jun 2017: 45 referred, 37 enrolled, 32 infused, 4 still in the pathway."
    )
    assert words[1].startswith(
        "Referral rate of Soochow University First Affiliated Hospital: 1.40 → **"
    )
    assert words[2].startswith("Screen failure: 14.2% → **")
    assert "of 42 screened patients observed" in words[2]
    assert words[3].startswith("Manufacturing failure (every batch of a patient):")
    assert all("→ **" in w for w in words[1:])


def test_uploaded_logs_refused_in_one_line(baseline) -> None:
    with pytest.raises(InputError, match=r"log\.csv: is a binary file, not a CSV table"):
        observed.read_log_upload(b"a,b\n\x00\x01", "log.csv")
    with pytest.raises(InputError, match="larger than the"):
        observed.read_log_upload(b"x" * (MAX_LOG_BYTES + 1), "big.csv")
    assert observed.read_log_upload(b"patient_id\n", "ok.csv") == "patient_id\n"
    early = observed.EXAMPLE_AS_OF.replace(year=2014)
    with pytest.raises(InputError) as err:
        parse_log("patient_id,site,referred_date\n", baseline, early, "x.csv")
    message = observed.app_message(err.value)
    assert message.startswith("the as-of date = '2014-06-01': must not be before")
    assert "--" not in message
