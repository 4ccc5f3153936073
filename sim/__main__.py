"""``python -m sim``: the command line."""

import os
import sys

try:
    from sim.cli.main import main
except KeyboardInterrupt:  # Ctrl-C while the command line is still loading
    print("interrupted", file=sys.stderr, flush=True)
    # Not sys.exit: a Ctrl-C that lands in code an extension runs through the interpreter
    # (pydantic-core's, while it loads) marks itself unhandled, and Python would then end
    # by SIGINT whatever this returns.
    os._exit(130)

sys.exit(main())
