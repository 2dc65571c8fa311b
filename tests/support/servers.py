"""Running the real catalog server as a child process, for tests and benchmarks."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

BACKENDS = [
    b.strip()
    for b in os.environ.get("MODELCATALOG_TEST_BACKENDS", "sqlite,postgresql").split(",")
    if b.strip()
]
"""The databases the end-to-end tests run on (MODELCATALOG_TEST_BACKENDS)."""

POSTGRES_ADMIN_URI = os.environ.get(
    "MODELCATALOG_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


#: The MLflow tracking UI the session's shared servers link runs to.
TRACKING_UI = "https://mlflow.example.test"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    """A catalog server process and how to reach it."""

    url: str
    admin_token: str
    data_dir: Path
    backend: str
    database_uri: str
    process: subprocess.Popen = field(repr=False)
    log_path: Path = field(repr=False)

    def env(self, **extra: str) -> dict[str, str]:
        """The environment a client process needs to reach this server as the admin."""
        values = dict(os.environ)
        # MLflow's set_experiment and start_run keep their choice in these variables of the test
        # process; a client process must make its own.
        for leaked in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID"):
            values.pop(leaked, None)
        values.update(MODELCATALOG_URL=self.url, MODELCATALOG_TOKEN=self.admin_token)
        values.update(extra)
        return values

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin_token}"}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_until_answering(
    url: str, process: subprocess.Popen, log_path: Path, timeout: float
) -> None:
    """Poll `url` until it answers 2xx; fail with the process's log if it exits or times out."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"{process.args[0]} exited with {process.returncode}:\n"
                + log_path.read_text(errors="replace")
            )
        try:
            if httpx.get(url, timeout=1.0).is_success:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer:\n" + log_path.read_text(errors="replace"))
        time.sleep(0.05)  # poll interval, not a guessed duration


@contextmanager
def stopped_at_exit(process: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """Terminate (then kill) a child process when the block ends."""
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def run_moto(log_dir: Path) -> Iterator[str]:
    """A real S3-compatible server (moto) on a free local port; yields its endpoint URL."""
    port = free_port()
    log_path = log_dir / "moto.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    with stopped_at_exit(process):
        wait_until_answering(f"{endpoint}/moto-api/", process, log_path, 60)
        yield endpoint


S3RVER_DIR = Path(__file__).resolve().parent.parent / "s3rver"
S3RVER_KEY = "S3RVER"
"""s3rver's fixed access key id and secret."""


@contextmanager
def run_s3rver(data_dir: Path) -> Iterator[str]:
    """An S3 server that refuses presigned URLs past their expiry (s3rver, on Node.js), on a
    free local port; yields its endpoint URL. moto accepts them."""
    node = shutil.which("node")
    script = S3RVER_DIR / "node_modules" / "s3rver" / "bin" / "s3rver.js"
    if node is None or not script.is_file():
        raise RuntimeError(
            "s3rver needs Node.js and its package: run 'npm ci' in tests/s3rver (.ci/run does)"
        )
    port = free_port()
    log_path = data_dir / "s3rver.log"
    (data_dir / "objects").mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [node, str(script), "-d", str(data_dir / "objects"), "-a", "127.0.0.1"]
            + ["-p", str(port), "--no-vhost-buckets"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    with stopped_at_exit(process):
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError("s3rver exited:\n" + log_path.read_text(errors="replace"))
            try:
                httpx.get(endpoint, timeout=1.0)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("s3rver did not answer") from None
                time.sleep(0.05)
        yield endpoint


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    name = f"modelcatalog_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URI, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URI.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URI, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def launch_server(
    data_dir: Path,
    *,
    database_uri: str | None = None,
    storage_root: str | None = None,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    port: int | None = None,
    args: tuple[str, ...] = (),
) -> RunningServer:
    """Start `modelcatalog server` (on `port`, default a free one, with more `args`) without
    waiting for it (see `run_server`); the caller stops the process (`stopped_at_exit`)."""
    port = port or free_port()
    token = "mc_test_" + secrets.token_urlsafe(16)
    env = dict(os.environ)
    # Every test client calls from 127.0.0.1, and many tests send bad tokens on purpose: the
    # slowing down of failed authentications is tested on servers that ask for it.
    env.update(MODELCATALOG_AUTH_FAILURES_PER_MINUTE="0")
    env.update(MODELCATALOG_ADMIN_TOKEN=token, **(extra_env or {}))
    command = [
        sys.executable,
        "-m",
        "modelcatalog",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    if database_uri:
        command += ["--database-uri", database_uri]
    if storage_root:
        command += ["--storage-root", storage_root]
    command += list(args)
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    return RunningServer(
        url=url,
        admin_token=token,
        data_dir=data_dir,
        backend="postgresql" if database_uri and "postgresql" in database_uri else "sqlite",
        database_uri=database_uri or f"sqlite:///{data_dir}/catalog.db",
        process=process,
        log_path=log_path,
    )


@contextmanager
def run_server(
    data_dir: Path,
    *,
    database_uri: str | None = None,
    storage_root: str | None = None,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    startup_timeout: float = 60.0,
    port: int | None = None,
    args: tuple[str, ...] = (),
) -> Iterator[RunningServer]:
    """Start `modelcatalog server` on a free port (or `port`) and wait until /health answers."""
    server = launch_server(
        data_dir,
        database_uri=database_uri,
        storage_root=storage_root,
        workers=workers,
        extra_env=extra_env,
        port=port,
        args=args,
    )
    with stopped_at_exit(server.process):
        wait_until_answering(
            f"{server.url}/health", server.process, server.log_path, startup_timeout
        )
        yield server


@contextmanager
def backend_server(
    backend: str, data_dir: Path, *, extra_env: dict[str, str] | None = None
) -> Iterator[RunningServer]:
    """A running server on one of BACKENDS: SQLite in `data_dir`, or a fresh PostgreSQL database."""
    with ExitStack() as stack:
        database_uri = None
        if backend == "postgresql":
            database_uri = stack.enter_context(postgres_database())
        elif backend != "sqlite":
            raise ValueError(f"unknown backend {backend!r} in MODELCATALOG_TEST_BACKENDS")
        yield stack.enter_context(
            run_server(data_dir, database_uri=database_uri, extra_env=extra_env)
        )


class BackendServers:
    """At most one running server per backend, started when first asked for and kept until the
    stack closes, so that tests alternating between backends never restart one."""

    def __init__(
        self,
        stack: ExitStack,
        data_dir_for: Callable[[str], Path],
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self._stack = stack
        self._data_dir_for = data_dir_for
        self._extra_env = extra_env
        self._running: dict[str, RunningServer] = {}

    def on(self, backend: str) -> RunningServer:
        """The server on `backend`, started now if it is not running yet."""
        if backend not in self._running:
            self._running[backend] = self._stack.enter_context(
                backend_server(backend, self._data_dir_for(backend), extra_env=self._extra_env)
            )
        return self._running[backend]
