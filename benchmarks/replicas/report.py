"""The results: a JSON document, a markdown table of the measurements, the sizing table made
from them, and a model extrapolated from that table (labelled as such)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from benchmarks.registry.report import environment

#: The busy fraction a sized part is planned to run at, leaving room for bursts.
PLANNED_UTILISATION = 0.6
#: Example loads (requests per second by scenario) the extrapolated model is worked for.
EXAMPLE_LOADS: dict[str, dict[str, float]] = {
    "team (reads, a few writes)": {
        "resolve alias": 200, "get version": 50, "list models": 5,
        "create version": 5, "log version": 2,
    },
    "serving fleet (many reads)": {
        "resolve alias": 2_000, "get version": 500, "list models": 20,
        "create version": 20, "log version": 10,
    },
    "training burst (writes)": {
        "resolve alias": 200, "get version": 100, "list models": 10,
        "create version": 400, "log version": 100,
    },
}  # fmt: skip
#: Writes (changes, each appending to the audit chain) per operation of each scenario.
WRITES = {"create version": 1, "log version": 2}
#: Catalog requests per operation, where an operation is several (log version: create,
#: upload URL, upload, finalize).
REQUESTS_PER_OPERATION = {"log version": 4}


def sizing(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per request type, the cost measured: the mean of the one- and two-replica runs."""
    table = {}
    for name, runs in results.items():
        measured = list(runs.values())

        def mean(key: str, measured: list[dict[str, Any]] = measured) -> float:
            return round(sum(m[key] for m in measured) / len(measured), 3)

        table[name] = {
            "server_cpu_ms": mean("server_cpu_ms_per_request"),
            "database_cpu_ms": mean("database_cpu_ms_per_request"),
            "storage_cpu_ms": mean("storage_cpu_ms_per_request"),
            "statements": mean("statements_per_request"),
            "statement_ms": mean("statement_ms_per_request"),
            "locking_statement_ms": mean("locking_statement_ms_per_request"),
            "requests_per_operation": REQUESTS_PER_OPERATION.get(name, 1),
        }
    return table


def audit_chain(results: dict[str, Any]) -> dict[str, Any] | None:
    """Writes take turns on the audit chain's head (one row, locked from a mutation's append to
    its commit), whatever the number of replicas. On PostgreSQL one statement locks the head,
    seals and appends the record and moves the head: its time is mostly the wait for the head.
    What the create runs show about that turn-taking."""
    runs = results.get("create version")
    if not runs:
        return None
    found: dict[str, Any] = {"create_version_rps": {}, "sealing_statement_mean_ms": {}}
    for replicas, numbers in runs.items():
        found["create_version_rps"][replicas] = numbers["throughput_rps"]
        for statement in numbers["heaviest_statements"]:
            if statement["query"].upper().startswith("WITH HEAD AS"):
                found["sealing_statement_mean_ms"][replicas] = statement["mean_ms"]
    return found


def model(table: dict[str, dict[str, float]], load: dict[str, float]) -> dict[str, Any]:
    """EXTRAPOLATED from the sizing table: the CPU cores a load needs in replicas and in the
    PostgreSQL primary, at the planned utilisation."""
    server = sum(rate * table[name]["server_cpu_ms"] for name, rate in load.items()) / 1000
    database = sum(rate * table[name]["database_cpu_ms"] for name, rate in load.items()) / 1000
    statements = sum(rate * table[name]["statements"] for name, rate in load.items())
    writes = sum(rate * WRITES.get(name, 0) for name, rate in load.items())
    return {
        "load": load,
        "replica_cores": round(server / PLANNED_UTILISATION, 2),
        "replicas_of_2_workers": max(2, math.ceil(server / PLANNED_UTILISATION / 2)),
        "database_cores": round(database / PLANNED_UTILISATION, 2),
        "statements_per_second": round(statements),
        "writes_per_second": writes,
    }


def document(
    results: dict[str, Any], consistency: dict[str, Any], settings: dict[str, Any]
) -> dict[str, Any]:
    table = sizing(results)
    return {
        "benchmark": "replicas",
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "environment": environment(),
        "settings": settings,
        "scenarios": results,
        "consistency": consistency,
        "sizing": table,
        "audit_chain": audit_chain(results),
        "extrapolated": {
            "note": "Extrapolated from the sizing table, not measured: CPU grows linearly with "
            f"the load, and each part is planned at {PLANNED_UTILISATION:.0%} busy",
            "loads": {
                name: model(table, load)
                for name, load in EXAMPLE_LOADS.items()
                if set(load) <= set(table)  # every scenario of the load measured
            },
        },
    }


def markdown(doc: dict[str, Any]) -> str:
    env, settings = doc["environment"], doc["settings"]
    lines = [
        "# Scale-out benchmark: one and two replicas, one PostgreSQL, one bucket",
        "",
        f"{env['cpu_count']} CPUs ({env['cpu_model']}), Python {env['python']}, PostgreSQL "
        f"{settings['postgresql']} (a private instance with pg_stat_statements), "
        f"{settings['storage']}; each replica is `modelcatalog server --workers 1` "
        f"(log level {settings['log_level']}); {settings['clients']} clients, shared out in "
        "turn over the replicas in use; no CPU pinning (replicas, PostgreSQL, moto and the "
        "load generator share the machine); load average before the run "
        f"{settings['load_average_at_start'][0]}"
        + (" — quick smoke run, small counts" if settings["quick"] else "")
        + ".",
        "",
        "| scenario | replicas | requests | req/s | p50 / p99 ms | errors | server CPU ms/req "
        "| PostgreSQL CPU ms/req | S3 server CPU ms/req | statements/req | statement ms/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, runs in doc["scenarios"].items():
        for replicas, n in runs.items():
            lines.append(
                f"| {name} | {replicas} | {n['requests']:,} | {n['throughput_rps']:,.0f} | "
                f"{n['p50_ms']:.1f} / {n['p99_ms']:.1f} | {n['errors']} | "
                f"{n['server_cpu_ms_per_request']:.2f} | {n['database_cpu_ms_per_request']:.2f} | "
                f"{n['storage_cpu_ms_per_request']:.2f} | {n['statements_per_request']:.1f} | "
                f"{n['statement_ms_per_request']:.2f} |"
            )
    c = doc["consistency"]
    lines += [
        "",
        "Per request: CPU seconds of all replicas' processes, of every PostgreSQL process, and "
        "of the S3 server over the timed requests (and the event dispatch and audit writes they "
        "left behind), less the background the idle replicas and database keep up (job engine "
        f"ticks: {settings['idle_cpu_per_second']['replicas']} and "
        f"{settings['idle_cpu_per_second']['postgresql']} CPU seconds per second, measured "
        "before), divided by the requests; statements and their execution time from "
        "`pg_stat_statements` (reset before each measurement). `log version` is one operation "
        "of four catalog requests: create, upload URL, upload of `MLmodel` (through the "
        "catalog's signed URL with today's storage), finalize.",
        "",
        f"Consistency after both runs ({'passed' if c['passed'] else 'FAILED'}): "
        f"{c['versions_created']:,} versions of {c['models_written']} models created through "
        "both replicas at once, each model's numbered "
        f"{'1, 2, 3 … without gap or repeat' if c['numbers_consecutive'] else 'WITH GAPS OR REPEATS'}; "  # noqa: E501
        f"{c['created_events_dispatched']:,} of {c['created_events']:,} creation events "
        f"dispatched; audit chain {'intact' if c['audit_chain'].get('intact') else 'BROKEN'} "
        f"({c['audit_chain'].get('records', '?')} records); "
        f"{c['logged_versions_with_files_in_bucket']} of {c['logged_ready_versions']} READY "
        "logged versions have their files in the bucket.",
        "",
        "## Sizing table (measured: mean of the one- and two-replica runs)",
        "",
        "| request | server CPU ms | PostgreSQL CPU ms | S3 server CPU ms | statements "
        "| statement ms | of which row-locking statements (waits included) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in doc["sizing"].items():
        lines.append(
            f"| {name} | {row['server_cpu_ms']:.2f} | {row['database_cpu_ms']:.2f} | "
            f"{row['storage_cpu_ms']:.2f} | {row['statements']:.1f} | "
            f"{row['statement_ms']:.2f} | {row['locking_statement_ms']:.2f} |"
        )
    ex = doc["extrapolated"]
    lines += [
        "",
        "## Extrapolated model (not measured)",
        "",
        f"{ex['note']}.",
        "",
        "| load | req/s by type | replica cores | replicas (2 workers each, at least 2) "
        "| PostgreSQL cores | statements/s | writes/s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, m in ex["loads"].items():
        mix = ", ".join(f"{k} {v:,.0f}" for k, v in m["load"].items())
        lines.append(
            f"| {name} | {mix} | {m['replica_cores']:.1f} | {m['replicas_of_2_workers']} | "
            f"{m['database_cores']:.2f} | {m['statements_per_second']:,} | "
            f"{m['writes_per_second']:,.0f} |"
        )
    chain = doc.get("audit_chain")
    lines += ["", "## What saturates first", ""]
    table = doc["sizing"]
    for name, row in table.items():
        if row["server_cpu_ms"] and row["database_cpu_ms"]:
            lines.append(
                f"- {name}: one replica core serves about {1000 / row['server_cpu_ms']:,.0f}/s, "
                f"one PostgreSQL core about {1000 / row['database_cpu_ms']:,.0f}/s "
                f"({row['server_cpu_ms'] / row['database_cpu_ms']:.1f} replica cores per "
                "PostgreSQL core)."
            )
    if chain and chain["sealing_statement_mean_ms"]:
        rps = chain["create_version_rps"]
        waits = chain["sealing_statement_mean_ms"]
        lines.append(
            "- Writes, from every replica, take turns on the audit chain's head, held from the "
            "statement that seals a record to the commit. With 32 clients creating versions, "
            "that statement took "
            + " and ".join(f"{waits[k]:.1f} ms on {k} replica(s)" for k in sorted(waits))
            + " on average, nearly all of it waiting for the head, and creation ran at "
            + " and ".join(f"{rps[k]:,.0f}/s on {k}" for k in sorted(rps))
            + ": more replicas do not raise the write ceiling; the head's turn (a round trip "
            "and the commit, plus any pause of the holder's process) sets it."
        )
    lines.append("")
    return "\n".join(lines)


def write(doc: dict[str, Any], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "replicas.json").write_text(json.dumps(doc, indent=2) + "\n")
    (folder / "replicas.md").write_text(markdown(doc))
