"""Verification and validation: the model against queueing theory, exact sums, invariants
and a published funnel, written up as a Markdown report."""
