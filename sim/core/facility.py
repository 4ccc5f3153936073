"""A facility: one cell-therapy unit running several trials that share named resources.

A facility file names its trials (scenario files, paths relative to it), the day each opens
and its priority at the shared resources, and the units of each shared resource::

    name: Cell therapy unit, three trials
    start_date: 2015-12-01
    horizon_days: 3650
    resources: {apheresis: 1, manufacturing: 2, beds: 4}   # shared; overrides each trial's
    trials:
      - {file: baseline.yaml}
      - {file: lymphoma_cd19.yaml, opens_day: 180}
      - {file: myeloma_bcma.yaml, opens_day: 365, priority: 1}   # lower number served first
    costs: {currency: CNY, suite_day: 2800}   # optional: the shared units' availability

Each trial keeps its own referral, protocol, durations, calendar and target; it runs on the
facility's clock: its days count from the facility's ``start_date``, its sites open
``opens_day`` later than its file says, and the facility's horizon ends it. A resource named
under ``resources`` is shared (its units, or a schedule of them, replace each trial's own);
one not named stays each trial's own. Queues at a shared resource serve the lowest priority
number first, then first come first served. The first trial draws the random streams it
would draw alone (so a facility of one trial is that trial); every other trial draws its
own.

Costs: the availability of a shared resource (a suite-day, an apheresis slot-day) is the
facility's cost, not any one trial's, so the facility's optional ``costs`` block prices it
(``suite_day``, ``slot_day`` only) and each trial's own costs block prices the rest of what
that trial uses (:mod:`sim.run.costs`). Every costs block of a facility (its own and its
trials') must be in one currency.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import simpy
from pydantic import Field, ValidationError, model_validator
from simpy.core import StopSimulation

from sim.core.errors import InputError
from sim.core.fields import MAX_HORIZON_DAYS, Block, Count, NonNeg, Units
from sim.core.model import Shared, Trial
from sim.core.prices import PRICE_FIELDS, Costs
from sim.core.scenario import Scenario, load_scenario, validate_scenario
from sim.core.schema import CAPACITY_FIELDS
from sim.core.station import RESOURCES, Schedule
from sim.core.station import Units as SharedUnits
from sim.core.yamlio import parse_yaml, read_text

MAX_TRIALS = 20
"""Trials in one facility at most."""
BLOCK_OF = {"apheresis": "apheresis", "manufacturing": "manufacturing", "beds": "infusion"}
"""The scenario block that holds each resource's units."""
AVAILABILITY = {"manufacturing": "suite_day", "apheresis": "slot_day"}
"""The price of one unit of a resource for a day it is in force (beds are priced per
occupied day, by each trial)."""


class Step(Block):
    """Units of a shared resource from a given day."""

    from_day: NonNeg
    """Day from which the units are in force (days from the facility's start)."""
    units: Units
    """Units in force from that day (0: closed, e.g. planned downtime)."""


Capacity = Count | list[Step]
"""A count of units throughout, or a schedule starting on day 0."""


class SharedResources(Block):
    """The resources the trials share; a resource left out stays each trial's own."""

    apheresis: Capacity | None = None
    """Apheresis slots shared by every trial."""
    manufacturing: Capacity | None = None
    """Manufacturing suites shared by every trial."""
    beds: Capacity | None = None
    """Beds shared by every trial."""

    @model_validator(mode="after")
    def _schedules(self) -> SharedResources:
        for name in RESOURCES:
            steps = getattr(self, name)
            if not isinstance(steps, list):
                continue
            if not steps or steps[0].from_day != 0 or steps[0].units < 1:
                raise ValueError(
                    f"{name}: a schedule starts with {{from_day: 0, units: N}}, N at least 1"
                )
            if any(b.from_day <= a.from_day for a, b in itertools.pairwise(steps)):
                raise ValueError(f"{name}: from_day must rise from one step to the next")
        return self

    def schedule(self, name: str) -> Schedule | None:
        """The units of a shared resource from day 0 and from each change (None: not shared)."""
        cap = getattr(self, name)
        if cap is None:
            return None
        if isinstance(cap, int):
            return ((0.0, cap),)
        return tuple((float(s.from_day), s.units) for s in cap)


class FacilityTrial(Block):
    """One trial of the facility."""

    file: Annotated[str, Field(min_length=1)]
    """Its scenario file, relative to the facility file."""
    opens_day: NonNeg = 0.0
    """Day the trial opens (days from the facility's start): its sites open this much later."""
    priority: Annotated[int, Field(ge=0, le=100)] = 0
    """Its patients' place in the shared queues: a lower number is served first."""
    name: str | None = None
    """A short name for it (default: its scenario's name)."""


class FacilityFile(Block):
    """A facility file: trials sharing resources on one clock."""

    name: Annotated[str, Field(min_length=1)]
    """A name for the facility."""
    description: str | None = None
    start_date: Annotated[dt.date, Field(strict=False)]
    """Day 0 of the facility: every trial's days count from it."""
    horizon_days: Annotated[float, Field(gt=0, le=MAX_HORIZON_DAYS)]
    """Every trial stops here even if its target is not reached."""
    resources: SharedResources = SharedResources()
    trials: Annotated[list[FacilityTrial], Field(min_length=1, max_length=MAX_TRIALS)]
    costs: Costs | None = None
    """The price of the shared units' availability (``suite_day``, ``slot_day``) in the
    trials' currency; absent, the shared units' availability is not priced. Each trial's
    own costs block prices its use (batches, collections, bed-days, drugs, lateness)."""

    @model_validator(mode="after")
    def _availability_only(self) -> FacilityFile:
        if self.costs is not None:
            priced = [k for k in PRICE_FIELDS if getattr(self.costs, k) > 0]
            other = [k for k in priced if k not in AVAILABILITY.values()]
            if other:
                raise ValueError(
                    f"costs: a facility prices only its shared units' availability (suite_day, "
                    f"slot_day); {', '.join(other)} belong in each trial's costs block"
                )
        return self


@dataclass(frozen=True)
class Facility:
    """A loaded facility: its file, and each trial's scenario on the facility's clock."""

    spec: FacilityFile
    trials: tuple[Scenario, ...]
    """Each trial's scenario in facility terms (start, horizon, shared units, sites' opening)."""
    labels: tuple[str, ...]
    """A short name for each trial, unique within the facility."""
    originals: dict[str, Scenario] = field(default_factory=dict, compare=False, repr=False)
    """Each trial file's scenario as loaded (before moving it onto the facility's clock)."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def start_date(self) -> dt.date:
        return self.spec.start_date

    @property
    def horizon_days(self) -> float:
        return self.spec.horizon_days

    def schedule(self, name: str) -> Schedule | None:
        return self.spec.resources.schedule(name)

    def with_overrides(self, overrides: list[str], source: str = "--set") -> Facility:
        """A new facility: this one with ``dotted.key=value`` overrides of the facility file
        (``resources.manufacturing=3``, ``trials.1.opens_day=90``), validated."""
        from sim.core.scenario import apply_overrides, parse_override

        parsed = [parse_override(o) for o in overrides]
        data = apply_overrides(self.spec.model_dump(mode="python"), parsed)
        spec = _validate(data, source, parsed)

        def original(name: str) -> Scenario:
            if name not in self.originals:
                raise InputError(
                    "names a trial file the facility was not loaded with; a trial's file "
                    "cannot be changed here",
                    source=source,
                    field=name,
                )
            return self.originals[name]

        return build_facility(spec, original, source)

    def digest(self) -> str:
        """SHA-256 of the facility and its trials: same digest, same facility."""
        data = {
            "facility": self.spec.model_dump(mode="json", exclude_defaults=True),
            "trials": [t.digest() for t in self.trials],
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def is_facility_text(text: str) -> bool:
    """Whether YAML text is a facility file (it has a ``trials`` list) rather than a
    scenario; text that is not a mapping is left to the scenario loader to explain."""
    try:
        data = parse_yaml(text, "<probe>")
    except InputError:
        return False
    return isinstance(data, dict) and "trials" in data


def load_facility(path: str, overrides: list[str] | tuple[str, ...] = ()) -> Facility:
    """Read and validate a facility file and each of its trials' scenario files (``--set``
    style overrides apply to the facility file: ``resources.manufacturing=3``,
    ``trials.1.opens_day=90``)."""
    from sim.core.scenario import apply_overrides, parse_override

    text = read_text(str(path))
    data = parse_yaml(text, str(path))
    if not isinstance(data, dict):
        raise InputError("must be a YAML mapping with name, start_date, horizon_days, resources "
                         "and trials", source=str(path))  # fmt: skip
    parsed = [parse_override(o) for o in overrides]
    data = apply_overrides(data, parsed)
    spec = _validate(data, str(path), parsed)
    folder = Path(path).parent
    return build_facility(spec, lambda name: load_scenario(str(folder / name)), str(path))


def _validate(data: dict[str, Any], source: str, parsed: list[tuple[str, Any]]) -> FacilityFile:
    from sim.core.scenario import explain

    try:
        return FacilityFile.model_validate(data)
    except ValidationError as exc:
        raise explain(exc, data, source, parsed, root=FacilityFile) from None


def build_facility(spec: FacilityFile, load: Any, source: str = "facility") -> Facility:
    """Each trial's scenario (``load(file)``) moved onto the facility's clock and units;
    refused (naming ``source``) when its costs blocks are in different currencies."""
    trials, labels, originals = [], [], {}
    for k, entry in enumerate(spec.trials):
        scenario = originals[entry.file] = load(entry.file)
        if scenario.phase1 is not None:
            raise InputError(
                "a trial with a dose-finding phase 1 cannot run in a facility yet (its "
                "stopping rule would end patients who hold shared units); run it alone",
                source=entry.file,
            )
        trials.append(_on_facility_clock(scenario, spec, entry, f"trials[{k}] ({entry.file})"))
        labels.append(entry.name or scenario.name)
    seen: dict[str, int] = {}
    unique = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if labels.count(label) == 1 else f"{label} ({seen[label]})")
    _one_currency(spec, trials, source)
    return Facility(spec=spec, trials=tuple(trials), labels=tuple(unique), originals=originals)


def _one_currency(spec: FacilityFile, trials: list[Scenario], source: str) -> None:
    """Refuse a facility whose costs blocks (its own, its trials') name different currencies
    (no currency named counts as one more)."""
    blocks = [("the facility's costs", spec.costs)] + [
        (entry.file, sc.costs) for entry, sc in zip(spec.trials, trials, strict=True)
    ]
    named = [(where, c.currency or "none named") for where, c in blocks if c is not None]
    if len({cur for _, cur in named}) > 1:
        raise InputError(
            "every costs block of a facility must be in one currency, to add them up; found "
            + ", ".join(f"{cur} ({where})" for where, cur in named),
            source=source,
            field="costs.currency",
        )


def _on_facility_clock(
    scenario: Scenario, spec: FacilityFile, entry: FacilityTrial, source: str
) -> Scenario:
    data = scenario.to_dict()
    data["start_date"] = spec.start_date
    data["horizon_days"] = spec.horizon_days
    for site in data["referral"]["sites"]:
        site["opens_day"] = site["opens_day"] + entry.opens_day
    for name in RESOURCES:
        schedule = spec.resources.schedule(name)
        if schedule is None:
            continue
        block, field = BLOCK_OF[name], CAPACITY_FIELDS[BLOCK_OF[name]]
        data[block][field] = schedule[0][1]
        data[block][f"{field}_changes"] = [
            {"from_day": day, "units": n} for day, n in schedule[1:]
        ] or None
    return validate_scenario(data, source=source)


# --- running -------------------------------------------------------------------------------


@dataclass
class FacilityRun:
    """One replication of a facility: its trials, finished, and the shared units."""

    trials: list[Trial]
    units: dict[str, SharedUnits]
    end: float
    """Day the last trial ended (or the horizon)."""


def run_facility(
    facility: Facility, seed: np.random.SeedSequence | int, keep_log: bool = False
) -> FacilityRun:
    """Simulate one replication of every trial of the facility together on one clock."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return _run(facility, seed, keep_log)
    finally:
        if paused:
            gc.enable()


def _run(facility: Facility, seed: np.random.SeedSequence | int, keep_log: bool) -> FacilityRun:
    env = simpy.Environment()
    priorities = [t.priority for t in facility.spec.trials]
    units = {
        name: SharedUnits(env, name, schedule, priorities)
        for name in RESOURCES
        if (schedule := facility.schedule(name)) is not None
    }
    trials = [
        Trial(
            scenario,
            seed,
            keep_log=keep_log,
            shared=Shared(env, units, entry.priority, f"trial{k}/" if k else ""),
        )
        for k, (scenario, entry) in enumerate(
            zip(facility.trials, facility.spec.trials, strict=True)
        )
    ]
    left = [len(trials)]

    def one_done(event: simpy.Event) -> None:
        left[0] -= 1
        if left[0] == 0:  # stop at once, as a trial alone stops at its own end
            StopSimulation.callback(event)

    for trial in trials:
        trial.begin()
        trial.done.callbacks.append(one_done)
    env.run()
    for trial in trials:
        trial.finish()
    return FacilityRun(trials, units, max(t.end for t in trials))
