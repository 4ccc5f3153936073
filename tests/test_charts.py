"""The dashboard's charts (sim.charts): pure functions, data in, Altair chart out.

Each table builder must give the numbers the chart draws; each chart must be a valid
Vega-Lite spec (Altair validates on ``to_dict``), draw only colours of the Okabe-Ito palette
(or grey), put dates on time axes (UTC scale, so no shift by time zone) and a unit on every
quantitative axis.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import pytest
from conftest import SCENARIOS

from sim import app_state, charts
from sim.runner import run_replications, simulate
from sim.scenario import load_scenario

ALLOWED_COLOURS = {c.upper() for c in charts.OKABE_ITO.values()} | {charts.GREY.upper(), "WHITE"}


@pytest.fixture(scope="module")
def baseline():
    return load_scenario(str(SCENARIOS / "baseline.yaml"))


@pytest.fixture(scope="module")
def results(baseline):
    return run_replications(baseline, 30, seed=3)


@pytest.fixture(scope="module")
def view(results):
    return app_state.view_from_results(results, "baseline")


@pytest.fixture(scope="module")
def replication(baseline):
    return simulate(baseline, seed=3, replication=0)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _encodings(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for node in _walk(spec):
        enc = node.get("encoding")
        if isinstance(enc, dict):
            for channel, value in enc.items():
                if isinstance(value, dict):
                    yield channel, value


def check_chart(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The spec of a valid chart drawn in the palette, dates and units on its axes."""
    spec = chart.to_dict()  # validates against the Vega-Lite schema
    for node in _walk(spec):
        for key in ("color", "fill", "stroke"):
            value = node.get(key)
            if isinstance(value, str) and value.startswith("#"):
                assert value.upper() in ALLOWED_COLOURS, value
        scale = node.get("scale")
        if isinstance(scale, dict) and isinstance(scale.get("range"), list):
            for colour in scale["range"]:
                if isinstance(colour, str) and colour.startswith("#"):
                    assert colour.upper() in ALLOWED_COLOURS, colour
    for channel, enc in _encodings(spec):
        if channel not in ("x", "y") or "title" not in enc or enc["title"] is None:
            continue
        if enc.get("type") == "temporal":
            assert enc.get("scale", {}).get("type") == "utc", enc
            assert "Date" in enc["title"], enc["title"]
        elif enc.get("type") == "quantitative":
            assert re.search(r"\(.+\)", enc["title"]), f"no unit in {enc['title']!r}"
    return spec


def test_fan_chart(view, baseline) -> None:
    """The fan has both series, p5 <= p50 <= p95 each month, the target and the deadline."""
    table = charts.fan_table(view.fan)
    assert set(table["series"]) == {"enrolled", "infused"}
    assert pd.api.types.is_datetime64_any_dtype(table["date"])
    assert (table["p5"] <= table["p50"]).all() and (table["p50"] <= table["p95"]).all()
    spec = check_chart(
        charts.fan_chart(
            view.fan, target_count=50, milestone="infused", deadline=baseline.target.deadline
        )
    )
    text = str(spec)
    assert "target: 50 infused" in text and "deadline 31 Dec 2020" in text


def test_target_date_table_counts_every_reaching_trial() -> None:
    """Trials by quarter and by the deadline: percents of all trials, the unreached left out."""
    start = dt.date(2016, 1, 1)
    ttt = np.array([10.0, 20.0, 100.0, 400.0, np.nan])
    table = charts.target_date_table(ttt, start, dt.date(2016, 3, 31))
    assert table["trials"].sum() == 4
    assert table["percent"].sum() == pytest.approx(80.0)
    by = table[table["when"] == "by the deadline"]["trials"].sum()
    assert by == 2  # day 10 and day 20 fall in Q1 2016; day 100 is 10 April
    first = table.iloc[0]
    assert first["start"] == pd.Timestamp("2016-01-01")
    assert first["end"] == pd.Timestamp("2016-04-01")


def test_target_date_chart(view, baseline) -> None:
    spec = check_chart(
        charts.target_date_chart(
            view.rows["time_to_target_days"],
            start_date=baseline.start_date,
            deadline=baseline.target.deadline,
            horizon_days=baseline.horizon_days,
            target_label="50 infused",
        )
    )
    assert "do not reach it by the end of the horizon" in str(spec)
    none = charts.target_date_chart(
        [np.nan, np.nan],
        start_date=baseline.start_date,
        deadline=None,
        horizon_days=100,
        target_label="50 infused",
    )
    assert "2 of 2 simulated trials (100%)" in str(check_chart(none))


def test_funnel_table_splits_each_step_into_went_on_and_lost() -> None:
    """Each step's bar is its patients: the ones who went on (the next step's count) and
    the ones lost, by reason; the reason's own outcome first, deterioration the rest."""
    funnel = {
        "referred": 10,
        "consented": 9,
        "enrolled": 7,
        "apheresed": 6.5,
        "manufactured": 6,
        "conditioned": 6,
        "infused": 5.5,
    }
    outcomes = {
        "declined_consent": 1,
        "screen_failed": 1.5,
        "apheresis_failed": 0.5,
        "manufacturing_failed": 0.25,
    }
    table = charts.funnel_table(funnel, outcomes)
    for step, total in (("Referred", 10), ("Consented", 9), ("Infused", 5.5)):
        rows = table[table["step"] == step]
        assert rows["patients"].sum() == pytest.approx(total)
        assert rows["end"].max() == pytest.approx(total)
    consented = table[table["step"] == "Consented"].set_index("segment")["patients"]
    assert consented[charts.CONTINUES] == 7
    assert consented["failed screening"] == 1.5
    assert consented[charts.DETERIORATED] == pytest.approx(0.5)
    released = table[table["step"] == "Product released"]
    assert set(released["segment"]) == {charts.CONTINUES}  # no loss from 6 to 6


def test_funnel_and_criteria_charts(view) -> None:
    s = view.summary
    check_chart(charts.funnel_chart(s["funnel"], s["outcomes"]))
    table = charts.criteria_table(s["screen_fail_by_criterion"])
    assert list(table["patients"]) == sorted(table["patients"], reverse=True)
    assert "cd19 negative" in set(table["criterion"])
    check_chart(charts.criteria_chart(s["screen_fail_by_criterion"]))


def test_resource_table_and_charts(view) -> None:
    """Utilisation in percent (the summary's share x 100), waits in days, queues in patients,
    with the 10th to 90th percentile of the trials around them."""
    table = charts.resource_table(view.rows, view.summary["resources"])
    util = table[(table["resource"] == "beds") & (table["metric"] == "utilization")].iloc[0]
    assert util["value"] == pytest.approx(100 * view.summary["resources"]["beds"]["utilization"])
    assert util["p10"] <= util["p90"]
    assert set(table["metric"]) == {"utilization", "wait", "queue"}
    made = charts.resource_charts(view.rows, view.summary["resources"])
    assert len(made) == 3
    for chart in made:
        check_chart(chart)


def test_queue_table_steps_from_start_to_end(replication, baseline) -> None:
    end = float(replication.row["end_days"])
    table = charts.queue_table(replication.timeline, baseline.start_date, end)
    for (_, _), sub in table.groupby(["resource", "measure"]):
        assert sub["day"].iloc[0] == 0 and sub["day"].iloc[-1] == end
        assert (sub["patients"] >= 0).all()
    beds = table[(table["resource"] == "beds") & (table["measure"] == "in use")]
    assert beds["patients"].max() <= baseline.infusion.beds
    made = charts.queue_charts(
        replication.timeline,
        start_date=baseline.start_date,
        end_day=end,
        capacities={"apheresis": 1, "manufacturing": 2, "beds": 2},
    )
    assert len(made) == 3
    for chart in made:
        check_chart(chart)


def test_vein_to_vein(view) -> None:
    table = charts.vein_to_vein_table([20.2, 20.7, 21.5, np.nan])
    assert list(table["count"]) == [2, 1]
    assert table["percent"].sum() == pytest.approx(100.0)
    spec = check_chart(charts.vein_to_vein_chart(view.vein_to_vein))
    assert "median" in str(spec)
    per_trial = check_chart(
        charts.vein_to_vein_chart(view.rows["vein_to_vein_mean_days"], per_trial_means=True)
    )
    assert "Mean vein-to-vein time of a trial" in str(per_trial)
    check_chart(charts.vein_to_vein_chart([]))


def test_gantt_table_follows_each_patient(replication, baseline) -> None:
    """Bars never run backwards; an infused patient is screened, collected, made, conditioned
    and in hospital; a screen failure has its screening only; every patient has an outcome."""
    patients = replication.patients
    table = charts.gantt_table(patients, baseline.start_date)
    assert (table["end"] > table["start"]).all()
    infused = patients[patients["outcome"] == "infused"]["patient"].iloc[0]
    stages = set(table[table["patient"] == infused]["stage"])
    assert {
        "screening",
        "apheresis",
        "manufacturing and QC",
        "conditioning",
        "inpatient stay",
    } <= stages
    failed = patients[patients["outcome"] == "screen_failed"]["patient"]
    if len(failed):
        assert set(table[table["patient"] == failed.iloc[0]]["stage"]) == {"screening"}
    outcomes = charts.outcome_table(patients, baseline.start_date)
    assert len(outcomes) == len(patients)
    check_chart(charts.gantt_chart(patients, start_date=baseline.start_date, title="one trial"))


def test_compare_and_referrals_charts(view, baseline) -> None:
    spec = check_chart(
        charts.compare_fan_chart(
            [("A", view.fan), ("B", view.fan)],
            target_count=50,
            deadline=baseline.target.deadline,
        )
    )
    assert "Cumulative patients infused, run by run" in str(spec)
    expected = app_state.expected_referrals(baseline)
    check_chart(charts.referrals_chart(expected, deadline=baseline.target.deadline))
