"""What a scenario may ask: validation and the code agree on what is representable, and the
work and memory of a run are bounded before it starts (issue 11).

Each test's docstring names the finding of issue 11 ("Why", 1 to 11) it guards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings

import pytest
from conftest import REFERENCE_WORKLOAD, ROOT, SCENARIOS, make_scenario

from sim.cli.main import main
from sim.core import referral
from sim.core.errors import InputError
from sim.core.model import run_trial
from sim.core.scenario import (
    MAX_HORIZON_DAYS,
    MAX_REFERRALS,
    load_scenario,
    validate_scenario,
    with_overrides,
)
from sim.core.schema import FIRST_DATE, LAST_DATE
from sim.core.streams import replication_seed
from sim.planning.ranges import check_combinations, default_ranges, numeric_values
from sim.report.summary import format_summary
from sim.run.budget import WORK_BUDGET, check_work, estimate_work
from sim.run.runner import run_replications

BASELINE = str(SCENARIOS / "baseline.yaml")
SHIPPED = [*sorted(SCENARIOS.glob("*.yaml")), REFERENCE_WORKLOAD]
QUICK = ["--executor", "serial", "--quiet"]


def _one_error(capsys, *parts: str) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    for part in parts:
        assert part in lines[0], (part, lines[0])
    return lines[0]


# --- finding 5: every accepted scenario runs ---------------------------------------------------

REPRODUCTIONS = {
    "follow-up-1e7": (["--set", "follow_up_days=1e7"], "follow_up_days"),
    "start-9999": (["--set", "start_date=9999-01-01", "--set", "target.deadline=null"],
                   "start_date"),
    "start-0001": (["--set", "start_date=0001-01-01"], "start_date"),
    "deadline-2202": (["--set", "target.deadline=2202-12-31"], "target.deadline"),
    "gamma-sd-1e200": (["--set", "infusion.stay_days={dist: gamma, mean: 1, sd: 1e200}"],
                       "infusion.stay_days"),
    "fludarabine-1e306": (["--set", "conditioning.fludarabine_mg_per_m2_per_day=1e306"],
                          "conditioning.fludarabine_mg_per_m2_per_day"),
    "exponential-1e308": (["--set",
                           "deterioration.time_to_event_days={dist: exponential, mean: 1e308}"],
                          "deterioration.time_to_event_days"),
}


@pytest.mark.parametrize("case", list(REPRODUCTIONS))
@pytest.mark.parametrize("command", ["validate", "run", "compare"])
def test_the_reproductions_of_finding_5_are_refused_by_validation(case, command, capsys):
    """Finding 5: these scenarios passed ``validate`` and then gave tracebacks in run,
    compare, forecast and backtest (OverflowError, "date value out of range", TypeError in
    the summary text, RuntimeWarnings). Now validation refuses each with one line naming the
    field, whatever the command."""
    sets, field = REPRODUCTIONS[case]
    files = [BASELINE, BASELINE] if command == "compare" else [BASELINE]
    extra = [] if command == "validate" else ["--reps", "2", *QUICK]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main([command, *files, *sets, *extra]) == 2
    _one_error(capsys, f"--set: {field}")


def test_forecast_and_backtest_refuse_them_too(capsys):
    """Finding 5: forecast and backtest met the same tracebacks."""
    for command in (["forecast", BASELINE, "--observed", str(SCENARIOS / "observed_example.csv"),
                     "--as-of", "2017-06-01"], ["backtest", BASELINE, "--as-of", "2017-06-01"]):
        assert main([*command, "--set", "follow_up_days=1e7", "--reps", "2", *QUICK]) == 2
        _one_error(capsys, "follow_up_days")


EXTREMES_FLOAT = (1e-300, 1e-9, 1e12, 1e15, 1e300)
EXTREMES_INT = (0, 1, 10_000, 1_000_000, 10**30)
SMALL_BUDGET = 40_000
"""Work (simulated patients) a case of the sweep below may take; beyond, the CLI's budget
would ask for --allow-large, as it asks here."""


def _extreme_cases():
    base = load_scenario(BASELINE)
    for key, value in numeric_values(base).items():
        if key.startswith("target.count"):
            continue
        for extreme in EXTREMES_INT if isinstance(value, int) else EXTREMES_FLOAT:
            yield key, extreme


def test_every_value_validation_accepts_runs_without_a_warning_or_traceback():
    """Finding 5 (deliverable 3): every number of the baseline set to tiny and huge values;
    each is refused by validation, or by the work budget, or runs two replications and
    prints its summary, with no exception and no warning (numpy's overflow warnings on
    stderr were part of the finding)."""
    base = load_scenario(BASELINE)
    outcomes = {"refused": 0, "over budget": 0, "ran": 0}
    for key, extreme in _extreme_cases():
        try:
            sc = with_overrides(base, [f"{key}={extreme!r}"])
        except InputError:
            outcomes["refused"] += 1
            continue
        if estimate_work(sc, 2).total > SMALL_BUDGET:
            outcomes["over budget"] += 1
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            summary = run_replications(sc, 2, seed=1).summary()
            format_summary(summary)
            json.dumps(summary, allow_nan=False)
        outcomes["ran"] += 1
    assert outcomes["refused"] > 50 and outcomes["ran"] > 50, outcomes


@pytest.mark.parametrize("start", [FIRST_DATE, LAST_DATE])
def test_the_first_and_last_dates_run_with_the_longest_horizon_and_follow_up(start):
    """Finding 5: dates from 1900 to 2200 (the dashboard's date inputs' range) are accepted,
    and every date computed from them, a hundred years of horizon and of follow-up on, is a
    calendar date."""
    sc = make_scenario(f"start_date={start}", f"horizon_days={MAX_HORIZON_DAYS}",
                       f"follow_up_days={MAX_HORIZON_DAYS}", f"target.deadline={start}",
                       "referral.sites.0.rate_per_month=0.5", "target.count=5")
    summary = run_replications(sc, 3, seed=1).summary()
    assert summary["start_date"] == start.isoformat()
    assert summary["primary_completion_date"]["p50"] > start.isoformat()
    format_summary(summary)


@pytest.mark.parametrize("value", ["1899-12-31", "2201-01-01"])
def test_dates_beyond_the_range_are_refused(value):
    """Finding 5: a deadline of 2202-12-31 or a start of 0001-01-01 was accepted and then
    broke the dashboard (its date inputs allow 1900-2200); the schema now refuses them."""
    for key in ("start_date", "target.deadline"):
        with pytest.raises(InputError, match="must be from 1900-01-01 to 2200-12-31"):
            make_scenario(f"{key}={value}")


# --- finding 2: bounded work and memory --------------------------------------------------------


def test_a_run_beyond_the_budget_is_refused_at_once_naming_the_estimate_and_the_flag(capsys):
    """Finding 2: 3,000 referrals a month for a target never reached took a minute a
    replication and would have taken hours at the dashboard's 500; now the run is refused in
    a moment, with the estimate and the flag that runs it anyway."""
    args = ["run", BASELINE, "--set", "referral.sites.0.rate_per_month=3000", "--set",
            "target.count=1000000", "--reps", "500", *QUICK]
    started = time.monotonic()
    assert main(args) == 2
    assert time.monotonic() - started < 10
    line = _one_error(capsys, "simulated patients", "500 replications", "--allow-large",
                      f"{WORK_BUDGET:,}")
    assert "about 180,000,000" in line or "about 190,000,000" in line, line


def test_the_budget_lets_the_usual_runs_through():
    """Finding 2: the default run (200 replications), the dashboard's default (500) and
    the default Morris and Sobol analyses of every shipped scenario fit the budget."""
    for path in SHIPPED:
        sc = load_scenario(str(path))
        for reps in (200, 500):
            check_work(estimate_work(sc, reps))
        sobol_runs = 64 * (len(default_ranges(sc, combined=True)) + 2)
        check_work(estimate_work(sc, 100).times(sobol_runs))


@pytest.mark.parametrize("sets", [
    (),
    ("referral.sites.0.rate_per_month=300", "target.count=100000", "horizon_days=365"),
    ("referral.sites.0.rate_per_month=40", "target.count=50"),
    ("referral.sites.0.rate_per_month=40", "target.count=20", "target.milestone=enrolled"),
    ("deterioration.time_to_event_days=20",),
], ids=["baseline", "never-reached", "saturated-beds", "enrolled", "heavy-losses"])
def test_the_estimate_is_within_a_factor_of_two_of_the_patients_simulated(sets):
    """Finding 2: the estimate of patients a replication (referral stops at the target,
    capacity and losses delay it) is within a factor of two of the simulated mean."""
    sc = with_overrides(load_scenario(BASELINE), list(sets))
    simulated = run_replications(sc, 10, seed=3).summary()["funnel"]["referred"]
    estimated = estimate_work(sc, 10).patients
    assert simulated / 2 <= estimated <= simulated * 2, (estimated, simulated)


def test_a_scenario_that_would_not_fit_in_memory_is_refused_by_validation():
    """Finding 2: 100,000 referrals a month over 100 years built 132 million referrals and
    died with a memory error; the schema now refuses more than MAX_REFERRALS expected
    referrals up to the horizon (a replication draws them all when it starts)."""
    with pytest.raises(InputError, match=f"at most {MAX_REFERRALS:,}") as err:
        make_scenario("referral.sites.0.rate_per_month=100000", f"horizon_days={MAX_HORIZON_DAYS}")
    assert "referral" in err.value.message and "lower the rates or the horizon" in err.value.message


def test_a_replication_drawing_beyond_its_memory_stops_with_one_line(monkeypatch):
    """Finding 2: an uncertain rate's far tail could draw more referrals than a replication
    can hold; the draw is refused with one line before the referrals are made."""
    monkeypatch.setattr(referral, "MAX_DRAWN", 10)
    sc = make_scenario("referral.sites.0.rate_per_month=3", "referral.rate_shape=null")
    with pytest.raises(InputError, match="beyond the 10 one trial can hold"):
        run_trial(sc, replication_seed(1, 0), keep_log=False)


def test_full_tables_beyond_memory_are_refused_before_the_run(tmp_path, capsys):
    """Finding 2: full tables (--out keeps every replication's) take about 8 kB a patient;
    more than the kept budget asks for --keep-logs or --allow-large, before any work."""
    out = tmp_path / "out"
    assert main(["run", BASELINE, "--reps", "5000", "--out", str(out), *QUICK]) == 2
    _one_error(capsys, "--keep-logs", "--allow-large")
    assert not out.exists()


def test_the_dashboard_can_ask_before_a_big_run():
    """Deliverable 2: the library answers whether a run is beyond the budget, and in words
    how big it is (the dashboard asks with these)."""
    sc = with_overrides(load_scenario(BASELINE), ["referral.sites.0.rate_per_month=3000",
                                                 "target.count=1000000"])
    work = estimate_work(sc, 500)
    assert work.over_budget() and not estimate_work(sc, 1).over_budget()
    assert work.describe().startswith("about ") and "500 replications" in work.describe()
    with pytest.raises(InputError, match="--allow-large"):
        check_work(work)
    check_work(work, allowed=True)


def test_a_large_run_is_refused_within_seconds_as_a_new_user_would_meet_it():
    """Finding 2, as reproduced: the command line, in a fresh interpreter, ends within
    seconds with exit status 2 and one line."""
    args = [sys.executable, "-m", "sim", "run", BASELINE, "--set",
            "referral.sites.0.rate_per_month=3000", "--set", "target.count=1000000",
            "--reps", "500", "--quiet"]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr


# --- finding 6: the global methods on the default ranges --------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_default_ranges_combine_into_valid_scenarios(path):
    """Finding 6: ``sensitivity --method morris`` (and sobol) failed on the default ranges
    ("needs low <= mode <= high"): they were clipped one parameter at a time. For the global
    methods every corner of every block is now a valid scenario."""
    sc = load_scenario(str(path))
    params = default_ranges(sc, combined=True)
    check_combinations(sc, params, "default ranges")
    keys = {p.key for p in params}
    assert "referral.sites.0.rate_per_month" in keys
    oat = {p.key: p for p in default_ranges(sc)}  # one at a time: the ranges as before
    assert {p.key for p in params} <= set(oat)


def test_morris_runs_on_the_baseline_with_its_default_ranges(capsys):
    """Finding 6, on the command line: Morris with the default ranges gives indices."""
    assert main(["sensitivity", BASELINE, "--method", "morris", "--samples", "2", "--reps",
                 "2", "--json", *QUICK]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["method"] == "morris" and result["parameters"]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["morris", "sobol"])
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_global_methods_run_on_every_shipped_scenario(path, method, capsys):
    """Finding 6 ("done when"): morris and sobol run on every shipped scenario with their
    default ranges (few samples and replications)."""
    assert main(["sensitivity", str(path), "--method", method, "--samples", "2", "--reps", "2",
                 "--json", *QUICK]) == 0
    assert json.loads(capsys.readouterr().out)["method"] == method


def test_validation_refuses_what_the_schema_says_it_bounds():
    """What held up: range bounds (counts, attempts, the target, rates, the horizon) still
    refuse values beyond them, with the field named."""
    base = load_scenario(BASELINE).to_dict()
    for key, value in (("infusion.beds", 10_001), ("apheresis.max_attempts", 101),
                       ("target.count", 1_000_001), ("horizon_days", MAX_HORIZON_DAYS + 1),
                       ("referral.sites.0.rate_per_month", 100_001)):
        data = json.loads(json.dumps(base, default=str))
        node = data
        *path, last = key.split(".")
        for part in path:
            node = node[int(part)] if part.isdigit() else node[part]
        node[last] = value
        with pytest.raises(InputError, match=key.split(".")[-1]):
            validate_scenario(data)
