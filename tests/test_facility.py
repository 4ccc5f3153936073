"""A facility: several trials sharing resources on one clock. A facility of one trial is that
trial alone; trials with units so ample that nobody waits behave as alone, on independent
random streams; shared units are never exceeded; priority orders the shared queues."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SCENARIOS, make_scenario

from sim.cli.main import main
from sim.core.errors import InputError
from sim.core.facility import FacilityFile, build_facility, load_facility, run_facility
from sim.core.scenario import with_overrides
from sim.core.streams import replication_seed
from sim.run.facility import run_facility_replications
from sim.run.results import events_table
from sim.run.runner import run_replications

FACILITY = SCENARIOS / "facilities" / "unit_three_trials.yaml"


def _facility(*trials, resources=None, horizon=None, **extra):
    """A facility of the given scenarios (each a dict of FacilityTrial fields plus
    ``scenario``), on the first scenario's start and horizon."""
    first = trials[0]["scenario"]
    spec = FacilityFile.model_validate(
        {
            "name": "test facility",
            "start_date": first.start_date,
            "horizon_days": horizon or first.horizon_days,
            "resources": resources or {},
            "trials": [
                {"file": f"t{k}.yaml", **{k2: v for k2, v in t.items() if k2 != "scenario"}}
                for k, t in enumerate(trials)
            ],
            **extra,
        }
    )
    by_file = {f"t{k}.yaml": t["scenario"] for k, t in enumerate(trials)}
    return build_facility(spec, by_file.__getitem__)


def _same(a, b) -> list[str]:
    return [c for c in a.columns if not np.array_equal(a[c], b[c], equal_nan=True)]


def test_a_facility_of_one_trial_is_that_trial_alone():
    sc = make_scenario()
    fac = _facility({"scenario": sc}, resources={"apheresis": 1, "manufacturing": 2, "beds": 2})
    alone = run_replications(sc, 30, seed=7).table
    inside = run_facility_replications(fac, 30, seed=7).tables.trial(0)
    assert _same(alone, inside) == []
    assert np.array_equal(alone.vein_to_vein, inside.vein_to_vein)
    # and with the trial's own units (nothing shared)
    own = run_facility_replications(_facility({"scenario": sc}), 30, seed=7).tables.trial(0)
    assert _same(alone, own) == []


AMPLE = {"apheresis": 40, "manufacturing": 40, "beds": 40}


@pytest.fixture(scope="module")
def ample_pair():
    """The same busy trial twice, with units so ample nobody waits, and the trial alone."""
    sc = make_scenario("referral.sites.0.rate_per_month=3")
    roomy = with_overrides(
        sc, ["apheresis.slots=40", "manufacturing.suites=40", "infusion.beds=40"]
    )
    fac = _facility({"scenario": sc}, {"scenario": sc}, resources=AMPLE)
    both = run_facility_replications(fac, 300, seed=11)
    return both, run_replications(roomy, 300, seed=11)


def test_ample_units_leave_each_trial_as_it_is_alone(ample_pair):
    both, alone = ample_pair
    a = alone.table
    assert _same(a, both.tables.trial(0)) == []  # the first trial draws its own streams alone
    b = both.tables.trial(1)
    for col in ("infused", "referred", "outcome.deteriorated"):  # within sampling error
        se = np.sqrt(a[col].var(ddof=1) / len(a) + b[col].var(ddof=1) / len(b))
        assert abs(a[col].mean() - b[col].mean()) < 4 * se, col
    pa, pb = (np.mean(~np.isnan(t["time_to_target_days"])) for t in (a, b))
    assert abs(pa - pb) < 4 * np.sqrt(pa * (1 - pa) / 300 * 2) + 1e-9
    for res in ("apheresis", "manufacturing", "beds"):  # waits only for working days, as alone
        wa, wb = (t[f"{res}.wait_sum_days"] / np.maximum(1, t[f"{res}.granted"]) for t in (a, b))
        se = np.sqrt(wa.var(ddof=1) / len(wa) + wb.var(ddof=1) / len(wb))
        assert abs(wa.mean() - wb.mean()) <= 4 * se + 1e-12, res


def test_different_trials_draw_independent_streams(ample_pair):
    both, _ = ample_pair
    t0, t1 = both.tables.trial(0), both.tables.trial(1)
    assert not np.array_equal(t0["referred"], t1["referred"])
    r = np.corrcoef(t0["referred"], t1["referred"])[0, 1]
    assert abs(r) < 4 / np.sqrt(len(t0))  # no more correlated than chance


def test_shared_units_are_never_exceeded_and_priority_orders_the_queue():
    """Two busy trials on one suite: at every batch start the batches in the suite (of both
    trials) fit; the trial served first waits less for the suite."""
    sc = make_scenario("referral.sites.0.rate_per_month=3")
    fac = _facility(
        {"scenario": sc, "priority": 1}, {"scenario": sc, "priority": 0},
        resources={"apheresis": 2, "manufacturing": 1, "beds": 6},
    )  # fmt: skip
    waits = np.zeros(2)
    for r in range(4):
        run = run_facility(fac, replication_seed(3, r), keep_log=True)
        ev = [events_table(t, r) for t in run.trials]
        mf = sorted(
            (t, what) for e in ev for t, what, res in
            zip(e["time"], e["event"], e["resource"], strict=True)
            if res == "manufacturing" and what in ("start", "end")
        )  # fmt: skip
        in_use = 0
        for _, what in mf:  # an end before a start at the same time
            in_use += 1 if what == "start" else -1
            assert 0 <= in_use <= 1
        for k, t in enumerate(run.trials):
            waits[k] += t.suites.wait_sum / max(1, t.suites.n_granted)
            counts = sum(1 for p in t.patients)
            assert counts == len(t.patients) and all(p.outcome for p in t.patients)
    assert waits[1] < waits[0]


def test_a_trial_opens_on_its_day_and_the_facility_adds_up_its_trials():
    sc = make_scenario()
    fac = _facility(
        {"scenario": sc}, {"scenario": sc, "opens_day": 400}, resources={"manufacturing": 2}
    )
    run = run_facility(fac, replication_seed(1, 0))
    assert min(p.referred for p in run.trials[1].patients) >= 400
    res = run_facility_replications(fac, 10, seed=1)
    f, t0, t1 = res.tables["facility"], res.tables.trial(0), res.tables.trial(1)
    busy = t0["manufacturing.busy_days"] + t1["manufacturing.busy_days"]
    assert np.allclose(f["manufacturing.busy_days"], busy)
    assert np.allclose(f["manufacturing.utilization"], busy / (2 * f["end_days"]))
    # apheresis is not shared: each trial's own slot over its own days
    own = t0["apheresis.unit_days"] + t1["apheresis.unit_days"]
    assert np.allclose(f["apheresis.unit_days"], own)
    assert np.allclose(f["infused"], t0["infused"] + t1["infused"])
    for t in (t0, t1):  # every referred patient has one outcome
        outcomes = sum(t[c] for c in t.columns if c.startswith("outcome."))
        assert np.array_equal(outcomes, t["referred"])
    summary = res.summary()
    assert [t["opens_day"] for t in summary["trials"]] == [0.0, 400.0]
    assert summary["resources"]["apheresis"]["shared"] is False


def test_the_shipped_facility_runs_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(FACILITY), "--reps", "6", "--executor", "serial", "--quiet",
                 "--out", str(out)]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "Facility: Cell therapy unit, three trials" in text
    assert text.count("--- Trial ") == 3
    assert "Chance that every trial reaches its target by its deadline" in text
    summary = json.loads((out / "summary.json").read_text())
    assert [t["opens_day"] for t in summary["trials"]] == [0.0, 180.0, 365.0]
    assert {p.name for p in out.iterdir()} >= {
        "summary.json", "facility.yaml", "facility_replications.csv",
        "trial1_scenario.yaml", "trial3_replications.csv",
    }  # fmt: skip
    assert main(["validate", str(FACILITY)]) == 0


def test_shipped_trials_cite_their_sources():
    """Every value line of the facility's two other trials carries a comment."""
    for name in ("lymphoma_cd19.yaml", "myeloma_bcma.yaml"):
        for line in (SCENARIOS / name).read_text().splitlines():
            body = line.split("#", 1)[0].strip()
            if body.startswith("name:"):  # a name, not a value with a source
                continue
            if ":" in body and not body.endswith((":", ">-")) and not body.startswith("- "):
                assert "#" in line, (name, line)


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "facility.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


BASE = f"""name: f
start_date: 2015-12-01
horizon_days: 3650
trials:
  - {{file: {SCENARIOS / "baseline.yaml"}}}
"""


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (BASE.replace("baseline.yaml", "nope.yaml"), "nope.yaml: no such file"),
        (BASE + "resources: {suites: 2}\n", "unknown key"),
        (BASE + "resources: {manufacturing: [{from_day: 5, units: 1}]}\n", "from_day: 0"),
        (BASE + "resources: {beds: 0}\n", "resources.beds"),
        (BASE.replace("trials:\n  - {file:", "trials: []\nx:\n  - {file:"), "trials"),
        (BASE + "  - {file: " + str(SCENARIOS / "phase1_3plus3.yaml") + "}\n", "phase 1"),
        (BASE.replace("}\n", ", priority: -1}\n"), "priority"),
    ],
)
def test_bad_facility_files_are_refused_in_one_line(tmp_path, capsys, text, needle):
    path = _write(tmp_path, text)
    assert main(["run", path, "--reps", "2", "--executor", "serial", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and needle in err[0], err


def test_a_facility_refuses_what_it_cannot_do_yet(capsys):
    assert main(["run", str(FACILITY), "--reps", "2", "--save", "x", "--quiet"]) == 2
    assert "--save" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["sensitivity", str(FACILITY)],
        ["goal", str(FACILITY)],
        ["report", str(FACILITY), "--out", "r.html"],
        ["report", str(SCENARIOS / "baseline.yaml"), "--compare", str(FACILITY), "--out", "r.html"],
        ["forecast", str(FACILITY), "--observed", str(SCENARIOS / "observed_example.csv"),
         "--as-of", "2017-06-01"],
        ["backtest", str(FACILITY), "--as-of", "2017-06-01"],
    ],
)
def test_commands_of_one_scenario_say_a_facility_is_not_theirs(args, capsys, tmp_path, monkeypatch):
    """A facility file given to a command of one scenario: one line saying so and what to do
    (it was read as a scenario and blamed an empty target), nothing written."""
    monkeypatch.chdir(tmp_path)
    assert main([*args, "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{args[0]} of a facility is not available yet" in err[0], err
    assert "target" not in err[0] and not list(tmp_path.iterdir())


def test_overrides_apply_to_the_facility_file():
    fac = load_facility(str(FACILITY), ["resources.manufacturing=3", "trials.1.opens_day=90"])
    assert fac.schedule("manufacturing") == ((0.0, 3),)
    assert fac.trials[1].referral.sites[0].opens_day == 90
    assert fac.trials[0].manufacturing.suites == 3
    with pytest.raises(InputError, match="--set"):
        load_facility(str(FACILITY), ["resources.manufacturing=0"])


def test_a_facility_sweeps_its_shared_units_and_opening_days(capsys):
    """More shared suites never lengthen the manufacturing wait (common random numbers), and
    a trial opened later has no better chance; each point's trials are named."""
    assert main(["sweep", str(FACILITY), "--grid", "resources.manufacturing=1,3",
                 "--grid", "trials.1.opens_day=0,720", "--reps", "20", "--executor",
                 "serial", "--quiet", "--json"]) == 0  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert result["kind"] == "facility" and len(result["trials"]) == 3
    by = {(p["set"]["resources.manufacturing"], p["set"]["trials.1.opens_day"]): p
          for p in result["points"]}  # fmt: skip
    for opens in (0, 720):
        one, three = by[(1, opens)], by[(3, opens)]
        assert three["manufacturing_mean_wait_days"] < one["manufacturing_mean_wait_days"]
        assert one["manufacturing_capacity"] == 1 and three["manufacturing_capacity"] == 3
    for suites in (1, 3):
        early, late = by[(suites, 0)]["trials"][1], by[(suites, 720)]["trials"][1]
        assert late["prob_target_by_deadline"] <= early["prob_target_by_deadline"]


def test_facilities_compare_trial_by_trial_on_common_random_numbers(tmp_path, capsys):
    text = FACILITY.read_text().replace("manufacturing: 2 ", "manufacturing: 3 ")
    text = text.replace("name: Cell therapy unit, three trials", "name: A third suite")
    other = tmp_path / "third_suite.yaml"  # the same trial files, by their full paths
    other.write_text(text.replace("file: ../", f"file: {SCENARIOS}/"))
    assert main(["compare", str(FACILITY), str(other), "--reps", "30", "--executor",
                 "serial", "--quiet", "--json"]) == 0  # fmt: skip
    c = json.loads(capsys.readouterr().out)
    (block,) = c["differences"]
    assert [t["label"] for t in block["trials"]] == [
        s["label"] for s in c["summaries"][0]["trials"]
    ]
    wait = block["paired"]["manufacturing_mean_wait_days"]
    assert wait["mean"] < 0 and wait["ci95"][1] < 0  # a third suite shortens the wait
    assert main(["compare", str(FACILITY), str(SCENARIOS / "baseline.yaml"), "--reps", "2",
                 "--quiet"]) == 2  # fmt: skip
    assert "facilities with facilities" in capsys.readouterr().err


def test_a_facility_sizes_its_shared_counts():
    """Sizing a facility: its shared counts only (named resources.NAME), judged on the chance
    that every trial meets its deadline; the evaluations' chances are those of the runs."""
    from sim.planning.sizing import parse_resources, size

    sc = make_scenario("referral.sites.0.rate_per_month=3")
    fac = _facility({"scenario": sc}, {"scenario": sc, "priority": 1},
                    resources={"manufacturing": 1, "beds": 4})  # fmt: skip
    assert parse_resources("resources.manufacturing", fac) == ["resources.manufacturing"]
    with pytest.raises(InputError, match=r"resources\.apheresis"):
        parse_resources("resources.apheresis", fac)  # not shared here: each trial's own
    r = size(fac, ["resources.manufacturing"], 0.3, reps=30, seed=2, max_units=3, max_reps=60)
    assert r["kind"] == "facility" and r["target"] is None
    assert r["current"] == {"resources.manufacturing": 1}
    for e in r["evaluations"]:
        n = e["set"]["resources.manufacturing"]
        run = run_facility_replications(
            fac.with_overrides([f"resources.manufacturing={n}"]), e["replications"], seed=2
        )
        assert e["reached_by_deadline"] == int(run.tables["facility"]["all_by_deadline"].sum())
