"""A private PostgreSQL instance for the benchmark, with `pg_stat_statements` loaded.

The extension needs `shared_preload_libraries`, which only a restart sets; the shared local
cluster is left alone: `initdb` makes a cluster of our own in a temporary folder, on a port of
its own, removed afterwards. As root, PostgreSQL's tools run as the `postgres` user (they
refuse to run as root)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from benchmarks import proc
from benchmarks.registry.servers import free_port

DATABASE = "catalog"


def _bindir(given: str | None) -> Path:
    if given:
        return Path(given)
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not versions:
        raise RuntimeError("initdb not found: install PostgreSQL's server, or pass --pg-bin")
    return Path(versions[-1]).parent


@dataclass
class Instance:
    """A running private PostgreSQL instance."""

    port: int
    folder: Path
    bindir: Path

    @property
    def admin_uri(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def uri(self) -> str:
        """The catalog's database, as `--database-uri` takes it."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def postmaster_pid(self) -> int:
        return int((self.folder / "data" / "postmaster.pid").read_text().split()[0])

    def version(self) -> str:
        with psycopg.connect(self.admin_uri) as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def private_instance(bindir: str | None = None) -> Iterator[Instance]:
    """initdb, start with pg_stat_statements, create the catalog's database; stop and remove
    it all on the way out."""
    binaries = _bindir(bindir)
    folder = Path(tempfile.mkdtemp(prefix="replicas-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
    instance = Instance(free_port(), folder, binaries)
    data = folder / "data"
    subprocess.run(
        _as_postgres(
            [
                str(binaries / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),  # fmt: skip
        check=True,
        capture_output=True,
    )
    options = " ".join(
        [
            f"-p {instance.port}",
            f"-k {folder}",
            "-c listen_addresses=127.0.0.1",
            "-c max_connections=300",
            "-c shared_preload_libraries=pg_stat_statements",
            "-c pg_stat_statements.track=top",
            "-c pg_stat_statements.max=10000",
            "-c track_io_timing=on",
        ]
    )
    subprocess.run(
        _as_postgres(
            [
                str(binaries / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(folder / "postgres.log"),
                "-o",
                options,
                "-w",
                "start",
            ]
        ),  # fmt: skip
        check=True,
        capture_output=True,
    )
    try:
        with psycopg.connect(instance.admin_uri, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        with psycopg.connect(instance.uri, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
        yield instance
    finally:
        subprocess.run(
            _as_postgres([str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


def cpu_seconds(instance: Instance) -> float:
    """CPU used so far by the instance: the postmaster, its live children (backends, writers)
    and the children it has reaped."""
    postmaster = instance.postmaster_pid()
    # The postmaster's reaped children are the backends that have ended.
    return proc.cpu_seconds(postmaster, reaped=True) + sum(
        proc.cpu_seconds(child) for child in proc.children(postmaster)
    )


def settle(instance: Instance) -> None:
    """Vacuum and analyze what the setup wrote, so that autovacuum does not catch up with it
    inside the first measurement."""
    with psycopg.connect(instance.uri, autocommit=True) as conn:
        conn.execute("/* benchmark */ VACUUM ANALYZE")
        conn.execute("/* benchmark */ CHECKPOINT")


def reset_statements(instance: Instance) -> None:
    with psycopg.connect(instance.uri, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")


def statements(instance: Instance, top: int = 25) -> dict[str, Any]:
    """What the catalog's database executed since the last reset: statements, their execution
    time, rows, and the statements that took the most time."""
    with psycopg.connect(instance.uri, autocommit=True) as conn:
        where = (
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE '%/* benchmark */%'"
        )
        calls, exec_ms, rows = conn.execute(
            "SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0), "
            f"coalesce(sum(rows), 0) FROM pg_stat_statements {where}"
        ).fetchone()  # type: ignore[misc]
        # Statements that lock rows include the time spent waiting for the lock.
        locking = conn.execute(
            "SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements "
            f"{where} AND (query ILIKE '%% FOR UPDATE%%' OR query ILIKE '%% FOR NO KEY UPDATE%%'"
            " OR query ILIKE '%% FOR SHARE%%' OR query ILIKE '%% FOR KEY SHARE%%')"
        ).fetchone()
        heaviest = conn.execute(
            "SELECT calls, total_exec_time, mean_exec_time, rows, query "
            f"FROM pg_stat_statements {where} ORDER BY total_exec_time DESC LIMIT {int(top)}"
        ).fetchall()
    return {
        "calls": int(calls),
        "exec_ms": float(exec_ms),
        "locking_ms": float(locking[0]) if locking else 0.0,
        "rows": int(rows),
        "heaviest": [
            {
                "calls": int(c),
                "total_ms": round(float(total), 2),
                "mean_ms": round(float(mean), 4),
                "rows": int(r),
                "query": " ".join(str(q).split())[:240],
            }
            for c, total, mean, r, q in heaviest
        ],
    }


def wait_for_dispatch(instance: Instance, timeout: float = 60.0) -> None:
    """Until the job engines have handed every model event on (work a request left behind
    belongs to its cost)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(instance.uri, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "/* benchmark */ SELECT count(*) FROM model_events WHERE NOT dispatched"
            ).fetchone()
            if row is not None and row[0] == 0:
                return
            time.sleep(0.1)
