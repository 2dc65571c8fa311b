"""`python -m benchmarks.jobs`: the same as `python benchmarks/jobs/run.py`."""

from benchmarks.jobs.run import main

main()
