"""cart-trial-sim: a discrete-event simulation of the logistics of a CAR-T cell therapy trial.

The public API (see the README's "Use it as a library"): load and change a scenario,
simulate one replication or many, compare scenarios on common random numbers, sweep a grid,
size capacity, run a sensitivity analysis, and re-forecast from an observed patient log.
Names are imported on first use, so ``import sim`` (and the command line) starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.core.lazy import lazy_attributes
from sim.core.version import __version__

_API = {
    "InputError": "sim.core.errors",
    "Scenario": "sim.core.scenario",
    "load_scenario": "sim.core.scenario",
    "parse_scenario": "sim.core.scenario",
    "with_overrides": "sim.core.scenario",
    "Replication": "sim.run.runner",
    "Results": "sim.run.runner",
    "simulate": "sim.run.runner",
    "run_replications": "sim.run.runner",
    "compare": "sim.planning.compare",
    "parse_grid": "sim.planning.grid",
    "sweep": "sim.planning.sweep",
    "size": "sim.planning.sizing",
    "sensitivity": "sim.planning.sensitivity",
    "ObservedLog": "sim.forecasting.observed",
    "read_observed": "sim.forecasting.observed",
    "Forecast": "sim.forecasting.forecast",
    "forecast": "sim.forecasting.forecast",
}

__all__ = [
    "Forecast",
    "InputError",
    "ObservedLog",
    "Replication",
    "Results",
    "Scenario",
    "__version__",
    "compare",
    "forecast",
    "load_scenario",
    "parse_grid",
    "parse_scenario",
    "read_observed",
    "run_replications",
    "sensitivity",
    "simulate",
    "size",
    "sweep",
    "with_overrides",
]

if TYPE_CHECKING:
    from sim.core.errors import InputError
    from sim.core.scenario import Scenario, load_scenario, parse_scenario, with_overrides
    from sim.forecasting.forecast import Forecast, forecast
    from sim.forecasting.observed import ObservedLog, read_observed
    from sim.planning.compare import compare
    from sim.planning.grid import parse_grid
    from sim.planning.sensitivity import sensitivity
    from sim.planning.sizing import size
    from sim.planning.sweep import sweep
    from sim.run.runner import Replication, Results, run_replications, simulate


__getattr__ = lazy_attributes(__name__, _API)


def __dir__() -> list[str]:
    return sorted(__all__)
