"""Scenario files (DESIGN.md section 4): loading, round trips, refusals, overrides, distributions.

Every refusal must be an ``InputError`` whose one-line message names the source (the file or
``--set``), the field path and, where there is one, the offending value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from conftest import REFERENCE_WORKLOAD as REFERENCE
from conftest import SHARED_WORKLOAD
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from sim.core.distributions import AnyDist, Duration
from sim.core.errors import InputError
from sim.core.scenario import (
    Scenario,
    load_scenario,
    parse_override,
    parse_scenario,
    with_overrides,
)
from sim.core.yamlio import MAX_BYTES

REF_TEXT = REFERENCE.read_text(encoding="utf-8")

_FAST = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _edit(old: str, new: str, text: str = REF_TEXT) -> str:
    """The reference text with ``old`` (which must occur exactly once) replaced by ``new``."""
    assert text.count(old) == 1, f"the reference workload no longer holds {old!r} exactly once"
    return text.replace(old, new)


def _refusal(content: str | bytes, tmp_path: Path) -> InputError:
    """The InputError raised when ``content`` is loaded from a file in ``tmp_path``."""
    path = tmp_path / "scenario.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_scenario(str(path))
    return info.value


def _assert_one_line(err: InputError, source: str) -> None:
    """The message is one line that starts with ``source``."""
    msg = err.message
    assert "\n" not in msg and "\r" not in msg, msg
    assert msg.startswith(f"{source}: "), msg


@pytest.fixture(scope="module")
def reference() -> Scenario:
    return load_scenario(str(REFERENCE))


# --- the reference workload ---------------------------------------------------------------


def test_reference_workload_loads_unchanged(reference: Scenario) -> None:
    """The shipped reference workload loads, with the values written in the file."""
    sc = reference
    assert sc.name == "Reference workload"
    assert sc.start_date.isoformat() == "2016-01-04"
    assert sc.horizon_days == 3650
    assert (sc.target.count, sc.target.milestone, sc.target.deadline) == (50, "infused", None)
    assert [(s.name, s.rate_per_month) for s in sc.referral.sites] == [("Reference site", 2.0)]
    assert sc.referral.rate_shape is None
    assert sc.screening.criteria == {"any_criterion": 0.30}
    assert (sc.screening.duration_days.low, sc.screening.duration_days.high) == (7, 14)
    assert sc.patients.weight_kg.mean == 60
    assert (sc.apheresis.slots, sc.apheresis.max_attempts) == (1, 1)
    assert (sc.manufacturing.suites, sc.manufacturing.failure_prob) == (2, 0.10)
    assert sc.manufacturing.duration_days.dist == "lognormal"
    assert sc.manufacturing.yield_cells is None
    assert sc.deterioration is not None
    assert sc.deterioration.time_to_event_days.mean == 120
    assert sc.infusion.beds == 4


def test_sci_notation_loads_as_numbers(reference: Scenario) -> None:
    """``5.0e6`` and ``1.0e7`` (text to YAML 1.1) are read as floats, not strings."""
    assert reference.dose.min_per_kg == 5.0e6
    assert reference.dose.max_per_kg == 1.0e7
    assert isinstance(reference.dose.min_per_kg, float)


def test_short_sci_notation_loads_as_number(tmp_path: Path) -> None:
    """``1e7`` and ``2E+7`` with no decimal point load as numbers too."""
    text = _edit("dose: {min_per_kg: 5.0e6, max_per_kg: 1.0e7}",
                 "dose: {min_per_kg: 1e7, max_per_kg: 2E+7}")
    path = tmp_path / "sci.yaml"
    path.write_text(text, encoding="utf-8")
    sc = load_scenario(str(path))
    assert (sc.dose.min_per_kg, sc.dose.max_per_kg) == (1e7, 2e7)


def test_to_yaml_round_trips(reference: Scenario) -> None:
    """to_yaml() text parses back to an equal scenario with an equal digest."""
    again = parse_scenario(reference.to_yaml(), source="round-trip")
    assert again == reference
    assert again.digest() == reference.digest()
    assert again.to_yaml() == reference.to_yaml()


def test_to_yaml_round_trips_with_every_optional_part(reference: Scenario) -> None:
    """A scenario with all optional parts and every distribution kind round-trips exactly."""
    full = with_overrides(
        reference,
        [
            "description=Every optional part set",
            "target.deadline=2020-12-31",
            "referral.rate_shape=4",
            "manufacturing.yield_cells={dist: gamma, mean: 1.5e9, sd: 6.0e8}",
            "manufacturing.recollect_on_failure=true",
            "screening.duration_days={dist: triangular, low: 5, mode: 9, high: 20}",
            "apheresis.duration_days={dist: empirical, values: [1, 1, 2]}",
            "infusion.stay_days={dist: exponential, mean: 14}",
            "infusion.icu_days=0.5",
            "patients.height_cm={dist: lognormal, mean: 165, sd: 8}",
        ],
    )
    again = parse_scenario(full.to_yaml(), source="round-trip")
    assert again == full
    assert again.digest() == full.digest()
    assert again.digest() != reference.digest()


def test_to_yaml_round_trips_a_name_that_looks_like_a_number(reference: Scenario) -> None:
    """A text value spelled like a number in scientific notation survives the round trip."""
    odd = with_overrides(reference, ["name='1e7'"])
    assert odd.name == "1e7"
    assert parse_scenario(odd.to_yaml(), source="round-trip") == odd


def test_digest_depends_on_content(reference: Scenario) -> None:
    """Equal scenarios share a digest; a changed value changes it."""
    same = load_scenario(str(REFERENCE))
    assert same.digest() == reference.digest()
    assert with_overrides(reference, ["infusion.beds=5"]).digest() != reference.digest()


def test_scenario_is_immutable(reference: Scenario) -> None:
    """Fields of a loaded scenario cannot be assigned."""
    with pytest.raises(Exception, match="frozen"):
        reference.apheresis.slots = 3  # type: ignore[misc]


# --- bad input: one named test per class of mistake --------------------------------------------

_SITE = "    - {name: Reference site, rate_per_month: 2.0, opens_day: 0, ramp_up_days: 0}\n"
_BOMB = "".join(
    f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10 if prev else ['"lol"'] * 10) + "]\n"
    for prev, name in zip([None, "a", "b", "c", "d", "e", "f"], "abcdefg", strict=True)
)
_DUP_LINE = REF_TEXT.count("\n") + 1

BAD_FILES = [
    # (content, the parts the message must hold besides the file path)
    pytest.param(REF_TEXT + "horizon_dayz: 10\n",
                 ["horizon_dayz", "unknown key", "did you mean 'horizon_days'"],
                 id="unknown-key-top-level"),
    pytest.param(_edit("  suites: 2\n", "  suites: 2\n  suits: 3\n"),
                 ["manufacturing.suits", "unknown key", "did you mean 'suites'"],
                 id="unknown-key-nested"),
    pytest.param(_edit("ramp_up_days: 0}", "ramp_up_days: 0, rampup: 30}"),
                 ["referral.sites[0].rampup", "did you mean 'ramp_up_days'"],
                 id="unknown-key-in-list-item"),
    pytest.param(REF_TEXT + "name: Again\n",
                 ["duplicate key 'name'", f"line {_DUP_LINE}"], id="duplicate-key-top-level"),
    pytest.param(_edit("  beds: 4\n", "  beds: 4\n  beds: 5\n"),
                 ["duplicate key 'beds'"], id="duplicate-key-nested"),
    pytest.param(_edit("horizon_days: 3650", "horizon_days: true"),
                 ["horizon_days = True"], id="boolean-for-number"),
    pytest.param(_edit("stay_days: 14", "stay_days: yes"),
                 ["infusion.stay_days = True", "boolean"], id="boolean-for-duration"),
    pytest.param(_edit("slots: 1", "slots: false"),
                 ["apheresis.slots = False"], id="boolean-for-count"),
    pytest.param(_edit("horizon_days: 3650", "horizon_days: ten years"),
                 ["horizon_days = 'ten years'"], id="string-for-number"),
    pytest.param(_edit("stay_days: 14", "stay_days: two weeks"),
                 ["infusion.stay_days = 'two weeks'"], id="string-for-duration"),
    pytest.param(_edit("slots: 1", "slots: '1'"),
                 ["apheresis.slots = '1'"], id="quoted-number-for-count"),
    pytest.param(_edit("slots: 1", "slots: 1.5"),
                 ["apheresis.slots = 1.5"], id="fraction-for-count"),
    pytest.param(_edit("horizon_days: 3650", "horizon_days: .nan"),
                 ["horizon_days = nan", "finite"], id="nan-number"),
    pytest.param(_edit("stay_days: 14", "stay_days: .inf"),
                 ["infusion.stay_days", "inf", "finite"], id="infinite-duration"),
    pytest.param(_edit("icu_prob: 0.0", "icu_prob: -.inf"),
                 ["infusion.icu_prob = -inf", "finite"], id="infinite-probability"),
    pytest.param(_edit("mean: 120", "mean: .NaN"),
                 ["deterioration.time_to_event_days.mean = nan", "finite"],
                 id="nan-inside-distribution"),
    pytest.param(_edit("stay_days: 14", "stay_days: -1"),
                 ["infusion.stay_days = -1", "at least 0"], id="negative-fixed-duration"),
    pytest.param(_edit("{dist: uniform, low: 7, high: 14}", "{dist: uniform, low: -7, high: 14}"),
                 ["screening.duration_days = {", "'low': -7", "at least 0"],
                 id="negative-duration-in-distribution"),
    pytest.param(_edit("{dist: exponential, mean: 120}", "{dist: empirical, values: [3, -1]}"),
                 ["deterioration.time_to_event_days", "-1", "at least 0"],
                 id="negative-empirical-value"),
    pytest.param(_edit("sd: 3.2101", "sd: -3"),
                 ["manufacturing.duration_days.sd = -3"], id="negative-sd"),
    pytest.param(_edit("rate_per_month: 2.0", "rate_per_month: -2"),
                 ["referral.sites[0].rate_per_month = -2"], id="negative-rate"),
    pytest.param(_edit("failure_prob: 0.10", "failure_prob: 1.5"),
                 ["manufacturing.failure_prob = 1.5", "must be at most 1"],
                 id="probability-above-1"),
    pytest.param(_edit("icu_prob: 0.0", "icu_prob: -0.1"),
                 ["infusion.icu_prob = -0.1", "must be at least 0"],
                 id="probability-below-0"),
    pytest.param(_edit("any_criterion: 0.30", "any_criterion: 1.3"),
                 ["screening.criteria.any_criterion = 1.3"], id="criterion-probability-above-1"),
    pytest.param(_edit("{dist: uniform, low: 7, high: 14}", "{dist: uniform, low: 14, high: 7}"),
                 ["screening.duration_days = {", "high (7.0) must be at least low (14.0)"],
                 id="uniform-high-below-low"),
    pytest.param(_edit("{dist: uniform, low: 7, high: 14}",
                       "{dist: triangular, low: 7, mode: 20, high: 14}"),
                 ["screening.duration_days = {", "'mode': 20", "low <= mode <= high"],
                 id="triangular-mode-above-high"),
    pytest.param(_edit("{dist: uniform, low: 7, high: 14}",
                       "{dist: triangular, low: 7, mode: 3, high: 14}"),
                 ["screening.duration_days = {", "'mode': 3", "low <= mode <= high"],
                 id="triangular-mode-below-low"),
    pytest.param(_edit("slots: 1", "slots: 0"),
                 ["apheresis.slots = 0", "must be at least 1"], id="slots-below-1"),
    pytest.param(_edit("suites: 2", "suites: 0"),
                 ["manufacturing.suites = 0", "must be at least 1"], id="suites-below-1"),
    pytest.param(_edit("beds: 4", "beds: -1"),
                 ["infusion.beds = -1", "must be at least 1"], id="beds-below-1"),
    pytest.param(_edit("max_attempts: 1\n  retry", "max_attempts: 0\n  retry"),
                 ["apheresis.max_attempts = 0"], id="apheresis-max-attempts-below-1"),
    pytest.param(_edit("max_attempts: 1\n  yield", "max_attempts: 0\n  yield"),
                 ["manufacturing.max_attempts = 0"], id="manufacturing-max-attempts-below-1"),
    pytest.param(_edit("count: 50", "count: 0"),
                 ["target.count = 0", "must be at least 1"], id="target-count-below-1"),
    pytest.param(_edit("milestone: infused", "milestone: cured"),
                 ["target.milestone = 'cured'", "'enrolled', 'apheresed' or 'infused'"],
                 id="unknown-target-milestone"),
    pytest.param(_edit("milestone: infused}", "milestone: infused, deadline: 2015-12-31}"),
                 ["target", "deadline (2015-12-31)", "start_date (2016-01-04)"],
                 id="deadline-before-start"),
    pytest.param(_edit("  sites:\n" + _SITE, "  sites: []\n"),
                 ["referral.sites", "needs at least one row"], id="empty-sites-list"),
    pytest.param(_edit("dist: exponential", "dist: weibull"),
                 ["deterioration.time_to_event_days", "'weibull'", "allowed: fixed, exponential"],
                 id="unknown-distribution"),
    pytest.param(_edit("{dist: exponential, mean: 120}", "{mean: 120}"),
                 ["deterioration.time_to_event_days", "unknown distribution None"],
                 id="distribution-without-dist"),
    pytest.param(_edit("start_date: 2016-01-04", "start_date: 2016-02-30"),
                 ["start_date = '2016-02-30'", "date"], id="impossible-calendar-date"),
    pytest.param(_edit("start_date: 2016-01-04", "start_date: 2016-01-04 10:30:00"),
                 ["start_date", "without a time of day"], id="date-with-a-time-of-day"),
    pytest.param(_edit("{dist: exponential, mean: 120}", "{dist: empirical, values: []}"),
                 ["deterioration.time_to_event_days.values", "needs at least one row"],
                 id="empty-empirical-values"),
    pytest.param(_edit("horizon_days: 3650\n", ""),
                 ["horizon_days", "is empty, and it is required"], id="missing-required-key"),
    pytest.param(_edit("  slots: 1\n", ""),
                 ["apheresis.slots", "is empty, and it is required"], id="missing-nested-key"),
    pytest.param("- name: a\n- name: b\n",
                 ["must be a YAML mapping", "not a list"], id="top-level-list"),
    pytest.param("just some words\n",
                 ["must be a YAML mapping", "not a str"], id="top-level-scalar"),
    pytest.param("", ["is empty"], id="empty-file"),
    pytest.param("# only a comment\n\n", ["is empty"], id="comment-only-file"),
    pytest.param("name: [unclosed\nhorizon_days: 3\n", ["not valid YAML", "line"],
                 id="not-yaml-unclosed-bracket"),
    pytest.param("a: b: c\n", ["not valid YAML (line 1, column 5)"], id="not-yaml-mapping"),
    pytest.param("{{{{\n\t:::\n", ["not valid YAML"], id="not-yaml-garbage"),
    pytest.param(REF_TEXT + "---\n" + REF_TEXT, ["holds 2 YAML documents"],
                 id="multi-document"),
    pytest.param(REF_TEXT.encode() + b"description: caf\xe9\n", ["not UTF-8"],
                 id="non-utf8-bytes"),
    pytest.param(b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x03\x00>\x00", ["binary file"],
                 id="binary-bytes"),
    pytest.param(_BOMB, ["expands to more than", "alias bomb"], id="alias-bomb"),
    pytest.param(REF_TEXT + "description: !!python/object/apply:os.system ['echo owned']\n",
                 ["not valid YAML", "python/object/apply:os.system"], id="python-object-tag"),
    pytest.param(REF_TEXT + "2015-01-01: a date as a key\n",
                 ["keys must be text"], id="non-string-key"),
]


@pytest.mark.parametrize(("content", "parts"), BAD_FILES)
def test_bad_file_is_refused_with_a_named_message(
    content: str | bytes, parts: list[str], tmp_path: Path
) -> None:
    """The file is refused with one line naming the file, the field and the value."""
    err = _refusal(content, tmp_path)
    source = str(tmp_path / "scenario.yaml")
    _assert_one_line(err, source)
    assert err.source == source
    for part in parts:
        assert part in err.message, f"{part!r} missing from: {err.message}"


def test_unknown_key_in_distribution_lists_that_distributions_keys(tmp_path: Path) -> None:
    """An unknown key in an exponential spec names the exponential's own keys as allowed."""
    err = _refusal(_edit("{dist: exponential, mean: 120}", "{dist: exponential, mean: 120, sd: 3}"),
                   tmp_path)
    assert "deterioration.time_to_event_days.sd" in err.message
    assert "unknown key" in err.message
    assert "allowed here: dist, mean" in err.message


def test_file_above_size_limit_is_refused(tmp_path: Path) -> None:
    """A file over MAX_BYTES is refused before parsing, naming the file and the limit."""
    padding = "# " + "x" * 98 + "\n"
    text = REF_TEXT + padding * (MAX_BYTES // len(padding) + 1)
    assert len(text.encode()) > MAX_BYTES
    err = _refusal(text, tmp_path)
    _assert_one_line(err, str(tmp_path / "scenario.yaml"))
    assert f"{MAX_BYTES:,} bytes" in err.message


def test_file_just_under_size_limit_loads(tmp_path: Path) -> None:
    """A valid file padded with comments to just under MAX_BYTES still loads."""
    padding = "# " + "x" * 98 + "\n"
    text = REF_TEXT + padding * ((MAX_BYTES - len(REF_TEXT.encode())) // len(padding))
    assert len(text.encode()) <= MAX_BYTES
    path = tmp_path / "padded.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_scenario(str(path)).name == "Reference workload"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    """A UTF-8 byte-order mark (as some editors write) does not stop the file loading."""
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + REF_TEXT.encode())
    assert load_scenario(str(path)).name == "Reference workload"


def test_missing_file_is_refused(tmp_path: Path) -> None:
    """A path that does not exist is an InputError naming the path."""
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(InputError) as info:
        load_scenario(str(path))
    assert info.value.message == f"{path}: no such file"


def test_directory_is_refused(tmp_path: Path) -> None:
    """A directory given as the scenario is an InputError naming it."""
    with pytest.raises(InputError) as info:
        load_scenario(str(tmp_path))
    _assert_one_line(info.value, str(tmp_path))
    assert "directory" in info.value.message


def test_edge_values_are_allowed(reference: Scenario) -> None:
    """Probabilities of 0 and 1, zero durations and one attempt are all valid (DESIGN 4)."""
    sc = with_overrides(
        reference,
        [
            "manufacturing.failure_prob=1",
            "screening.consent_decline_prob=0",
            "infusion.icu_prob=1",
            "infusion.stay_days=0",
            "manufacturing.qc_release_days={dist: uniform, low: 0, high: 0}",
            "apheresis.max_attempts=1",
            "deterioration=null",
            "manufacturing.yield_cells=null",
            "target.deadline=2016-01-04",
        ],
    )
    assert sc.manufacturing.failure_prob == 1
    assert sc.infusion.stay_days.mean == 0
    assert sc.deterioration is None
    assert sc.deadline_day == 0


# --- --set overrides ------------------------------------------------------------------------


def test_override_number(reference: Scenario) -> None:
    """``manufacturing.suites=3`` sets that count and leaves everything else alone."""
    sc = load_scenario(str(REFERENCE), ["manufacturing.suites=3"])
    assert sc.manufacturing.suites == 3
    assert sc.model_copy(update={"manufacturing": reference.manufacturing}) == reference


def test_override_nested_key_and_list_index(reference: Scenario) -> None:
    """A dotted key reaches nested blocks; a number in the path indexes a list."""
    sc = load_scenario(
        str(REFERENCE),
        ["deterioration.bridging.prob=0.25", "referral.sites.0.rate_per_month=3.5"],
    )
    assert sc.deterioration is not None and sc.deterioration.bridging is not None
    assert sc.deterioration.bridging.prob == 0.25
    assert sc.referral.sites[0].rate_per_month == 3.5
    assert sc.referral.sites[0].name == "Reference site"


def test_override_distribution_mapping() -> None:
    """A YAML mapping as the value replaces a duration with that distribution."""
    sc = load_scenario(str(REFERENCE), ["screening.duration_days={dist: gamma, mean: 10, sd: 2}"])
    d = sc.screening.duration_days
    assert (d.dist, d.mean, d.sd) == ("gamma", 10, 2)


def test_override_null_disables_deterioration(reference: Scenario) -> None:
    """``deterioration=null`` removes deterioration, as the contract allows."""
    assert reference.deterioration is not None
    assert load_scenario(str(REFERENCE), ["deterioration=null"]).deterioration is None
    assert with_overrides(reference, ["deterioration=null"]).deterioration is None


def test_override_sci_notation_is_a_number() -> None:
    """``dose.max_per_kg=2e7`` is read as a number, as in files."""
    sc = load_scenario(str(REFERENCE), ["dose.max_per_kg=2e7"])
    assert sc.dose.max_per_kg == 2e7


def test_later_override_wins() -> None:
    """Overrides apply in order, so the last one for a key is kept."""
    sc = load_scenario(str(REFERENCE), ["infusion.beds=2", "infusion.beds=6"])
    assert sc.infusion.beds == 6


def test_overrides_do_not_touch_the_original(reference: Scenario) -> None:
    """with_overrides builds a new scenario; the original keeps its values."""
    before = reference.digest()
    changed = with_overrides(reference, ["infusion.beds=9"])
    assert changed.infusion.beds == 9
    assert reference.infusion.beds == 4 and reference.digest() == before


BAD_OVERRIDES = [
    pytest.param("manufacturing.suites=0", ["manufacturing.suites = 0"], id="count-below-1"),
    pytest.param("infusion.beds=true", ["infusion.beds = True"], id="boolean-for-count"),
    pytest.param("horizon_days=.inf", ["horizon_days = inf"], id="infinite"),
    pytest.param("infusion.icu_prob=2", ["infusion.icu_prob = 2"], id="probability-above-1"),
    pytest.param("referral.sites.0.rate_per_month=-1",
                 ["referral.sites[0].rate_per_month = -1"], id="list-index-negative-rate"),
    pytest.param("referral.sites.3.rate_per_month=1",
                 ["referral.sites.3.rate_per_month", "out of range 0 to 0"],
                 id="list-index-out-of-range"),
    pytest.param("referral.sites.first.rate_per_month=1",
                 ["'first' is not a list index"], id="list-index-not-a-number"),
    pytest.param("screening.duration_days={dist: uniform, low: 9, high: 2}",
                 ["screening.duration_days = {", "high (2.0) must be at least low (9.0)"],
                 id="distribution-uniform-high-below-low"),
    pytest.param("screening.duration_days={dist: gamma, mean: 10}",
                 ["screening.duration_days.sd", "is empty, and it is required"],
                 id="distribution-missing-parameter"),
    pytest.param("infusion.stay_days=-3", ["infusion.stay_days = -3"], id="negative-duration"),
    pytest.param("manufacturing.suits=3",
                 ["manufacturing.suits", "did you mean 'suites'"], id="unknown-key"),
    pytest.param("target.milestone=cured", ["target.milestone = 'cured'"], id="unknown-milestone"),
    pytest.param("target.deadline=2015-01-01", ["deadline (2015-01-01)"],
                 id="deadline-before-start"),
    pytest.param("start_date=2016-02-30", ["start_date = '2016-02-30'"],
                 id="impossible-calendar-date"),
    pytest.param("referral.sites=[]", ["referral.sites", "needs at least one row"],
                 id="empty-sites"),
    pytest.param("name.first=x", ["name.first", "not a mapping"], id="key-inside-a-scalar"),
    pytest.param("horizon_days=[1, 2", ["horizon_days = '[1, 2'", "not valid YAML"],
                 id="value-not-yaml"),
    pytest.param("novalue", ["novalue", "dotted.key=value"], id="malformed-no-equals"),
    pytest.param("=3", ["=3", "dotted.key=value"], id="malformed-empty-key"),
    pytest.param("a..b=1", ["a..b=1", "dotted.key=value"], id="malformed-empty-part"),
    pytest.param(".a=1", [".a=1", "dotted.key=value"], id="malformed-leading-dot"),
]


@pytest.mark.parametrize(("override", "parts"), BAD_OVERRIDES)
def test_bad_override_is_refused_naming_set(override: str, parts: list[str]) -> None:
    """A bad ``--set`` is refused like a bad file, with a message that names --set."""
    with pytest.raises(InputError) as info:
        load_scenario(str(REFERENCE), [override])
    _assert_one_line(info.value, "--set")
    for part in parts:
        assert part in info.value.message, f"{part!r} missing from: {info.value.message}"


@pytest.mark.parametrize(("override", "parts"), BAD_OVERRIDES)
def test_bad_override_refused_by_with_overrides(
    override: str, parts: list[str], reference: Scenario
) -> None:
    """with_overrides on a loaded scenario refuses the same overrides, naming --set."""
    with pytest.raises(InputError) as info:
        with_overrides(reference, [override])
    _assert_one_line(info.value, "--set")


def test_override_error_in_sibling_field_names_set() -> None:
    """Switching a uniform to exponential by --set blames --set for the missing mean."""
    with pytest.raises(InputError) as info:
        load_scenario(str(REFERENCE), ["screening.duration_days.dist=exponential"])
    _assert_one_line(info.value, "--set")
    assert "screening.duration_days" in info.value.message


@pytest.mark.parametrize(
    ("text", "overrides"),
    [
        pytest.param(REF_TEXT + '"bad\\nkey": 1\n', [], id="file"),
        pytest.param(REF_TEXT, ["bad\nkey=1"], id="set"),
    ],
)
def test_message_stays_one_line_when_a_key_holds_a_line_break(
    text: str, overrides: list[str]
) -> None:
    """An unknown key with a line break in it still gives a one-line message."""
    with pytest.raises(InputError) as info:
        parse_scenario(text, source="f.yaml", overrides=overrides)
    assert "unknown key" in info.value.message
    assert len(info.value.message.splitlines()) == 1, info.value.message


def test_parse_override_reads_the_value_as_yaml() -> None:
    """The text after the first ``=`` is YAML: numbers, null, mappings and ``=`` inside text."""
    assert parse_override("manufacturing.suites=3") == ("manufacturing.suites", 3)
    assert parse_override(" infusion.beds =4") == ("infusion.beds", 4)
    assert parse_override("deterioration=null") == ("deterioration", None)
    assert parse_override("x={dist: fixed, value: 2}") == ("x", {"dist": "fixed", "value": 2})
    assert parse_override("name=a=b") == ("name", "a=b")
    assert parse_override("dose.min_per_kg=5.0e6") == ("dose.min_per_kg", 5.0e6)


# --- property tests ---------------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**6), max_value=10**6)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.dates()
)
_yamlish = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=10) | st.integers(0, 3), inner, max_size=4),
    max_leaves=20,
)


def _leaf_paths(node: Any, prefix: str = "") -> list[str]:
    """Dotted paths (list items by index) of every value in ``node``, parents included."""
    paths = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            paths += _leaf_paths(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            paths += _leaf_paths(v, f"{prefix}.{i}")
    return paths


REF_DATA = yaml.safe_load(REF_TEXT)
REF_PATHS = _leaf_paths(REF_DATA)


def _expect_scenario_or_input_error(
    text: str, source: str, overrides: Sequence[str] = ()
) -> None:
    """Parsing gives a Scenario or an InputError with a one-line message naming a source."""
    try:
        sc = parse_scenario(text, source=source, overrides=overrides)
    except InputError as exc:
        msg = exc.message
        assert len(msg.splitlines()) == 1, msg
        assert msg.startswith((f"{source}: ", "--set: ")), msg
    else:
        assert isinstance(sc, Scenario)


@_FAST
@given(st.text())
def test_arbitrary_text_raises_only_input_error(text: str) -> None:
    """Any text either parses or is refused with an InputError, never another exception."""
    _expect_scenario_or_input_error(text, "fuzz.yaml")


@_FAST
@given(_yamlish)
def test_arbitrary_yaml_data_raises_only_input_error(data: Any) -> None:
    """Any small nested YAML document is accepted or refused with an InputError."""
    _expect_scenario_or_input_error(yaml.safe_dump(data), "fuzz.yaml")


@_FAST
@given(st.sampled_from(REF_PATHS), _yamlish)
def test_reference_with_one_value_replaced_raises_only_input_error(path: str, value: Any) -> None:
    """The reference with one value replaced by arbitrary data is accepted or refused."""
    data = yaml.safe_load(REF_TEXT)
    *parents, last = path.split(".")
    node = data
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    node[int(last) if isinstance(node, list) else last] = value
    _expect_scenario_or_input_error(yaml.safe_dump(data), "mutant.yaml")


_override_keys = st.sampled_from(REF_PATHS) | st.text(max_size=20) | st.builds(
    lambda p, extra: f"{p}.{extra}", st.sampled_from(REF_PATHS), st.text(max_size=6)
)
_override_values = (
    st.text(max_size=20)
    | st.sampled_from(
        ["0", "-1", "1.5", "2", "true", "null", "~", "[]", "{}", ".nan", "-.inf", "1e7",
         "{dist: uniform, low: 1, high: 0}", "{dist: exponential, mean: 3}", "[1, 2", "'x'",
         "2016-01-04", "!!binary aGk=", "*x", "&a [*a]"]
    )
    | _yamlish.map(lambda d: yaml.safe_dump(d, default_flow_style=True).strip())
)


@_FAST
@given(
    st.lists(
        st.builds(lambda k, v: f"{k}={v}", _override_keys, _override_values) | st.text(max_size=20),
        min_size=1,
        max_size=3,
    )
)
def test_random_overrides_raise_only_input_error(overrides: list[str]) -> None:
    """Random ``--set key=value`` strings on the reference only ever raise InputError."""
    _expect_scenario_or_input_error(REF_TEXT, str(REFERENCE), overrides)


# --- distributions --------------------------------------------------------------------------

_DIST = TypeAdapter(AnyDist)
_DURATION = TypeAdapter(Duration)
N_DRAWS = 100_000


def _tri_sd(a: float, c: float, b: float) -> float:
    return math.sqrt((a * a + b * b + c * c - a * b - a * c - b * c) / 18)


# (spec, expected mean, expected sd)
DIST_CASES = [
    pytest.param(3.5, 3.5, 0.0, id="plain-number"),
    pytest.param({"dist": "fixed", "value": 2}, 2.0, 0.0, id="fixed"),
    pytest.param({"dist": "exponential", "mean": 10}, 10.0, 10.0, id="exponential"),
    pytest.param({"dist": "uniform", "low": 7, "high": 14}, 10.5, 7 / math.sqrt(12),
                 id="uniform"),
    pytest.param({"dist": "uniform", "low": 4, "high": 4}, 4.0, 0.0, id="uniform-degenerate"),
    pytest.param({"dist": "triangular", "low": 2, "mode": 3, "high": 9}, 14 / 3,
                 _tri_sd(2, 3, 9), id="triangular"),
    pytest.param({"dist": "triangular", "low": 0, "mode": 0, "high": 6}, 2.0,
                 _tri_sd(0, 0, 6), id="triangular-mode-at-low"),
    pytest.param({"dist": "triangular", "low": 1, "mode": 5, "high": 5}, 11 / 3,
                 _tri_sd(1, 5, 5), id="triangular-mode-at-high"),
    pytest.param({"dist": "triangular", "low": 4, "mode": 4, "high": 4}, 4.0, 0.0,
                 id="triangular-degenerate"),
    pytest.param({"dist": "lognormal", "mean": 10.4603, "sd": 3.2101}, 10.4603, 3.2101,
                 id="lognormal"),
    pytest.param({"dist": "lognormal", "mean": 5, "sd": 0}, 5.0, 0.0, id="lognormal-sd-0"),
    pytest.param({"dist": "gamma", "mean": 14, "sd": 5}, 14.0, 5.0, id="gamma"),
    pytest.param({"dist": "gamma", "mean": 2, "sd": 4}, 2.0, 4.0, id="gamma-shape-below-1"),
    pytest.param({"dist": "gamma", "mean": 6, "sd": 0}, 6.0, 0.0, id="gamma-sd-0"),
    pytest.param({"dist": "empirical", "values": [1, 2, 2, 9]}, 3.5,
                 float(np.std([1, 2, 2, 9])), id="empirical"),
    pytest.param({"dist": "empirical", "values": [7]}, 7.0, 0.0, id="empirical-one-value"),
]


@pytest.mark.parametrize(("spec", "mean", "sd"), DIST_CASES)
def test_sampler_mean_and_sd_match_spec(spec: Any, mean: float, sd: float) -> None:
    """Sample mean and variance are within 5 standard errors of the spec's."""
    d = _DURATION.validate_python(spec)
    assert d.mean == pytest.approx(mean)
    x = d.sample(np.random.default_rng(20240601), N_DRAWS)
    assert x.shape == (N_DRAWS,) and np.all(np.isfinite(x))
    if sd == 0:
        assert np.all(x == mean)
        return
    se_mean = sd / math.sqrt(N_DRAWS)
    assert abs(x.mean() - mean) < 5 * se_mean, (x.mean(), mean, se_mean)
    # Standard error of the sample variance: sqrt((m4 - s^4) / n), m4 the 4th central moment.
    var = x.var()
    m4 = np.mean((x - x.mean()) ** 4)
    se_var = math.sqrt((m4 - var**2) / N_DRAWS)
    assert abs(var - sd**2) < 5 * se_var, (var, sd**2, se_var)


@pytest.mark.parametrize(("spec", "mean", "sd"), DIST_CASES)
def test_sampler_never_below_lower_bound(spec: Any, mean: float, sd: float) -> None:
    """No draw is below the distribution's lowest value, nor below zero for a duration."""
    d = _DURATION.validate_python(spec)
    x = d.sample(np.random.default_rng(7), N_DRAWS)
    assert x.min() >= d.lowest >= 0
    if d.dist in ("uniform", "triangular"):
        assert x.max() <= d.high
    if d.dist == "empirical":
        assert set(np.unique(x)) <= set(d.values)


_EDGE_U = np.array([0.0, 1e-300, 0.5, np.nextafter(1.0, 0.0)])
"""Uniforms a Generator can return (0 included) and the extremes of its range."""


@pytest.mark.parametrize(("spec", "mean", "sd"), DIST_CASES)
def test_quantile_at_extreme_uniforms_is_finite_and_in_range(
    spec: Any, mean: float, sd: float
) -> None:
    """The uniforms 0 and just below 1 give finite values no lower than the lowest value."""
    d = _DURATION.validate_python(spec)
    edge = d.ppf(_EDGE_U)
    assert np.all(np.isfinite(edge)), edge
    assert edge.min() >= d.lowest


def test_lognormal_with_zero_sd_is_finite_at_uniform_zero() -> None:
    """A lognormal with sd 0 gives its mean for every uniform, 0.0 included."""
    d = _DURATION.validate_python({"dist": "lognormal", "mean": 5, "sd": 0})
    assert np.all(d.ppf(_EDGE_U) == 5.0)


@pytest.mark.parametrize(("spec", "mean", "sd"), DIST_CASES)
def test_same_seed_same_draws(spec: Any, mean: float, sd: float) -> None:
    """The same Generator seed gives the same draws; one uniform is used per draw."""
    d = _DURATION.validate_python(spec)
    a = d.sample(np.random.default_rng(123), 1000)
    b = d.sample(np.random.default_rng(123), 1000)
    np.testing.assert_array_equal(a, b)
    if sd > 0:
        assert not np.array_equal(a, d.sample(np.random.default_rng(124), 1000))
    # Inversion: exactly one uniform per value, so the stream stays aligned (common numbers).
    rng, ref = np.random.default_rng(5), np.random.default_rng(5)
    d.sample(rng, 17)
    ref.random(17)
    assert rng.random() == ref.random()


def test_sampler_is_monotone_in_the_uniform() -> None:
    """Each sampler's quantile function is non-decreasing, so draws move monotonically."""
    u = np.linspace(0, 1, 1001, endpoint=False)
    for case in DIST_CASES:
        d = _DURATION.validate_python(case.values[0])
        q = d.ppf(u)
        assert np.all(np.diff(q) >= 0), d


def test_negative_values_allowed_outside_durations() -> None:
    """A generic distribution may be negative; a Duration refuses the same spec."""
    spec = {"dist": "uniform", "low": -2, "high": 2}
    assert _DIST.validate_python(spec).lowest == -2
    with pytest.raises(ValueError, match="at least 0"):
        _DURATION.validate_python(spec)


@pytest.mark.skipif(
    not SHARED_WORKLOAD.exists(),
    reason="the shared reference workload is not beside this checkout (a user's clone)",
)
def test_the_shared_reference_workload_loads_and_matches_the_copy():
    """The contract is pinned by the shared workload itself: it must load, and the copy the
    suite uses must be the same scenario."""
    shared = load_scenario(str(SHARED_WORKLOAD))
    assert shared == load_scenario(str(REFERENCE))
