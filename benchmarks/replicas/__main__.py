"""`python -m benchmarks.replicas`: the same as `python benchmarks/replicas/run.py`."""

from benchmarks.replicas.run import main

main()
