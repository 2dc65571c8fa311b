"""Deployment-job benchmark: a burst of READY versions, each starting a 3-task run.

MODELS models, each linked to one job (evaluate → check → deploy, each `true`); VERSIONS versions
made READY in a burst by CLIENT_THREADS threads (create, upload a signed MLmodel through the
presigned URL, finalize). For each set-up (embedded worker threads, Celery worker processes):
  - READY → run start: the run is created in the finalize transaction (its `created_at` is the
    READY time) and starts when its first task is claimed (`started_at`); p50, p99, max;
  - the same at idle (versions made one at a time, each waited for), the engine's own latency;
  - the hand-over between two tasks of a run (a task's start after the previous one's end);
  - total time from the first finalize until every run SUCCEEDED;
  - that nothing was lost or ran twice, read from the database: one run per version, three
    task runs per run, every task SUCCEEDED at attempt 1 with exactly one attempt row.
Results go to benchmarks/results/jobs.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
# The catalog server and version helpers of the tests (tests/support).
sys.path.insert(0, str(ROOT / "tests"))

from benchmarks.jobs.setups import SETUPS, Setup, catalog_server  # noqa: E402

from support.models import SIGNED_MLMODEL  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
JOB = """
name: bench-deploy
tasks:
  - name: evaluate
    command: ["true"]
  - name: check
    depends_on: [evaluate]
    command: ["true"]
  - name: deploy
    depends_on: [check]
    command: ["true"]
"""
IDLE_PROBES = 10


def ok(response: httpx.Response) -> Any:
    if not response.is_success:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
    return response.json()


def prepare(api: httpx.Client, models: int) -> list[str]:
    """A catalog, a schema, the job, and MODELS models linked to it (plus one for idle probes)."""
    ok(api.post("/api/2.1/unity-catalog/catalogs", json={"name": "bench"}))
    ok(api.post("/api/2.1/unity-catalog/schemas", json={"name": "jobs", "catalog_name": "bench"}))
    job = ok(api.post("/api/modelcatalog/jobs", json={"definition": JOB}))
    names = []
    for index in range(models + 1):
        name = f"m{index:04d}" if index < models else "idle"
        ok(
            api.post(
                "/api/2.1/unity-catalog/models",
                json={"catalog_name": "bench", "schema_name": "jobs", "name": name},
            )
        )
        full_name = f"bench.jobs.{name}"
        ok(
            api.patch(
                f"/api/2.1/unity-catalog/models/{full_name}", json={"deployment_job_id": job["id"]}
            )
        )
        names.append(full_name)
    return names


def make_ready(api: httpx.Client, full_name: str) -> float:
    """One READY version; returns when the finalize answered (epoch seconds)."""
    from support.versions import create_version, finalize, put_file

    version = create_version(api, full_name)
    put_file(api, full_name, version, "MLmodel", SIGNED_MLMODEL)
    body = ok(finalize(api, full_name, version))
    if body["model_version"]["status"] != "READY":
        raise RuntimeError(f"{full_name} v{version} is {body['model_version']['status']}")
    return time.time()


def idle_latencies(api: httpx.Client, db: Path, full_name: str) -> list[float]:
    """READY → run start, in ms, for versions made one at a time on an idle engine."""
    found = []
    for _ in range(IDLE_PROBES):
        make_ready(api, full_name)
        expected = len(found) + 1
        wait_until(db, f"model_name = '{full_name}' AND state = 'SUCCEEDED'", expected, 60)
        found = query(
            db,
            "SELECT started_at - created_at FROM job_runs WHERE model_name = ? ORDER BY version",
            (full_name,),
        )
    return [float(row[0]) for row in found]


def burst(server_url: str, headers: dict, names: list[str], versions: int, threads: int) -> dict:
    """VERSIONS READY versions spread over the models, by THREADS clients at once."""
    targets = [names[i % len(names)] for i in range(versions)]
    clients = [
        httpx.Client(base_url=server_url, headers=headers, timeout=120) for _ in range(threads)
    ]
    started = time.time()
    try:
        with ThreadPoolExecutor(threads) as pool:
            finished = list(
                pool.map(lambda i: make_ready(clients[i % threads], targets[i]), range(versions))
            )
    finally:
        for client in clients:
            client.close()
    return {"started": started, "seconds": max(finished) - started}


def query(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as connection:
        return connection.execute(sql, params).fetchall()


def wait_until(db: Path, where: str, count: int, timeout: float) -> float:
    """Poll the database until COUNT runs match WHERE; returns the time it happened."""
    deadline = time.monotonic() + timeout
    while True:
        (found,) = query(db, f"SELECT count(*) FROM job_runs WHERE {where}")[0]
        if found >= count:
            return time.time()
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {found} of {count} runs with {where} after {timeout} s")
        time.sleep(0.2)  # a poll interval; the database has no change feed to wait on


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": percentile(values, 0.5),
        "p99": percentile(values, 0.99),
        "max": max(values),
        "mean": sum(values) / len(values),
    }


def integrity(db: Path, expected_runs: int) -> dict[str, Any]:
    """What the database says about lost or repeated work."""
    (runs, versions) = query(
        db, "SELECT count(*), count(DISTINCT model_name || ' ' || version) FROM job_runs"
    )[0]
    states = dict(query(db, "SELECT state, count(*) FROM job_runs GROUP BY state"))
    task_states = dict(query(db, "SELECT state, count(*) FROM task_runs GROUP BY state"))
    (ready,) = query(db, "SELECT count(*) FROM model_versions WHERE status = 'READY'")[0]
    (not_three,) = query(
        db,
        "SELECT count(*) FROM (SELECT run_id FROM task_runs GROUP BY run_id HAVING count(*) != 3)",
    )[0]
    (repeated,) = query(db, "SELECT count(*) FROM task_runs WHERE attempt != 1")[0]
    (attempts, attempted_tasks) = query(
        db, "SELECT count(*), count(DISTINCT task_run_id) FROM task_attempts"
    )[0]
    (tasks,) = query(db, "SELECT count(*) FROM task_runs")[0]
    return {
        "ready_versions": ready,
        "runs": runs,
        "versions_with_a_run": versions,
        "run_states": states,
        "task_states": task_states,
        "runs_without_three_tasks": not_three,
        "tasks_not_at_attempt_1": repeated,
        "task_runs": tasks,
        "attempt_rows": attempts,
        "tasks_with_an_attempt": attempted_tasks,
        "ok": (
            runs == versions == ready == expected_runs
            and states == {"SUCCEEDED": expected_runs}
            and task_states == {"SUCCEEDED": 3 * expected_runs}
            and not_three == 0
            and repeated == 0
            and attempts == attempted_tasks == tasks == 3 * expected_runs
        ),
    }


def measure(setup: Setup, options: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """One set-up: start it, probe at idle, burst, wait, read the database."""
    folder = scratch / setup.label
    with catalog_server(setup, folder) as server:
        db = server.data_dir / "catalog.db"
        with httpx.Client(base_url=server.url, headers=server.headers(), timeout=120) as api:
            names = prepare(api, options.models)
            idle = idle_latencies(api, db, names[-1])
        load = os.getloadavg()[0]
        made = burst(server.url, server.headers(), names[:-1], options.versions, options.threads)
        total = options.versions + IDLE_PROBES
        done_at = wait_until(db, "state = 'SUCCEEDED'", total, options.timeout)
        rows = query(
            db,
            "SELECT created_at, started_at, ended_at FROM job_runs WHERE model_name != ?",
            (names[-1],),
        )
        hops = query(
            db,
            "SELECT nxt.started_at - prev.ended_at FROM task_runs nxt JOIN task_runs prev "
            "ON prev.run_id = nxt.run_id AND ((prev.task_name = 'evaluate' AND "
            "nxt.task_name = 'check') OR (prev.task_name = 'check' AND nxt.task_name = 'deploy')) "
            "JOIN job_runs r ON r.id = nxt.run_id WHERE r.model_name != ?",
            (names[-1],),
        )
        attempts = query(
            db,
            "SELECT started_at, ended_at FROM task_attempts WHERE started_at >= ? "
            "ORDER BY started_at",
            (int(made["started"] * 1000),),
        )
        checked = integrity(db, total)
    return {
        "setup": setup.label,
        "slots": setup.slots,
        "load_at_burst": load,
        "burst_seconds": made["seconds"],
        "ready_to_start_ms": summary([float(s - c) for c, s, _ in rows]),
        "idle_ready_to_start_ms": summary(idle),
        "ready_to_succeeded_ms": summary([float(e - c) for c, _, e in rows]),
        "task_hand_over_ms": summary([float(h[0]) for h in hops]),
        "total_seconds": done_at - made["started"],
        "last_run_ended_seconds": max(e for _, _, e in rows) / 1000 - made["started"],
        "attempt_ms": summary([float(end - start) for start, end in attempts]),
        "slot_use": slot_use(attempts, setup.slots),
        "gap_between_attempts_ms": summary(
            [float(b[0] - a[1]) for a, b in zip(attempts, attempts[1:], strict=False)]
        ),
        "integrity": checked,
    }


def slot_use(attempts: list[tuple], slots: int) -> float:
    """The share of the slots' time spent running attempts, from the first start to the last
    end (the rest is hand-over: the engine, the queue and the database between tasks)."""
    busy = sum(end - start for start, end in attempts)
    span = max(end for _, end in attempts) - attempts[0][0]
    return busy / (slots * span)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=8, help="client threads of the burst")
    parser.add_argument("--small", action="store_true", help="100 versions over 10 models")
    parser.add_argument(
        "--setups",
        default=",".join(SETUPS),
        help=f"comma-separated, from: {', '.join(SETUPS)}",
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the runs")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    options = parser.parse_args()
    if options.small:
        options.models, options.versions = 10, 100
    scratch = Path(tempfile.mkdtemp(prefix="jobs-bench-"))
    results: dict[str, Any] = {"options": vars(options), "cpus": os.cpu_count(), "setups": []}
    try:
        for label in options.setups.split(","):
            measured = measure(SETUPS[label.strip()], options, scratch)
            results["setups"].append(measured)
            print(json.dumps(measured, default=str), flush=True)
    finally:
        if not options.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    from benchmarks.jobs.report import write_results

    write_results(results, RESULTS, small=options.small)


if __name__ == "__main__":
    main()
