"""Run the whole test suite once as CI runs it, under coverage, and write what it covered.

The servers, Celery workers and CLI processes the tests start are measured too: coverage's
`patch = subprocess` hands the configuration to every Python child process, and a server
stopped by SIGTERM saves its data before it exits. The figures go to
`benchmarks/results/suite.{json,md}`.

    .venv/bin/python -m benchmarks.suite [--label NAME] [-- extra pytest arguments]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"

COVERAGE_RC = """\
[run]
patch = subprocess
parallel = true
source_pkgs = modelcatalog
sigterm = true
relative_files = true
data_file = {data_file}

[report]
precision = 2
"""


def measure(pytest_args: list[str]) -> dict:
    """Run the suite under coverage; return its wall time, outcome and coverage totals."""
    with tempfile.TemporaryDirectory(prefix="suite-coverage-") as folder:
        rc = Path(folder) / "coveragerc"
        rc.write_text(COVERAGE_RC.format(data_file=Path(folder) / ".coverage"))
        env = {**os.environ, "COVERAGE_RCFILE": str(rc)}
        command = [sys.executable, "-m", "coverage", "run", "-m", "pytest", *pytest_args]
        started = time.monotonic()
        tests = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.monotonic() - started
        summary = tests.stdout.strip().splitlines()[-1] if tests.stdout.strip() else ""
        coverage = [sys.executable, "-m", "coverage"]
        subprocess.run([*coverage, "combine", "-q"], cwd=ROOT, env=env, check=True)
        subprocess.run(
            [*coverage, "json", "-q", "-o", str(Path(folder) / "coverage.json")],
            cwd=ROOT,
            env=env,
            check=True,
        )
        data = json.loads((Path(folder) / "coverage.json").read_text())
    totals = data["totals"]
    files = {
        name.split("modelcatalog/", 1)[-1]: round(info["summary"]["percent_covered"], 2)
        for name, info in data["files"].items()
    }
    return {
        "command": " ".join(["pytest", *pytest_args]),
        "exit_code": tests.returncode,
        "summary": summary,
        "seconds_under_coverage": round(seconds, 1),
        "statements": totals["num_statements"],
        "covered_lines": totals["covered_lines"],
        "percent_covered": round(totals["percent_covered"], 2),
        "files": files,
    }


def write_results(label: str, result: dict) -> None:
    """Add this run to benchmarks/results/suite.json under `label`, and rewrite suite.md."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "suite.json"
    runs = json.loads(path.read_text()) if path.exists() else {}
    runs[label] = result
    path.write_text(json.dumps(runs, indent=2) + "\n")
    lines = [
        "# Test suite: line coverage of `src/`",
        "",
        "Command: `.venv/bin/python -m benchmarks.suite --label NAME` (the suite as CI runs it, "
        "under coverage, server and worker processes included). Wall time here is under "
        "coverage; CI's own time is in the closing figures of `.ci/run`.",
        "",
        "| run | tests | covered lines / statements | coverage | wall time under coverage |",
        "|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        lines.append(
            f"| {name} | {run['summary']} | {run['covered_lines']:,} / {run['statements']:,} "
            f"| {run['percent_covered']:.2f} % | {run['seconds_under_coverage'] / 60:.1f} min |"
        )
    (RESULTS / "suite.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="current", help="name of this run in the results")
    parser.add_argument("pytest_args", nargs="*", help="pytest arguments (after --)")
    options = parser.parse_args()
    pytest_args = options.pytest_args or ["-n", "2", "--dist", "loadfile", "-q"]
    result = measure(pytest_args)
    write_results(options.label, result)
    print(
        f"{result['summary']}: {result['percent_covered']:.2f} % of {result['statements']:,} "
        f"statements in {result['seconds_under_coverage'] / 60:.1f} min"
    )
    sys.exit(result["exit_code"])


if __name__ == "__main__":
    main()
