"""Costs: a pure function of a run's rows and the scenario's costs block. Hand-computed costs
of a tiny table, trials with no infused patient, months late (a lower bound when a trial
never reaches the target), categories adding up to the total, no simulated figure changed
by prices, bad prices refused, the counts of uses started, and the costs in the summary, the
text, the comparison, the run store and the report."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import simpy
from conftest import SCENARIOS, make_scenario

from sim.cli.main import main
from sim.core.errors import InputError
from sim.core.fields import DAYS_PER_MONTH
from sim.core.patient import Patient
from sim.core.prices import PRICE_FIELDS
from sim.core.scenario import load_scenario, with_overrides
from sim.core.station import Station
from sim.planning.compare import compare
from sim.report.planning import format_comparison
from sim.report.summary import format_summary
from sim.run.costs import QUANTITIES, cost_summary, months_late, replication_costs
from sim.run.runner import run_replications, simulate

CORPUS = Path(__file__).parent / "corpus" / "scenarios"
PRICES = (
    "costs={currency: CNY, suite_day: 100, slot_day: 10, batch: 1000, collection: 50, "
    "bed_day: 20, icu_day: 30, fludarabine_mg: 2, cyclophosphamide_mg: 0.5, month_late: 700}"
)


@pytest.fixture(scope="module")
def priced():
    """The test base (deadline 2019-12-31, horizon 2000 days) with every price set."""
    return make_scenario(PRICES)


def _table(**extra: list[float]) -> dict[str, np.ndarray]:
    """Three replications' rows, by hand: the second infuses nobody and never reaches the
    target; the third reaches it 61 days after the end of the deadline day."""
    rows = {
        "manufacturing.unit_days": [200.0, 400.0, 300.0],
        "apheresis.unit_days": [100.0, 200.0, 150.0],
        "manufacturing.started": [3.0, 1.0, 2.0],
        "apheresis.started": [4.0, 2.0, 3.0],
        "bed_days": [40.0, 0.0, 20.0],
        "icu_days": [5.0, 0.0, 0.0],
        "fludarabine_mg": [300.0, 0.0, 150.0],
        "cyclophosphamide_mg": [3000.0, 0.0, 1500.0],
        "infused": [2.0, 0.0, 1.0],
        "time_to_target_days": [10.0, math.nan, 0.0],
        **extra,
    }
    return {k: np.asarray(v, dtype=float) for k, v in rows.items()}


def test_each_price_has_one_category_in_order():
    """Every price of the costs block multiplies one quantity, in the block's order."""
    assert tuple(QUANTITIES) == PRICE_FIELDS


def test_hand_computed_costs_of_a_tiny_table(priced):
    """Each category is its price times the row's quantity; the total adds them up; the cost
    per infused patient is the total over the infused, NaN for the trial with none."""
    d = priced.deadline_day
    rows = _table()
    rows["time_to_target_days"] = np.array([d - 30, math.nan, d + 1 + 61.0])
    c = replication_costs(priced, rows)
    late = np.array([0.0, (2000 - (d + 1)) / DAYS_PER_MONTH, 61 / DAYS_PER_MONTH])
    expected = {
        "suite_day": [20_000, 40_000, 30_000],
        "slot_day": [1_000, 2_000, 1_500],
        "batch": [3_000, 1_000, 2_000],
        "collection": [200, 100, 150],
        "bed_day": [800, 0, 400],
        "icu_day": [150, 0, 0],
        "fludarabine_mg": [600, 0, 300],
        "cyclophosphamide_mg": [1_500, 0, 750],
        "month_late": list(700 * late),
    }
    for k, v in expected.items():
        np.testing.assert_allclose(c[k], v, err_msg=k)
    total = np.array([27_250.0, 43_100.0, 35_100.0]) + 700 * late
    np.testing.assert_allclose(c["total"], total)
    assert c["per_infused"][0] == pytest.approx(total[0] / 2)
    assert math.isnan(c["per_infused"][1])
    assert c["per_infused"][2] == pytest.approx(total[2])


def test_the_summary_of_costs_by_hand(priced):
    """Per infused patient: the mean of the trials' ratios over the two trials with infused
    patients (the one with none is counted as left out) and the ratio of the means over all
    three; the categories' means add up to the total's mean."""
    d = priced.deadline_day
    rows = _table(time_to_target_days=[d - 30, math.nan, d + 1 + 61.0])
    s = cost_summary(priced, rows)
    totals = replication_costs(priced, rows)["total"]
    p = s["per_infused_patient"]
    assert p["trials_counted"] == 2 and p["trials_without_infused"] == 1
    assert p["mean_of_trial_ratios"] == pytest.approx((totals[0] / 2 + totals[2] / 1) / 2)
    assert p["ratio_of_means"] == pytest.approx(totals.mean() / 1.0)  # infused mean (2+0+1)/3
    assert s["per_trial"]["mean"] == pytest.approx(totals.mean())
    assert s["per_trial"]["p10"] <= s["per_trial"]["mean"] <= s["per_trial"]["p90"]
    parts = sum(k["mean"] for k in s["by_category"].values())
    assert parts == pytest.approx(s["per_trial"]["mean"])
    assert s["by_category"]["batch"] == {
        "price": 1000.0,
        "quantity": "batches started",
        "quantity_mean": 2.0,
        "mean": 2000.0,
        "p10": pytest.approx(1200.0),
        "p90": pytest.approx(2800.0),
    }
    assert s["currency"] == "CNY"
    assert s["lower_bound"] and s["never_reached_fraction"] == pytest.approx(1 / 3)


def test_every_trial_without_infused_patients(priced):
    """No trial infuses anyone: the cost per infused patient is not a number (None), and the
    summary says how many trials had none."""
    rows = _table(infused=[0.0, 0.0, 0.0])
    p = cost_summary(priced, rows)["per_infused_patient"]
    assert p["mean_of_trial_ratios"] is None and p["p10"] is None and p["p90"] is None
    assert p["ratio_of_means"] is None
    assert p["trials_counted"] == 0 and p["trials_without_infused"] == 3
    text = "\n".join(format_summary_costs(priced, rows))
    assert "3 trials with none infused left out" in text and "n/a" in text


def format_summary_costs(scenario, rows):
    from sim.report.summary import cost_lines
    from sim.run.stats import rounded

    return cost_lines(rounded(cost_summary(scenario, rows)))


def test_months_late_and_the_lower_bound(priced):
    """On time costs nothing; a target reached a month after the end of the deadline day costs
    one month; a trial that never reaches it is late until the horizon, and then (only then)
    the figures are lower bounds."""
    d = priced.deadline_day
    months = months_late(priced, np.array([d, d + 1, d + 1 + DAYS_PER_MONTH, math.nan]))
    np.testing.assert_allclose(months, [0, 0, 1, (2000 - d - 1) / DAYS_PER_MONTH])
    all_reached = _table(time_to_target_days=[d + 40, d, 5.0])
    assert not cost_summary(priced, all_reached)["lower_bound"]
    assert cost_summary(priced, _table())["lower_bound"]
    unpriced = with_overrides(priced, ["costs.month_late=0"])
    assert not cost_summary(unpriced, _table())["lower_bound"]


def test_lateness_without_a_deadline_costs_nothing_and_is_said(priced):
    """Without a deadline nothing is late: months late are zero, and the summary says the
    price of lateness is not counted."""
    none = with_overrides(priced, ["target.deadline=null"])
    assert np.all(months_late(none, np.array([10.0, math.nan])) == 0)
    s = cost_summary(none, _table())
    assert s["lateness_not_counted"] and not s["lower_bound"]
    assert s["by_category"]["month_late"]["mean"] == 0
    text = "\n".join(format_summary_costs(none, _table()))
    assert "the target has no deadline: none counted" in text


def test_no_costs_block_no_costs(priced):
    """A scenario without a costs block has no costs, no cost columns and no summary block."""
    plain = make_scenario()
    assert replication_costs(plain, _table()) == {} and cost_summary(plain, _table()) is None
    results = run_replications(plain, 3, seed=4)
    assert "costs" not in results.summary()
    assert not [c for c in results.frame().columns if c.startswith("cost.")]


def test_prices_change_no_simulated_figure(priced):
    """Same seed with and without the costs block: the same rows, apart from the cost
    columns, and the same summary apart from its costs and the scenario's digest."""
    plain = make_scenario()
    a = run_replications(plain, 12, seed=9)
    b = run_replications(priced, 12, seed=9)
    fa, fb = a.frame(), b.frame()
    cost_cols = [c for c in fb.columns if c.startswith("cost.")]
    assert cost_cols and list(fb.drop(columns=cost_cols).columns) == list(fa.columns)
    assert fb.drop(columns=cost_cols).equals(fa)
    sa, sb = a.summary(), b.summary()
    assert "costs" in sb and sa["scenario_digest"] != sb["scenario_digest"]
    for s in (sa, sb):
        s.pop("costs", None), s.pop("scenario_digest")
    assert sa == sb
    per = fb["cost.total"].to_numpy()
    parts = fb[[f"cost.{k}" for k in PRICE_FIELDS]].sum(axis=1).to_numpy()
    np.testing.assert_allclose(parts, per)  # categories add up, replication by replication


def test_uses_started_match_the_event_log():
    """Collections and batches started are the starts of the event log; bed stays started are
    the infused patients (a trial alone, no forecast)."""
    sc = make_scenario("referral.sites.0.rate_per_month=5", "apheresis.failure_prob=0.3")
    for seed in (1, 2):
        rep = simulate(sc, seed=seed)
        ev = rep.events
        for res in ("apheresis", "manufacturing", "beds"):
            starts = int(((ev["event"] == "start") & (ev["resource"] == res)).sum())
            assert rep.row[f"{res}.started"] == starts, res
        assert rep.row["beds.started"] == rep.row["infused"]
        assert rep.row["apheresis.started"] >= rep.row["apheresed"]


def test_a_unit_held_when_the_simulation_starts_is_not_a_use_started():
    """A forecast's patient already using a unit (taken, not requested) is not counted as a
    use started; a use begun in the simulation is."""
    env = simpy.Environment()
    station = Station(env, "manufacturing", 2, on_renege=lambda p, s: None)
    a, b = Patient(0, 0, 0.0, math.inf), Patient(1, 0, 0.0, math.inf)
    station.take(a)  # already in use when the simulation starts
    assert station.n_started == 0
    assert station.request(b) is None
    station.occupy(b)
    assert station.n_started == 1


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("costs-negative-price", "costs.batch = -5000: must be at least 0"),
        ("costs-text-for-price", "costs.bed_day = 'two thousand': must be a number"),
        ("costs-infinite-price", "costs.month_late = inf: must be a finite number"),
        ("costs-unknown-price", "costs.bed_days: unknown key (did you mean 'bed_day'?)"),
    ],
)
def test_bad_prices_are_refused_in_one_line_naming_the_field(name, field, capsys):
    """A negative, textual, infinite or misspelt price: one line naming the file and the
    field, exit status 2, nothing run."""
    path = CORPUS / f"{name}.yaml"
    with pytest.raises(InputError) as exc:
        load_scenario(str(path))
    assert field in exc.value.message
    assert main(["run", str(path), "--reps", "2", "--executor", "serial", "--quiet"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and str(path) in err[0] and field in err[0]


def test_a_bad_price_by_set_is_refused(priced):
    """--set costs.batch=-1 is refused like the file would be."""
    with pytest.raises(InputError) as exc:
        with_overrides(priced, ["costs.batch=-1"])
    assert "costs.batch = -1" in exc.value.message


@pytest.fixture(scope="module")
def priced_run(priced):
    return run_replications(priced, 24, seed=3)


def test_the_summary_and_text_show_the_costs(priced_run):
    """The summary has the cost per trial and per infused patient with 80% intervals, and
    the text says them with their labels."""
    s = priced_run.summary()
    c = s["costs"]
    assert c["currency"] == "CNY"
    p = c["per_infused_patient"]
    assert p["p10"] <= p["mean_of_trial_ratios"] <= p["p90"]
    assert p["trials_counted"] + p["trials_without_infused"] == 24
    text = format_summary(s)
    assert "Costs (CNY):" in text
    assert f"Per infused patient: mean {p['mean_of_trial_ratios']:,.0f} over the" in text
    assert "ratio of the means (mean cost per trial / mean infused per trial)" in text
    assert "batches started: 1,000 x" in text and "mg of cyclophosphamide: 0.50 x" in text


def test_the_baseline_prices_its_trial_in_cny():
    """The shipped baseline has a costs block: its summary says the cost per infused patient
    in CNY; the apheresis slots are not priced (the trial pays per collection)."""
    s = run_replications(load_scenario(str(SCENARIOS / "baseline.yaml")), 20, seed=1).summary()
    text = format_summary(s)
    assert s["costs"]["currency"] == "CNY" and "batches started: 204,700 x" in text
    assert "not priced: apheresis slot-days available" in text


def test_compare_gives_the_paired_difference_of_costs(priced):
    """Two scenarios with costs in one currency: the paired difference of the cost per
    infused patient over the trials with infused patients in both; the text shows it and
    each scenario's cost per infused patient. A scenario without costs: a note says why
    they are not compared."""
    dear = with_overrides(priced, ["costs.batch=5000", "name=Dear batches"])
    c = compare([priced, dear], 10, seed=2)
    d = c["differences"][0]["paired"]["cost_per_infused"]
    a = run_replications(priced, 10, seed=2).frame()["cost.per_infused"]
    b = run_replications(dear, 10, seed=2).frame()["cost.per_infused"]
    assert d["mean"] == pytest.approx(float(np.nanmean(b - a)), rel=1e-3)
    assert d["n"] == int(np.sum(np.isfinite(b - a)))
    assert d["ci95"][0] > 0  # dearer batches, dearer patients, on the same trials
    text = format_comparison(c)
    assert "cost per infused patient, CNY (pairs with infused in both)" in text
    assert "Cost per infused patient, mean over each scenario's trials" in text
    plain = compare([priced, make_scenario("name=No prices")], 4, seed=2)
    assert "cost_per_infused" not in plain["metrics"]
    assert "costs not compared: no costs block in No prices" in format_comparison(plain)
    usd = with_overrides(priced, ["costs.currency=USD", "name=In dollars"])
    assert "currencies differ (CNY, USD)" in compare([priced, usd], 2, seed=2)["costs_note"]


def test_saved_runs_keep_and_show_their_costs(priced_run, tmp_path):
    """A saved run keeps its summary's costs: listed with its cost per infused patient and
    shown with the costs block in words."""
    from sim.io import store
    from sim.report.runs import format_run, format_run_list

    db = tmp_path / "runs.sqlite"
    s = priced_run.summary()
    store.save_results("priced", priced_run, s, path=db)
    runs = store.list_runs(db)
    mean = s["costs"]["per_infused_patient"]["mean_of_trial_ratios"]
    assert runs.loc[0, "cost_per_infused"] == pytest.approx(mean)
    assert runs.loc[0, "currency"] == "CNY"
    assert f"CNY {mean:,.0f}" in format_run_list(runs, str(db))
    run = store.load_run("priced", db)
    assert run.summary["costs"] == s["costs"]
    assert "Costs (CNY):" in format_run(run)
    assert "cost.per_infused" in run.rows.columns


def test_the_report_page_shows_the_costs(priced_run):
    """The one-page report has a Costs section with the cost per infused patient."""
    from sim.report.page import ReportRun, render_html

    html = render_html(ReportRun(priced_run), draw=lambda spec: "<svg></svg>")
    p = priced_run.summary()["costs"]["per_infused_patient"]
    assert "<h2>Costs (CNY)</h2>" in html
    assert f"{p['mean_of_trial_ratios']:,.0f}" in html


def test_an_updated_forecast_carries_no_costs():
    """A forecast from observed data simulates from the as-of date only: its updated
    forecast says why it has no costs; the prior forecast, a whole trial, keeps them."""
    import datetime as dt

    from sim.forecasting.forecast import forecast
    from sim.forecasting.observed import read_observed

    sc = with_overrides(load_scenario(str(SCENARIOS / "baseline.yaml")), [PRICES])
    log = read_observed(str(SCENARIOS / "observed_example.csv"), sc, dt.date(2017, 6, 1))
    s = forecast(sc, log, reps=4, seed=1).summary()
    assert "costs" not in s["updated_forecast"]
    assert "as-of date only" in s["updated_forecast"]["costs_note"]
    assert s["prior_forecast"]["costs"]["currency"] == "CNY"


def test_the_comparison_rows_of_the_dashboard_and_report_carry_the_costs(priced):
    """Both runs priced in CNY: the rows shared by the dashboard's Compare and the report end
    with the cost per trial and per infused patient, in CNY, their difference subtracting
    and the paired interval in whole units."""
    from sim.report.comparison import comparison_rows

    dear = with_overrides(priced, ["costs.bed_day=80"])
    rows = comparison_rows(run_replications(priced, 8, seed=5), run_replications(dear, 8, seed=5))
    cost = {r["figure"]: r for r in rows if r["money"]}
    assert list(cost) == [
        "cost per trial",
        "cost per infused patient (trials with infused; paired: in both)",
    ]
    per_trial = cost["cost per trial"]
    assert per_trial["unit"] == "CNY" and per_trial["pairs"] == 8
    assert per_trial["difference"] == pytest.approx(per_trial["this run"] - per_trial["reference"])
    assert per_trial["difference"] > 0 and "e+" not in per_trial["paired 95% CI"]
    assert not any(r["money"] for r in rows if not r["figure"].startswith("cost"))
