"""Many replications of a scenario: executors, the scheduler, per-replication rows, the
summary and its statistics (pure functions of the rows)."""
