"""Scale-out benchmark: one and two server replicas on one PostgreSQL database and one
S3-compatible bucket, with the load spread over the replicas; and what each request costs.

Usage (from the repository root):

    .venv/bin/python -m benchmarks.replicas [--quick]

Writes benchmarks/results/replicas.json and benchmarks/results/replicas.md.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks.replicas` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import boto3  # noqa: E402
import httpx  # noqa: E402
import psycopg  # noqa: E402
from benchmarks import proc  # noqa: E402
from benchmarks.registry import servers  # noqa: E402
from benchmarks.registry.load import measure  # noqa: E402
from benchmarks.registry.run import CpuMeter  # noqa: E402
from benchmarks.replicas import postgres, report, workload  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results"
AWS = {
    "AWS_ACCESS_KEY_ID": "benchmark",
    "AWS_SECRET_ACCESS_KEY": "benchmark",
    "AWS_DEFAULT_REGION": "us-east-1",
}
BUCKET = "models"


@contextmanager
def moto_server(folder: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """moto's S3 server on a free local port, with the catalog's bucket made."""
    port = servers.free_port()
    with open(folder / "moto.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{endpoint}/moto-api/", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto's server did not start; see moto.log")
            time.sleep(0.2)
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=AWS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS["AWS_SECRET_ACCESS_KEY"],
            region_name=AWS["AWS_DEFAULT_REGION"],
        ).create_bucket(Bucket=BUCKET)
        yield endpoint, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Setup:
    """Everything a measurement reads its costs from."""

    replicas: list[servers.Server]
    database: postgres.Instance
    moto: subprocess.Popen
    endpoint: str
    # CPU seconds per second the replicas and the database use with no request at all (the
    # job engines' ticks), subtracted from every measurement.
    idle_server: float = 0.0
    idle_database: float = 0.0


def measure_idle(setup: Setup, seconds: float = 10.0) -> None:
    """The background the replicas and the database keep up with no requests."""
    meters = [CpuMeter(r) for r in setup.replicas]
    for meter in meters:
        meter.__enter__()
    database_before = postgres.cpu_seconds(setup.database)
    time.sleep(seconds)
    for meter in meters:
        meter.__exit__()
    setup.idle_server = sum(m.server_cpu for m in meters)
    setup.idle_database = (postgres.cpu_seconds(setup.database) - database_before) / seconds


def _measured(
    setup: Setup, name: str, step: Any, replicas: int, clients: int, counts: tuple[int, int]
) -> dict[str, Any]:
    """One scenario on the first `replicas` replicas: throughput and latency, then the CPU of
    every part and the database's statements, per request."""
    warmup, total = counts
    used = setup.replicas[:replicas]
    urls = tuple(r.url for r in used)
    headers = used[0].headers
    measure(urls, headers, step, clients=clients, total=0, warmup=warmup)
    postgres.wait_for_dispatch(setup.database)
    time.sleep(0.5)  # queued audit records of the warm-up are written
    postgres.reset_statements(setup.database)
    meters = [CpuMeter(r) for r in setup.replicas]
    for meter in meters:
        meter.__enter__()
    database_before = postgres.cpu_seconds(setup.database)
    moto_before = proc.cpu_seconds(setup.moto.pid)
    started = time.perf_counter()
    result = measure(urls, headers, step, clients=clients, total=total, warmup=0)
    # Work the requests left behind (events to dispatch, audit records queued) is theirs.
    postgres.wait_for_dispatch(setup.database)
    time.sleep(0.5)
    for meter in meters:
        meter.__exit__()
    interval = time.perf_counter() - started
    seconds = result.seconds
    numbers: dict[str, Any] = result.summary()
    per_replica = [m.server_cpu * (time.perf_counter() - m.started) for m in meters]
    # Net of the background (engine ticks) the replicas and the database keep up anyway.
    server_cpu = max(0.0, sum(per_replica) - setup.idle_server * interval)
    database_cpu = max(
        0.0,
        postgres.cpu_seconds(setup.database) - database_before - setup.idle_database * interval,
    )
    moto_cpu = proc.cpu_seconds(setup.moto.pid) - moto_before
    stats = postgres.statements(setup.database)
    ok = max(1, total - result.errors)
    numbers.update(
        {
            "replicas": replicas,
            "replica_cpu_seconds": [round(x, 3) for x in per_replica],
            "server_cpu_ms_per_request": round(server_cpu / ok * 1000, 3),
            "database_cpu_ms_per_request": round(database_cpu / ok * 1000, 3),
            "storage_cpu_ms_per_request": round(moto_cpu / ok * 1000, 3),
            "statements_per_request": round(stats["calls"] / ok, 2),
            "statement_ms_per_request": round(stats["exec_ms"] / ok, 3),
            # Of that, statements taking row locks, waits for the lock included.
            "locking_statement_ms_per_request": round(stats["locking_ms"] / ok, 3),
            "rows_per_request": round(stats["rows"] / ok, 2),
            "heaviest_statements": stats["heaviest"],
            "wall_seconds": round(seconds, 3),
        }
    )
    print(
        f"  {name:15} replicas={replicas} {numbers['throughput_rps']:>7} req/s  "
        f"p50 {numbers['p50_ms']:>7} ms  p99 {numbers['p99_ms']:>7} ms  errors "
        f"{numbers['errors']}  server {numbers['server_cpu_ms_per_request']} ms  db "
        f"{numbers['database_cpu_ms_per_request']} ms  statements "
        f"{numbers['statements_per_request']} ({numbers['statement_ms_per_request']} ms)",
        flush=True,
    )
    return numbers


def check_consistency(setup: Setup, created: int) -> dict[str, Any]:
    """What two replicas writing at once must leave: consecutive version numbers, every event
    dispatched once, an intact audit chain, and every READY version's files in the bucket."""
    with psycopg.connect(setup.database.uri, autocommit=True) as conn:
        numbers: dict[str, list[int]] = {}
        for name, version in conn.execute(
            "/* benchmark */ SELECT m.name, v.version FROM model_versions v "
            "JOIN registered_models m ON m.id = v.model_id WHERE m.name LIKE 'w%' "
            "ORDER BY m.name, v.version"
        ):
            numbers.setdefault(name, []).append(version)
        events = conn.execute(
            "/* benchmark */ SELECT count(*), count(*) FILTER (WHERE dispatched) "
            "FROM model_events e JOIN registered_models m ON m.id = e.model_id "
            "WHERE m.name LIKE 'w%' AND e.kind = 'MODEL_VERSION_CREATED'"
        ).fetchone()
        ready = conn.execute(
            "/* benchmark */ SELECT v.model_id, v.version FROM model_versions v "
            "JOIN registered_models m ON m.id = v.model_id "
            "WHERE m.name LIKE 'l%' AND v.status = 'READY'"
        ).fetchall()
    with httpx.Client(headers=setup.replicas[0].headers, timeout=600) as client:
        verified = client.get(f"{setup.replicas[-1].url}/api/modelcatalog/audit/verify").json()
    s3 = boto3.client(
        "s3",
        endpoint_url=setup.endpoint,
        aws_access_key_id=AWS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS["AWS_SECRET_ACCESS_KEY"],
        region_name=AWS["AWS_DEFAULT_REGION"],
    )
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for o in page.get("Contents", [])
    ]
    files = sum(1 for model_id, version in ready if any(
        f"/{model_id}/{version}/" in key for key in keys))  # fmt: skip
    assert events is not None
    consecutive = all(found == list(range(1, len(found) + 1)) for found in numbers.values())
    created_count = sum(len(found) for found in numbers.values())
    checks = {
        "models_written": len(numbers),
        "versions_created": created_count,
        "versions_expected": created,
        "numbers_consecutive": consecutive,
        "created_events": int(events[0]),
        "created_events_dispatched": int(events[1]),
        "audit_chain": verified,
        "logged_ready_versions": len(ready),
        "logged_versions_with_files_in_bucket": files,
    }
    checks["passed"] = (
        consecutive
        and created_count == created == int(events[0]) == int(events[1])
        and bool(verified.get("intact"))
        and files == len(ready)
    )
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (32)")
    parser.add_argument(
        "--pg-bin", help="folder of PostgreSQL's initdb and pg_ctl (default: found on PATH)"
    )
    parser.add_argument(
        "--log-level", default="info", help="the servers' --log-level (default info, as shipped)"
    )
    parser.add_argument(
        "--scenarios",
        help=f"comma-separated scenarios to measure, of {', '.join(workload.steps())} "
        "(default all; the consistency check needs create version and log version)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="folder for the results")
    options = parser.parse_args()
    known = workload.steps()
    chosen = [x.strip() for x in (options.scenarios or ",".join(known)).split(",") if x.strip()]
    unknown = [x for x in chosen if x not in known]
    if unknown or not chosen:
        parser.error(
            f"--scenarios: {', '.join(unknown) or 'none given'} is not a scenario; choose "
            f"among {', '.join(known)}"
        )
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    plan = workload.Plan(options.quick)

    results: dict[str, Any] = {}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="replicas-bench-")))
        database = stack.enter_context(postgres.private_instance(options.pg_bin))
        endpoint, moto = stack.enter_context(moto_server(tmp))
        token = "mc_bench_" + secrets.token_urlsafe(16)
        env = {
            **AWS,
            "MODELCATALOG_S3_ENDPOINT_URL": endpoint,
            # Replicas share the key that encrypts secrets at rest, as they must.
            "MODELCATALOG_SECRET_KEY": Fernet.generate_key().decode(),
        }
        replicas = [
            stack.enter_context(
                servers.modelcatalog(
                    tmp / f"replica{n}",
                    workers=1,
                    cpus=None,
                    log_level=options.log_level,
                    database_uri=database.uri,
                    storage_root=f"s3://{BUCKET}/catalog",
                    env=env,
                    token=token,
                )
            )
            for n in range(2)
        ]
        setup = Setup(replicas, database, moto, endpoint)
        print(f"PostgreSQL {database.version()} on port {database.port}; moto at {endpoint}")
        workload.prepare(replicas[0], plan.models)
        postgres.settle(database)
        measure_idle(setup)
        print(
            f"idle background: replicas {setup.idle_server:.3f}, PostgreSQL "
            f"{setup.idle_database:.3f} CPU seconds per second"
        )
        steps = workload.steps()
        for name, step in steps.items():
            if name not in chosen:
                continue
            results[name] = {
                str(n): _measured(setup, name, step, n, options.clients, plan.counts[name])
                for n in (1, 2)
            }
        created = sum(plan.counts["create version"]) * 2 if "create version" in chosen else 0
        consistency = check_consistency(setup, created)
        print(f"consistency: {json.dumps(consistency)}")
        database_version = database.version()

    document = report.document(
        results,
        consistency,
        settings={
            "quick": options.quick,
            "clients": options.clients,
            "replicas": [1, 2],
            "workers_per_replica": 1,
            "log_level": options.log_level,
            "postgresql": database_version,
            "storage": "moto server (S3 API), s3:// storage root",
            "counts": {k: list(v) for k, v in plan.counts.items()},
            "seeded_models": plan.models,
            "load_average_at_start": load_at_start,
            "idle_cpu_per_second": {
                "replicas": round(setup.idle_server, 4),
                "postgresql": round(setup.idle_database, 4),
            },
        },
    )
    report.write(document, options.output)
    print(f"wrote {options.output / 'replicas.json'} and {options.output / 'replicas.md'}")


if __name__ == "__main__":
    main()
