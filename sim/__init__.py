"""cart-trial-sim: a discrete-event simulation of the logistics of a CAR-T cell therapy trial."""

from sim.core.errors import InputError
from sim.core.scenario import Scenario, load_scenario, parse_scenario, with_overrides
from sim.core.version import __version__
from sim.run.runner import Replication, Results, run_replications, simulate

__all__ = [
    "InputError",
    "Replication",
    "Results",
    "Scenario",
    "__version__",
    "load_scenario",
    "parse_scenario",
    "run_replications",
    "simulate",
    "with_overrides",
]
