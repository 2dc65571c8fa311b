"""The results: a JSON document with the environment, and a markdown table for the README."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

ALIAS_P99_TARGET_MS = 50.0
THROUGHPUT_RATIO_TARGET = 3.0
# Above this busy fraction of one CPU per generator process, the generator set the pace: its
# throughput and latencies then bound the server's rather than measure them.
GENERATOR_BOUND_CPU = 0.85
PACKAGES = (
    "modelcatalog", "mlflow", "fastapi", "starlette", "uvicorn", "uvloop", "httptools",
    "sqlalchemy", "flask", "aiohttp", "httpx",
)  # fmt: skip


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def environment() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["sqlite"] = sqlite3.sqlite_version
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        # Other work on the machine skews every figure. The load when the run ended includes
        # the run's own threads; the load before it started is in settings.
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "commit": _commit(),
        "versions": versions,
    }


def _ratio(ours: float, theirs: float) -> float | None:
    return round(ours / theirs, 2) if theirs else None


def generator_bound(numbers: dict | None, processes: int = 1) -> bool:
    """Whether the load generator's CPU was near its limit during this measurement."""
    if not numbers or "client_cpu" not in numbers:
        return False
    return numbers["client_cpu"] > GENERATOR_BOUND_CPU * max(1, processes)


def comparisons(results: dict[str, Any], processes: int = 1) -> list[dict[str, Any]]:
    """One row per scenario and concurrency, with both servers' numbers side by side."""
    ours, theirs = results.get("modelcatalog", {}), results.get("mlflow", {})
    rows: list[dict[str, Any]] = []

    def add(scenario: str, ours_numbers: dict | None, their_numbers: dict | None) -> None:
        if not ours_numbers and not their_numbers:
            return
        a, b = ours_numbers or {}, their_numbers or {}
        row: dict[str, Any] = {
            "scenario": scenario,
            "clients": (a or b)["clients"],
            "requests": (a or b)["requests"],
            "modelcatalog": a or None,
            "mlflow": b or None,
            # Sides whose figures the generator bounded (its CPU near one core per process).
            "generator_bound": [
                side
                for side, n in (("mlflow", b), ("modelcatalog", a))
                if generator_bound(n, processes)
            ],
        }
        # The trivial endpoints differ (ours is ASGI, MLflow's /health goes through Flask), so
        # that row bounds the generator and is not a comparison.
        if a and b and not scenario.startswith("trivial"):
            row["throughput_ratio"] = _ratio(a["throughput_rps"], b["throughput_rps"])
            row["p99_ratio"] = _ratio(a["p99_ms"], b["p99_ms"])
        rows.append(row)

    def pick(*path: str) -> dict | None:
        out: list[dict | None] = []
        for side in (ours, theirs):
            node: Any = side
            for key in path:
                node = node.get(key) if isinstance(node, dict) else None
            out.append(node)
        return out  # type: ignore[return-value]

    add("trivial endpoint (generator ceiling)", *pick("trivial", "32"))
    for clients in ("1", "8", "32"):
        add("(a) resolve alias", *pick("resolve_alias", clients))
    add("(b) create version (metadata only)", *pick("create_versions", "32"))
    for clients in ("1", "8"):
        searched = pick("search_models", "registry search", clients)
        add("(c) search models, registry dialect", *searched)
    for clients in ("1", "8"):
        a, _ = pick("search_models", "UC list models", clients)
        _, b = pick("search_models", "registry search", clients)
        add("(c) search models, UC list (ours) vs registry search", a, b)
    return rows


def targets(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The product targets, checked against this run."""

    def row(scenario: str, clients: int) -> dict[str, Any]:
        for r in rows:
            if r["scenario"] == scenario and r["clients"] == clients:
                return r
        return {}

    alias, versions = row("(a) resolve alias", 32), row("(b) create version (metadata only)", 32)
    p99 = (alias.get("modelcatalog") or {}).get("p99_ms")
    return {
        "alias_throughput_ratio_at_32": {
            "target": THROUGHPUT_RATIO_TARGET, "value": alias.get("throughput_ratio"),
            "met": (alias.get("throughput_ratio") or 0) >= THROUGHPUT_RATIO_TARGET,
            "generator_bound": alias.get("generator_bound", []),
        },
        "create_version_throughput_ratio_at_32": {
            "target": THROUGHPUT_RATIO_TARGET, "value": versions.get("throughput_ratio"),
            "met": (versions.get("throughput_ratio") or 0) >= THROUGHPUT_RATIO_TARGET,
            "generator_bound": versions.get("generator_bound", []),
        },
        "alias_p99_ms_at_32": {
            "target": ALIAS_P99_TARGET_MS, "value": p99,
            "met": p99 is not None and p99 < ALIAS_P99_TARGET_MS,
            "generator_bound": [
                s for s in alias.get("generator_bound", []) if s == "modelcatalog"
            ],
        },
    }  # fmt: skip


def document(
    results: dict[str, Any], plan: dict[str, Any], settings: dict[str, Any]
) -> dict[str, Any]:
    rows = comparisons(results, settings.get("generator_processes", 1))
    return {
        "benchmark": "registry",
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "environment": environment(),
        "settings": settings,
        "plan": plan,
        "servers": results,
        "comparison": rows,
        "targets": targets(rows),
    }


def _cell(numbers: dict | None, bound: bool) -> tuple[str, str, str]:
    if not numbers:
        return "", "", ""
    mark = " ⚠" if bound else ""
    cpu = f"{numbers.get('server_cpu', 0):.2f} / {numbers.get('client_cpu', 0):.2f}"
    return (
        f"{numbers['throughput_rps']:,.0f}{mark}",
        f"{numbers['p50_ms']:.1f} / {numbers['p99_ms']:.1f}{mark}",
        cpu + (" generator-bound" if bound else ""),
    )


def markdown(doc: dict[str, Any]) -> str:
    env, settings = doc["environment"], doc["settings"]
    pinning = (
        f"servers on CPU {settings['server_cpus']}, load generator on CPU {settings['client_cpus']}"
        if settings["server_cpus"] != "all"
        else "no CPU pinning"
    )
    lines = [
        "# Registry benchmark: modelcatalog server vs `mlflow server`",
        "",
        f"{env['cpu_count']} CPUs ({env['cpu_model']}), Python {env['python']}, "
        f"MLflow {env['versions']['mlflow']} (SQLite backend), modelcatalog "
        f"{env['versions']['modelcatalog']} (SQLite, WAL); {settings['workers']} worker process"
        f"{'es' if settings['workers'] != 1 else ''} each; {pinning}; "
        f"{settings['generator_processes']} load generator process"
        f"{'es' if settings['generator_processes'] != 1 else ''} (aiohttp, asyncio on uvloop)"
        + (" — quick smoke run, small counts" if settings["quick"] else "")
        + (
            f"; load average before the run {settings['load_average_at_start'][0]}"
            if settings.get("load_average_at_start")
            else ""
        )
        + ".",
        "",
        "| scenario | clients | requests | MLflow req/s | MLflow p50 / p99 ms "
        "| MLflow CPU server / generator | modelcatalog req/s | modelcatalog p50 / p99 ms "
        "| modelcatalog CPU server / generator | throughput ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in doc["comparison"]:
        bound = row.get("generator_bound", [])
        mine = _cell(row["modelcatalog"], "modelcatalog" in bound)
        theirs = _cell(row["mlflow"], "mlflow" in bound)
        ratio = row.get("throughput_ratio")
        shown = f"{ratio:.2f}x" if ratio else ""
        if ratio and bound:
            shown += " (generator-bound)"
        lines.append(
            f"| {row['scenario']} | {row['clients']} | {row['requests']:,} | {theirs[0]} | "
            f"{theirs[1]} | {theirs[2]} | {mine[0]} | {mine[1]} | {mine[2]} | {shown} |"
        )
    lines += [
        "",
        "CPU columns: busy fraction of one CPU over the scenario (warm-up included), for the "
        "server's processes and for the load generator. ⚠ generator-bound: the generator used "
        f"more than {GENERATOR_BOUND_CPU} of its CPU"
        + (" per process" if settings["generator_processes"] != 1 else "")
        + ", so it, not the server, set the pace: that row's throughput is a lower bound on "
        "the server's and its latencies include the generator's own queueing.",
        "",
    ]
    checks = doc["targets"]
    described = {
        "alias_throughput_ratio_at_32": "(a) throughput at 32 clients ≥ 3x MLflow",
        "create_version_throughput_ratio_at_32": "(b) throughput at 32 clients ≥ 3x MLflow",
        "alias_p99_ms_at_32": "(a) p99 at 32 clients < 50 ms",
    }
    for key, text in described.items():
        check = checks[key]
        value = check["value"]
        if value is None:
            continue  # a scenario this run did not measure
        shown = "n/a" if value is None else (f"{value}x" if "ratio" in key else f"{value} ms")
        verdict = "met" if check["met"] else "NOT met"
        if check.get("generator_bound"):
            sides = " and ".join(check["generator_bound"])
            verdict += f" (generator-bound for {sides}: a limit of the generator, not the server)"
        lines.append(f"- {text}: {shown}, {verdict}")
    lines += [
        "",
        "Scenarios measured: " + ", ".join(settings.get("scenarios", ["all"])) + ". "
        "Search pages through the first 10 pages of 100 among "
        f"{doc['plan']['seeded_models']:,} seeded models, following next_page_token. "
        "The trivial endpoint (ours: `/.well-known/databricks-config`, MLflow: `/health`) "
        "shows what the load generator can drive: if its generator CPU there is well below 1, "
        "the server set that pace and the generator's own ceiling is higher still.",
        "",
    ]
    return "\n".join(lines)


def write(doc: dict[str, Any], folder: Path, name: str = "registry") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
    (folder / f"{name}.md").write_text(markdown(doc))
