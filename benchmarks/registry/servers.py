"""Starting the two servers under test as child processes, pinned to the chosen CPUs."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A server process under test and how to talk to it."""

    kind: str
    url: str
    headers: dict[str, str]
    process: subprocess.Popen = field(repr=False)
    log_path: Path = field(repr=False)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def worker_pids(self) -> list[int]:
        """The server's process and its descendants (uvicorn workers), for profiling."""
        found = [self.process.pid]
        for pid in found:
            children = Path(f"/proc/{pid}/task/{pid}/children")
            if children.exists():
                found += [int(c) for c in children.read_text().split()]
        return found


def _pinned(cpus: set[int] | None):  # type: ignore[no-untyped-def]
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


@contextmanager
def _process(
    kind: str,
    command: list[str],
    url: str,
    headers: dict[str, str],
    log_path: Path,
    env: dict[str, str],
    cpus: set[int] | None,
    timeout: float = 120.0,
) -> Iterator[Server]:
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_pinned(cpus),
            start_new_session=True,
        )
    server = Server(kind, url, headers, process, log_path)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{kind} exited with {process.returncode}:\n{server.log_tail()}")
            try:
                if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{kind} did not become healthy:\n{server.log_tail()}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def modelcatalog(
    data_dir: Path,
    *,
    workers: int,
    cpus: set[int] | None,
    log_level: str = "info",
    database_uri: str | None = None,
    storage_root: str | None = None,
    env: dict[str, str] | None = None,
    token: str | None = None,
) -> Iterator[Server]:
    """`python -m modelcatalog server` with SQLite and local files in `data_dir` (or the
    database and storage root given: replicas share them, and `token`)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    token = token or "mc_bench_" + secrets.token_urlsafe(16)
    environment = dict(os.environ, **(env or {}), MODELCATALOG_ADMIN_TOKEN=token)
    command = [
        sys.executable, "-m", "modelcatalog", "server", "--host", "127.0.0.1",
        "--port", str(port), "--data-dir", str(data_dir), "--workers", str(workers),
        "--log-level", log_level,
    ]  # fmt: skip
    if database_uri:
        command += ["--database-uri", database_uri]
    if storage_root:
        command += ["--storage-root", storage_root]
    with _process(
        "modelcatalog",
        command,
        f"http://127.0.0.1:{port}",
        {"Authorization": f"Bearer {token}"},
        data_dir / "server.log",
        environment,
        cpus,
    ) as server:
        yield server


def mlflow_database(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'mlflow.db'}"


@contextmanager
def mlflow(data_dir: Path, *, workers: int, cpus: set[int] | None) -> Iterator[Server]:
    """`mlflow server` with a SQLite backend store and a local artifact root in `data_dir`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    artifacts = data_dir / "artifacts"
    artifacts.mkdir(exist_ok=True)
    port = free_port()
    executable = Path(sys.executable).with_name("mlflow")
    launcher = [str(executable)] if executable.exists() else [sys.executable, "-m", "mlflow"]
    command = [
        *launcher, "server", "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", mlflow_database(data_dir),
        "--default-artifact-root", str(artifacts), "--workers", str(workers),
    ]  # fmt: skip
    env = dict(os.environ)
    env.pop("MLFLOW_TRACKING_URI", None)
    with _process(
        "mlflow", command, f"http://127.0.0.1:{port}", {}, data_dir / "server.log", env, cpus
    ) as server:
        yield server


def seed_mlflow_models(data_dir: Path, count: int, prefix: str = "search-") -> None:
    """Insert `count` registered models through MLflow's own SQLAlchemy store, before start.

    The store creates the schema exactly as `mlflow server` would; rows go in in one
    transaction, which takes seconds where 10,000 REST calls would take minutes."""
    from mlflow.store.model_registry.dbmodels.models import SqlRegisteredModel
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

    data_dir.mkdir(parents=True, exist_ok=True)
    store = SqlAlchemyStore(mlflow_database(data_dir))
    stamp = int(time.time() * 1000)
    with store.ManagedSessionMaker() as session:
        session.add_all(
            SqlRegisteredModel(
                name=f"{prefix}{i:05d}", creation_time=stamp, last_updated_time=stamp
            )
            for i in range(count)
        )
    store.engine.dispose()
