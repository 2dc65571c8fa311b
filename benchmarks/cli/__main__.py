"""`python -m benchmarks.cli`: the same as `python benchmarks/cli/run.py`."""

from benchmarks.cli.run import main

main()
