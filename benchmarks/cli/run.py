"""How much CPU the `modelcatalog` command spends before it talks to the server.

Each command is run as a new process, as a person or a script runs it, `--runs` times; its CPU
time (user + system, from the kernel's accounting of finished children) is recorded, with the
median and the spread. The figures:

- `python -c pass`: the interpreter alone, the floor;
- `modelcatalog models list` against a port where nothing listens: everything the command does
  before its request (start-up, parsing, the HTTP client), then a refused connection;
- `modelcatalog models list` and `modelcatalog versions get` against a running server;
- `modelcatalog --help`, which loads every command to list them.

The target is under 300 ms of CPU before the request.

    .venv/bin/python -m benchmarks.cli                 # about a minute
    .venv/bin/python -m benchmarks.cli --source DIR    # another checkout's CLI (DIR/src first)

The figures of another release of a dependency come from putting it first on PYTHONPATH.

Writes benchmarks/results/cli.json and benchmarks/results/cli.md (with --source, cli-DIRNAME.*)."""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from benchmarks.registry.report import environment
from benchmarks.registry.servers import free_port, modelcatalog

RESULTS = Path(__file__).resolve().parents[1] / "results"
TARGET_MS = 300.0
UC = "/api/2.1/unity-catalog"


def cpu_ms(command: list[str], env: dict[str, str]) -> float:
    """CPU time (user + system) of one run of `command` as a child process, in ms."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000


def figures(command: list[str], env: dict[str, str], runs: int) -> dict[str, float]:
    cpu_ms(command, env)  # warm the file cache and the bytecode
    samples = sorted(cpu_ms(command, env) for _ in range(runs))
    return {
        "median_ms": round(statistics.median(samples), 1),
        "min_ms": round(samples[0], 1),
        "max_ms": round(samples[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--source", type=Path, help="another checkout whose src/ to run")
    args = parser.parse_args()

    env = dict(os.environ)
    if args.source:
        # Ahead of whatever PYTHONPATH already names (another release of a dependency, say).
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(args.source.resolve() / "src"), env.get("PYTHONPATH")])
        )
    cli = [sys.executable, "-m", "modelcatalog"]
    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as scratch:
        env["MODELCATALOG_CONFIG_DIR"] = str(Path(scratch) / "config")
        with modelcatalog(
            Path(scratch) / "server", workers=1, cpus=None, log_level="warning"
        ) as server:
            with httpx.Client(base_url=server.url, headers=server.headers) as api:
                api.post(f"{UC}/catalogs", json={"name": "main"}).raise_for_status()
                api.post(f"{UC}/schemas", json={"name": "default", "catalog_name": "main"})
                for i in range(20):
                    body = {"catalog_name": "main", "schema_name": "default", "name": f"m{i}"}
                    api.post(f"{UC}/models", json=body).raise_for_status()
            token = server.headers["Authorization"].split(" ", 1)[1]
            live = {**env, "MODELCATALOG_URL": server.url, "MODELCATALOG_TOKEN": token}
            nowhere = {**live, "MODELCATALOG_URL": f"http://127.0.0.1:{free_port()}"}
            cases = {
                "python -c pass": ([sys.executable, "-c", "pass"], env),
                "models list, nothing listening (before the request)": (
                    [*cli, "models", "list"],
                    nowhere,
                ),
                "models list": ([*cli, "models", "list"], live),
                "models get": ([*cli, "models", "get", "main.default.m1"], live),
                "--help": ([*cli, "--help"], env),
            }
            results = {name: figures(command, e, args.runs) for name, (command, e) in cases.items()}
    before = results["models list, nothing listening (before the request)"]["median_ms"]
    report: dict[str, Any] = {
        "settings": {
            "runs": args.runs,
            "source": str(args.source or "this checkout"),
            "load_average_before": load_before,
        },
        "environment": environment(),
        "results": results,
        "target": {"before_request_ms": TARGET_MS, "met": before < TARGET_MS},
    }
    suffix = f"-{args.source.resolve().name}" if args.source else ""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"cli{suffix}.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# CLI start-up: CPU time per command",
        "",
        f"{args.runs} runs each, new process each time; source: {report['settings']['source']}; "
        f"load average before: {load_before}.",
        "",
        "| command | median ms | min | max |",
        "|---|---:|---:|---:|",
        *(
            f"| {n} | {r['median_ms']} | {r['min_ms']} | {r['max_ms']} |"
            for n, r in results.items()
        ),
        "",
        f"Target: under {TARGET_MS:.0f} ms of CPU before the request: "
        f"{'met' if before < TARGET_MS else 'not met'} ({before} ms).",
        "",
    ]
    (RESULTS / f"cli{suffix}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
