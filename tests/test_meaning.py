"""Numbers that mean what they say: each finding of the review of how results are counted
and reported has a test here that failed on the code before the fix (the first finding,
infused from day 0, is in test_model.py)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from conftest import ROOT, SCENARIOS, make_scenario

from sim.cli.main import main
from sim.core.distributions import (
    Empirical,
    Exponential,
    Fixed,
    Gamma,
    LogNormal,
    Triangular,
    Uniform,
)
from sim.core.model import run_trial
from sim.core.patient import InPathway, Observed
from sim.core.referral import cumulative_intensity, referral_days
from sim.core.scenario import load_scenario, with_overrides
from sim.core.streams import Streams, replication_seed
from sim.forecasting.forecast import forecast
from sim.forecasting.observed import parse_log
from sim.forecasting.posterior import Priors, update
from sim.run.runner import run_replications, simulate

BASELINE = SCENARIOS / "baseline.yaml"


# --- finding 2: the mean days to target ------------------------------------------------------


def test_mean_days_to_target_is_null_when_a_trial_misses_it():
    """With a horizon that cuts a third of the trials short, the mean over every trial does
    not exist (it was the mean over those that reached it, 1354.7 d beside a median of
    1694.4 d); the mean among those that reach it is given apart, and the text says so."""
    sc = load_scenario(str(BASELINE), ["horizon_days=1857"])
    t = run_replications(sc, 50, seed=2).summary()["time_to_target_days"]
    assert 0 < t["reached_fraction"] < 1
    assert t["mean"] is None and t["mean_ci95"] == [None, None]
    assert t["mean_if_reached"] < t["p50"]  # the conditional mean is biased short


def test_the_text_says_among_trials_that_reach_it(capsys):
    main(["run", str(BASELINE), "--set", "horizon_days=1857", "--reps", "30", "--seed", "2",
          "--executor", "serial", "--quiet"])  # fmt: skip
    out = capsys.readouterr().out
    assert "Mean days to target among trials that reach it" in out


# --- finding 3: precision -------------------------------------------------------------------


def test_precision_not_reached_is_said_in_the_text(capsys):
    """A cap reached before the wanted precision is said in the text (it was said only in
    the JSON), with the replications used and the half-width achieved."""
    main(["run", str(BASELINE), "--reps", "60", "--precision", "0.02", "--executor",
          "serial", "--quiet"])  # fmt: skip
    out = capsys.readouterr().out
    assert "Precision wanted: ±2.0 points on the chance by the deadline" in out
    assert "NOT reached: 60 replications" in out


def test_precision_of_a_chance_needs_a_deadline(capsys):
    code = main(["run", str(BASELINE), "--set", "target.deadline=null", "--precision", "0.05",
                 "--reps", "30", "--executor", "serial", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--precision-of" in err and "deadline" in err
    assert len(err.strip().splitlines()) == 1


# --- finding 4: the forecast's funnel and text -----------------------------------------------


def _example_log():
    sc = load_scenario(str(BASELINE))
    text = (SCENARIOS / "observed_example.csv").read_text(encoding="utf-8")
    return sc, parse_log(text, sc, dt.date(2017, 6, 1), "observed_example.csv")


def test_forecast_funnel_has_the_conditioning_of_patients_in_hospital():
    """Patients in hospital at the as-of date were conditioned before their day 0: the
    updated funnel never has more infused than conditioned (it had 52.3 against 50.6)."""
    sc, log = _example_log()
    s = forecast(sc, log, 40, seed=1, with_prior=False).summary()
    funnel = s["updated_forecast"]["funnel"]
    assert funnel["conditioned"] >= funnel["infused"]
    assert s["replications"] == 40 and s["seed"] == 1


def test_forecast_text_gives_the_chance_with_its_interval_replications_and_seed(capsys):
    main(["forecast", str(BASELINE), "--observed", str(SCENARIOS / "observed_example.csv"),
          "--as-of", "2017-06-01", "--reps", "20", "--executor", "serial", "--quiet"])  # fmt: skip
    out = capsys.readouterr().out
    assert "Forecast from 20 simulated trials, seed 1" in out
    assert "chance by the deadline" in out and "(95% interval" in out


# --- finding 5: the forecast's resumed patients -----------------------------------------------


@pytest.mark.parametrize(
    "dist",
    [
        Uniform(dist="uniform", low=2, high=10),
        Triangular(dist="triangular", low=2, mode=4, high=12),
        LogNormal(dist="lognormal", mean=8, sd=3),
        Gamma(dist="gamma", mean=8, sd=3),
        Exponential(dist="exponential", mean=8),
    ],
    ids=lambda d: d.dist,
)
def test_remaining_time_is_drawn_given_the_time_already_spent(dist):
    """What is left of a duration that has lasted 5 days follows the distribution given
    that it exceeds 5: drawn at many uniforms, (5 + left) is spread like the draws above 5
    (it was max(0, draw - 5), which piles up at 0)."""
    u = (np.arange(4000) + 0.5) / 4000
    left = np.array([dist.remaining(x, 5.0) for x in u])
    assert (left > 0).all()
    above = dist.ppf((np.arange(200_000) + 0.5) / 200_000)
    above = above[above > 5.0]
    assert np.mean(5.0 + left) == pytest.approx(above.mean(), rel=0.01)


def test_remaining_time_by_hand():
    """Uniform(0, 10) after 4 days: the median of what is left is 3; a fixed 9 days after
    12 is over (0); an exponential forgets (the same draw as new); empirical picks among the
    values above."""
    assert Uniform(dist="uniform", low=0, high=10).remaining(0.5, 4.0) == pytest.approx(3.0)
    assert Fixed(value=9).remaining(0.7, 12.0) == 0.0
    assert Fixed(value=9).remaining(0.7, 4.0) == 5.0
    exp = Exponential(dist="exponential", mean=20)
    assert exp.remaining(0.3, 50.0) == pytest.approx(float(exp.ppf(np.array([0.3]))[0]))
    emp = Empirical(dist="empirical", values=[3, 7, 11, 15])
    assert emp.remaining(0.0, 8.0) == 3.0 and emp.remaining(0.99, 8.0) == 7.0


def _resumed(scenario, stage: str, referred: float, since: float, start: float, **days):
    obs = Observed(
        start_day=start,
        in_pathway=(InPathway(site=0, referred=referred, stage=stage, since=since, **days),),
    )
    return [run_trial(scenario, replication_seed(5, r), observed=obs) for r in range(60)]


def test_a_resumed_screening_ends_when_its_fixed_duration_does():
    """Screening of 10 days begun 4 days before the forecast starts ends 6 days after it."""
    sc = make_scenario("screening.duration_days=10", "deterioration=null")
    for trial in _resumed(sc, "screening", 296.0, 296.0, 300.0, consented=296.0):
        assert trial.patients[0].screened == pytest.approx(306.0)


def test_resumed_deterioration_is_drawn_given_survival_to_the_start():
    """Deterioration uniform over 0-100 days from referral, a patient referred 80 days
    before the forecast: it deteriorates within the 20 days left of its support (it was
    drawn afresh over 0-100 days from the start, as if memoryless)."""
    sc = make_scenario(
        "deterioration.time_to_event_days={dist: uniform, low: 0, high: 100}",
        "deterioration.bridging=null",
        "screening.duration_days=1000",
        "horizon_days=5000",
    )
    deaths = [t.patients[0].death for t in _resumed(sc, "screening", 220.0, 220.0, 300.0,
                                                     consented=220.0)]  # fmt: skip
    assert all(300.0 <= d <= 320.0 + 1e-9 for d in deaths)
    assert np.ptp(deaths) > 10  # drawn, not fixed


def test_deterioration_and_durations_can_be_updated_from_the_log():
    """With the updates asked for, a log of fast deterioration shortens the latent time, by
    the gamma posterior worked by hand; without them nothing moves."""
    sc = make_scenario(
        "deterioration.time_to_event_days={dist: exponential, mean: 300}",
        "deterioration.bridging=null",
    )
    header = ("patient_id,site,referred_date,consent_date,screen_end_date,screen_failed,"
              "apheresis_date,release_date,infusion_date,outcome,outcome_date\n")  # fmt: skip
    rows = [f"P{k},A,2016-02-01,2016-02-01,,,,,,deteriorated,2016-02-11" for k in range(5)]
    log = parse_log(header + "\n".join(rows) + "\n", sc, dt.date(2016, 3, 1), "log.csv")
    plain = update(sc, log)
    assert plain.times.deterioration is None
    post = update(sc, log, Priors(deterioration=True, deterioration_events=10))
    # prior: 10 events over 10 x 300 days; log: 5 events over 5 x 10 days
    assert post.times.deterioration.scale == pytest.approx((3000 + 50) / 15 / 300)


# --- finding 6: the model's description ------------------------------------------------------


def test_the_model_description_matches_the_code():
    """docs/model.md names a stream per screening criterion and per attempt (it listed one
    for the criteria), and no longer says a lazy renege can end a closed trial late."""
    text = (ROOT / "docs" / "model.md").read_text(encoding="utf-8")
    assert "screening.criterion:" in text and "#1" in text
    assert "can end a closed trial when a unit frees" not in text


# --- finding 7: a weekend renege at apheresis ------------------------------------------------


def test_a_weekend_renege_at_apheresis_is_a_granted_request_with_its_wait():
    """With slots to spare nobody queues, so every apheresis renege is a patient who held
    the slot over a weekend and deteriorated before Monday: each is a granted request (it
    was left out of the granted requests and the mean wait)."""
    sc = make_scenario(
        "apheresis.slots=50",
        "apheresis.weekdays_only=true",
        "deterioration.time_to_event_days={dist: exponential, mean: 12}",
        "referral.sites.0.rate_per_month=20",
        "target.count=1000",
        "horizon_days=600",
    )
    rep = simulate(sc, seed=3)
    ev = rep.events[rep.events["resource"] == "apheresis"]
    starts, reneges = int((ev["event"] == "start").sum()), int((ev["event"] == "renege").sum())
    assert reneges > 0
    assert rep.row["apheresis.granted"] == starts + reneges


# --- a referral rate that changes ------------------------------------------------------------


def test_a_trending_rate_gives_its_expected_referrals():
    """A site whose rate grows 30% a year: referrals by day 1,000 average the closed-form
    cumulative intensity (Poisson: within 4 standard errors over 400 trials), and more
    come in the second half than in the first."""
    sc = make_scenario("referral.sites.0.trend_per_year=0.3", "referral.sites.0.ramp_up_days=60",
                       "referral.rate_shape=null", "horizon_days=1000")  # fmt: skip
    site = sc.referral.sites[0]
    expected = cumulative_intensity(site, 1000.0, site.rate_per_month / (365.25 / 12))
    counts, halves = [], [0, 0]
    for r in range(400):
        days, _ = referral_days(sc, Streams(replication_seed(9, r)))
        counts.append(days.size)
        halves[0] += int((days < 500).sum())
        halves[1] += int((days >= 500).sum())
    assert abs(np.mean(counts) - expected) < 4 * math.sqrt(expected / 400)
    assert halves[1] > 1.2 * halves[0]
    steady = with_overrides(sc, ["referral.sites.0.trend_per_year=0"])
    assert cumulative_intensity(steady.referral.sites[0], 1000.0, 1.0) < expected / (
        site.rate_per_month / (365.25 / 12)
    )


def test_a_trend_is_fitted_from_referral_days():
    """Referral days of a site growing 30% a year, over 3 years at 4 a month: the fitted
    trend lies within 3 standard errors of 30%, and a steady site's within 3 of 0."""
    from sim.forecasting.trend import fit_trend

    for trend in (0.3, 0.0):
        sc = make_scenario(f"referral.sites.0.trend_per_year={trend}",
                           "referral.sites.0.rate_per_month=4", "referral.rate_shape=null",
                           "horizon_days=1100")  # fmt: skip
        site = sc.referral.sites[0]
        days, _ = referral_days(sc, Streams(replication_seed(4, 0)))
        fit = fit_trend(site, days[days < 1096], 1096.0)
        k_true = math.log1p(trend) / 365.25
        assert abs(fit.k - k_true) < 3 * fit.se, (trend, fit)
        lo, hi = fit.interval()
        assert lo < fit.per_year < hi
    assert fit_trend(site, days[:3], 1096.0) is None  # too few to tell
