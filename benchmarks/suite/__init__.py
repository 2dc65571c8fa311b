"""The test suite as a benchmark: its wall time and the line coverage of `src/` it reaches."""
