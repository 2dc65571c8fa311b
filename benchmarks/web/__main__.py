"""`python -m benchmarks.web`: the same as `python benchmarks/web/run.py`."""

from benchmarks.web.run import main

main()
