"""Server processes sharing one PostgreSQL database: replicas started at the same moment on an
empty database, start-up failures named by their cause, and a server killed with SIGKILL while
32 writers work, which loses nothing it acknowledged, nor any of its audit records.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.http import ok
from support.servers import (
    BACKENDS,
    RunningServer,
    launch_server,
    postgres_database,
    run_server,
    stopped_at_exit,
    wait_until_answering,
)
from support.versions import REGISTRY_2_0, UC_2_1, create_model, ready_version

WRITERS = 32
NATIVE = "/api/modelcatalog"


def postgres_only(test: Callable[..., None]) -> Callable[..., None]:
    """A test on server processes of its own, sharing one PostgreSQL database."""
    skip = pytest.mark.skipif(
        "postgresql" not in BACKENDS, reason="MODELCATALOG_TEST_BACKENDS leaves out postgresql"
    )
    return pytest.mark.postgres(skip(test))


# Start-up -------------------------------------------------------------------------------------


@postgres_only
def test_two_replicas_started_together_on_an_empty_database_both_come_up(tmp_path: Path) -> None:
    with ExitStack() as stack:
        uri = stack.enter_context(postgres_database())
        replicas = [
            launch_server(
                tmp_path / f"replica{n}", database_uri=uri, storage_root=str(tmp_path / "files")
            )
            for n in range(2)
        ]
        for replica in replicas:
            stack.enter_context(stopped_at_exit(replica.process))
        for replica in replicas:
            wait_until_answering(f"{replica.url}/health", replica.process, replica.log_path, 60)
        # One database, one catalog: what one replica writes the other reads, with each
        # replica's own admin token.
        first, second = (
            stack.enter_context(httpx.Client(base_url=r.url, headers=r.headers(), timeout=30))
            for r in replicas
        )
        catalog = f"c_{uuid.uuid4().hex[:8]}"
        ok(first.post(f"{UC_2_1}/catalogs", json={"name": catalog}))
        assert ok(second.get(f"{UC_2_1}/catalogs/{catalog}"))["name"] == catalog
        assert ok(second.get(f"{NATIVE}/audit/verify"))["intact"]


def _start_failure(tmp_path: Path, database_uri: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelcatalog",
            "server",
            "--data-dir",
            str(tmp_path),
            "--database-uri",
            database_uri,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return " ".join(done.stderr.replace("│", " ").split())


@postgres_only
def test_a_database_that_does_not_exist_is_named_as_the_cause(tmp_path: Path) -> None:
    with postgres_database() as uri:
        missing = uri.rsplit("/", 1)[0] + "/no_such_catalog_db"
        message = _start_failure(tmp_path, missing)
    assert f"--database-uri {missing}" in message
    assert 'database "no_such_catalog_db" does not exist' in message


@postgres_only
def test_a_schema_from_a_newer_release_is_named_as_the_cause_not_the_uri(tmp_path: Path) -> None:
    import psycopg

    with postgres_database() as uri:
        with psycopg.connect(uri.replace("postgresql+psycopg://", "postgresql://")) as conn:
            conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
            conn.execute("INSERT INTO alembic_version VALUES ('9999_from_the_future')")
        message = _start_failure(tmp_path, uri)
    assert "9999_from_the_future" in message
    assert "newer release" in message
    assert "Expected sqlite" not in message


# A crash under load ---------------------------------------------------------------------------

CRASH_AFTER = 96
"""Acknowledged writes after which the server is killed (the writers keep going)."""


class Acknowledged:
    """What the server confirmed (a 2xx the client received), with the request ids."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.versions: set[int] = set()
        self.tags: dict[tuple[int, str], str] = {}
        # Per writer: its alias's last acknowledged target, and the one in flight at the crash.
        self.aliases: dict[str, int] = {}
        self.unanswered_aliases: dict[str, int] = {}
        self.request_ids: dict[str, str] = {}
        self.count = 0
        self.enough = threading.Event()

    def confirmed(self, response: httpx.Response, what: str) -> None:
        with self.lock:
            self.request_ids[response.headers["x-request-id"]] = what
            self.count += 1
            if self.count >= CRASH_AFTER:
                self.enough.set()


@postgres_only
def test_a_server_killed_under_load_keeps_every_acknowledged_change_and_its_audit_record(
    tmp_path: Path,
) -> None:
    with postgres_database() as uri:
        files = str(tmp_path / "files")
        with run_server(tmp_path / "before", database_uri=uri, storage_root=files) as before:
            api = httpx.Client(base_url=before.url, headers=before.headers(), timeout=30)
            catalog = f"c_{uuid.uuid4().hex[:8]}"
            ok(api.post(f"{UC_2_1}/catalogs", json={"name": catalog}))
            ok(api.post(f"{UC_2_1}/schemas", json={"name": "s", "catalog_name": catalog}))
            name = f"{catalog}.s.m"
            create_model(api, name)
            targets = [int(ready_version(api, name)) for _ in range(3)]
            acked = Acknowledged()
            _write_until_killed(before, name, targets, acked)
            assert acked.enough.is_set(), "the writers never reached the crash point"
            api.close()

        with run_server(tmp_path / "after", database_uri=uri, storage_root=files) as after:
            api = httpx.Client(base_url=after.url, headers=after.headers(), timeout=30)
            _check_acknowledged(api, name, targets, acked)
            records = _all_audit_records(api)
            ok_ids = {r["request_id"] for r in records if r["outcome"] == "ok"}
            missing = {rid: what for rid, what in acked.request_ids.items() if rid not in ok_ids}
            assert not missing, f"acknowledged without an audit record: {missing}"
            verify = subprocess.run(
                [sys.executable, "-m", "modelcatalog", "audit", "verify"],
                env=after.env(),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert verify.returncode == 0, verify.stdout + verify.stderr
            assert "intact" in (verify.stdout + verify.stderr).lower()
            api.close()


def _write_until_killed(
    server: RunningServer, name: str, targets: list[int], acked: Acknowledged
) -> None:
    """32 writers create versions, tag them and move their own alias, until the server is
    killed with SIGKILL once `CRASH_AFTER` writes were acknowledged."""
    start = threading.Barrier(WRITERS + 1)

    def writer(w: int) -> None:
        alias = f"w{w}"
        with httpx.Client(base_url=server.url, headers=server.headers(), timeout=30) as client:
            start.wait()
            for step in range(1000):
                try:
                    created = client.post(
                        f"{REGISTRY_2_0}/model-versions/create", json={"name": name, "source": "x"}
                    )
                    assert created.status_code == 200, created.text
                    number = int(created.json()["model_version"]["version"])
                    with acked.lock:
                        acked.versions.add(number)
                    acked.confirmed(created, f"create version {number}")
                    key = f"k{w}_{step}"
                    tagged = client.post(
                        f"{REGISTRY_2_0}/model-versions/set-tag",
                        json={"name": name, "version": str(number), "key": key, "value": "v"},
                    )
                    assert tagged.status_code == 200, tagged.text
                    with acked.lock:
                        acked.tags[(number, key)] = "v"
                    acked.confirmed(tagged, f"tag {key} on version {number}")
                    target = targets[(w + step) % len(targets)]
                    acked.unanswered_aliases[alias] = target
                    moved = client.put(
                        f"{UC_2_1}/models/{name}/aliases/{alias}", json={"version_num": target}
                    )
                    assert moved.status_code == 200, moved.text
                    with acked.lock:
                        acked.aliases[alias] = target
                        del acked.unanswered_aliases[alias]
                    acked.confirmed(moved, f"alias {alias} to {target}")
                except httpx.TransportError:
                    return  # the server is gone

    with ThreadPoolExecutor(WRITERS) as pool:
        running = [pool.submit(writer, w) for w in range(WRITERS)]
        start.wait()
        acked.enough.wait(timeout=120)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        for future in running:
            future.result()


def _check_acknowledged(
    api: httpx.Client, name: str, targets: list[int], acked: Acknowledged
) -> None:
    listed = ok(api.get(f"{UC_2_1}/models/{name}/versions", params={"max_results": 10_000}))
    present = {v["version"]: v for v in listed["model_versions"]}
    assert acked.versions <= set(present), sorted(acked.versions - set(present))
    for (number, key), value in acked.tags.items():
        assert (
            present[number]["tags"] and {"key": key, "value": value} in present[number]["tags"]
        ), (number, key)
    aliases = {
        a["alias_name"]: a["version_num"] for a in ok(api.get(f"{UC_2_1}/models/{name}"))["aliases"]
    }
    for alias, target in acked.aliases.items():
        # The move in flight at the crash may or may not have committed; none before it is lost.
        assert aliases.get(alias) in (target, acked.unanswered_aliases.get(alias, target)), alias
    assert set(aliases.values()) <= set(targets)


def _all_audit_records(api: httpx.Client) -> list[dict]:
    records: list[dict] = []
    token = None
    while True:
        params: dict[str, Any] = {"max_results": 1000, **({"page_token": token} if token else {})}
        body = ok(api.get(f"{NATIVE}/audit", params=params))
        records += body["records"]
        token = body.get("next_page_token")
        if not token:
            return records
