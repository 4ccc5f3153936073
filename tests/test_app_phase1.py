"""The dashboard with working calendars, capacity schedules and a dose-finding phase 1: their
inputs (weekday pickers, tables, the phase 1 switch) read back what they show, edits reach
the run, a bad value disables Run with its field named, and the Forecast, Patient flow and
Patients views show phase 1 (through Streamlit's AppTest; the form's logic without it).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd
import pytest
from conftest import ROOT, SCENARIOS
from streamlit.testing.v1 import AppTest

from sim.app import edits, form, session, submit, tables, views
from sim.core.errors import InputError
from sim.core.scenario import load_scenario, with_overrides
from sim.io import store

APP = str(ROOT / "app.py")
REPS = 8
PHASE1_FILE = "phase1_3plus3.yaml"


@pytest.fixture(scope="module")
def phase1():
    return load_scenario(str(SCENARIOS / PHASE1_FILE))


# --- the form's logic --------------------------------------------------------------------------


def test_new_fields_have_inputs_of_their_kind() -> None:
    """Weekday lists are multiple choices of Mon..Sun; closures, dose levels and capacity
    changes are tables whose columns are their rows' fields; phase 1 and the calendar are
    parts switched on or off; the new stages hold them."""
    by = form.PARAMS_BY_PATH
    for path in ("apheresis.days", "manufacturing.start_days", "infusion.days"):
        assert by[path].kind == "multichoice" and by[path].nullable, path
        assert by[path].choices == ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    for path in ("apheresis.slots_changes", "manufacturing.suites_changes"):
        assert [c.path.rpartition(".")[2] for c in by[path].columns] == ["from_day", "units"]
        assert [c.kind for c in by[path].columns] == ["number", "integer"]
    closures = by["calendar.closures"]
    assert [(c.path, c.kind) for c in closures.columns] == [
        ("calendar.closures.from", "date"),
        ("calendar.closures.to", "date"),
        ("calendar.closures.stages", "multichoice"),
        ("calendar.closures.reason", "text"),
    ]
    levels = by["phase1.dose_levels"]
    assert [c.kind for c in levels.columns] == ["number", "prob"]
    assert (levels.columns[1].low, levels.columns[1].high) == (0.0, 1.0)
    assert by["phase1"].kind == by["calendar"].kind == by["calendar.holidays"].kind == "block"
    assert by["phase1.cohorts"].optional  # rule fixed only: a checkbox switches it on
    assert by["phase1"].stage == "Dose finding (phase 1)"
    assert by["calendar.closures"].stage == "Working calendar"
    assert by["phase1.cohort_size"].start == 3  # the field's default


def test_tables_read_back_what_they_show(phase1) -> None:
    """A table of parts shows each row's values (dates as dates) and reads them back to the
    same list; an added row's whole numbers are ints, its picks in weekday order; an empty
    table of a list that may be left out is null."""
    data = phase1.to_dict()
    p = form.PARAMS_BY_PATH["phase1.dose_levels"]
    frame = tables.rows_frame(data["phase1"]["dose_levels"], p)
    assert tables.rows_from_frame(frame, p) == data["phase1"]["dose_levels"]
    closures = form.PARAMS_BY_PATH["calendar.closures"]
    rows = [
        {"from": dt.date(2016, 8, 1), "to": dt.date(2016, 8, 14), "stages": None, "reason": None}
    ]
    frame = tables.rows_frame(rows, closures)
    assert pd.api.types.is_datetime64_any_dtype(frame["from"])
    assert tables.rows_from_frame(frame, closures) == rows
    added = {"from": pd.Timestamp("2017-01-27"), "to": "2017-02-02", "reason": " CNY "}
    frame = pd.concat([frame, pd.DataFrame([added])], ignore_index=True)
    frame.at[1, "stages"] = ["release", "apheresis"]
    back = tables.rows_from_frame(frame, closures)[1]
    assert back == {
        "from": dt.date(2017, 1, 27),
        "to": "2017-02-02",  # a date typed as text: validation reads it
        "stages": ["apheresis", "release"],
        "reason": "CNY",
    }
    changes = form.PARAMS_BY_PATH["manufacturing.suites_changes"]
    empty = tables.rows_frame(None, changes)
    assert list(empty.columns) == ["from_day", "units"] and empty.empty
    assert tables.rows_from_frame(empty, changes) is None
    empty.loc[0] = [365.0, 3.0]
    assert tables.rows_from_frame(empty, changes) == [{"from_day": 365.0, "units": 3}]
    assert tables.rows_from_frame(tables.rows_frame([], closures), closures) == []
    days = form.PARAMS_BY_PATH["infusion.days"]
    assert tables.picked(["Thu", "Mon"], days) == ["Mon", "Thu"]
    assert tables.picked([], days) is None  # every day


def test_form_values_build_the_scenario(phase1) -> None:
    """The widgets' values (a weekday list, tables, a switched-off part) build the scenario
    as a file would."""
    by = form.PARAMS_BY_PATH
    closures = tables.rows_frame(
        [{"from": dt.date(2016, 8, 1), "to": dt.date(2016, 8, 3), "stages": ["infusion"]}],
        by["calendar.closures"],
    )
    raw = {
        "infusion.days": ["Tue", "Mon"],
        "calendar.closures": closures,
        "calendar.holidays.subdivision": "",
        "manufacturing.suites_changes": tables.rows_frame(
            [{"from_day": 100.0, "units": 3}], by["manufacturing.suites_changes"]
        ),
    }
    values, _ = submit.form_values(raw)
    sc = submit.build_scenario(phase1, values)
    assert sc.infusion.days == ["Mon", "Tue"]
    assert sc.calendar.closures[0].stages == ["infusion"]
    assert sc.calendar.holidays.subdivision is None
    assert sc.capacity_schedule("manufacturing") == ((0.0, 2), (100.0, 3))
    off = submit.build_scenario(phase1, {"phase1": False, "phase1.cohort_size": 0})
    assert off.phase1 is None  # the values of a part switched off are not asked
    assert submit.build_scenario(phase1, {"infusion.days": None}).infusion.days is None


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            'phase1.dose_levels=[{"dose_per_kg": 5e6, "dlt_prob": 0.1}, '
            '{"dose_per_kg": 1e6, "dlt_prob": 0.2}]',
            "Dose finding (phase 1) › Dose levels: dose levels must increase, lowest first; "
            "level 2 (1e+06) is not above level 1 (5e+06)",
        ),
        (
            "phase1.dose_levels.1.dlt_prob=1.5",
            "Dose finding (phase 1) › Dose levels, row 2 (DLT probability) = 1.5: must be at "
            "most 1",
        ),
        (
            "phase1.cohorts=2",
            'Dose finding (phase 1) › Cohorts: cohorts is for escalation rule "fixed" only; '
            'under "3+3" the DLTs decide the cohorts',
        ),
        (
            "apheresis.days=[Mon, Sat]",
            "Apheresis › Collect on weekdays only: collect on weekdays only is true but "
            "collection days include Sat; give one or the other",
        ),
        (
            'calendar.closures=[{"from": 2016-08-10, "to": 2016-08-01}]',
            "Working calendar › Closures, row 1: a closure must not end (2016-08-01) before "
            "it starts (2016-08-10)",
        ),
        (
            'manufacturing.suites_changes=[{"from_day": 200, "units": 1}, '
            '{"from_day": 100, "units": 2}]',
            "Manufacturing › Suite changes: day must rise from one change to the next",
        ),
        (
            "calendar.holidays.country=XX",
            "Working calendar › Country = XX: unknown country 'XX' for public holidays",
        ),
    ],
    ids=["levels-not-increasing", "dlt-1.5", "cohorts-under-3+3", "weekend-collection",
         "closure-backwards", "changes-not-rising", "country"],
)  # fmt: skip
def test_bad_values_in_plain_words(phase1, override: str, expected: str) -> None:
    """Each says its stage and the input's label, never the schema's names of the part."""
    with pytest.raises(InputError) as err:
        with_overrides(phase1, [override], source="settings")
    path, text = edits.plain_message(err.value)
    assert text.startswith(expected), text
    assert path in form.PARAMS_BY_PATH
    assert "weekdays_only" not in text and "suites_changes" not in text


def test_edits_name_weekdays_and_tables(phase1) -> None:
    by = form.PARAMS_BY_PATH
    assert edits.value_words(by["infusion.days"], ["Mon", "Tue", "Wed", "Thu", "Fri"]) == "Mon-Fri"
    assert edits.value_words(by["infusion.days"], ["Mon", "Wed"]) == "Mon, Wed"
    assert edits.value_words(by["phase1.dose_levels"], []) == "edited"
    more = with_overrides(phase1, ["phase1.dlt_window_days=21", "infusion.days=[Mon, Tue, Wed]"])
    assert edits.edit_words(edits.changes(phase1.to_dict(), more.to_dict())) == (
        "infusion days Mon-Wed, dlt window 21"
    )


def test_the_address_keeps_the_new_edits(phase1) -> None:
    """Edits of weekdays, closures (dates), capacity changes and phase 1 switched on travel
    in the page's address and come back as the same scenario, named after them."""
    base = load_scenario(str(SCENARIOS / session.DEFAULT_FILE))
    edited = with_overrides(
        base,
        [
            'calendar.closures=[{"from": 2016-08-01, "to": 2016-08-14, "stages": [release]}]',
            "infusion.days=[Mon, Tue]",
            'manufacturing.suites_changes=[{"from_day": 365, "units": 3}]',
        ],
    ).model_copy(update={"phase1": phase1.phase1})
    edited = edits.named(base, edited)
    back = edits.from_overrides(base, edits.as_overrides(base, edited, own_name=False))
    assert back.digest() == edited.digest()
    assert back.name.endswith(
        "(edited: suite changes edited, infusion days Mon, Tue, closures edited, phase1 on)"
    )


def test_phase1_figures_in_words() -> None:
    """The summary's phase 1 block as tiles and the recommended levels' shares."""
    ph = {
        "patients_mean": 10.4,
        "cohorts_mean": 3.5,
        "dlts_mean": 1.2,
        "prob_stopped_for_toxicity": 0.02,
        "prob_stopped_for_toxicity_ci95": [0.01, 0.06],
        "recommended_level": {"none": 0.02, "1": 0.1, "2": 0.24, "3": 0.63, "unfinished": 0.01},
        "dose_levels_per_kg": [1e6, 5e6, 1e7],
        "days_first_infusion_to_end": {"p10": 203.0, "p50": 360.8, "p90": None},
        "finished_fraction": 0.99,
    }
    items, levels = views.phase1_figures(ph)
    assert [i[:2] for i in items] == [
        ("Patients in phase 1", "10.4"),
        ("DLTs in phase 1", "1.2"),
        ("Stopped for toxicity", "2%"),
        ("Phase 1 length (median)", "361 days"),
    ]
    assert items[0][2] == "infused in 3.5 cohorts (mean per trial)"
    assert items[2][2].startswith("95% interval 1% to 6%")
    assert "203 days to beyond the horizon; unfinished in 1% of trials" in items[3][2]
    assert list(levels["trials"]) == ["10%", "24%", "63%", "2%", "1%"]
    assert list(levels["dose (cells/kg)"])[:3] == ["1.0e+06", "5.0e+06", "1.0e+07"]
    assert set(views.PHASE1_HELP) == {label for label, _, _ in items}


def test_fallback_takes_phase1_from_its_file() -> None:
    """A part the baseline leaves out (phase 1) starts from the shipped phase 1 scenario."""
    fallback = session.fallback_values()
    baseline = load_scenario(str(SCENARIOS / session.DEFAULT_FILE)).to_dict()
    assert fallback["apheresis"] == baseline["apheresis"]
    assert fallback["phase1"] == load_scenario(str(SCENARIOS / PHASE1_FILE)).to_dict()["phase1"]


# --- the app (AppTest) -------------------------------------------------------------------------


@pytest.fixture
def at(tmp_path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv(store.ENV_VAR, str(tmp_path / "runs.sqlite"))
    app = AppTest.from_file(APP, default_timeout=180)
    app.query_params["reps"] = str(REPS)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _key(at: AppTest, path: str) -> str:
    return f"g{at.session_state['gen']}:{path}"


def _edit_table(at: AppTest, path: str, added: list[dict[str, Any]] | None = None,
                edited: dict[int, dict[str, Any]] | None = None) -> None:  # fmt: skip
    at.session_state[_key(at, path)] = {
        "edited_rows": edited or {},
        "added_rows": added or [],
        "deleted_rows": [],
    }


def _run(at: AppTest) -> None:
    at.number_input(key="reps").set_value(REPS)
    at.run()
    at.button(key="run_button").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def _open(at: AppTest, tab: str) -> Any:
    at.session_state["tab"] = tab
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return next(t for t in at.tabs if t.label == tab)


def _specs(view: Any) -> list[dict[str, Any]]:
    return [json.loads(c.proto.spec) for c in view.get("vega_lite_chart")]


def test_phase1_edited_in_the_form_runs_and_shows(at: AppTest) -> None:
    """Load the phase 1 scenario, edit its DLT window, the infusion days, a closure and a
    suite opening: the run uses exactly these; the Forecast shows the phase 1 block, the
    Patients timeline the cohort waits and DLT windows, the funnel no phase 1 loss hidden."""
    at.selectbox(key="source_file").set_value(PHASE1_FILE).run()
    assert not at.exception and not at.error
    at.number_input(key=_key(at, "phase1.dlt_window_days")).set_value(21.0)
    at.multiselect(key=_key(at, "infusion.days")).select("Fri")
    _edit_table(
        at,
        "calendar.closures",
        added=[{"from": "2016-08-01", "to": "2016-08-14", "stages": ["manufacturing"],
                "reason": "cleanroom maintenance"}],
    )  # fmt: skip
    _edit_table(at, "manufacturing.suites_changes", added=[{"from_day": 365, "units": 3}])
    _run(at)
    sc = at.session_state["run"].scenario
    assert sc.phase1.dlt_window_days == 21.0
    assert sc.infusion.days == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    closure = sc.calendar.closures[0]
    assert (closure.from_, closure.to, closure.stages) == (
        dt.date(2016, 8, 1),
        dt.date(2016, 8, 14),
        ["manufacturing"],
    )
    assert sc.capacity_schedule("manufacturing") == ((0.0, 2), (365.0, 3))
    assert sc.name.endswith(
        "(edited: suite changes edited, infusion days Mon-Fri, closures edited, dlt window 21)"
    )
    summary = at.session_state["run"].summary
    assert summary["phase1"]["patients_mean"] > 0

    forecast = _open(at, "Forecast")
    text = " ".join(m.value for m in forecast.markdown)
    assert "Dose finding (phase 1)" in text
    assert text.count('class="tile"') == 8  # the forecast's four, phase 1's four
    for label in views.PHASE1_HELP:
        assert label in text
    levels = forecast.table[0].value
    assert list(levels.index)[-2:] == ["none (stopped for toxicity)", "phase 1 unfinished"]

    patients = _open(at, "Patients")
    gantt = _specs(patients)[0]
    stages = next(e["color"]["scale"]["domain"] for e in _encodings(gantt) if "color" in e)
    assert {
        "waiting for a cohort slot",
        "waiting for its turn",
        "DLT observation (phase 1)",
    } <= set(stages)
    shapes = next(e["shape"]["scale"]["domain"] for e in _encodings(gantt) if "shape" in e)
    assert {"no slot", "stopped"} <= set(shapes)
    data = _datasets(patients.get("vega_lite_chart")[0])
    drawn = set(pd.concat([d["stage"] for d in data if "stage" in d]))
    assert "waiting for its turn" in drawn  # cohorts of three pace the infusions
    windows = pd.concat([d for d in data if "result" in d])
    assert len(windows) and set(windows["result"]) <= {"DLT", "no DLT"}
    assert (windows["end"] > windows["start"]).all()
    assert not at.error


def _datasets(element: Any) -> list[pd.DataFrame]:
    """The tables a chart element sent to the browser (Streamlit moves them out of the
    spec, as Arrow)."""
    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    return [convert_arrow_bytes_to_pandas_df(d.data.data) for d in element.proto.datasets]


def _encodings(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [layer.get("encoding", {}) for layer in spec.get("layer", [])]


def test_phase1_switched_on_from_the_baseline(at: AppTest, phase1) -> None:
    """Switch phase 1 on in the baseline: its inputs appear, starting from the shipped phase
    1 scenario's values, and the run has that phase 1; switched off, its inputs go."""
    box = at.checkbox(key=_key(at, "phase1"))
    assert not box.value
    assert not [n for n in at.number_input if n.key and n.key.endswith("phase1.cohort_size")]
    box.check().run()
    assert at.number_input(key=_key(at, "phase1.cohort_size")).value == 3
    _run(at)
    assert at.session_state["run"].scenario.phase1 == phase1.phase1
    assert at.session_state["run"].scenario.name.endswith("(edited: phase1 on)")


def test_dose_levels_not_increasing_disable_run(at: AppTest) -> None:
    """Level 2 below level 1: the message names the field and says why; Run is disabled and
    the results shown stay; fixed, Run is back."""
    at.selectbox(key="source_file").set_value(PHASE1_FILE).run()
    good = at.session_state["run"]
    _edit_table(at, "phase1.dose_levels", edited={1: {"dose_per_kg": 5.0e5}})
    at.run()
    assert not at.exception
    errors = [e.value for e in at.sidebar.error]
    assert any(
        e.startswith("Dose finding (phase 1) › Dose levels: dose levels must increase")
        for e in errors
    ), errors
    assert any("Run is off until fixed" in e for e in errors)
    assert at.button(key="run_button").disabled
    assert at.session_state["run"] is good
    _edit_table(at, "phase1.dose_levels", edited={1: {"dose_per_kg": 5.0e6}})
    at.run()
    assert not at.button(key="run_button").disabled and not at.sidebar.error


def test_weekend_collection_with_weekdays_only_disables_run(at: AppTest) -> None:
    """Two inputs that do not go together: the message sits at the first one named."""
    at.multiselect(key=_key(at, "apheresis.days")).select("Sat")
    at.run()
    errors = [e.value for e in at.sidebar.error]
    assert any(e.startswith("Apheresis › Collect on weekdays only:") for e in errors), errors
    assert at.button(key="run_button").disabled


def test_sensitivity_view_varies_phase1(at: AppTest) -> None:
    """The Sensitivity view on the phase 1 scenario: its default ranges include phase 1's
    numbers, and the tornado's table lists them."""
    at.selectbox(key="source_file").set_value(PHASE1_FILE).run()
    _open(at, "Sensitivity")
    at.number_input(key="sens_reps").set_value(2)
    next(b for b in at.button if b.label == "Run sensitivity").click().run()
    assert not at.exception, [e.value for e in at.exception]
    view = next(t for t in at.tabs if t.label == "Sensitivity")
    assert not view.error
    keys = {p["key"] for p in at.session_state["sensitivity_result"]["out"]["parameters"]}
    assert {"phase1.dlt_window_days", "phase1.cohort_size"} <= keys
