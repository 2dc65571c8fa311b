"""The set-ups under test: a server running tasks in its own worker threads, or sending them
through Redis to `modelcatalog worker` processes. Every server uses the default engine settings
(poll 1 s, lease 30 s) and SQLite in a fresh data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.servers import RunningServer, run_server, stopped_at_exit

#: A Redis database of the benchmark's own, flushed before and after each Celery set-up.
REDIS_URL = "redis://127.0.0.1:6379/14"
WORKER = [sys.executable, "-m", "modelcatalog", "worker"]


@dataclass(frozen=True)
class Setup:
    label: str
    queue: str  # embedded or celery
    slots: int  # embedded worker threads, or worker processes of one slot each


SETUPS = {
    s.label: s
    for s in (
        Setup("embedded-1", "embedded", 1),
        Setup("embedded-4", "embedded", 4),
        Setup("celery-1", "celery", 1),
        Setup("celery-4", "celery", 4),
    )
}


@contextmanager
def catalog_server(setup: Setup, folder: Path) -> Iterator[RunningServer]:
    """The server of a set-up, with its Celery workers when it has some."""
    env = {"MODELCATALOG_JOB_QUEUE": setup.queue}
    if setup.queue == "celery":
        env.update(MODELCATALOG_BROKER_URL=REDIS_URL, MODELCATALOG_JOB_WORKERS="0")
    else:
        env.update(MODELCATALOG_JOB_WORKERS=str(setup.slots))
    with ExitStack() as stack:
        if setup.queue == "celery":
            stack.enter_context(_flushed_redis())
        server = stack.enter_context(run_server(folder, extra_env=env))
        if setup.queue == "celery":
            for index in range(setup.slots):
                stack.enter_context(_worker(server, index))
        yield server


@contextmanager
def _flushed_redis() -> Iterator[None]:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    try:
        yield
    finally:
        client.flushdb()


@contextmanager
def _worker(server: RunningServer, index: int) -> Iterator[subprocess.Popen]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELCATALOG_")}
    command = [
        *WORKER,
        "--broker-url",
        REDIS_URL,
        "--database-uri",
        server.database_uri,
        "--data-dir",
        str(server.data_dir),
        "--public-url",
        server.url,
        "--concurrency",
        "1",
        "--log-level",
        "warning",
    ]
    with open(server.data_dir / f"worker-{index}.log", "wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    with stopped_at_exit(process):
        yield process
