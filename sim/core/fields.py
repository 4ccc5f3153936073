"""The machinery of the scenario's schema: the base of every block, the form metadata of a
field (:func:`ui`), the help read from a field's docstring (:func:`field_docs`), the value
types shared by the blocks and the pathway stages of the dashboard's form.

Each field says how the dashboard's form shows it, with :func:`ui`: its label, unit, step,
number format, pathway stage and, for an optional value, the label of the checkbox that
switches it on; its help is the docstring under it (:func:`field_docs`). The form
(``sim.app.form``) is built from these models, and takes its limits from the fields' own
constraints (``ge``, ``gt``, ``le``): a field or a limit is changed in the schema only.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

DAYS_PER_MONTH = 365.25 / 12
"""A month, in days, everywhere in the project."""

MILESTONES = ("enrolled", "apheresed", "infused")

Prob = Annotated[float, Field(ge=0, le=1)]
NonNeg = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Count = Annotated[int, Field(ge=1, le=10_000)]
"""A count of units (slots, suites, beds): 1 to 10,000."""
Units = Annotated[int, Field(ge=0, le=10_000)]
"""Units of a resource from a given day: 0 (closed, e.g. planned downtime) to 10,000."""
Attempts = Annotated[int, Field(ge=1, le=100)]
"""Attempts in all, the first included: 1 to 100."""
MAX_HORIZON_DAYS = 36525.0
MAX_DAYS = MAX_HORIZON_DAYS
"""The longest fixed number of days a scenario may give (an opening day, a ramp-up, the
follow-up, the conditioning lead): a hundred years."""
DayCount = Annotated[float, Field(ge=0, le=MAX_DAYS)]
"""A number of days from 0 to a hundred years."""
FIRST_DATE = dt.date(1900, 1, 1)
LAST_DATE = dt.date(2200, 12, 31)
"""The dates a scenario may hold (its start and its deadline): every date computed from them
(up to a horizon and a follow-up of a hundred years each later) is still a calendar date,
and the dashboard's date inputs span exactly this range."""
MAX_REFERRALS = 1_000_000
"""Referrals a simulated trial may expect up to its horizon. A replication draws every
referral up to the horizon when it starts (about 600 bytes each), so this bounds its memory
(about 0.6 GB)."""
MAX_DRUG_MG_PER_M2 = 100_000.0
"""The largest daily drug dose a scenario may give, mg/m² (far above any protocol's; it keeps
every amount a finite number)."""
MAX_CELLS_PER_KG = 1e12
"""The largest cell dose a scenario may give, cells/kg."""


def _representable(day: dt.date) -> dt.date:
    if not FIRST_DATE <= day <= LAST_DATE:
        raise ValueError(f"must be from {FIRST_DATE} to {LAST_DATE}")
    return day


Date = Annotated[dt.date, Field(strict=False), AfterValidator(_representable)]
"""A calendar date from FIRST_DATE to LAST_DATE (YYYY-MM-DD in a file)."""

STAGES = (
    "Referral",
    "Screening",
    "Apheresis",
    "Manufacturing",
    "Deterioration and bridging",
    "Conditioning",
    "Infusion",
    "Working calendar",
    "Dose finding (phase 1)",
    "Target and horizon",
    "Costs",
)
"""The pathway stages of the dashboard's form, in its order (costs last: not a stage of
the pathway, but a part of the form)."""


def ui(
    label: str = "",
    unit: str = "",
    *,
    stage: str | None = None,
    step: float | None = None,
    fmt: str | None = None,
    toggle: str | None = None,
    rank: int | None = None,
    start: Any = None,
    in_form: bool = True,
) -> Any:
    """How the dashboard's form shows a field: a pydantic ``Field`` for ``Annotated``.

    ``label`` and ``unit`` name its input (its help is the field's docstring); ``stage`` is
    the pathway stage whose part of the form holds it (given on a block, it holds for the
    block's fields); ``step`` is its input's step; ``fmt`` its printf number format (``%g``
    when not given); ``toggle`` labels the checkbox that switches an optional value on;
    ``rank`` places it among its stage's fields where the schema's order is not the form's
    (lower first, 0 when not given; a block's holds for its fields); ``start`` is the value
    the form starts from when neither the scenario nor the baseline sets it; ``in_form``
    False keeps the field (a block: all of it) out of the form, which then leaves the
    scenario's value as it is.
    """
    given = {
        "label": label,
        "unit": unit,
        "stage": stage,
        "step": step,
        "fmt": fmt,
        "toggle": toggle,
        "rank": rank,
        "start": start,
    }
    form = {k: v for k, v in given.items() if v is not None and v != ""}
    if not in_form:
        form["hidden"] = True
    return Field(json_schema_extra={"form": form})


@functools.cache
def field_docs(model: type[BaseModel]) -> dict[str, str]:
    """The docstring under each field of ``model`` and of its bases, by field name.

    Read from the source when first asked (the dashboard's form asks), not when the schema
    is imported: pydantic's own reading of them would slow every command's start.
    """
    import ast
    import inspect
    import itertools
    import textwrap

    docs: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls is BaseModel:
            continue
        try:
            body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
        except (OSError, TypeError):  # a class made at run time has no source: no help
            continue
        for node, after in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs


class Block(BaseModel):
    """A part of a scenario; the docstring under each field is the form's help of its input
    (:func:`field_docs`)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        allow_inf_nan=False,
        populate_by_name=True,
    )
