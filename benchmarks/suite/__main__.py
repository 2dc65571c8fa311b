"""`python -m benchmarks.suite`: the same as `python benchmarks/suite/run.py`."""

from benchmarks.suite.run import main

main()
