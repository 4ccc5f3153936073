"""What sizing asks of the thing it sizes, a scenario or a facility: its sizeable counts and
their values today, a variant at other units, the job that simulates it, the figures of its
rows and, per replication, whether it met its deadline.

For a scenario the chance is that of its target by its deadline; for a facility it is the
chance that every trial reaches its target by its own deadline, and the sizeable counts are
the shared resources given as a count (``resources.manufacturing``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.core.errors import InputError
from sim.core.facility import Facility
from sim.core.scenario import Scenario
from sim.core.station import RESOURCES
from sim.planning.grid import leaves, point_scenario, value_at, yaml_scalar
from sim.planning.pricing import CostBasis, cost_basis
from sim.planning.sweep import facility_figures, point_figures
from sim.run.costs import facility_replication_costs, replication_costs
from sim.run.facility import FACILITY, TableSet, facility_job
from sim.run.results import RowTable
from sim.run.scheduler import Job
from sim.run.stats import percentiles

CAPACITY_NAMES = ("slots", "suites", "beds")
"""Scenario counts that can be sized: apheresis.slots, manufacturing.suites, infusion.beds."""


def capacity_keys(scenario: Scenario) -> list[str]:
    """Dotted keys of the scenario's sizeable counts (slots, suites, beds)."""
    return [
        key
        for key, value in leaves(scenario.to_dict())
        if isinstance(value, int)
        and not isinstance(value, bool)
        and key.rsplit(".", 1)[-1] in CAPACITY_NAMES
    ]


def harm_figures(table: RowTable) -> dict[str, Any]:
    """The harm a sizing can limit: the share of enrolled patients lost while waiting and
    the 90th percentile of vein-to-vein days (pooled over the replications)."""
    enrolled = float(np.sum(table["enrolled"]))
    lost = float(np.sum(table["lost_while_waiting"]))
    v2v = table.vein_to_vein.astype(float)
    return {
        "lost_while_waiting_share": lost / enrolled if enrolled else None,
        "vein_to_vein_p90_days": float(percentiles(v2v, [90])[0]) if v2v.size else None,
    }


class ScenarioPlan:
    """Sizing a scenario's own counts against its target and deadline."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.name = scenario.name
        self.target = scenario.target.as_dict()

    def check(self) -> None:
        if self.scenario.deadline_day is None:
            raise InputError(
                "sizing needs a deadline: set target.deadline in the scenario or give --deadline",
                field="target.deadline",
            )

    def keys(self) -> list[str]:
        return capacity_keys(self.scenario)

    def current(self, key: str) -> int:
        return int(value_at(self.scenario, key))

    def variant(self, values: dict[str, Any]) -> Scenario:
        return point_scenario(self.scenario, values, "--resources")

    def job(self, variant: Scenario, reps: int, seed: int, start: int) -> Job:
        return Job.of(variant, reps, seed, start=start)

    def concat(self, a: RowTable, b: RowTable) -> RowTable:
        return RowTable.concat([a, b])

    def figures(self, variant: Scenario, table: RowTable) -> dict[str, Any]:
        """The sweep's figures with the harm a sizing can limit."""
        return {**point_figures(variant, table), **harm_figures(table)}

    def reached(self, variant: Scenario, table: RowTable) -> np.ndarray:
        """1 where a replication reached the target by the deadline, else 0."""
        deadline = variant.deadline_day
        return (table["time_to_target_days"] < deadline + 1).astype(float)

    def cost_basis(self, resources: list[str], costs: dict[str, float] | None) -> CostBasis:
        """What cheapest means: ``--cost``, else the costs block, else fewest units."""
        return cost_basis(self.scenario.costs, self.scenario.horizon_days, resources, costs)

    total_cost_key = "mean_total_cost_per_trial"
    """The name of a configuration's mean simulated total cost in a sizing's answer."""

    @property
    def currency(self) -> str | None:
        return self.scenario.costs.currency if self.scenario.costs is not None else None

    def mean_total_cost(self, table: RowTable) -> float | None:
        """The mean simulated total cost of a trial (None without a costs block)."""
        totals = replication_costs(self.scenario, table).get("total")
        return None if totals is None else float(np.mean(totals))


class FacilityPlan:
    """Sizing a facility's shared counts against every trial's target and deadline."""

    def __init__(self, facility: Facility) -> None:
        self.facility = facility
        self.name = facility.name
        self.target = None

    def check(self) -> None:
        missing = [
            label
            for label, sc in zip(self.facility.labels, self.facility.trials, strict=True)
            if sc.deadline_day is None
        ]
        if missing:
            raise InputError(
                "sizing a facility needs every trial's deadline; none in: " + ", ".join(missing),
                field="target.deadline",
            )

    def keys(self) -> list[str]:
        """The shared resources given as a count (a schedule is not sized)."""
        return [
            f"resources.{r}"
            for r in RESOURCES
            if isinstance(getattr(self.facility.spec.resources, r), int)
        ]

    def current(self, key: str) -> int:
        return int(getattr(self.facility.spec.resources, key.split(".", 1)[1]))

    def variant(self, values: dict[str, Any]) -> Facility:
        return self.facility.with_overrides(
            [f"{k}={yaml_scalar(v)}" for k, v in values.items()], "--resources"
        )

    def job(self, variant: Facility, reps: int, seed: int, start: int) -> Job:
        return facility_job(variant, reps, seed, start=start)

    def concat(self, a: TableSet, b: TableSet) -> TableSet:
        return TableSet.concat([a, b])

    def figures(self, variant: Facility, tables: TableSet) -> dict[str, Any]:
        """The facility's sweep figures with the harm a sizing can limit (all trials)."""
        return {**facility_figures(variant, tables), **harm_figures(tables[FACILITY])}

    def reached(self, variant: Facility, tables: TableSet) -> np.ndarray:
        """1 where every trial reached its target by its deadline, else 0."""
        return tables[FACILITY]["all_by_deadline"].astype(float)

    def cost_basis(self, resources: list[str], costs: dict[str, float] | None) -> CostBasis:
        """What cheapest means: ``--cost``, else the facility's costs block (the shared
        units' availability), else fewest units."""
        spec = self.facility.spec
        return cost_basis(spec.costs, spec.horizon_days, resources, costs)

    total_cost_key = "mean_total_cost_per_facility_run"
    """A facility's total cost is of a facility run (every trial, the shared units once)."""

    @property
    def currency(self) -> str | None:
        blocks = [self.facility.spec.costs, *(sc.costs for sc in self.facility.trials)]
        return next((b.currency for b in blocks if b is not None), None)

    def mean_total_cost(self, tables: TableSet) -> float | None:
        """The mean total cost of a facility run: the shared units' availability at the
        facility's prices plus every trial's costs (None without any prices)."""
        costs = facility_replication_costs(self.facility, tables[FACILITY], tables.trials())
        return float(np.mean(costs["total"])) if costs else None


def plan_for(target: Scenario | Facility) -> ScenarioPlan | FacilityPlan:
    """The sizing plan of a scenario or a facility."""
    return FacilityPlan(target) if isinstance(target, Facility) else ScenarioPlan(target)
