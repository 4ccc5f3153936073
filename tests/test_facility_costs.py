"""A facility's costs: the shared units' availability at the facility's prices plus every
trial's own costs (each without the shared availability), replication by replication; a
facility of one trial costs what the trial costs alone; a shared suite is paid once; costs
blocks in different currencies, or a facility pricing a trial's use, are refused in one
line; the facility's text gives its cost per infused patient."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SCENARIOS, make_scenario

from sim.cli.main import main
from sim.core.facility import FacilityFile, build_facility
from sim.core.fields import DAYS_PER_MONTH
from sim.report.facility import format_facility
from sim.run.costs import facility_replication_costs, replication_costs
from sim.run.facility import FACILITY, run_facility_replications
from sim.run.runner import run_replications

PRICES = {
    "currency": "CNY", "suite_day": 100.0, "slot_day": 10.0, "batch": 1000.0,
    "collection": 50.0, "bed_day": 20.0, "icu_day": 30.0, "fludarabine_mg": 2.0,
    "cyclophosphamide_mg": 0.5, "month_late": 700.0,
}  # fmt: skip
FACILITY_PRICES = {"currency": "CNY", "suite_day": 300.0, "slot_day": 40.0}


def _facility(*scenarios, resources=None, costs=None, **entries):
    first = scenarios[0]
    spec = FacilityFile.model_validate(
        {
            "name": "test facility",
            "start_date": first.start_date,
            "horizon_days": first.horizon_days,
            "resources": resources or {},
            "trials": [{"file": f"t{k}.yaml", **entries} for k in range(len(scenarios))],
            "costs": costs,
        }
    )
    return build_facility(spec, {f"t{k}.yaml": s for k, s in enumerate(scenarios)}.__getitem__)


def _priced(*overrides):
    return make_scenario(*overrides, costs=PRICES)


def _by_hand(sc, t, shared):
    """A trial's own costs of each replication from its rows (shared availability left out)."""
    late = np.where(np.isnan(t["time_to_target_days"]), sc.horizon_days,
                    t["time_to_target_days"]) - (sc.deadline_day + 1)  # fmt: skip
    own = (
        PRICES["batch"] * t["manufacturing.started"]
        + PRICES["collection"] * t["apheresis.started"]
        + PRICES["bed_day"] * t["bed_days"]
        + PRICES["icu_day"] * t["icu_days"]
        + PRICES["fludarabine_mg"] * t["fludarabine_mg"]
        + PRICES["cyclophosphamide_mg"] * t["cyclophosphamide_mg"]
        + PRICES["month_late"] * np.maximum(0.0, late) / DAYS_PER_MONTH
    )
    if "manufacturing" not in shared:
        own = own + PRICES["suite_day"] * t["manufacturing.unit_days"]
    if "apheresis" not in shared:
        own = own + PRICES["slot_day"] * t["apheresis.unit_days"]
    return own


@pytest.fixture(scope="module")
def two_trials():
    """Two priced trials sharing two suites (apheresis each its own), the facility priced."""
    a, b = _priced(), _priced("referral.sites.0.rate_per_month=1.5")
    fac = _facility(a, b, resources={"manufacturing": 2}, costs=FACILITY_PRICES)
    return fac, run_facility_replications(fac, 12, seed=5)


def test_the_facility_total_is_the_shared_availability_plus_each_trials_costs(two_trials):
    fac, run = two_trials
    f = run.tables[FACILITY]
    shared = 300.0 * 2 * f["end_days"]  # two suites from day 0 to the facility's end
    trials = [_by_hand(sc, run.tables.trial(k), {"manufacturing"})
              for k, sc in enumerate(fac.trials)]  # fmt: skip
    costs = run.summary()["costs"]
    total = shared + trials[0] + trials[1]
    rows = [run.tables.trial(k) for k in range(2)]
    by_rep = facility_replication_costs(fac, f, rows)
    assert np.allclose(by_rep["total"], total, rtol=1e-12)  # replication by replication
    assert np.allclose(by_rep["shared_availability"], shared, rtol=1e-12)
    assert costs["per_facility"]["mean"] == pytest.approx(total.mean(), rel=1e-7)
    assert costs["shared_availability"]["mean"] == pytest.approx(shared.mean(), rel=1e-7)
    for k in (0, 1):
        assert costs["by_trial"][k]["cost"]["mean"] == pytest.approx(trials[k].mean(), rel=1e-7)
    ratio = total / f["infused"]
    p = costs["per_infused_patient"]
    assert p["mean_of_trial_ratios"] == pytest.approx(ratio[f["infused"] > 0].mean(), rel=1e-7)
    assert p["ratio_of_means"] == pytest.approx(total.mean() / f["infused"].mean(), rel=1e-7)
    cats = sum(c["mean"] for c in costs["by_category"].values())
    assert cats == pytest.approx(costs["per_facility"]["mean"], rel=1e-7)
    assert costs["notes"] == [] and costs["currency"] == "CNY"


def test_a_shared_suite_is_paid_once(two_trials):
    """Each trial's rows hold the shared suites' unit-days over its own days; its costs leave
    them to the facility, which pays them once over its days."""
    _, run = two_trials
    s = run.summary()
    f = run.tables[FACILITY]
    charged = (
        run.tables.trial(0)["manufacturing.unit_days"]
        + run.tables.trial(1)["manufacturing.unit_days"]
    )
    assert np.all(charged > f["manufacturing.unit_days"])  # summing the trials double counts
    assert s["costs"]["by_category"]["suite_day"]["mean"] == pytest.approx(
        300.0 * f["manufacturing.unit_days"].mean(), rel=1e-7
    )
    for t in s["trials"]:
        c = t["summary"]["costs"]
        assert c["by_category"]["suite_day"]["mean"] == 0
        assert c["shared_availability"] == ["manufacturing"]
        assert c["by_category"]["slot_day"]["mean"] > 0  # its own apheresis slot: its cost


def test_one_trial_facility_costs_what_the_trial_costs_alone():
    """Same prices in the facility's block: the facility's total is the trial alone's, run
    by run (the trial's own costs inside leave the shared suites to the facility)."""
    sc = _priced()
    availability = {k: PRICES[k] for k in ("currency", "suite_day", "slot_day")}
    fac = _facility(sc, resources={"apheresis": 1, "manufacturing": 2, "beds": 2},
                    costs=availability)  # fmt: skip
    alone = run_replications(sc, 15, seed=3)
    inside = run_facility_replications(fac, 15, seed=3)
    total_alone = replication_costs(sc, alone.table)["total"]
    s = inside.summary()
    assert s["costs"]["per_facility"]["mean"] == pytest.approx(total_alone.mean(), rel=1e-7)
    a = alone.summary()["costs"]
    assert s["costs"]["per_infused_patient"] == pytest.approx(a["per_infused_patient"])
    for k in ("p10", "p90"):
        assert s["costs"]["per_facility"][k] == pytest.approx(a["per_trial"][k], rel=1e-7)
    trial = s["trials"][0]["summary"]["costs"]  # the trial's part: all but availability
    own = a["per_trial"]["mean"] - a["by_category"]["suite_day"]["mean"]
    own -= a["by_category"]["slot_day"]["mean"]
    assert trial["per_trial"]["mean"] == pytest.approx(own, rel=1e-7)


def test_without_the_facilitys_prices_the_shared_units_are_said_unpriced():
    fac = _facility(_priced(), resources={"manufacturing": 2})
    s = run_facility_replications(fac, 3, seed=1).summary()
    assert s["costs"]["shared_availability"]["priced"] is False
    assert s["costs"]["shared_availability"]["mean"] == 0
    assert any("not priced" in n for n in s["costs"]["notes"])
    text = format_facility(s)
    assert "Not counted: the shared units' availability (manufacturing) is not priced" in text
    plain = _facility(make_scenario(), resources={"manufacturing": 2})
    assert "costs" not in run_facility_replications(plain, 2, seed=1).summary()


def test_a_trial_without_costs_gives_no_cost_per_infused_patient():
    fac = _facility(_priced(), make_scenario(), resources={"manufacturing": 2},
                    costs=FACILITY_PRICES)  # fmt: skip
    c = run_facility_replications(fac, 3, seed=1).summary()["costs"]
    assert c["per_infused_patient"] is None and c["by_trial"][1]["cost"] is None
    assert any("no costs block" in n for n in c["notes"])


BASE = f"""name: f
start_date: 2015-12-01
horizon_days: 3650
resources: {{manufacturing: 2}}
trials:
  - {{file: {SCENARIOS / "baseline.yaml"}}}
"""


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        ("costs: {currency: EUR, suite_day: 300}\n", ["costs.currency", "EUR", "CNY", "baseline"]),
        ("costs: {suite_day: 300}\n", ["costs.currency", "none named", "CNY"]),
        ("costs: {currency: CNY, batch: 5}\n", ["costs", "batch", "each trial"]),
    ],
)
def test_mismatched_or_misplaced_prices_are_refused_in_one_line(tmp_path, capsys, extra, needles):
    path = tmp_path / "facility.yaml"
    path.write_text(BASE + extra, encoding="utf-8")
    assert main(["run", str(path), "--reps", "2", "--executor", "serial", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), err
    assert all(n in err[0] for n in needles), err
    assert str(path) in err[0]


def test_the_facility_text_gives_the_cost_per_infused_patient(two_trials):
    _, run = two_trials
    s = run.summary()
    text = format_facility(s)
    p = s["costs"]["per_infused_patient"]
    assert "Facility costs (CNY), per facility run" in text
    line = "Per infused patient, ratio of the means (mean cost per run / mean infused per run)"
    assert f"{line}: {p['ratio_of_means']:,.0f}" in text
    assert "Shared units' availability (the facility's prices)" in text
    assert "the availability of the shared manufacturing units is the facility's cost" in text


def test_facilities_compare_their_costs_paired_run_by_run():
    """A third shared suite costs its availability: the facility's cost per run rises by
    the price of the extra suite-days (the per-use costs are nearly the same); a facility
    whose shared units are unpriced is not compared on costs, and the text says why."""
    from sim.planning.compare import compare_facilities
    from sim.report.planning import format_comparison

    sc = _priced()
    two, three, unpriced = (
        _facility(sc, resources={"manufacturing": n}, costs=costs)
        for n, costs in ((2, FACILITY_PRICES), (3, FACILITY_PRICES), (2, None))
    )
    c = compare_facilities([two, three], reps=10, seed=4)
    d = c["differences"][0]["paired"]["cost_per_run"]
    assert c["costs_note"] is None and "CNY" in c["facility_metrics"]["cost_per_run"]
    runs = [run_facility_replications(f, 10, seed=4).tables[FACILITY] for f in (two, three)]
    extra = 300.0 * (runs[1]["manufacturing.unit_days"] - runs[0]["manufacturing.unit_days"])
    assert d["mean"] == pytest.approx(extra.mean(), rel=0.2)  # per-use costs barely move
    trial = c["differences"][0]["trials"][0]["paired"]["cost_per_trial"]
    assert abs(trial["mean"]) < 0.2 * abs(d["mean"])  # a trial does not pay the suites
    c = compare_facilities([two, unpriced], reps=2, seed=4)
    assert "cost_per_run" not in c["facility_metrics"]
    assert "some facilities price their shared units, some not" in format_comparison(c)


def test_sizing_a_facility_prices_its_shared_units_by_its_costs_block():
    """Cheapest by the facility's price of a shared suite over the horizon; each
    configuration carries the mean total cost of a facility run (that of its runs)."""
    from sim.planning.sizing import size
    from sim.report.planning import format_sizing, total_cost

    sc = _priced("referral.sites.0.rate_per_month=3")
    fac = _facility(sc, sc, resources={"manufacturing": 1, "beds": 4}, costs=FACILITY_PRICES)
    r = size(fac, ["resources.manufacturing"], 0.3, reps=20, seed=2, max_units=3, max_reps=40)
    assert r["cost_basis"] == "costs block" and r["currency"] == "CNY"
    assert r["costs"] == {"resources.manufacturing": 300.0 * fac.horizon_days}
    a = r["answer"]
    n = a["set"]["resources.manufacturing"]
    run = run_facility_replications(
        fac.with_overrides([f"resources.manufacturing={n}"]), a["replications"], seed=2
    )
    total = facility_replication_costs(
        fac, run.tables[FACILITY], [run.tables.trial(k) for k in (0, 1)]
    )["total"]
    assert a["mean_total_cost_per_facility_run"] == pytest.approx(total.mean(), rel=1e-4)
    assert total_cost(a) == (a["mean_total_cost_per_facility_run"], "facility run")
    assert "resources.manufacturing 300 a day x 2000 days" in format_sizing(r)
