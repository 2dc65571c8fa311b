"""Deployment tasks through a Celery broker (Redis, RabbitMQ) and `modelcatalog worker`
processes: a server that runs no task itself, runs that wait for a worker, and a worker killed
mid-task whose attempt is taken for lost and retried on another worker or failed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from support.http import ok, unique, wait_for
from support.jobs import (
    QUICK_ENGINE,
    create_job,
    linked_model,
    new_ready_version,
    run,
    runs_of,
    task,
    wait_for_run,
)
from support.servers import RunningServer, run_server, stopped_at_exit

PY = sys.executable
#: A Redis database of its own, flushed before and after each test.
REDIS_URL = "redis://127.0.0.1:6379/13"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"
WORKER = [PY, "-m", "modelcatalog", "worker"]
#: A task that records which process started it (its worker), then works for a while on its
#: first attempt (long enough for a test to kill its worker); a retry finishes at once.
SLOW_TASK = (
    "import os, sys, time\n"
    "first = not os.path.exists(sys.argv[1])\n"
    "open(sys.argv[1], 'a').write(f'{os.getpid()} {os.getppid()}\\n')\n"
    "print('worker', os.getppid(), flush=True)\n"
    "time.sleep(float(sys.argv[2]) if first else 0)\n"
)


@dataclass
class Worker:
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def clean_redis() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


@pytest.fixture
def clean_rabbitmq() -> Iterator[str]:
    from modelcatalog.jobs.celery_queue import make_app

    app = make_app(RABBITMQ_URL)
    app.control.purge()
    yield RABBITMQ_URL
    app.control.purge()
    app.close()


@contextmanager
def celery_server(data_dir: Path, broker_url: str) -> Iterator[RunningServer]:
    """A server that sends every task to the broker and runs none itself."""
    env = {
        **QUICK_ENGINE,
        "MODELCATALOG_JOB_QUEUE": "celery",
        "MODELCATALOG_BROKER_URL": broker_url,
        "MODELCATALOG_JOB_WORKERS": "0",
    }
    with run_server(data_dir, extra_env=env) as server:
        yield server


@contextmanager
def celery_worker(server: RunningServer, broker_url: str, name: str) -> Iterator[Worker]:
    """A `modelcatalog worker` for the server's database, with the server's lease."""
    log_path = server.data_dir / f"{name}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELCATALOG_")}
    command = [
        *WORKER,
        "--broker-url",
        broker_url,
        "--database-uri",
        server.database_uri,
        "--data-dir",
        str(server.data_dir),
        "--public-url",
        server.url,
        "--concurrency",
        "1",
        "--job-lease-seconds",
        QUICK_ENGINE["MODELCATALOG_JOB_LEASE_SECONDS"],
        "--log-level",
        "info",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    with stopped_at_exit(process):
        yield Worker(process, log_path)


def _client(server: RunningServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=server.headers(), timeout=60)


def _schema(api: httpx.Client) -> str:
    catalog = unique("c")
    ok(api.post("/api/2.1/unity-catalog/catalogs", json={"name": catalog}))
    ok(api.post("/api/2.1/unity-catalog/schemas", json={"name": "s", "catalog_name": catalog}))
    return f"{catalog}.s"


def _three_step_job(api: httpx.Client, pid_file: Path) -> dict:
    steps = [("evaluate", None), ("check", "evaluate"), ("deploy", "check")]
    tasks = "".join(
        f"""
          - name: {name}
            command: [{PY!r}, "-c", {SLOW_TASK!r}, {str(pid_file)!r}, "0"]"""
        + (f"\n            depends_on: [{after}]" if after else "")
        for name, after in steps
    )
    return create_job(api, f"name: {unique('deploy')}\ntasks:{tasks}\n")


def _slow_job(api: httpx.Client, pid_file: Path, retries: int) -> dict:
    return create_job(
        api,
        f"""
        name: {unique("train")}
        tasks:
          - name: train
            command: [{PY!r}, "-c", {SLOW_TASK!r}, {str(pid_file)!r}, "4"]
            retries: {retries}
            retry_delay_seconds: 0
        """,
    )


def _parents(pid_file: Path) -> list[int]:
    """The worker process that started each task process, in order."""
    if not pid_file.exists():
        return []
    return [int(line.split()[1]) for line in pid_file.read_text().splitlines() if line.strip()]


def _task_states(api: httpx.Client, model: str, version: int) -> dict[str, str]:
    found = runs_of(api, model, version)
    if not found:
        return {}
    return {x["name"]: x["state"] for x in run(api, found[0]["run_id"])["tasks"]}


def test_a_run_completes_through_an_external_worker(tmp_path: Path, clean_redis: str) -> None:
    pid_file = tmp_path / "pids"
    with (
        celery_server(tmp_path / "catalog", clean_redis) as server,
        _client(server) as api,
        celery_worker(server, clean_redis, "worker") as external,
    ):
        model = linked_model(api, _schema(api), _three_step_job(api, pid_file)["id"])
        version = new_ready_version(api, model)
        done = wait_for_run(api, model, version, ("SUCCEEDED", "FAILED"), timeout=45)
        assert done["state"] == "SUCCEEDED", done
        assert [x["state"] for x in done["tasks"]] == ["SUCCEEDED"] * 3
        # Every task process was started by the worker, none by the server.
        assert _parents(pid_file) == [external.process.pid] * 3, external.log()


def test_tasks_wait_on_rabbitmq_for_a_worker_and_finish_once_one_starts(
    tmp_path: Path, clean_rabbitmq: str
) -> None:
    pid_file = tmp_path / "pids"
    with celery_server(tmp_path / "catalog", clean_rabbitmq) as server, _client(server) as api:
        model = linked_model(api, _schema(api), _three_step_job(api, pid_file)["id"])
        version = new_ready_version(api, model)
        waiting = wait_for(
            lambda: _task_states(api, model, version).get("evaluate") == "SUBMITTED",
            "the first task to be handed to the broker",
        )
        assert waiting
        assert _task_states(api, model, version) == {
            "evaluate": "SUBMITTED",
            "check": "BLOCKED",
            "deploy": "BLOCKED",
        }
        assert runs_of(api, model, version)[0]["state"] == "PENDING"
        with celery_worker(server, clean_rabbitmq, "worker") as external:
            done = wait_for_run(api, model, version, ("SUCCEEDED", "FAILED"), timeout=45)
            assert done["state"] == "SUCCEEDED", external.log()
            assert _parents(pid_file) == [external.process.pid] * 3
            # Asked to stop while idle, it ends promptly (its event loop wakes every second).
            asked = time.monotonic()
            external.process.terminate()
            assert external.process.wait(timeout=30) == 0, external.log()
            assert time.monotonic() - asked < 5, external.log()


def _kill_mid_task(
    api: httpx.Client, model: str, version: int, pid_file: Path, doomed: Worker
) -> None:
    wait_for_run(api, model, version, ("RUNNING",))
    wait_for(lambda: _parents(pid_file), "the task to start on the first worker")
    assert _parents(pid_file) == [doomed.process.pid]
    doomed.process.send_signal(signal.SIGKILL)
    doomed.process.wait()


def test_a_task_lost_with_a_killed_worker_is_retried_on_the_other_worker(
    tmp_path: Path, clean_redis: str
) -> None:
    pid_file = tmp_path / "pids"
    with celery_server(tmp_path / "catalog", clean_redis) as server, _client(server) as api:
        model = linked_model(api, _schema(api), _slow_job(api, pid_file, retries=1)["id"])
        with celery_worker(server, clean_redis, "first") as first:
            version = new_ready_version(api, model)
            _kill_mid_task(api, model, version, pid_file, first)
        with celery_worker(server, clean_redis, "second") as second:
            done = wait_for_run(api, model, version, ("SUCCEEDED", "FAILED"), timeout=45)
            assert done["state"] == "SUCCEEDED", second.log()
            attempts = task(run(api, done["run_id"]), "train")["attempts"]
            assert [a["attempt"] for a in attempts] == [1, 2]
            assert "was lost: its worker (modelcatalog-" in attempts[0]["message"]
            assert _parents(pid_file) == [first.process.pid, second.process.pid]


def test_a_task_lost_with_a_killed_worker_and_no_retries_fails_the_run_with_the_reason(
    tmp_path: Path, clean_redis: str
) -> None:
    pid_file = tmp_path / "pids"
    with celery_server(tmp_path / "catalog", clean_redis) as server, _client(server) as api:
        model = linked_model(api, _schema(api), _slow_job(api, pid_file, retries=0)["id"])
        with celery_worker(server, clean_redis, "first") as first:
            version = new_ready_version(api, model)
            _kill_mid_task(api, model, version, pid_file, first)
        done = wait_for_run(api, model, version, ("SUCCEEDED", "FAILED"), timeout=30)
        assert done["state"] == "FAILED"
        assert f"was lost: its worker (modelcatalog-{first.process.pid}@" in done["state_message"]


def _worker_error(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELCATALOG_")}
    result = subprocess.run(
        [*WORKER, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2, result.stdout + result.stderr
    return result.stderr


def test_a_worker_refuses_a_broker_that_is_not_redis_or_rabbitmq(tmp_path: Path) -> None:
    message = _worker_error(
        "--broker-url",
        "sqs://queue",
        "--database-uri",
        f"sqlite:///{tmp_path}/catalog.db",
        "--public-url",
        "http://127.0.0.1:8080",
    )
    assert "is not a Redis or RabbitMQ URL; expected redis://" in message


def test_a_worker_names_a_database_it_cannot_reach(tmp_path: Path) -> None:
    message = _worker_error(
        "--broker-url",
        REDIS_URL,
        "--database-uri",
        "postgresql+psycopg://someone:hunter2@127.0.0.1:1/catalog",
        "--public-url",
        "http://127.0.0.1:8080",
    )
    assert "--database-uri postgresql+psycopg://someone:***@127.0.0.1:1/catalog" in message
    assert "hunter2" not in message
    assert "must be reachable" in message
