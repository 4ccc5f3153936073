"""Re-forecasting from an observed log: validation, posteriors, the resumed pathway,
and the backtest of interval coverage."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from conftest import SCENARIOS, make_scenario

from sim.core.errors import InputError
from sim.core.scenario import DAYS_PER_MONTH, load_scenario
from sim.forecasting.backtest import backtest
from sim.forecasting.forecast import forecast
from sim.forecasting.observed import log_from_patients, observed_state, parse_log
from sim.forecasting.posterior import Priors, update
from sim.run.runner import simulate

HEADER = ("patient_id,site,referred_date,consent_date,screen_end_date,screen_failed,"
          "apheresis_date,release_date,infusion_date,outcome,outcome_date\n")
AS_OF = dt.date(2016, 7, 1)


def _log(*rows: str, as_of: dt.date = AS_OF, scenario=None):
    sc = scenario or make_scenario()
    return parse_log(HEADER + "".join(r + "\n" for r in rows), sc, as_of, "log.csv")


@pytest.mark.parametrize("row, problem", [
    ("P1,A,2016-08-01,,,,,,,,", "is after --as-of"),
    ("P1,A,2016-02-30,,,,,,,,", "is not a date"),
    ("P1,B,2016-02-01,,,,,,,,", "is not a site"),
    ("P1,A,,,,,,,,,", "is required"),
    ("P1,A,2016-02-01,2016-01-20,,,,,,,", "is before referred_date"),
    ("P1,A,2016-02-01,,,,,,,infused,2016-03-01", "infusion_date"),
    ("P1,A,2016-02-01,,,,,,,cured,2016-03-01", "allowed:"),
    ("P1,A,2016-02-01,,,,,,,deteriorated,", "outcome_date"),
    ("P1,A,2016-02-01,,,maybe,,,,,", "true or false"),
    ("P1,A,2015-02-01,,,,,,,,", "before the scenario's start_date"),
])
def test_bad_rows_are_refused_with_the_row_and_column(row, problem):
    """Each bad row: one InputError naming the file, the patient and the column."""
    with pytest.raises(InputError) as e:
        _log(row)
    assert problem in e.value.message and "log.csv" in e.value.message
    assert "P1" in e.value.message and len(e.value.message.splitlines()) == 1


def test_duplicate_ids_unknown_and_missing_columns_are_refused():
    """Repeated ids, unknown columns and missing required columns are refused."""
    with pytest.raises(InputError, match="repeated"):
        _log("P1,A,2016-02-01,,,,,,,,", "P1,A,2016-02-03,,,,,,,,")
    sc = make_scenario()
    with pytest.raises(InputError, match="unknown column"):
        parse_log("patient_id,site,referred_date,colour\nP1,A,2016-02-01,red\n", sc, AS_OF)
    with pytest.raises(InputError, match="missing required column 'site'"):
        parse_log("patient_id,referred_date\nP1,2016-02-01\n", sc, AS_OF)
    with pytest.raises(InputError, match="no patient rows"):
        parse_log(HEADER, sc, AS_OF)


def test_gamma_poisson_update_by_hand():
    """Rate 3/month, weight 6 months, 10 referrals in 5 months: (18 + 10) / (6 + 5)."""
    sc = make_scenario("referral.rate_shape=null")
    days = [(dt.date(2016, 1, 4) + dt.timedelta(days=10 * k)).isoformat() for k in range(10)]
    as_of = dt.date(2016, 1, 4) + dt.timedelta(days=round(5 * DAYS_PER_MONTH) - 1)
    log = _log(*(f"P{k},A,{d},,,,,,,," for k, d in enumerate(days)), as_of=as_of, scenario=sc)
    post = update(sc, log, Priors(weight_months=6))
    site = post.sites[0]
    exposure = round(5 * DAYS_PER_MONTH) / DAYS_PER_MONTH
    assert site.exposure_months == pytest.approx(exposure)
    assert site.mean_per_month == pytest.approx((3 * 6 + 10) / (6 + exposure))
    assert site.shape == pytest.approx(28)


def test_beta_update_by_hand():
    """Screen failures 2 of 4 on a prior of p0 worth 50 patients."""
    sc = make_scenario()
    rows = ["P1,A,2016-02-01,2016-02-01,2016-02-10,true,,,,screen_failed,2016-02-10",
            "P2,A,2016-02-02,2016-02-02,2016-02-11,true,,,,screen_failed,2016-02-11",
            "P3,A,2016-02-03,2016-02-03,2016-02-12,,,,,,",
            "P4,A,2016-02-04,2016-02-04,2016-02-13,,,,,,"]
    post = update(sc, _log(*rows), Priors(patients=50))
    p0 = 1 - (1 - 0.05) * (1 - 0.05) * (1 - 0.1)
    b = post.screen_fail
    assert (b.successes, b.trials) == (2, 4)
    assert b.mean == pytest.approx((50 * p0 + 2 + 1e-3) / (50 + 4 + 2e-3))


def test_resumed_patients_finish_and_nobody_is_lost():
    """Patients inside the pathway at the as-of date resume at their stage and finish."""
    sc = make_scenario("deterioration=null", "apheresis.failure_prob=0",
                       "manufacturing.failure_prob=0", "manufacturing.yield_cells=null",
                       "target.count=1000", "horizon_days=700")
    rows = ["P1,A,2016-02-01,2016-02-01,,,,,,,",                       # in screening
            "P2,A,2016-02-01,2016-02-01,2016-02-10,,,,,,",             # waiting for apheresis
            "P3,A,2016-02-01,2016-02-01,2016-02-10,,2016-06-25,,,,",   # in manufacturing
            "P4,A,2016-02-01,2016-02-01,2016-02-10,,2016-05-01,2016-06-20,,,",  # released
            "P5,A,2016-02-01,2016-02-01,2016-02-10,,2016-05-01,2016-05-20,2016-06-28,,",
            "P6,A,2016-02-01,2016-02-01,2016-02-10,,2016-03-01,2016-03-20,2016-03-25,"
            "infused,2016-04-20"]
    log = _log(*rows, scenario=sc)
    state = observed_state(log, sc)
    assert [ip.stage for ip in state.in_pathway] == ["screening", "apheresis", "manufacturing",
                                                     "release", "hospital"]
    assert len(state.finished) == 1
    from sim.core.model import run_trial
    trial = run_trial(sc, 3, observed=state)
    resumed = trial.patients[:5]
    start = state.start_day
    assert all(p.outcome.value != "in_pathway" for p in resumed)
    # the released, the in-manufacturing and the in-hospital patients all end infused
    assert [p.outcome.value for p in resumed[2:]] == ["infused"] * 3
    assert all(p.exit >= start for p in resumed)
    assert trial.patients[5].referred > start  # new referrals come after the as-of date
    assert trial.reached["infused"] >= 4  # P5, P6 observed; P3, P4 at least


def test_target_already_reached_is_kept():
    """A target reached before the as-of date is the observed day, in every replication."""
    sc = make_scenario("target.count=2", "target.milestone=enrolled")
    rows = ["P1,A,2016-02-01,2016-02-01,2016-02-10,,,,,,",
            "P2,A,2016-02-01,2016-02-01,2016-02-20,,,,,,"]
    f = forecast(sc, _log(*rows, scenario=sc), 5, seed=1, with_prior=False)
    day = (dt.date(2016, 2, 20) - dt.date(2016, 1, 4)).days
    assert list(f.updated.table["time_to_target_days"]) == [day] * 5


def test_forecast_narrows_the_prior():
    """A year of data makes the 80% interval of the target date narrower than the prior's."""
    sc = load_scenario(str(SCENARIOS / "baseline.yaml"))
    truth = simulate(sc, 5)
    as_of = dt.date(2017, 6, 1)
    log = parse_log(log_from_patients(truth.patients, sc, as_of), sc, as_of, "truth")
    s = forecast(sc, log, 100, seed=2).summary()
    prior, post = s["prior_forecast"]["time_to_target_days"], s["updated_forecast"][
        "time_to_target_days"]
    assert post["p90"] - post["p10"] < (prior["p90"] or math.inf) - prior["p10"]
    assert s["observed"]["referred"] == len(log.frame)
    # resumed patients keep their collection day: no undefined vein-to-vein times
    assert s["updated_forecast"]["vein_to_vein_days"]["mean"] is not None


@pytest.mark.slow
def test_backtest_coverage_of_the_80_percent_interval():
    """Over 100 simulated truths the 80% interval covers 68-92% (3 standard errors)."""
    sc = load_scenario(str(SCENARIOS / "baseline.yaml"))
    r = backtest(sc, dt.date(2017, 12, 1), trials=100, reps=100, seed=1, executor="process")
    assert r["judged"] >= 90
    assert 0.68 <= r["coverage"] <= 0.92, r["coverage"]


def test_the_horizon_stays_put_when_a_forecast_starts_late():
    """A forecast started at day s ends at the scenario's horizon, not at s + horizon;
    an as-of date past the horizon is refused."""
    from sim.core.model import run_trial

    sc = make_scenario("horizon_days=400", "target.count=1000", "deterioration=null")
    log = _log("P1,A,2016-02-01,2016-02-01,2016-02-10,,2016-05-01,,,,",
               as_of=dt.date(2016, 7, 1), scenario=sc)
    trial = run_trial(sc, 1, observed=observed_state(log, sc))
    assert trial.end == 400
    assert max(p.exit for p in trial.patients if p.outcome.value != "in_pathway") <= 400
    with pytest.raises(InputError, match="horizon"):
        _log("P1,A,2016-02-01,,,,,,,,", as_of=dt.date(2017, 6, 1), scenario=sc)


def test_patients_in_hospital_beyond_capacity_keep_their_beds():
    """Two patients in hospital and one bed: both are discharged on time, nobody queues,
    and utilisation counts only the simulated window."""
    from sim.core.model import run_trial

    sc = make_scenario("infusion.beds=1", "infusion.stay_days=20", "deterioration=null",
                       "target.count=1000", "referral.sites.0.rate_per_month=0")
    rows = ["P1,A,2016-02-01,2016-02-01,2016-02-10,,2016-03-01,2016-03-20,2016-06-25,,",
            "P2,A,2016-02-01,2016-02-01,2016-02-10,,2016-03-01,2016-03-20,2016-06-26,,"]
    log = _log(*rows, scenario=sc)
    trial = run_trial(sc, 1, observed=observed_state(log, sc))
    start = trial.start
    infused = [(dt.date(2016, 6, 25) - dt.date(2016, 1, 4)).days,
               (dt.date(2016, 6, 26) - dt.date(2016, 1, 4)).days]
    assert [p.discharged for p in trial.patients] == [d + 20 for d in infused]
    assert trial.bed_bookings.n_granted == 0 and trial.bed_bookings.wait_sum == 0
    from sim.run.results import summary_row

    row = summary_row(trial, 0)
    busy = sum(d + 20 - start for d in infused)
    assert row["beds.utilization"] == pytest.approx(busy / (trial.end - start))


def test_screen_failures_known_only_by_outcome_count_as_screened():
    """Rows with outcome screen_failed but no screen date still count among the screened."""
    sc = make_scenario()
    rows = [f"P{k},A,2016-02-01,,,,,,,screen_failed,2016-02-10" for k in range(5)]
    b = update(sc, _log(*rows)).screen_fail
    assert (b.successes, b.trials) == (5, 5)
    assert 0 < b.mean < 1 and b.beta > 0


def test_manufacturing_posterior_is_per_patient():
    """3 released, 1 failed all its batches (max_attempts 2): the beta is on q = p^2, per
    patient, and the batch probability is its square root."""
    sc = make_scenario("manufacturing.max_attempts=2", "manufacturing.yield_cells=null",
                       "manufacturing.failure_prob=0.1")
    rows = [f"P{k},A,2016-02-01,2016-02-01,2016-02-10,,2016-02-11,2016-02-25,,," for k in
            range(3)] + ["P9,A,2016-02-01,2016-02-01,2016-02-10,,2016-02-11,,,"
                         "manufacturing_failed,2016-03-20"]
    post = update(sc, _log(*rows), Priors(patients=50))
    m = post.manufacturing_fail
    assert (m.successes, m.trials) == (1, 4)
    assert m.prior_prob == pytest.approx(0.01)
    assert post.batch_fail(m.mean) == pytest.approx(m.mean ** 0.5)
