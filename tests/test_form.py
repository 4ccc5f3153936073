"""The settings form is built from the scenario's schema (sim.app.form): each input's label,
unit, help and limits come from its field, so a change to the schema is a change to the
form; and the distributions convert between kinds themselves."""

from __future__ import annotations

import typing
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field, create_model

from sim.app import form, tables
from sim.core.distributions import DIST_CLASSES, DIST_NAMES
from sim.core.schema import CAPACITY_FIELDS, Apheresis, Scenario, field_docs, ui


def _field(model: type[BaseModel], path: str) -> tuple[type[BaseModel], str]:
    """The model holding the field at a dotted path of ``model`` (through blocks, optional
    or not), and the field's name."""
    *blocks, last = path.split(".")
    for name in blocks:
        model = _block(model.model_fields[name].annotation)
    assert last in model.model_fields, path
    return model, last


def _info(model: type[BaseModel], path: str) -> Any:
    """The pydantic field at a dotted path of ``model``."""
    owner, name = _field(model, path)
    return owner.model_fields[name]


def _block(annotation: Any) -> type[BaseModel]:
    """The block of an annotation (``X``, ``X | None``, ``list[X]``, ``list[X] | None``)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    if len(args) == 1 and typing.get_origin(args[0]) is list:
        args = list(typing.get_args(args[0]))
    assert len(args) == 1 and issubclass(args[0], BaseModel), annotation
    return args[0]


def _leaves(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every value of a model by dotted path; a block's values, not the block (its sites'
    values stand for the list of sites, a mapping of criteria for itself)."""
    out = set()
    for name, info in model.model_fields.items():
        path = prefix + name
        try:
            out |= _leaves(_block(info.annotation), path + ".")
        except (AssertionError, TypeError):
            out.add(path)
    return out


def _bound(info: Any, name: str) -> float:
    return next(getattr(m, name) for m in info.metadata if hasattr(m, name))


def test_the_form_takes_its_limits_from_the_schema() -> None:
    slots = form.PARAMS_BY_PATH["apheresis.slots"]
    field = _info(Scenario, "apheresis.slots")
    assert (slots.low, slots.high) == (_bound(field, "ge"), _bound(field, "le"))
    horizon = form.PARAMS_BY_PATH["horizon_days"]
    field = _info(Scenario, "horizon_days")
    assert (horizon.low, horizon.high) == (_bound(field, "gt"), _bound(field, "le"))
    assert form.PARAMS_BY_PATH["target.deadline"].optional  # a toggle: a checkbox


def test_a_limit_changed_in_the_schema_changes_the_form() -> None:
    """One edit of the schema (another limit, label or unit) is the form's new input."""
    narrow = create_model(
        "NarrowApheresis",
        __base__=Apheresis,
        slots=(Annotated[int, Field(ge=2, le=7), ui("Chairs", "count")], ...),
    )
    params = {p.path: p for p in form.params_of(narrow, "apheresis.", stage="Apheresis")}
    chairs = params["apheresis.slots"]
    assert (chairs.low, chairs.high, chairs.title) == (2, 7, "Chairs (count)")
    assert chairs.kind == "integer"
    assert params["apheresis.failure_prob"] == form.PARAMS_BY_PATH["apheresis.failure_prob"]


def _name_path(model: type[BaseModel], path: str) -> str:
    """A dotted path of aliases (``calendar.closures.from``) as field names (``from_``)."""
    *blocks, last = path.split(".")
    for name in blocks:
        model = _block(model.model_fields[name].annotation)
    by_alias = {info.alias or n: n for n, info in model.model_fields.items()}
    return ".".join([*blocks, by_alias[last]])


def test_every_input_is_a_field_and_every_field_an_input() -> None:
    """Each input's path leads to a field of the schema, with the field's help; each value
    of the schema has an input (a site's values are the columns of the sites table, a
    closure's or a dose level's the columns of theirs); the calendars, phase 1 and the
    capacity schedules are in the form, none kept out."""
    columns = [c for p in form.PARAMS for c in p.columns]
    for p in [*form.PARAMS, *columns]:
        model, name = _field(Scenario, _name_path(Scenario, p.path))
        assert p.help == " ".join(field_docs(model)[name].split()), p.path
        assert p.label and p.stage in form.STAGES, p.path
    covered = set(form.PARAMS_BY_PATH) | {f"referral.sites.{c}" for c in tables.SITE_COLUMNS}
    covered |= {_name_path(Scenario, c.path) for c in columns}
    hidden = {p for p in _leaves(Scenario) if p.startswith(tuple(form.NOT_IN_FORM))}
    assert _leaves(Scenario) - covered - hidden == set()
    assert not hidden & covered  # a field kept out of the form has no input
    issue_12 = ("calendar", "phase1", "apheresis.days", "manufacturing.start_days")
    changes = tuple(f"{b}.{c}_changes" for b, c in CAPACITY_FIELDS.items())
    assert not [h for h in form.NOT_IN_FORM if h.startswith(issue_12 + changes)]
    assert {"calendar.closures.from", "phase1.dose_levels.dlt_prob"} <= {c.path for c in columns}
    assert [p.path for p in form.SITE_PARAMS] == [
        f"referral.sites.{c}" for c in tables.SITE_COLUMNS
    ]


def test_the_form_keeps_its_order_by_stage() -> None:
    """Stages in the form's order; within one, the schema's order unless a rank moves a
    field (consent before the screening time, the horizon last)."""
    stages = [p.stage for p in form.PARAMS]
    assert stages == sorted(stages, key=form.STAGES.index)
    assert [p.path for p in form.params_in("Screening")] == [
        "screening.consent_decline_prob",
        "screening.duration_days",
        "screening.criteria",
        "screening.criteria_labels",  # a column of the criteria's table
    ]
    assert form.params_in("Target and horizon")[-1].path == "horizon_days"


@pytest.mark.parametrize("kind", DIST_NAMES)
def test_distributions_name_their_parameters_and_spread(kind: str) -> None:
    """Each kind built from a mean and a standard deviation has that mean (and that spread
    where it has one) and the parameters it names."""
    spec = DIST_CLASSES[kind].spec_from_moments(10.0, 2.0, floor=0.0)
    d = DIST_CLASSES[kind].model_validate(spec)
    assert d.kind() == kind and tuple(d.spec)[1:] == d.param_names()
    assert d.mean == pytest.approx(10.0, rel=1e-3)  # parameters to 4 significant figures
    if kind in ("uniform", "triangular", "lognormal", "gamma"):
        assert d.std == pytest.approx(2.0, rel=1e-3)
    assert DIST_CLASSES["fixed"].model_validate({"value": 3.0}).convert(kind)["dist"] == kind


def test_validation_messages_in_plain_words() -> None:
    """The form says what is wrong as a person would: the stage and label, the value as
    written, the rule in words and the unit; never pydantic's phrasing or a mapping."""
    from conftest import SCENARIOS

    from sim.app import edits
    from sim.core.errors import InputError
    from sim.core.scenario import load_scenario, with_overrides

    base = load_scenario(str(SCENARIOS / "baseline.yaml"))
    cases = {
        "referral.sites=[]": "Referral › Referring sites: needs at least one row",
        "infusion.icu_prob=1.5": "Infusion › Intensive care needed = 1.5: must be a number "
        "from 0 to 1 (probability 0-1)",
        "referral.sites.0.rate_per_month=-1": "Referral › Referring sites, row 1 (Rate) = -1: "
        "must be at least 0",
        "horizon_days=0": "Target and horizon › Horizon = 0: must be a number above 0 and at "
        "most 36,525 (days)",
    }
    for override, expected in cases.items():
        with pytest.raises(InputError) as err:
            with_overrides(base, [override], source="settings")
        assert edits.plain_message(err.value)[1] == expected
    assert (
        edits.allowed(form.PARAMS_BY_PATH["apheresis.slots"]) == "a whole number from 1 to 10,000"
    )
