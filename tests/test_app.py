"""The dashboard: its form logic (sim.app.form, submit, sources, tables, views) and the app
itself through Streamlit's AppTest (no browser; the real-browser test is
tests/test_browser.py).

The app runs few replications here to keep the suite fast; every view is checked after a
run, and after opening a saved run.
"""

from __future__ import annotations

import datetime as dt
import typing
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SCENARIOS, make_scenario
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.errors import AppTestError

from sim.app import form, submit, tables, views
from sim.app import sources as app_sources
from sim.app.planning import observed, sensitivity, sizing
from sim.core.distributions import DIST_CLASSES, DIST_NAMES
from sim.core.errors import InputError
from sim.core.scenario import Scenario, load_scenario, parse_scenario
from sim.io import store
from sim.run.runner import run_replications

REPS = 24
APP = str(ROOT / "app.py")
RUN = "Run simulation"
TABS = ["Forecast", "Patient flow", "Capacity", "Patients", "Compare", "Saved runs"]
PLANNING_TABS = ["Sizing", "Sensitivity", "Observed data", "What must change", "Facility"]
PLANNING_REPS = 4


# --- the form's logic ------------------------------------------------------------------------


def _leaf_paths(model: Any, prefix: str = "") -> set[str]:
    """Dotted paths of every value of a scenario model (a distribution, a list of sites or a
    mapping of criteria counts as one value; an optional part as its own value too)."""
    out = set()
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"
        sub = _submodel(field.annotation)
        if sub is None:
            out.add(path)
            continue
        if type(None) in typing.get_args(field.annotation):
            out.add(path)  # an optional block has its own switch (deterioration, bridging)
        out |= _leaf_paths(sub, path + ".")
    return out


def _submodel(annotation: Any) -> Any:
    """The scenario block inside an annotation (not a distribution, which is a value)."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return None if annotation in DIST_CLASSES.values() else annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(args) == 1:
        return _submodel(args[0])
    return None


def test_every_scenario_value_has_an_input() -> None:
    """The form covers every value of a scenario (so every parameter is editable)."""
    covered = set(form.PARAMS_BY_PATH)
    for p in form.PARAMS:
        if p.kind == "sites":
            covered |= {f"referral.sites.{c}" for c in tables.SITE_COLUMNS}
        covered |= {c.path for c in p.columns}  # a table's columns: closures, dose levels
    # fields kept out of the form (ui(in_form=False)) are kept as loaded
    missing = sorted(
        p for p in _leaf_paths(Scenario) - covered if not p.startswith(form.NOT_IN_FORM)
    )
    assert not missing, f"scenario values without an input: {missing}"
    assert {p.stage for p in form.PARAMS} == set(form.STAGES)


def test_every_input_of_the_baseline_cites_a_source() -> None:
    """The help of each input names the source written beside the default in the file."""
    text = (SCENARIOS / "baseline.yaml").read_text()
    sources = app_sources.read_sources(text)
    data = load_scenario(str(SCENARIOS / "baseline.yaml")).to_dict()
    for p in form.PARAMS:
        if (
            p.kind in ("sites", "criteria", "labels", "block", "text")
            or form.get_path(data, p.path) is None
        ):
            continue
        help_text = app_sources.help_text(p, form.get_path(data, p.path), sources, "baseline.yaml")
        if p.path in sources.present:
            assert "source: " in help_text, p.path
            assert "Default in baseline.yaml" in help_text
        else:  # a value the file leaves to the model
            assert "Not set in baseline.yaml: the model's default" in help_text
    assert "figures.md 1c" in sources.of("apheresis.failure_prob")
    assert sources.of("referral.sites.0.rate_per_month").startswith("assumption")
    assert "14.2%" in sources.notes["screening.criteria"]
    assert app_sources.read_sources("a: [unclosed") == app_sources.Sources()
    assert "manufacturing.recollect_on_failure" not in sources.present


def test_sources_of_flow_values_blocks_and_list_items() -> None:
    text = (
        "# header\n"
        "name: x   # the name\n"
        "block:    # the block\n"
        "  # a note\n"
        "  dist: {dist: gamma, mean: 1, sd: 2}   # the spec\n"
        "  text: >-\n"
        "    folded # not a comment\n"
        "items:\n"
        "  - a: 1  # first\n"
        "  - a: 2  # second\n"
    )
    src = app_sources.read_sources(text)
    assert src.inline == {
        "name": "the name",
        "block": "the block",
        "block.dist": "the spec",
        "items.0.a": "first",
        "items.1.a": "second",
    }
    assert src.notes == {"block.dist": "a note"}
    assert "block.text" in src.present and "items.1.a" in src.present


@pytest.mark.parametrize("kind", DIST_NAMES)
def test_converting_a_distribution_keeps_its_mean(kind: str) -> None:
    """Picking another kind keeps the mean (and, where it can, the spread); a duration never
    gets a negative lower bound."""
    spec = {"dist": "gamma", "mean": 14.0, "sd": 5.0}
    out = DIST_CLASSES["gamma"].model_validate(spec).convert(kind)
    assert out["dist"] == kind
    converted = DIST_CLASSES[kind].model_validate(out)
    mean, sd = converted.mean, converted.std
    assert mean == pytest.approx(14.0, rel=1e-3)
    if kind in ("lognormal", "gamma", "uniform", "triangular"):
        assert sd == pytest.approx(5.0, rel=1e-3)
    wide = DIST_CLASSES["exponential"].model_validate({"dist": "exponential", "mean": 5.0})
    wide = wide.convert(kind)
    if kind in ("uniform", "triangular"):
        assert wide["low"] == 0.0
    parse_scenario(  # the converted spec is valid where a duration is
        (SCENARIOS / "baseline.yaml").read_text(), overrides=[f"screening.duration_days={out}"]
    )


def test_build_scenario_validates_like_the_command_line(base_scenario) -> None:
    """Unchanged values give the same scenario; a changed one, a new one; a bad one, the
    command line's one-line message naming the field; a switched-off part, null."""
    same = submit.build_scenario(base_scenario, {"apheresis.slots": 1})
    assert same.digest() == base_scenario.digest()
    more = submit.build_scenario(base_scenario, {"apheresis.slots": 3, "infusion.beds": 4})
    assert (more.apheresis.slots, more.infusion.beds) == (3, 4)
    with pytest.raises(InputError) as err:
        submit.build_scenario(
            base_scenario,
            {
                "manufacturing.duration_days": {
                    "dist": "triangular",
                    "low": 20,
                    "mode": 9,
                    "high": 12,
                }
            },
        )
    assert err.value.field == "manufacturing.duration_days"
    assert "low <= mode <= high" in err.value.message
    assert form.param_for_field(err.value.field).stage == "Manufacturing"
    assert form.param_for_field("referral.sites[0].rate_per_month").kind == "sites"
    off = submit.build_scenario(
        base_scenario, {"deterioration": False, "deterioration.time_to_event_days": 5.0}
    )
    assert off.deterioration is None
    no_bridging = submit.build_scenario(
        base_scenario, {"deterioration": True, "deterioration.bridging": False}
    )
    assert no_bridging.deterioration.bridging is None
    back = submit.build_scenario(
        off,
        {
            "deterioration": True,
            "deterioration.time_to_event_days": {"dist": "exponential", "mean": 300.0},
            "deterioration.bridging": False,
        },
    )
    assert back.deterioration.time_to_event_days.mean == 300.0
    assert submit.build_scenario(base_scenario, {"description": "  "}).description is None
    priced = submit.build_scenario(
        base_scenario, {"costs": True, "costs.currency": " ", "costs.batch": 1000.0}
    )
    assert priced.costs.currency is None and priced.costs.batch == 1000.0  # blank: no currency
    assert submit.build_scenario(priced, {"costs": False, "costs.batch": 5.0}).costs is None
    costs = [p for p in form.PARAMS if p.path.startswith("costs")]
    assert [p.stage for p in costs] == ["Costs"] * 11 and costs[0].kind == "block"
    assert all(p.low == 0 and p.kind == "number" for p in costs[2:])


def test_form_values_tables_and_distributions(base_scenario) -> None:
    sources = app_sources.Sources()
    sites = tables.sites_frame(base_scenario.to_dict()["referral"]["sites"], sources)
    new = {c: np.nan for c in sites.columns}
    sites.loc[len(sites)] = {**new, "name": "B", "rate_per_month": 2.0, "opens_day": 30.0}
    sites.loc[len(sites)] = {**new, "name": None}  # an empty new row
    crit = tables.criteria_frame({"cd19_negative": 0.05}, sources)
    raw = {
        "referral.sites": sites,
        "screening.criteria": crit,
        "screening.duration_days": submit.DistInput("uniform", "gamma", {"low": 5, "high": 15}),
        "infusion.stay_days": submit.DistInput("empirical", "empirical", {"values": "10, 20; 30"}),
    }
    values, changed = submit.form_values(raw)
    assert changed == ["screening.duration_days"]
    assert values["screening.duration_days"]["dist"] == "gamma"
    assert values["infusion.stay_days"] == {"dist": "empirical", "values": [10.0, 20.0, 30.0]}
    sc = submit.build_scenario(base_scenario, values)
    assert [s.name for s in sc.referral.sites] == ["A", "B"]
    assert sc.referral.sites[1].ramp_up_days == 0.0 and sc.referral.sites[1].rate_shape is None
    assert dict(sc.screening.criteria) == {"cd19_negative": 0.05}
    twice = pd.DataFrame({"criterion": ["a", "a"], "failure_prob": [0.1, 0.2]})
    with pytest.raises(InputError, match="each criterion may appear once"):
        tables.criteria_from_frame(twice)
    with pytest.raises(InputError, match="numbers separated by commas"):
        submit.parse_values("1, two", "infusion.stay_days")


@pytest.mark.parametrize("path", sorted(views.scenario_files(SCENARIOS)), ids=lambda p: p.name)
def test_downloaded_settings_load_back_the_same(path: Path) -> None:
    """The YAML offered for download loads back to the same scenario (same digest)."""
    sc = load_scenario(str(path))
    text = submit.settings_yaml(sc, path.name)
    assert text.startswith("#")
    assert parse_scenario(text).digest() == sc.digest()


def test_scenario_files_are_scenarios_only() -> None:
    names = [p.name for p in views.scenario_files(SCENARIOS)]
    assert names[0] == "baseline.yaml"
    assert "two_sites.yaml" in names
    assert all(not n.startswith("ranges") for n in names)


def test_headline_in_plain_words() -> None:
    summary = {
        "replications": 500,
        "target": {"count": 50, "milestone": "infused", "deadline": "2020-12-31"},
        "prob_target_by_deadline": 0.62,
        "prob_target_by_deadline_ci95": [0.58, 0.66],
        "target_date": {"p10": "2018-09-13", "p50": "2020-09-13", "p90": None},
        "primary_completion_date": {"p50": "2020-10-13"},
        "time_to_target_days": {"reached_fraction": 0.9},
    }
    h = views.headline(summary, dt.date(2025, 11, 28))
    assert h.chance == "62% chance of 50 infused by 31 Dec 2020 (95% interval 58% to 66%)"
    assert h.median == "Median date of reaching 50 infused: 13 Sep 2020"
    assert h.interval == ("80% interval: 13 Sep 2018 to after the end of the horizon (28 Nov 2025)")
    assert h.reached.startswith("90% of 500 simulated trials")
    summary["target"]["deadline"] = None
    assert views.headline(summary).chance.startswith("No deadline set")


def test_expected_referrals_add_up_to_the_intensity(base_scenario) -> None:
    table = views.expected_referrals(base_scenario)
    months = table["month"].max()
    rate = base_scenario.referral.sites[0].rate_per_month
    assert table["referrals"].sum() == pytest.approx(rate * months, rel=1e-9)


def test_comparison_pairs_replications_of_the_same_seed(base_scenario) -> None:
    """Same seed: paired intervals over the common replications, narrower than unpaired;
    different seeds: no paired interval."""
    more = make_scenario("infusion.beds=4")
    a = views.view_from_results(run_replications(base_scenario, 12, seed=5), "A")
    b = views.view_from_results(run_replications(more, 12, seed=5), "B")
    table = views.comparison_table(a, b).set_index("figure")
    row = table.loc["mean wait for a bed"]
    assert row["pairs"] == 12 and row["difference"] < 0
    # the means are over the same trials, so the difference subtracts; chances in percent
    assert (table["difference"] - (table["this run"] - table["reference"])).abs().max() < 1e-9
    chance = table.loc["chance of the target by the deadline"]
    assert chance["unit"] == "%" and 0 <= chance["reference"] <= 100
    lo, hi = (float(x) for x in row["paired 95% CI"].split(" to "))
    ulo, uhi = (float(x) for x in row["unpaired 95% CI"].split(" to "))
    assert hi - lo <= uhi - ulo
    c = views.view_from_results(run_replications(more, 12, seed=6), "C")
    other = views.comparison_table(a, c)
    assert (other["paired 95% CI"] == "n/a").all() and (other["pairs"] == 0).all()
    assert views.unique_labels(["x", "y", "x"]) == ["x", "y", "x (2)"]


# --- the app (AppTest) -----------------------------------------------------------------------


@pytest.fixture
def store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "runs.sqlite"
    monkeypatch.setenv(store.ENV_VAR, str(path))
    return path


@pytest.fixture
def at(store_path: Path) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    assert not app.exception
    return app


def _button(at: AppTest, label: str) -> Any:
    return next(b for b in at.button if b.label == label)


def _run(at: AppTest, reps: int = REPS) -> AppTest:
    at.number_input(key="reps").set_value(reps)
    at.run()
    at.button(key="run_button").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _open(at: AppTest, label: str) -> Any:
    """Open a tab (only the open tab is drawn) and return it."""
    at.session_state["tab"] = label
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return _tab(at, label)


def _charts(at: AppTest) -> list[Any]:
    return at.get("vega_lite_chart")


def _tab(at: AppTest, label: str) -> Any:
    return next(t for t in at.tabs if t.label == label)


def _input(at: AppTest, path: str) -> Any:
    return at.number_input(key=f"g{at.session_state['gen']}:{path}")


def test_opens_on_the_answer(at: AppTest) -> None:
    """A fresh load, with no interaction: the baseline's forecast (500 trials, seed 1) is on
    the first screen: the headline chance, the four tiles and two charts; every stage's
    inputs are there."""
    assert at.selectbox(key="source_file").value == "baseline.yaml"
    assert at.session_state["scenario"].name.startswith("Seed protocol baseline")
    assert [t.label for t in at.tabs] == TABS + PLANNING_TABS
    assert [e.label for e in at.sidebar.expander] == list(form.STAGES)
    run = at.session_state["run"]
    assert (run.replications, run.seed) == (500, 1)
    chance = f"{run.summary['prob_target_by_deadline']:.0%} chance of 50 infused by 31 Dec 2020"
    assert at.subheader[0].value.startswith(chance)
    assert len(_charts(at)) >= 2
    tiles = "".join(m.value for m in _tab(at, "Forecast").markdown)
    # four tiles of the forecast, then three of the baseline's costs (its costs block)
    assert tiles.count('class="tile"') == 4 + 3 and "Chance by the deadline" in tiles
    costs = run.summary["costs"]["per_infused_patient"]
    assert f"{costs['mean_of_trial_ratios']:,.0f}" in tiles and "Cost per infused patient" in tiles
    assert any(s.value == "Costs (CNY)" for s in _tab(at, "Forecast").subheader)
    assert _input(at, "apheresis.slots").value == 1
    assert "brief: one apheresis slot" in _input(at, "apheresis.slots").help
    assert at.number_input(key="reps").value == 500
    assert not at.error and not at.button(key="run_button").disabled


def test_a_second_visitor_gets_the_cached_answer(at: AppTest) -> None:
    """The default forecast is computed once for every visitor: a new session shows the
    same run (the very object) and says it came from the cache."""
    other = AppTest.from_file(APP, default_timeout=120)
    other.run()
    assert not other.exception
    assert other.session_state["run"] is at.session_state["run"]
    assert "from the cache" in other.caption[0].value


def test_the_address_holds_the_page_state(store_path: Path) -> None:
    """A shared link opens on its settings (edits, replications, seed, tab) and their
    result; a run writes its settings back into the address; a bad value in the address is
    left out, with a message, never a traceback."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["set"] = ["infusion.beds=1"]
    at.query_params["reps"] = str(REPS)
    at.query_params["seed"] = "3"
    at.query_params["tab"] = "Capacity"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    run = at.session_state["run"]
    assert (run.scenario.infusion.beds, run.replications, run.seed) == (1, REPS, 3)
    assert run.label.endswith("(edited: beds 1)")
    assert len(_tab(at, "Capacity").get("vega_lite_chart")) == 7
    _input(at, "manufacturing.suites").set_value(3)
    _run(at)
    assert sorted(at.query_params["set"]) == [
        "infusion.beds=1",
        "manufacturing.suites=3",
    ] or sorted(at.query_params.get_all("set")) == ["infusion.beds=1", "manufacturing.suites=3"]
    bad = AppTest.from_file(APP, default_timeout=120)
    bad.query_params["set"] = ["infusion.beds=0"]
    bad.query_params["reps"] = "lots"
    bad.run()
    assert not bad.exception
    notice = " ".join(i.value for i in bad.sidebar.info)
    assert "Infusion › Beds = 0" in notice and "reps = 'lots'" in notice
    assert bad.session_state["run"].scenario.infusion.beds == 2


def test_every_view_renders_after_a_run(at: AppTest) -> None:
    """After a run, every view draws without exception: 2 charts in Forecast, 2 in Patient
    flow, 7 in Capacity, 1 in Patients and the animation; the caption says how long the
    run took."""
    _run(at)
    assert "chance of 50 infused by 31 Dec 2020" in at.subheader[0].value
    counts = {t: len(_open(at, t).get("vega_lite_chart")) for t in TABS + PLANNING_TABS}
    assert counts == {
        "Forecast": 2,
        "Patient flow": 2,
        "Capacity": 7,
        "Patients": 2,
        "Compare": 0,
        "Saved runs": 0,
        "Sizing": 0,
        "Sensitivity": 0,
        "Observed data": 0,
        "What must change": 0,
        "Facility": 0,
    }
    assert len(_open(at, "Capacity").metric) == 4
    assert f"{REPS} simulated trials" in at.caption[0].value
    assert not at.error


def test_changing_a_parameter_changes_the_result(
    at: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One bed instead of two: longer waits for a bed. Back to two beds: the first result
    again, from the cache (the model does not run)."""
    import sim.run.runner

    calls = []
    real = sim.run.runner.run_replications

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(sim.run.runner, "run_replications", counting)
    at.session_state["seed"] = 7  # a setting no other test has cached
    _run(at)
    before = at.session_state["run"].summary
    _input(at, "infusion.beds").set_value(1)
    _run(at)
    after = at.session_state["run"].summary
    assert at.session_state["run"].scenario.infusion.beds == 1
    assert (
        after["resources"]["beds"]["mean_wait_days"] > before["resources"]["beds"]["mean_wait_days"]
    )
    assert after["scenario_digest"] != before["scenario_digest"]
    assert len(calls) == 2
    _input(at, "infusion.beds").set_value(2)  # back to the first setting: from the cache
    _run(at)
    assert at.session_state["run"].summary == before
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("infusion.beds", 0, "Infusion › Beds = 0: not allowed; it must be a whole number "
         "from 1 to 10,000 (count)"),
        ("manufacturing.suites", -1, "Manufacturing › Manufacturing suites = -1: not allowed"),
        ("manufacturing.failure_prob", 1.5, "Manufacturing › Batch failure = 1.5: not allowed; "
         "it must be a number from 0 to 1 (probability 0-1)"),
    ],
    ids=["beds-0", "suites-minus-1", "batch-failure-1.5"],
)  # fmt: skip
def test_a_value_out_of_range_disables_run(
    at: AppTest, path: str, value: float, expected: str
) -> None:
    """A typed value out of range is taken as typed (never silently the previous one): the
    field says why in plain words, Run is disabled, nothing runs, the results stay; fixed,
    Run is back and runs exactly the value shown."""
    good = at.session_state["run"]
    _input(at, path).set_value(value)
    at.run()
    assert at.button(key="run_button").disabled
    errors = [e.value for e in at.sidebar.error]
    assert any(expected in e for e in errors), errors
    assert any("Run is off until fixed" in e for e in errors)
    with pytest.raises(AppTestError, match="disabled"):
        at.button(key="run_button").click()  # a browser cannot press it either
    assert at.session_state["run"] is good
    assert at.session_state["scenario"].digest() == good.scenario.digest()
    _input(at, path).set_value(2 if path != "manufacturing.failure_prob" else 0.05)
    at.run()
    assert not at.button(key="run_button").disabled
    _run(at)
    shown = _input(at, path).value
    ran = at.session_state["run"].scenario.to_dict()
    assert form.get_path(ran, path) == shown


def test_invalid_distribution_is_a_plain_message_and_results_stay(at: AppTest) -> None:
    """low > high of a triangular: a message in plain words at its field (its name, value
    and rule, no internal text); Run disabled; the last good results stay."""
    good = at.session_state["run"]
    key = f"g{at.session_state['gen']}:manufacturing.duration_days:triangular:low"
    at.number_input(key=key).set_value(20.0)
    at.run()
    errors = [e.value for e in at.sidebar.error]
    expected = (
        "Manufacturing › Manufacturing duration = triangular (low 20, mode 9, high 12): "
        "needs low ≤ mode ≤ high (days)"
    )
    assert expected in errors, errors
    assert not any("{" in e or "dist" in e for e in errors)
    assert at.button(key="run_button").disabled
    assert at.session_state["run"] is good
    assert len(_tab(at, "Forecast").get("vega_lite_chart")) == 2


def test_edited_settings_are_named_after_their_edits(at: AppTest) -> None:
    """An edited scenario is named after its edits everywhere (the run, the header, the
    download); after the run, a line says what changed and how the answer moved."""
    before = at.session_state["run"]
    _input(at, "infusion.beds").set_value(1)
    _run(at)
    run = at.session_state["run"]
    assert run.scenario.name == f"{before.scenario.name} (edited: beds 1)"
    assert run.label == run.scenario.name
    assert "(edited: beds 1)" in at.caption[0].value
    changed = " ".join(i.value for i in at.info)
    assert "Changed: beds 2 → 1; replications 500 → 24." in changed
    assert "Chance by the deadline" in changed and "Median target date" in changed
    download = next(d for d in at.get("download_button") if "settings" in d.proto.label)
    assert download is not None
    text = submit.settings_yaml(at.session_state["scenario"], "baseline.yaml")
    assert parse_scenario(text).name.endswith("(edited: beds 1)")


def test_invalid_upload_shows_an_error_and_results_stay(at: AppTest) -> None:
    """A file that is not a valid scenario: a one-line error naming it; the settings and the
    results shown are those of before."""
    _run(at)
    good = at.session_state["run"]
    at.radio(key="source_kind").set_value("Upload").run()
    for name, data, expected in (
        ("bad.yaml", b"name: [unclosed", "not valid YAML"),
        (
            "typo.yaml",
            (SCENARIOS / "baseline.yaml")
            .read_bytes()
            .replace(b"  beds: 2", b"  bedz: 3\n  beds: 2"),
            "did you mean 'beds'",
        ),
        ("binary.yaml", b"\x00\x01", "binary file"),
    ):
        at.file_uploader(key="source_upload").set_value((name, data, "application/x-yaml"))
        at.run()
        assert not at.exception
        errors = [e.value for e in at.sidebar.error]
        assert any(name in e and expected in e for e in errors), errors
        assert at.session_state["run"].summary == good.summary
        assert at.session_state["scenario"].digest() == good.scenario.digest()
        assert len(_tab(at, "Forecast").get("vega_lite_chart")) == 2


def test_valid_upload_loads_and_runs(at: AppTest) -> None:
    at.radio(key="source_kind").set_value("Upload").run()
    data = (SCENARIOS / "two_sites.yaml").read_bytes()
    at.file_uploader(key="source_upload").set_value(("mine.yaml", data, "application/x-yaml"))
    at.run()
    assert not at.error
    assert at.session_state["scenario"].referral.sites[1].name == "Second referring centre"
    assert "uploaded mine.yaml" in _input(at, "apheresis.slots").help
    _run(at)
    assert len(at.session_state["run"].scenario.referral.sites) == 2


def test_changing_a_distribution_kind_converts_it(at: AppTest) -> None:
    """gamma -> triangular for screening: same mean, its own fields shown, a notice."""
    gen = at.session_state["gen"]
    at.selectbox(key=f"g{gen}:screening.duration_days:dist").set_value("triangular")
    _run(at)
    spec = at.session_state["scenario"].screening.duration_days
    assert spec.dist == "triangular" and spec.mean == pytest.approx(14.0, rel=1e-3)
    assert any("Converted the distribution" in i.value for i in at.sidebar.info)
    assert at.number_input(key=f"g{gen}:screening.duration_days:triangular:mode").value == 14.0


def test_optional_parts_switch_off(at: AppTest) -> None:
    """No deterioration: nobody is lost to it."""
    gen = at.session_state["gen"]
    at.checkbox(key=f"g{gen}:deterioration").uncheck()
    _run(at)
    assert at.session_state["run"].scenario.deterioration is None
    assert at.session_state["run"].summary["outcomes"]["deteriorated"] == 0


def test_the_costs_block_switches_off_and_prices_are_checked_as_typed(at: AppTest) -> None:
    """The baseline's costs are an optional block of the form (its own stage and checkbox,
    like deterioration): a negative price is named in its field and Run is off; switched
    off, the run has no costs."""
    gen = at.session_state["gen"]
    box = at.checkbox(key=f"g{gen}:costs")
    assert box.value and box.label == "Count costs"
    price = _input(at, "costs.batch")
    assert price.value == 204700 and "figures.md 1j" in price.help
    price.set_value(-1.0).run()
    assert at.button(key="run_button").disabled
    assert any("Costs › Per batch started = -1: not allowed" in e.value for e in at.sidebar.error)
    _input(at, "costs.batch").set_value(204700.0).run()
    at.checkbox(key=f"g{gen}:costs").uncheck()
    _run(at)
    assert at.session_state["run"].scenario.costs is None
    assert "costs" not in at.session_state["run"].summary


def test_a_site_added_in_the_table(at: AppTest) -> None:
    key = f"g{at.session_state['gen']}:referral.sites"
    at.session_state[key] = {
        "edited_rows": {},
        "added_rows": [{"name": "Second", "rate_per_month": 1.0, "opens_day": 365.0}],
        "deleted_rows": [],
    }
    _run(at)
    sites = at.session_state["run"].scenario.referral.sites
    assert [s.name for s in sites][1] == "Second" and sites[1].opens_day == 365.0


def test_patients_view_replication_is_selectable(at: AppTest) -> None:
    _open(at, "Patients")
    _run(at)
    at.number_input(key="gantt_rep").set_value(3).run()
    assert not at.exception
    assert "simulated trial 3" in _tab(at, "Patients").caption[0].value


def test_save_and_open_a_run_without_rerunning(at: AppTest, store_path: Path) -> None:
    """Save the current run under a name; open it again: its results come from the store
    (nothing is run) and every view draws."""
    _run(at)
    first = at.session_state["run"].summary
    _open(at, "Saved runs")
    at.text_input(key="save_name").input("baseline small")
    _button(at, "Save run").click().run()
    assert not at.exception and not at.error
    assert list(store.list_runs(store_path)["name"]) == ["baseline small"]
    at.radio(key="source_kind").set_value("Saved run").run()
    assert not at.exception
    opened = at.session_state["run"]
    assert opened.saved_as == "baseline small" and opened.results is None
    assert opened.summary["prob_target_by_deadline"] == first["prob_target_by_deadline"]
    counts = {t: len(_open(at, t).get("vega_lite_chart")) for t in TABS[:4]}
    assert counts == {"Forecast": 2, "Patient flow": 2, "Capacity": 7, "Patients": 2}
    assert "saved run 'baseline small'" in at.caption[0].value
    _open(at, "Saved runs")
    _button(at, "Save run").click().run()  # an opened run is saved already
    assert any("already saved" in i.value for i in _tab(at, "Saved runs").info)


def test_saved_run_source_with_no_runs(at: AppTest) -> None:
    at.radio(key="source_kind").set_value("Saved run").run()
    assert not at.exception
    assert any("No saved runs yet" in i.value for i in at.sidebar.info)


def test_compare_two_scenarios(at: AppTest) -> None:
    """Baseline against central manufacturing on common random numbers: a side-by-side
    table, a table of paired differences with intervals, overlaid fans."""
    _run(at)
    compare = _open(at, "Compare")
    assert compare.multiselect[0].value == [
        "File: baseline.yaml",
        "File: central_manufacturing.yaml",
    ]
    _button(at, "Compare").click().run()
    assert not at.exception
    compare = _tab(at, "Compare")
    assert len(compare.get("vega_lite_chart")) == 1
    tables = [d.value for d in compare.table]
    assert "difference (95% interval)" in tables[1].columns
    assert any(f"Over {REPS:,} pairs of trials" in c.value for c in compare.caption)
    assert any("central manufacturing" in c for c in tables[0].columns)
    assert tables[0].loc["chance by the deadline"].str.endswith("%").all()
    vein = tables[1].loc["mean vein-to-vein time per trial", "difference (95% interval)"]
    assert vein.startswith("+") and " days (" in vein
    ttt = next(i for i in tables[1].index if i.startswith("days to reach the target"))
    ref, this, diff = (
        float(tables[1].loc[ttt, c].split()[0].replace(",", ""))
        for c in ("reference", "this run", "difference (95% interval)")
    )
    assert diff == pytest.approx(this - ref, abs=0.11)  # it subtracts (one decimal each)
    # the comparator has no costs block: the side-by-side says so, and a note says why the
    # paired table has no cost rows
    assert tables[0].loc["cost per infused patient"].iloc[0].startswith("CNY ")
    assert tables[0].loc["cost per infused patient"].iloc[1] == "no costs block"
    assert not any(i.startswith("cost per") for i in tables[1].index)
    assert any("Costs not compared: no costs block in" in c.value for c in compare.caption)


def test_default_of_a_part_left_out(base_scenario) -> None:
    """A part the scenario leaves out starts from the fallback scenario, else a last resort;
    a missing deadline from five years after the start (even from a 29 February)."""
    data = base_scenario.to_dict()
    data["target"]["deadline"] = None
    data["start_date"] = dt.date(2016, 2, 29)
    assert form.default_value("target.deadline", data, None) == dt.date(2021, 2, 28)
    fallback = {"referral": {"rate_shape": 2.5}}
    assert form.default_value("referral.rate_shape", data, fallback) == 2.5
    assert form.default_value("referral.rate_shape", data, None) == 4.0
    assert form.default_value("apheresis.slots", data, fallback) == 1


@pytest.mark.parametrize("path", views.scenario_files(SCENARIOS), ids=lambda p: p.name)
def test_every_scenario_file_opens_in_the_form(at: AppTest, path: Path) -> None:
    """Each scenario of scenarios/ loads into the form without a message, and submitting
    it unchanged keeps the same scenario (the form reads back what it shows)."""
    at.selectbox(key="source_file").set_value(path.name).run()
    assert not at.exception and not at.error
    loaded = load_scenario(str(path))
    assert at.session_state["scenario"].digest() == loaded.digest()
    _run(at, reps=2)  # nothing edited: the form reads back exactly what it shows
    assert at.session_state["run"].scenario.digest() == loaded.digest()


# --- the planning views (AppTest) ------------------------------------------------------------


def test_no_tab_title_holds_another() -> None:
    """The browser test finds a tab by its title, and a title also matches a longer title
    holding it (case aside): no tab's title may hold another's."""
    titles = [t.lower() for t in TABS + PLANNING_TABS]
    for a in titles:
        assert not [b for b in titles if a != b and a in b], a


def test_planning_views_open_on_the_baseline(at: AppTest) -> None:
    """Each planning view shows its form and asks for its button; nothing is run."""
    buttons = (
        "Size capacity", "Run sensitivity", "Update the forecast", "Find what must change",
        "Run the facility",
    )  # fmt: skip
    for tab, button in zip(PLANNING_TABS, buttons, strict=True):
        view = _open(at, tab)
        assert any(button in i.value for i in view.info), tab
        assert not view.get("vega_lite_chart") and not view.error
        if tab == "Sizing":
            assert at.number_input(key="size_prob").value == 80
            assert at.multiselect(key="size_resources").value == list(sizing.DEFAULT_RESOURCES)
        elif tab == "Sensitivity":
            assert at.selectbox(key="sens_ranges:0").value == "ranges/baseline.yaml"
        elif tab == "Observed data":
            assert at.date_input(key="obs_as_of").value == observed.EXAMPLE_AS_OF


def test_sizing_view_answers_with_a_heat_map(at: AppTest) -> None:
    """Sizing the baseline: the answer (or that none reaches the chance) in words, one unit
    less of each resource, the effort, and the heat map; the same inputs again come from
    the cache."""
    _open(at, "Sizing")
    at.number_input(key="size_reps").set_value(PLANNING_REPS)
    _button(at, "Size capacity").click().run()
    assert not at.exception, [e.value for e in at.exception]
    view = _tab(at, "Sizing")
    texts = [m.value for m in view.markdown]
    assert any(t.startswith(("**Not reachable:**", "**")) and "31 Dec 2020" in t for t in texts)
    assert "**One unit less of each resource:**" in texts
    assert any(c.value.startswith("Simulated ") for c in view.caption)
    assert any(c.value.startswith("Over the heat map") for c in view.caption)
    assert len(view.get("vega_lite_chart")) == 1
    result = at.session_state["sizing_result"]["out"]["sizing"]
    assert result["replications"] == PLANNING_REPS
    assert result["resources"] == list(sizing.DEFAULT_RESOURCES)
    assert not view.error and not view.warning


def test_sizing_view_needs_a_resource(at: AppTest) -> None:
    _open(at, "Sizing")
    at.multiselect(key="size_resources").set_value([])
    _button(at, "Size capacity").click().run()
    assert not at.exception
    assert any("Pick at least one resource" in w.value for w in _tab(at, "Sizing").warning)


def test_sensitivity_view_draws_two_tornados(at: AppTest) -> None:
    """The baseline's ranges file, one at a time: the figures in words, a tornado for the
    median time to target and one for the chance by the deadline, the table of swings."""
    _open(at, "Sensitivity")
    at.number_input(key="sens_reps").set_value(PLANNING_REPS)
    _button(at, "Run sensitivity").click().run()
    assert not at.exception, [e.value for e in at.exception]
    view = _tab(at, "Sensitivity")
    words = view.markdown[-1].value
    assert "**Median time to the target:**" in words
    assert "**Chance of the target by the deadline:**" in words
    assert any("Ranges: ranges/baseline.yaml; 21 parameters" in c.value for c in view.caption)
    assert len(view.get("vega_lite_chart")) == 2
    assert len(view.dataframe[0].value) == 21
    assert not view.error


def test_sensitivity_view_shows_morris_indices_and_their_error(at: AppTest) -> None:
    """Morris over the baseline's ranges: a table of indices a figure, with the sampling
    error in words (and any warning as a warning box, never an error)."""
    _open(at, "Sensitivity")
    at.number_input(key="sens_reps").set_value(2)
    at.selectbox(key="sens_method").set_value("morris")
    at.selectbox(key="sens_samples").set_value(16)
    _button(at, "Run sensitivity").click().run()
    assert not at.exception, [e.value for e in at.exception]
    view = _tab(at, "Sensitivity")
    assert any("Morris screening. Ranges: ranges/baseline.yaml" in c.value for c in view.caption)
    assert len(view.dataframe) == 2 and len(view.dataframe[0].value) == 21
    assert any("Sampling error: mu* known to within" in m.value for m in view.markdown)
    assert not view.error


def test_facility_view_runs_the_three_trials_together(at: AppTest) -> None:
    """The shipped facility: the chance that every trial meets its deadline, a row and a
    bar a trial, the shared resources, the facility's costs."""
    view = _open(at, "Facility")
    at.number_input(key="facility_reps").set_value(PLANNING_REPS)
    _button(at, "Run the facility").click().run()
    assert not at.exception, [e.value for e in at.exception]
    view = _tab(at, "Facility")
    assert any("every trial reaches its target by its deadline" in m.value for m in view.markdown)
    trials, resources = view.dataframe[0].value, view.dataframe[1].value
    assert len(trials) == 3 and list(trials["opens (day)"]) == [0, 180, 365]
    assert set(resources["shared"]) == {"shared"}
    assert len(view.get("vega_lite_chart")) == 1
    # its costs: the shared suites once, each trial's own use, per run and per infused patient
    assert any(m.value.startswith("**Facility costs (CNY)**") for m in view.markdown)
    assert any("Cost per facility run" in m.value and "Cost per infused patient" in m.value
               for m in view.markdown)  # fmt: skip
    parts = list(view.table[0].value["what"])
    assert parts[0].startswith("shared units' availability (manufacturing 2,800 x")
    assert sum(p.endswith(": its own costs") for p in parts) == 3
    assert not view.error


def test_sensitivity_defaults_to_the_default_ranges_off_the_baseline(at: AppTest) -> None:
    """Another scenario loaded: the ranges start at ±25% of every number."""
    at.selectbox(key="source_file").set_value("two_sites.yaml").run()
    _open(at, "Sensitivity")
    gen = at.session_state["gen"]
    assert at.selectbox(key=f"sens_ranges:{gen}").value == sensitivity.DEFAULT_RANGES


def test_observed_view_updates_the_forecast(at: AppTest) -> None:
    """The shipped example as of 1 Jun 2017: the posterior in words, the prior and updated
    headlines side by side, the updated fan with the observed counts over it."""
    _open(at, "Observed data")
    at.number_input(key="obs_reps").set_value(PLANNING_REPS)
    _button(at, "Update the forecast").click().run()
    assert not at.exception, [e.value for e in at.exception]
    view = _tab(at, "Observed data")
    texts = [m.value for m in view.markdown]
    assert "**What observed_example.csv says** (prior → posterior)" in texts
    assert any("Observed to 1 Jun 2017: 45 referred, 37 enrolled, 32 infused" in t for t in texts)
    assert "**Prior forecast (the scenario alone)**" in texts
    assert "**Updated forecast (observed to 1 Jun 2017)**" in texts
    assert [m.label for m in view.metric] == [
        "Chance by the deadline",
        "Median date of the target",
    ] * 2
    assert len(view.get("vega_lite_chart")) == 2  # the updated fan, and the prior's
    assert not view.error


def _submit_log(at: AppTest, name: str, data: bytes, as_of: dt.date | None = None) -> Any:
    _open(at, "Observed data")
    at.radio(key="obs_source").set_value("Upload a log (CSV)")
    at.file_uploader(key="obs_upload").set_value((name, data, "text/csv"))
    if as_of is not None:
        at.date_input(key="obs_as_of").set_value(as_of)
    at.number_input(key="obs_reps").set_value(PLANNING_REPS)
    _button(at, "Update the forecast").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return _tab(at, "Observed data")


@pytest.mark.parametrize(
    ("name", "data", "as_of", "expected"),
    [
        (
            "sites.csv",
            b"patient_id,site,referred_date\nP1,Nowhere,2016-01-10\n",
            None,
            "sites.csv: patient 'P1' (data row 1) site = 'Nowhere': is not a site of the scenario",
        ),
        (
            "late.csv",
            b"patient_id,site,referred_date\n"
            b"P1,Soochow University First Affiliated Hospital,2018-01-10\n",
            None,
            "referred_date = '2018-01-10': is after the as-of date 2017-06-01",
        ),
        ("binary.csv", b"\x00\x01", None, "binary.csv: is a binary file, not a CSV table"),
        (
            "early.csv",
            b"patient_id,site,referred_date\n",
            dt.date(2010, 1, 1),
            "the as-of date = '2010-01-01': must not be before the scenario's start_date",
        ),
    ],
    ids=["unknown-site", "after-as-of", "binary", "as-of-before-start"],
)
def test_a_bad_observed_log_is_a_one_line_error(
    at: AppTest, name: str, data: bytes, as_of: dt.date | None, expected: str
) -> None:
    """A log that cannot be used: its one-line message inline, no exception, nothing run."""
    view = _submit_log(at, name, data, as_of)
    errors = [e.value for e in view.error]
    assert len(errors) == 1 and expected in errors[0], errors
    assert "\n" not in errors[0]
    assert "observed_result" not in at.session_state
    assert not view.get("vega_lite_chart")


def test_upload_chosen_but_no_file(at: AppTest) -> None:
    _open(at, "Observed data")
    at.radio(key="obs_source").set_value("Upload a log (CSV)")
    _button(at, "Update the forecast").click().run()
    assert not at.exception
    assert any("Choose a CSV file" in w.value for w in _tab(at, "Observed data").warning)


def test_saved_runs_in_plain_words_and_deleted(at: AppTest, store_path: Path) -> None:
    """A name already taken: a plain message offering the next free name (no file path, no
    command-line option); the list fits the page; a saved run can be deleted."""
    _open(at, "Saved runs")
    for _ in range(2):
        at.text_input(key="save_name").input("mine")
        _button(at, "Save run").click().run()
    errors = [e.value for e in _tab(at, "Saved runs").error]
    assert errors == [
        "Not saved: a run is already saved as 'mine'. Tick **Replace** to overwrite it, or "
        "save it as 'mine (2)'."
    ]
    assert str(store_path) not in errors[0] and "--" not in errors[0]
    listed = _tab(at, "Saved runs").table[0].value
    assert list(listed.index) == ["mine"] and len(listed.columns) == 3
    at.button(key="delete_run").click().run()
    assert not at.exception
    assert store.list_runs(store_path).empty
    assert any("Deleted the saved run 'mine'" in s.value for s in at.success)


def test_what_must_change_answers_each_lever(at: AppTest) -> None:
    """The baseline misses 80%: the least referral rate and the fewest sites that reach it,
    in words, with this view's chance beside the Forecast's (its trials and seed said)."""
    _open(at, "What must change")
    at.number_input(key="goal_reps").set_value(PLANNING_REPS)
    at.multiselect(key="goal_levers").set_value(["rate", "sites"])
    _button(at, "Find what must change").click().run()
    assert not at.exception, [e.value for e in at.exception]
    view = _tab(at, "What must change")
    text = " ".join(m.value for m in view.markdown)
    assert "Referral rate (all sites together)" in text and "Referring sites" in text
    note = " ".join(i.value for i in view.info)
    assert f"({PLANNING_REPS:,} simulated trials, seed 1)" in note
    assert "The Forecast tab:" in note and "fewer trials" in note


def test_planning_views_say_their_trials_beside_the_forecast(at: AppTest) -> None:
    """One headline: the sensitivity's base chance with its trials and seed, beside the
    Forecast's; with the Forecast's trials and seed, the very same chance."""
    _open(at, "Sensitivity")
    at.number_input(key="sens_reps").set_value(PLANNING_REPS)
    _button(at, "Run sensitivity").click().run()
    note = " ".join(i.value for i in _tab(at, "Sensitivity").info)
    assert "(4 simulated trials, seed 1)" in note and "The Forecast tab:" in note
    run = at.session_state["run"]
    assert f"({run.replications:,} trials, seed {run.seed})" in note


def test_a_run_beyond_the_work_budget_asks_first(at: AppTest) -> None:
    """Settings whose estimate is beyond the budget are not run: the page says how large the
    run is and offers to run it anyway; the run shown stays the one before."""
    from sim.core.scenario import with_overrides
    from sim.run.budget import estimate_work

    before = at.session_state["run"]
    big = with_overrides(at.session_state["scenario"], ["referral.sites.0.rate_per_month=8000"])
    assert estimate_work(big, 20_000).over_budget()
    at.number_input(key="reps").set_value(20_000)
    at.session_state["pending"] = big
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("This run is large" in w.value for w in at.warning)
    assert any(b.label == "Run it anyway" for b in at.button)
    assert at.session_state["run"] is before


def test_a_run_stops_when_its_session_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    """The progress callback of a run whose browser session has gone raises, and the run
    is not tried again in this process."""
    from sim.app import cache

    bar = cache.ProgressBar(None, 100)
    bar.session = "gone"
    monkeypatch.setattr(cache, "_session_alive", lambda sid: sid != "gone")
    with pytest.raises(cache.SessionEnded):
        bar(100)
    tries = []

    def go(executor: str) -> None:
        tries.append(executor)
        bar(100)

    with pytest.raises(cache.SessionEnded):
        cache._pooled(go, bar)
    assert tries == ["process"]


def test_a_run_another_session_saved_is_never_replaced(at: AppTest, store_path: Path) -> None:
    """A name taken by a run this session did not save: even with Replace ticked the saved
    run is kept, and the next free name is offered and saves a new version."""
    from sim.core.scenario import load_scenario

    theirs = run_replications(load_scenario(str(ROOT / "scenarios" / "baseline.yaml")), 3, seed=9)
    store.save_results("shared name", theirs, theirs.summary(), path=store_path)
    _open(at, "Saved runs")
    at.text_input(key="save_name").input("shared name")
    at.checkbox(key="save_replace").check()
    _button(at, "Save run").click().run()
    (error,) = [e.value for e in _tab(at, "Saved runs").error]
    assert "another session saved is already named 'shared name', and it is kept" in error
    kept = store.list_runs(store_path)
    assert list(kept["name"]) == ["shared name"] and int(kept["seed"].iloc[0]) == 9
    _button(at, "Save as 'shared name (2)'").click().run()
    assert not at.exception, [e.value for e in at.exception]
    names = sorted(store.list_runs(store_path)["name"])
    assert names == ["shared name", "shared name (2)"]
    assert any("Saved as 'shared name (2)'" in s.value for s in at.success)
