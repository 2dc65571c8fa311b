"""`python -m benchmarks.registry`: the same as `python benchmarks/registry/run.py`."""

from benchmarks.registry.run import main

main()
