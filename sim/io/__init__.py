"""Files and saved runs: output folders written whole or not at all, the run store
(SQLite) and the reproduction of a recorded run."""
