"""Statistics against hand-computed cases."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from conftest import make_scenario
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.run.results import RowTable
from sim.run.runner import run_replications
from sim.run.stats import (
    censored_percentiles,
    day_to_date,
    mean_ci,
    median_interval,
    paired_difference,
    percentiles,
    pooled_quantiles,
    prob_by,
    ratio_ci,
    rounded,
    welch_interval,
    wilson_interval,
)
from sim.run.summary import fan_chart


def test_censored_percentiles_count_unreached_as_beyond_the_horizon():
    """[1..9] plus one NaN: p10 interpolates 1.9; p50 is 5.5; p90 touches the censored: None."""
    times = [1, 2, 3, 4, 5, 6, 7, 8, 9, math.nan]
    p = censored_percentiles(times)
    assert p["p10"] == pytest.approx(1.9)
    assert p["p50"] == pytest.approx(5.5)
    assert p["p90"] is None
    assert censored_percentiles([math.nan] * 3) == {"p10": None, "p50": None, "p90": None}
    assert censored_percentiles([]) == {"p10": None, "p50": None, "p90": None}


def test_mean_ci_by_hand():
    """[2, 4, 6, 8]: mean 5, sd 2.582, t(0.975, 3) = 3.182 -> half-width 4.108."""
    ci = mean_ci([2, 4, 6, 8])
    assert ci["mean"] == 5
    half = 3.182446 * math.sqrt(20 / 3) / 2
    assert ci["ci_low"] == pytest.approx(5 - half, rel=1e-5)
    assert ci["ci_high"] == pytest.approx(5 + half, rel=1e-5)
    assert mean_ci([3.0])["ci_low"] is None
    assert mean_ci([])["mean"] is None


def test_median_interval_by_hand():
    """1..100: median 50.5; the 95% order-statistic interval runs from the 40th value to
    the 61st (n/2 -+ 1.96 sqrt(n)/2 = 40.2 and 59.8, rounded out); an end among the trials
    that never reach the target (NaN) is None."""
    med, lo, hi = median_interval(np.arange(1.0, 101.0))
    assert (med, lo, hi) == (50.5, 40.0, 61.0)
    times = np.arange(1.0, 101.0)
    times[55:] = np.nan  # 45 of 100 never reach it
    assert median_interval(times) == (50.5, 40.0, None)


def test_wilson_interval_by_hand():
    """8 of 10 at 95%: Wilson (0.4902, 0.9433), a textbook value."""
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4)
    assert hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert wilson_interval(0, 0) is None


def test_prob_by_counts_the_whole_deadline_day():
    """A target reached during the deadline day counts; NaN (never) does not."""
    assert prob_by([10.0, 10.99, 11.0, math.nan], 10) == (2, 4)


def test_day_to_date():
    """Day 0.9 is the start date; day 31 of a 2015-12-01 start is 2016-01-01."""
    start = dt.date(2015, 12, 1)
    assert day_to_date(start, 0.9) == "2015-12-01"
    assert day_to_date(start, 31.0) == "2016-01-01"
    assert day_to_date(start, None) is None
    assert day_to_date(start, math.inf) is None


def test_pooled_quantiles_by_hand():
    """[1, 2, 3, 4]: mean 2.5, median 2.5, p90 3.7."""
    q = pooled_quantiles(np.array([1.0, 2, 3, 4]))
    assert q == {"mean": 2.5, "p50": 2.5, "p90": pytest.approx(3.7)}
    assert pooled_quantiles(np.array([]))["mean"] is None


def test_paired_and_unpaired_differences_by_hand():
    """b - a = [1, 1, 2, 2]: mean 1.5, sd 0.577, half-width 3.182 x 0.2887 = 0.9187."""
    a = [10, 20, 30, 40]
    b = [11, 21, 32, 42]
    d = paired_difference(a, b)
    assert d["mean"] == pytest.approx(1.5)
    assert d["ci95"][1] - 1.5 == pytest.approx(3.182446 * math.sqrt(1 / 3) / 2, rel=1e-5)
    lo, hi = welch_interval(a, b)
    assert lo < 1.5 < hi and hi - lo > 20  # unpaired: swamped by between-trial spread
    assert welch_interval([1.0], [2.0]) == [None, None]
    # pairs with a missing value are dropped
    assert paired_difference([1, math.nan, 3], [2, 5, 5])["n"] == 2


def test_rounded_turns_non_finite_into_null():
    """NaN and infinity become None; numpy numbers become plain ones."""
    assert rounded({"a": math.nan, "b": [np.float64(1.234567), np.int64(3)], "c": math.inf}
                   ) == {"a": None, "b": [1.2346, 3], "c": None}


def test_fan_chart_by_hand():
    """Three replications with monthly cumulative counts: percentiles month by month."""
    rows = []
    for r, counts in enumerate(([1, 2, 3], [2, 4, 6], [3, 6, 9])):
        rows.append({"replication": r, "vein_to_vein_days": np.array([]),
                     "enrolled_by_month": np.array(counts, dtype=np.int32),
                     "infused_by_month": np.array(counts, dtype=np.int32) // 2})
    table = RowTable.from_rows(rows)
    fan = fan_chart(make_scenario(), table)
    enrolled = fan[fan["series"] == "enrolled"]
    assert list(enrolled["p50"]) == [2, 4, 6]
    assert list(enrolled["p25"]) == [1.5, 3, 4.5]
    assert enrolled["date"].iloc[0] == "2016-02-03"  # start 2016-01-04 + 30.44 days
    assert len(fan) == 6


def test_summary_funnel_and_resources_match_the_rows():
    """Summary means equal the means of the per-replication rows; waits are pooled."""
    res = run_replications(make_scenario(), 6, seed=2)
    s = res.summary()
    f = res.frame()
    assert s["funnel"]["infused"] == pytest.approx(f["infused"].mean(), abs=1e-4)
    pooled = f["manufacturing.wait_sum_days"].sum() / f["manufacturing.granted"].sum()
    assert s["resources"]["manufacturing"]["mean_wait_days"] == pytest.approx(pooled, abs=1e-4)
    assert s["outcomes"]["screen_failed"] == pytest.approx(f["outcome.screen_failed"].mean(),
                                                           abs=1e-4)
    # the monthly counts end at the final totals (the last month covers the horizon)
    assert (res.table.infused_by_month[:, -1] == f["infused"].to_numpy()).all()


def test_ratio_ci_by_hand():
    """Waits [2, 4, 6] over requests [1, 2, 2]: R = 12/5 = 2.4; residuals [-0.4, -0.8, 1.2],
    s = 1.0583, se = s / sqrt(3) / (5/3) = 0.3666, t(0.975, 2) = 4.3027."""
    r = ratio_ci([2, 4, 6], [1, 2, 2])
    assert r["ratio"] == pytest.approx(2.4)
    se = math.sqrt(((-0.4) ** 2 + 0.8**2 + 1.2**2) / 2 / 3) / (5 / 3)
    assert r["ci_high"] - 2.4 == pytest.approx(4.302653 * se, rel=1e-5)
    assert ratio_ci([1.0], [0.0])["ratio"] is None
    assert ratio_ci([3.0], [2.0]) == {"ratio": 1.5, "ci_low": None, "ci_high": None}


def test_percentile_exactly_on_the_last_reached_trial_is_a_number():
    """Ten reached (1..10) and one not: p90 falls exactly on the tenth, 10.0."""
    p = censored_percentiles([*range(1, 11), math.nan])
    assert p["p90"] == pytest.approx(10.0)
    assert censored_percentiles([*range(1, 10), math.nan, math.nan])["p90"] is None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=200),
    st.lists(st.floats(0, 100), min_size=1, max_size=6),
)
def test_percentiles_are_numpys_to_the_bit(values, qs):
    """Our percentiles (no numpy.ma import) are numpy.percentile's default, bit for bit."""
    assert np.array_equal(percentiles(values, qs), np.percentile(values, qs))


def test_percentiles_by_hand():
    """1..5: the median is 3, the 10th percentile 1 + 0.4, the 100th the largest."""
    assert list(percentiles([5, 1, 4, 2, 3], [50, 10, 100])) == [3.0, 1.4, 5.0]
