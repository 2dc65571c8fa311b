"""Benchmark of `modelcatalog code lint` and `fix` on a generated 1,000,000-line corpus.

Usage (from the repository root):

    .venv/bin/python benchmarks/rewrite/run.py [--baseline] [--name rewrite]

Writes benchmarks/results/<name>.json and benchmarks/results/<name>.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(HERE))

from corpus import generate  # noqa: E402

LINT_TARGET_SECONDS = 60.0


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("modelcatalog")
    return [str(script)] if script.exists() else [sys.executable, "-m", "modelcatalog"]


def _timed(args: list[str]) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run([*_cli(), *args, "--format", "json"], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{args[:2]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, json.loads(done.stdout)


def _baseline(corpus: Path) -> float:
    """Lint without the pre-filter and without worker processes: every file is parsed."""
    from modelcatalog.migrate.mapping import ModelMap
    from modelcatalog.rewrite import engine

    engine.may_have_findings = lambda text, kind: True  # type: ignore[assignment]
    start = time.perf_counter()
    engine.run([corpus], "lint", ModelMap.default(), jobs=1)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="Python lines to generate")
    parser.add_argument("--notebooks", type=int, default=2_000, help="notebooks to generate")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also time a lint with no pre-filter and one process (slow)",
    )
    parser.add_argument(
        "--name", default="rewrite", help="results file name under benchmarks/results/"
    )
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="rewrite-bench-") as tmp:
        corpus = Path(tmp, "corpus")
        started = time.perf_counter()
        written = generate(corpus, options.lines, options.notebooks)
        generated_in = time.perf_counter() - started
        total_lines = written["python_lines"]

        lint_seconds, lint = _timed(["code", "lint", str(corpus)])
        copy = Path(tmp, "fix")
        shutil.copytree(corpus, copy)
        fix_seconds, fixed = _timed(["code", "fix", str(copy)])
        again_seconds, again = _timed(["code", "fix", str(copy)])
        baseline = _baseline(corpus) if options.baseline else None

    result = {
        "machine": {
            "cpus": len(os.sched_getaffinity(0)),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "corpus": {**written, "generated_seconds": round(generated_in, 2)},
        "lint": {
            "seconds": round(lint_seconds, 2),
            "lines_per_second": round(total_lines / lint_seconds),
            "findings": lint["summary"]["findings"],
            "fixable": lint["summary"]["fixable"],
            "errors": lint["summary"]["errors"],
        },
        "fix": {
            "seconds": round(fix_seconds, 2),
            "lines_per_second": round(total_lines / fix_seconds),
            "fixed": fixed["summary"]["fixed"],
            "files_changed": fixed["summary"]["files_changed"],
            "left": fixed["summary"]["findings"],
        },
        "fix_again": {
            "seconds": round(again_seconds, 2),
            "files_changed": again["summary"]["files_changed"],
        },
        "targets": {
            "lint_under_seconds": LINT_TARGET_SECONDS,
            "lint_met": lint_seconds < LINT_TARGET_SECONDS,
            "fix_under_twice_lint_met": fix_seconds < 2 * lint_seconds,
            "fix_idempotent": again["summary"]["files_changed"] == 0,
        },
    }
    if baseline is not None:
        result["baseline_lint_no_prefilter_one_process"] = {
            "seconds": round(baseline, 2),
            "lines_per_second": round(total_lines / baseline),
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{options.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{options.name}.md").write_text(_markdown(result))
    print(json.dumps(result, indent=2))


def _markdown(result: dict) -> str:
    c = result["corpus"]
    rows = [
        (
            "lint",
            result["lint"]["seconds"],
            result["lint"]["lines_per_second"],
            f"{result['lint']['findings']} findings ({result['lint']['fixable']} fixable)",
        ),
        (
            "fix (on a copy)",
            result["fix"]["seconds"],
            result["fix"]["lines_per_second"],
            f"{result['fix']['fixed']} fixed in {result['fix']['files_changed']} files, "
            f"{result['fix']['left']} left",
        ),
        (
            "fix again",
            result["fix_again"]["seconds"],
            "",
            f"{result['fix_again']['files_changed']} files changed",
        ),
    ]
    if "baseline_lint_no_prefilter_one_process" in result:
        b = result["baseline_lint_no_prefilter_one_process"]
        rows.append(
            (
                "baseline lint (no pre-filter, 1 process)",
                b["seconds"],
                b["lines_per_second"],
                "every file parsed",
            )
        )
    lines = [
        "# Workload rewriter benchmark",
        "",
        f"Corpus: {c['python_lines']:,} lines of Python in {c['python_files']:,} files and "
        f"{c['notebooks']:,} notebooks; {result['machine']['cpus']} CPUs, "
        f"Python {result['machine']['python']}.",
        "",
        "| run | seconds | lines/s | result |",
        "|---|---:|---:|---|",
        *(
            f"| {r[0]} | {r[1]} | {r[2]:,} | {r[3]} |"
            if r[2] != ""
            else f"| {r[0]} | {r[1]} |  | {r[3]} |"
            for r in rows
        ),
        "",
        f"Targets: lint under {result['targets']['lint_under_seconds']:.0f} s: "
        f"{'met' if result['targets']['lint_met'] else 'missed'}; fix under twice lint: "
        f"{'met' if result['targets']['fix_under_twice_lint_met'] else 'missed'}; "
        f"second fix changes nothing: {'yes' if result['targets']['fix_idempotent'] else 'no'}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
