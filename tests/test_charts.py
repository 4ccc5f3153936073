"""The dashboard's charts (sim.app.charts): pure functions, data in, Altair chart out.

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

from sim.app import charts
from sim.app import views as app_state
from sim.core.scenario import load_scenario, with_overrides
from sim.report import palette
from sim.run.runner import run_replications, simulate

ALLOWED_COLOURS = (
    {c.upper() for c in charts.OKABE_ITO.values()}
    | {c.upper() for c in palette.MEANINGS.values()}
    | {c.upper() for c in palette.WAITING.values()}
    | {charts.GREY.upper(), "WHITE"}
)
TITLE_CHARS = 48
"""A chart title's line at most (a phone, 390 px wide, shows about this many)."""
SUBTITLE_CHARS = 58
"""A subtitle's line at most (smaller type)."""


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
    for node in _walk(spec):
        title = node.get("title")
        if isinstance(title, dict) and "text" in title:
            for limit, key in ((TITLE_CHARS, "text"), (SUBTITLE_CHARS, "subtitle")):
                lines = title.get(key) or []
                for line in [lines] if isinstance(lines, str) else lines:
                    assert len(line) <= limit, f"cut on a phone: {line!r}"
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


def test_target_date_table_counts_every_trial() -> None:
    """Trials by quarter and by the deadline: percents of all trials; with the horizon, the
    trials that never reach the target are a last bar after it, and the bars add to 100%."""
    start = dt.date(2016, 1, 1)
    ttt = np.array([10.0, 20.0, 100.0, 400.0, np.nan])
    table = charts.target_date_table(ttt, start, dt.date(2016, 3, 31))
    assert table["trials"].sum() == 4
    assert table["percent"].sum() == pytest.approx(80.0)
    whole = charts.target_date_table(ttt, start, dt.date(2016, 3, 31), horizon_days=500)
    assert whole["percent"].sum() == pytest.approx(100.0)
    last = whole.iloc[-1]
    assert (last["when"], last["trials"]) == ("beyond the horizon", 1)
    assert last["start"] == pd.Timestamp("2017-07-01")  # the quarter after day 500
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
    assert "by the end of the horizon" in str(spec) and "the last bar" in str(spec)
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


def _phase1_patients() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Four phase 1 patients by hand (days from the start) and their phase 1 events: 0
    waits for a slot (10 to 15) and for its turn (30 to 40), then a DLT window to 80 with
    no DLT; 1 waits for a slot until phase 2 starts (day 50); 2 takes a slot at once and
    waits for its turn from its release (35) until phase 2 (50); 3 deteriorates waiting for
    a slot (25 to 33)."""
    nan = np.nan
    cols = (  # noqa: SIM905 - the table's columns in one glance
        "patient referred_day screened_day enrolled_day apheresis_start_day apheresed_day "
        "manufacturing_start_day released_day conditioning_start_day infused_day "
        "discharged_day exit_day outcome phase cohort dose_level slot_day turn_day dlt "
        "dlt_decision_day"
    ).split()
    rows = [
        (0, 0, 10, 10, 16, 17, 17, 30, 41, 46, 60, 60, "infused", 1, 1, 1, 15, 40, False, 80),
        (1, 5, 20, 20, 52, 53, 53, 66, 70, 75, 90, 90, "infused", 2, nan, nan, nan, nan, None,
         nan),
        (2, 2, 12, 12, 12, 13, 13, 35, 55, 60, 70, 70, "infused", 2, 1, nan, 12, nan, None, nan),
        (3, 15, 25, 25, nan, nan, nan, nan, nan, nan, nan, 33, "deteriorated", 0, nan, nan,
         nan, nan, None, nan),
    ]  # fmt: skip
    patients = pd.DataFrame(rows, columns=cols)
    events = pd.DataFrame(
        [
            (0, 10.0, "slot_wait"), (0, 15.0, "slot"), (0, 40.0, "turn"),
            (0, 80.0, "no_dlt"), (1, 20.0, "slot_wait"), (1, 50.0, "phase2"),
            (2, 12.0, "slot"), (2, 50.0, "phase2"), (3, 25.0, "slot_wait"),
        ],
        columns=["patient", "time", "event"],
    ).assign(replication=0, resource="phase1")  # fmt: skip
    return patients, events


def test_gantt_table_times_phase1_waits_from_the_events() -> None:
    """Hand-computed: each wait for a cohort slot runs from slot_wait to the slot (or the
    start of phase 2, or the exit), each wait for a turn from the release to the turn (or
    phase 2); the resource's wait starts where the protocol's ends; the DLT window runs
    from infusion to the cohort's decision."""
    patients, events = _phase1_patients()
    start = dt.date(2016, 1, 4)
    table = charts.gantt_table(patients, start, events)
    days = table.assign(
        a=(table["start"] - pd.Timestamp(start)).dt.days,
        b=(table["end"] - pd.Timestamp(start)).dt.days,
    ).set_index(["patient", "stage"])[["a", "b"]]
    expected = {
        (0, "waiting for a cohort slot"): (10, 15),
        (0, "waiting for apheresis"): (15, 16),
        (0, "waiting for its turn"): (30, 40),
        (0, "waiting for a bed"): (40, 41),
        (1, "waiting for a cohort slot"): (20, 50),
        (1, "waiting for apheresis"): (50, 52),
        (1, "waiting for a bed"): (66, 70),
        (2, "waiting for its turn"): (35, 50),
        (2, "waiting for a bed"): (50, 55),
        (3, "waiting for a cohort slot"): (25, 33),
    }
    for key, (a, b) in expected.items():
        assert tuple(days.loc[key]) == (a, b), key
    assert (1, "waiting for its turn") not in days.index  # phase 2 before its release
    assert (3, "waiting for apheresis") not in days.index  # it left while waiting
    dlt = charts.dlt_table(patients, start)
    assert list(dlt["patient"]) == [0] and list(dlt["days"]) == [34.0]
    assert list(dlt["result"]) == ["no DLT"] and list(dlt["level"]) == [1]
    # without the events, only the waits that ended in a slot or a turn are known
    plain = charts.gantt_table(patients, start)
    assert set(plain[plain["patient"] == 0]["stage"]) >= set(charts.PHASE1_WAITS)
    assert not set(plain[plain["patient"] > 0]["stage"]) & set(charts.PHASE1_WAITS)


def test_phase1_outcomes_and_windows_on_the_timeline(baseline) -> None:
    """Every outcome its own shape (no slot and stopped too); a trial with phase 1 names
    its waits, its DLT window and its two outcomes in the legends, and marks each DLT; a
    trial without it names none of them. The pathway animation has a column for each phase
    1 wait a patient was in."""
    assert len(set(charts.OUTCOME_SHAPES.values())) == len(charts.OUTCOME_SHAPES)
    assert set(charts.PHASE1_OUTCOMES) <= set(charts.OUTCOME_SHAPES)
    sc = with_overrides(
        load_scenario(str(SCENARIOS / "phase1_3plus3.yaml")),
        ["phase1.when_full=refer_elsewhere", "referral.sites.0.rate_per_month=6"],
    )
    rep = simulate(sc, seed=3, replication=0)
    assert (rep.patients["outcome"] == "no_slot").any()
    spec = check_chart(
        charts.gantt_chart(rep.patients, start_date=sc.start_date, title="x", events=rep.events)
    )
    legends = dict(_legend_colours(spec))
    assert legends["waiting for its turn"] == charts.GREY.upper()
    assert charts.DLT_WINDOW in legends
    shapes = next(n["scale"]["domain"] for n in _walk(spec) if n.get("field") == "outcome_label")
    assert {"no slot", "stopped"} <= set(shapes)
    assert any(n.get("mark", {}).get("type") == "text" for n in spec["layer"]) == bool(
        rep.patients["dlt"].eq(True).any()
    )
    plain = check_chart(
        charts.gantt_chart(
            rep.patients.drop(columns=["phase"]), start_date=sc.start_date, title="x"
        )
    )
    assert charts.DLT_WINDOW not in dict(_legend_colours(plain))
    base = charts.gantt_chart(
        simulate(baseline, seed=3).patients, start_date=baseline.start_date, title="x"
    ).to_dict()
    names = {n for n, _ in _legend_colours(base)}
    assert not names & {*charts.PHASE1_WAITS, charts.DLT_WINDOW, "no slot", "stopped"}
    columns = charts.pathway_table(rep.patients, sc.start_date, rep.events)["column"]
    assert "waiting for its turn" in set(columns)
    check_chart(
        charts.pathway_animation(
            charts.pathway_table(rep.patients, sc.start_date, rep.events),
            start_date=sc.start_date,
            day=200,
            end_day=float(rep.row["end_days"]),
            title="x",
        )
    )


def test_funnel_counts_phase1_losses_as_their_own() -> None:
    """Patients without a cohort slot are lost at enrolment, as their own segment; when phase
    1 stopped trials, the rest of a step's loss says it may hold them."""
    funnel = {
        "referred": 10,
        "consented": 10,
        "enrolled": 8,
        "apheresed": 5,
        "manufactured": 5,
        "conditioned": 5,
        "infused": 5,
    }
    outcomes = {"screen_failed": 2, "no_slot": 2.5, "apheresis_failed": 0.25, "stopped": 0.0}
    table = charts.funnel_table(funnel, outcomes)
    enrolled = table[table["step"] == "Enrolled (passed screening)"].set_index("segment")
    assert enrolled.loc["no cohort slot (phase 1)", "patients"] == 2.5
    assert enrolled.loc["apheresis failed", "patients"] == 0.25
    assert enrolled.loc[charts.DETERIORATED, "patients"] == pytest.approx(0.25)
    stopped = charts.funnel_table(funnel, {**outcomes, "stopped": 0.25})
    assert charts.STOPPED in set(stopped["segment"])
    assert charts.DETERIORATED not in set(stopped["segment"])
    check_chart(charts.funnel_chart(funnel, {**outcomes, "stopped": 0.25}))


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


# --- planning views --------------------------------------------------------------------------


def _layers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec["layer"]


def _heat_points() -> pd.DataFrame:
    """A 2 x 3 sweep of suites x slots: more of either never lowers the chance."""
    rows = []
    for suites in (1, 2):
        for slots in (1, 2, 3):
            p = 0.2 + 0.3 * (suites - 1) + 0.1 * (slots - 1)
            rows.append(
                {
                    "manufacturing.suites": suites,
                    "apheresis.slots": slots,
                    "prob_target_by_deadline": p,
                    "prob_ci95_low": p - 0.1,
                    "prob_ci95_high": p + 0.1,
                }
            )
    return pd.DataFrame(rows)


def test_sizing_heatmap_table_marks_the_answer_and_what_meets() -> None:
    """A cell a configuration, chance in %, the answer flagged once, a tick where the chance
    is at least the wanted one."""
    table = charts.sizing_heatmap_table(
        _heat_points(),
        rows="manufacturing.suites",
        columns="apheresis.slots",
        chosen={"manufacturing.suites": 2, "apheresis.slots": 1},
        wanted=0.6,
    )
    assert len(table) == 6
    assert table["chosen"].sum() == 1
    chosen = table[table["chosen"]].iloc[0]
    assert (chosen["row"], chosen["column"], chosen["percent"]) == (2, 1, pytest.approx(50.0))
    assert chosen["text"] == "50%" and chosen["interval"] == "40–60%"
    best = table[(table["row"] == 2) & (table["column"] == 3)].iloc[0]
    assert best["meets"] and best["text"] == "70% ✓"
    assert list(table["meets"]) == [False, False, False, False, True, True]


def test_sizing_heatmap_chart() -> None:
    """Rectangles coloured by the chance (white to blue, 0 to 100%), suites up the y axis
    and slots along x (both counts), the text of each cell, and the answer outlined."""
    spec = check_chart(
        charts.sizing_heatmap_chart(
            _heat_points(),
            rows="manufacturing.suites",
            columns="apheresis.slots",
            row_title="Manufacturing suites (count)",
            column_title="Apheresis slots (count)",
            chosen={"manufacturing.suites": 2, "apheresis.slots": 1},
            wanted=0.6,
            title="Chance of 50 infused by 31 Dec 2020",
            subtitle=["a", "b"],
            chosen_label="answer",
        )
    )
    layers = _layers(spec)
    cells = layers[0]
    assert cells["mark"]["type"] == "rect"
    enc = cells["encoding"]
    assert enc["x"]["field"] == "column" and enc["x"]["type"] == "ordinal"
    assert enc["x"]["title"] == "Apheresis slots (count)"
    assert enc["y"]["field"] == "row" and enc["y"]["sort"] == "descending"
    assert enc["color"]["field"] == "percent"
    assert enc["color"]["scale"] == {
        "domain": [0, 100],
        "range": [charts.HEAT_LOW, charts.OKABE_ITO["blue"]],
        "interpolate": "rgb",
    }
    texts = [lay["encoding"]["text"]["field"] for lay in layers if lay["mark"]["type"] == "text"]
    assert texts == ["text", "interval", "mark"]
    outline = next(lay for lay in layers[3:] if lay["mark"]["type"] == "rect")
    assert outline["mark"]["strokeWidth"] == 4 and outline["mark"]["fillOpacity"] == 0
    data = spec["datasets"][outline["data"]["name"]]
    assert [(d["row"], d["column"], d["mark"]) for d in data] == [(2, 1, "answer")]
    assert spec["title"]["subtitle"] == ["a", "b"]
    none = charts.sizing_heatmap_chart(
        _heat_points(),
        rows="manufacturing.suites",
        columns="apheresis.slots",
        row_title="Manufacturing suites (count)",
        column_title="Apheresis slots (count)",
        chosen=None,
        wanted=None,
        title="t",
    )
    assert len(_layers(check_chart(none))) == 3  # nothing outlined


def _tornado_rows() -> list[dict[str, Any]]:
    return [
        {"parameter": "a", "label": "A", "low": 1, "high": 2, "at_low": 0.3, "at_high": 0.7,
         "swing": 0.4, "effect_low_ci95": [-0.25, -0.15], "effect_high_ci95": [0.1, 0.3]},
        {"parameter": "b", "low": 0, "high": 1, "at_low": 0.5, "at_high": 0.5, "swing": 0.0},
        {"parameter": "c", "label": "C", "low": 5, "high": 9, "at_low": 0.45, "at_high": 0.4,
         "swing": 0.1},
    ]  # fmt: skip


def test_tornado_table_orders_by_swing() -> None:
    """Two bars a parameter, from the base to the figure at each end, largest swing first;
    figures scaled (a probability in %); ``top`` keeps the largest."""
    table = charts.tornado_table(_tornado_rows(), 0.5, scale=100.0)
    assert list(dict.fromkeys(table["label"])) == ["A", "C", "b"]  # b: no label, its key
    assert (table["start"] == 50.0).all()
    a = table[table["parameter"] == "a"].set_index("end")
    assert a.loc["low end of its range", "stop"] == pytest.approx(30.0)
    assert a.loc["high end of its range", "change"] == pytest.approx(20.0)
    assert a.loc["high end of its range", "setting"] == 2
    assert set(charts.tornado_table(_tornado_rows(), 0.5, top=1)["parameter"]) == {"a"}
    assert a.loc["low end of its range", "err_low"] == pytest.approx(25.0)
    assert a.loc["high end of its range", "err_high"] == pytest.approx(80.0)
    assert table[table["parameter"] == "b"]["err_low"].isna().all()


def test_tornado_chart() -> None:
    """Bars dodged by range end (orange low, blue high), the parameters in swing order on
    y, the figure with its unit on x, a rule at the scenario's value; the parameters left
    out are counted in the subtitle."""
    spec = check_chart(
        charts.tornado_chart(
            _tornado_rows(),
            0.5,
            x_title="Chance of the target by the deadline (%)",
            title="Chance",
            scale=100.0,
            unit="%",
            top=2,
        )
    )
    bars, errors, rule, text = _layers(spec)
    assert bars["mark"]["type"] == "bar"
    # the paired 95% intervals of the changes, from the base, as whiskers (a row without
    # them draws none)
    assert errors["mark"]["type"] == "errorbar"
    assert errors["encoding"]["x"]["field"] == "err_low"
    assert errors["encoding"]["x2"]["field"] == "err_high"
    enc = bars["encoding"]
    assert enc["y"]["sort"] == ["A", "C"]
    assert enc["yOffset"]["field"] == "end"
    assert enc["x"]["field"] == "start" and enc["x2"]["field"] == "stop"
    assert enc["color"]["scale"]["range"] == list(charts.TORNADO_ENDS.values())
    assert rule["mark"]["type"] == "rule"
    assert spec["datasets"][text["data"]["name"]][0]["label"] == "scenario's values: 50%"
    assert spec["title"]["subtitle"][-1] == "1 more with smaller swings are not drawn."
    assert spec["height"] == charts.TORNADO_ROW_PX * 2 + 40


def test_observed_table_steps_to_the_as_of_date() -> None:
    """From 0 at the start, one step a day with events (two on one day: one step of two),
    the last count held to the as-of date."""
    start, as_of = dt.date(2016, 1, 1), dt.date(2016, 3, 1)
    table = charts.observed_table({"enrolled": [10.0, 10.0, 30.0], "infused": []}, start, as_of)
    enrolled = table[table["series"] == "enrolled"]
    assert list(enrolled["day"]) == [0.0, 10.0, 30.0, 60.0]
    assert list(enrolled["patients"]) == [0.0, 2.0, 3.0, 3.0]
    assert enrolled["date"].iloc[-1] == pd.Timestamp(as_of)
    infused = table[table["series"] == "infused"]
    assert list(infused["patients"]) == [0.0, 0.0]


def test_observed_fan_chart(view, baseline) -> None:
    """The fan with the observed counts over it as black steps, and the as-of date, the
    target and the deadline marked."""
    observed = {"enrolled": [28.0, 67.0, 71.0], "infused": [45.0, 86.0]}
    spec = check_chart(
        charts.observed_fan_chart(
            view.fan,
            observed,
            start_date=baseline.start_date,
            as_of=dt.date(2017, 6, 1),
            target_count=50,
            milestone="infused",
            deadline=baseline.target.deadline,
        )
    )
    steps = [
        lay
        for lay in _layers(spec)
        if isinstance(lay["mark"], dict) and lay["mark"].get("interpolate") == "step-after"
    ]
    assert len(steps) == 1
    assert steps[0]["mark"]["color"] == charts.OKABE_ITO["black"]
    assert steps[0]["encoding"]["y"]["field"] == "patients"
    data = spec["datasets"][steps[0]["data"]["name"]]
    assert max(d["patients"] for d in data if d["series"] == "infused") == 2
    text = str(spec)
    assert "observed to 1 Jun 2017" in text
    assert "target: 50 infused" in text and "deadline 31 Dec 2020" in text
    assert "(3 enrolled, 2 infused)" in " ".join(spec["title"]["subtitle"])


def _legend_colours(spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(category, colour) of every colour scale with a domain of names."""
    for node in _walk(spec):
        scale = node.get("scale")
        if not isinstance(scale, dict):
            continue
        domain, rng = scale.get("domain"), scale.get("range")
        if isinstance(domain, list) and isinstance(rng, list) and len(domain) == len(rng):
            for name, colour in zip(domain, rng, strict=True):
                if isinstance(name, str) and isinstance(colour, str) and colour.startswith("#"):
                    yield name, colour.upper()


def test_one_colour_per_meaning(view, baseline, replication) -> None:
    """A stage keeps its colour in every chart (a resource, its waits, its failures, its bar
    in the timeline); no colour of a stage stands for anything else; each wait has its own
    colour, a tint of its resource's."""
    t = baseline.target
    made = [
        charts.fan_chart(view.fan, target_count=50, milestone="infused", deadline=t.deadline),
        charts.funnel_chart(view.summary["funnel"], view.summary["outcomes"]),
        charts.gantt_chart(replication.patients, start_date=baseline.start_date, title="x"),
        *charts.resource_charts(view.rows, view.summary["resources"]),
        *charts.queue_charts(
            replication.timeline,
            start_date=baseline.start_date,
            end_day=float(replication.row["end_days"]),
            capacities={"apheresis": 1, "manufacturing": 2, "beds": 2},
        ),
    ]
    seen: dict[str, str] = {}
    for chart in made:
        for name, colour in _legend_colours(chart.to_dict()):
            if name in ("in use", "queue"):  # each resource's chart in its own colours
                continue
            seen.setdefault(name, colour)
            assert seen[name] == colour, name
    m = {k: v.upper() for k, v in palette.MEANINGS.items()}
    assert (
        seen["apheresis"] == seen["Apheresis slots"] == seen["apheresis failed"] == m["apheresis"]
    )
    assert seen["manufacturing and QC"] == seen["manufacturing failed"] == m["manufacturing"]
    assert seen["inpatient stay"] == seen["Beds"] == m["beds"]
    assert seen["infused"] == m["infused"] and seen["enrolled"] == m["enrolled"]
    waits = [seen[w] for w in ("waiting for apheresis", "waiting for a suite", "waiting for a bed")]
    assert len(set(waits)) == 3 and not set(waits) & set(m.values())
    orange = {n for n, c in seen.items() if c == m["apheresis"]}
    assert orange <= {"apheresis", "Apheresis slots", "apheresis failed"}, orange


def test_criteria_are_named_by_the_scenarios_labels(baseline) -> None:
    """The screen failures read as the scenario names them ('LVEF below 0.5', not 'lvef
    below 0 5'); a label of a criterion the scenario lacks is refused."""
    from sim.core.errors import InputError
    from sim.core.scenario import with_overrides

    labels = baseline.screening.criteria_labels
    table = charts.criteria_table({"lvef_below_0_5": 0.1, "hbv_hcv_hiv": 0.2}, labels)
    assert set(table["criterion"]) == {"LVEF below 0.5", "HBV, HCV or HIV infection"}
    assert "LVEF below 0.5" in str(
        check_chart(charts.criteria_chart({"lvef_below_0_5": 1}, labels))
    )
    assert list(charts.criteria_table({"a_b": 1.0})["criterion"]) == ["a b"]
    with pytest.raises(InputError, match="labels of criteria the scenario does not have: nope"):
        with_overrides(baseline, ["screening.criteria_labels.nope=x"])


def test_capacity_lines_funnel_numbers_band_tooltips_and_observed_labels(
    view, baseline, replication
) -> None:
    """The queue charts draw the capacity they name; the funnel writes its numbers; the
    forecast band answers a hover with named percentiles, not raw fields; the observed
    steps are labelled."""
    queues = charts.queue_charts(
        replication.timeline,
        start_date=baseline.start_date,
        end_day=float(replication.row["end_days"]),
        capacities={"apheresis": 1, "manufacturing": 2, "beds": 2},
    )
    beds = queues[2].to_dict()
    rules = [layer for layer in beds["layer"] if layer["mark"]["type"] == "rule"]
    assert rules and "capacity 2" in str(beds)
    funnel = charts.funnel_chart(view.summary["funnel"], view.summary["outcomes"]).to_dict()
    texts = [layer for layer in funnel["layer"] if layer["mark"]["type"] == "text"]
    infused = f"{view.summary['funnel']['infused']:,.1f}"
    assert texts and infused in str(funnel["datasets"])
    fan = charts.fan_chart(
        view.fan, target_count=50, milestone="infused", deadline=baseline.target.deadline
    ).to_dict()
    areas = [layer for layer in fan["layer"] if layer["mark"]["type"] == "area"]
    for area in areas:
        titles = [t.get("title") for t in area["encoding"]["tooltip"]]
        assert "5th percentile" in titles and "95th percentile" in titles
    observed = charts.observed_fan_chart(
        view.fan,
        {"enrolled": [10.0, 20.0, 30.0], "infused": [40.0, 50.0]},
        target_count=50,
        milestone="infused",
        deadline=None,
        start_date=baseline.start_date,
        as_of=dt.date(2016, 6, 1),
    ).to_dict()
    assert "observed enrolled: 3" in str(observed) and "observed infused: 2" in str(observed)
