"""The command line, ``python -m sim`` (console script ``cart-trial-sim``)."""

from sim.cli.main import main

__all__ = ["main"]
