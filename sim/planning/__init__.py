"""Planning on common random numbers: paired comparison, sweeps, capacity sizing and
sensitivity analysis."""
