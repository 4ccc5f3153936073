"""cart-trial-sim: a discrete-event simulation of the logistics of a CAR-T cell therapy trial."""

__version__ = "0.1.0"

from sim.errors import InputError
from sim.runner import Replication, Results, run_replications, simulate
from sim.scenario import Scenario, load_scenario, parse_scenario, with_overrides

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
