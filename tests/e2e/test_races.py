"""Races: many writers on one object, and replicas started or killed while others work.

The limits and invariants hold under any concurrency on either database, and a lost race is
answered with a 4xx, never a 500. The tests on server processes of their own (replicas that
start together on one empty database, a server killed with SIGKILL mid-write) run on
PostgreSQL, where several processes share one database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import REGISTRY_2_0, UC_2_1, create_model, create_version, ok, ready_version
from e2e_support import unique as unique_name

from server_process import (
    BACKENDS,
    RunningServer,
    launch_server,
    postgres_database,
    run_server,
    stopped_at_exit,
    wait_until_answering,
)

WRITERS = 32
NATIVE = "/api/modelcatalog"


def postgres_only(test: Callable[..., None]) -> Callable[..., None]:
    """A test on server processes of its own, sharing one PostgreSQL database."""
    skip = pytest.mark.skipif(
        "postgresql" not in BACKENDS, reason="MODELCATALOG_TEST_BACKENDS leaves out postgresql"
    )
    return pytest.mark.postgres(skip(test))


@contextmanager
def racers(server: RunningServer, count: int) -> Iterator[Callable[..., list[Any]]]:
    """`count` clients of their own; yields `race(work)`, which runs `work(i, client)` for each
    in its own thread, all released at the same moment, and returns what each returned."""
    with ExitStack() as stack:
        clients = [
            stack.enter_context(
                httpx.Client(base_url=server.url, headers=server.headers(), timeout=60)
            )
            for _ in range(count)
        ]
        pool = stack.enter_context(ThreadPoolExecutor(count))

        def race(work: Callable[[int, httpx.Client], Any]) -> list[Any]:
            start = threading.Barrier(count)

            def run(i: int) -> Any:
                start.wait()
                return work(i, clients[i])

            return list(pool.map(run, range(count)))

        yield race


def _no_server_errors(responses: list[httpx.Response]) -> None:
    failed = [
        f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}" for r in responses
    ]
    failed = [f for r, f in zip(responses, failed, strict=True) if r.status_code >= 500]
    assert not failed, failed


# The tag limit ------------------------------------------------------------------------------


def _tag_target(api: httpx.Client, schema: str, kind: str) -> tuple[str, Callable[..., Any]]:
    """An object of `kind` and a function that sets tags on it: (client, {key: value}) ->
    response. Writers alternate between the two dialects where both exist."""
    if kind == "catalog":
        catalog = f"c_{uuid.uuid4().hex[:10]}"
        ok(api.post(f"{UC_2_1}/catalogs", json={"name": catalog}))

        def set_catalog_tags(client: httpx.Client, tags: dict[str, str], i: int = 0) -> Any:
            add = [{"key": k, "value": v} for k, v in tags.items()]
            return client.patch(
                f"{UC_2_1}/securable-tags/catalog/{catalog}", json={"changes": {"add_tags": add}}
            )

        return catalog, set_catalog_tags
    name = f"{schema}.{unique_name()}"
    create_model(api, name)
    if kind == "registered_model":

        def set_model_tags(client: httpx.Client, tags: dict[str, str], i: int = 0) -> Any:
            if len(tags) == 1 and i % 2:
                ((key, value),) = tags.items()
                return client.post(
                    f"{REGISTRY_2_0}/registered-models/set-tag",
                    json={"name": name, "key": key, "value": value},
                )
            add = [{"key": k, "value": v} for k, v in tags.items()]
            return client.patch(
                f"{UC_2_1}/securable-tags/registered_model/{name}",
                json={"changes": {"add_tags": add}},
            )

        return name, set_model_tags
    version = create_version(api, name)

    def set_version_tags(client: httpx.Client, tags: dict[str, str], i: int = 0) -> Any:
        if len(tags) == 1 and i % 2:
            ((key, value),) = tags.items()
            return client.post(
                f"{REGISTRY_2_0}/model-versions/set-tag",
                json={"name": name, "version": version, "key": key, "value": value},
            )
        add = [{"key": k, "value": v} for k, v in tags.items()]
        return client.patch(
            f"{UC_2_1}/subentity-tags/registered_model/{name}/{version}",
            json={"changes": {"add_tags": add}},
        )

    return f"{name}/{version}", set_version_tags


def _tags_of(api: httpx.Client, kind: str, target: str) -> dict[str, str]:
    if kind == "catalog":
        body = ok(api.get(f"{UC_2_1}/catalogs/{target}"))
        return {t["key"]: t["value"] for t in body.get("tags") or []}
    if kind == "registered_model":
        body = ok(api.get(f"{UC_2_1}/models/{target}"))
    else:
        name, version = target.split("/")
        body = ok(api.get(f"{UC_2_1}/models/{name}/versions/{version}"))
    return {t["key"]: t["value"] for t in body.get("tags") or []}


@pytest.mark.parametrize("kind", ["registered_model", "model_version", "catalog"])
def test_concurrent_tag_writers_never_pass_the_limit_of_50(
    server: RunningServer, api: httpx.Client, schema: str, kind: str
) -> None:
    target, set_tags = _tag_target(api, schema, kind)
    ok(set_tags(api, {f"t{n}": "v" for n in range(45)}))

    with racers(server, WRITERS) as race:
        responses = race(lambda i, client: set_tags(client, {f"extra{i}": "v"}, i))

    _no_server_errors(responses)
    accepted = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert len(accepted) == 5, [r.status_code for r in responses]
    for response in refused:
        assert response.status_code == 400, response.text
        assert "at most 50 tags" in response.json()["message"], response.text
    tags = _tags_of(api, kind, target)
    assert len(tags) == 50, sorted(tags)
    # At the limit, an existing tag can still be changed.
    ok(set_tags(api, {"t0": "changed"}))
    after = _tags_of(api, kind, target)
    assert len(after) == 50 and after["t0"] == "changed"


# Aliases against deletes --------------------------------------------------------------------

ROUNDS = 15


def test_alias_moves_raced_against_version_deletes_leave_no_dangling_alias(
    server: RunningServer, api: httpx.Client, schema: str
) -> None:
    name = f"{schema}.{unique_name()}"
    create_model(api, name)
    keeper = ready_version(api, name)
    handed_out = [int(keeper)]
    with racers(server, 8) as race:
        for _ in range(ROUNDS):
            doomed = ready_version(api, name)
            handed_out.append(int(doomed))
            responses = race(partial(_delete_or_alias, name=name, doomed=doomed, keeper=keeper))
            _no_server_errors(responses)
            for response in responses:
                # Setting an alias on a version deleted a moment earlier is a plain 404; the
                # second delete of the same version is one too.
                assert response.status_code in (200, 404), response.text

    model = ok(api.get(f"{UC_2_1}/models/{name}"))
    listed = ok(api.get(f"{UC_2_1}/models/{name}/versions", params={"max_results": 100}))
    ready = {v["version"] for v in listed["model_versions"] if v["status"] == "READY"}
    assert ready == {int(keeper)}
    for alias in model.get("aliases") or []:
        assert alias["version_num"] in ready, model["aliases"]
        by_alias = ok(api.get(f"{UC_2_1}/models/{name}/aliases/{alias['alias_name']}"))
        assert by_alias["version"] == alias["version_num"]
        assert by_alias["status"] == "READY"
    # Numbers are never reused after a delete.
    assert int(create_version(api, name)) == max(handed_out) + 1


def _delete_or_alias(
    i: int, client: httpx.Client, *, name: str, doomed: str, keeper: str
) -> httpx.Response:
    """Racer 0 and 1 delete `doomed` (one per dialect); the others point aliases at it (or at
    `keeper`), alternating dialects."""
    if i == 0:
        return client.delete(f"{UC_2_1}/models/{name}/versions/{doomed}")
    if i == 1:
        return client.request(
            "DELETE",
            f"{REGISTRY_2_0}/model-versions/delete",
            json={"name": name, "version": doomed},
        )
    target = doomed if i % 3 else keeper
    if i % 2:
        return client.put(
            f"{UC_2_1}/models/{name}/aliases/a{i % 4}", json={"version_num": int(target)}
        )
    return client.post(
        f"{REGISTRY_2_0}/registered-models/alias",
        json={"name": name, "alias": f"a{i % 4}", "version": target},
    )


def test_writes_raced_against_a_model_delete_end_with_the_model_gone(
    server: RunningServer, api: httpx.Client, schema: str
) -> None:
    name = f"{schema}.{unique_name()}"
    create_model(api, name)
    version = ready_version(api, name)

    def write_or_delete(i: int, client: httpx.Client) -> httpx.Response:
        if i == 0:
            return client.delete(f"{UC_2_1}/models/{name}")
        if i % 3 == 1:
            return client.post(
                f"{REGISTRY_2_0}/model-versions/create", json={"name": name, "source": "x"}
            )
        if i % 3 == 2:
            return client.put(
                f"{UC_2_1}/models/{name}/aliases/a{i}", json={"version_num": int(version)}
            )
        return client.post(
            f"{REGISTRY_2_0}/model-versions/set-tag",
            json={"name": name, "version": version, "key": f"k{i}", "value": "v"},
        )

    with racers(server, 12) as race:
        responses = race(write_or_delete)
    _no_server_errors(responses)
    assert responses[0].status_code == 200, responses[0].text
    for response in responses[1:]:
        assert response.status_code in (200, 404), response.text
    assert api.get(f"{UC_2_1}/models/{name}").status_code == 404
    # The name is free again, and a new model under it starts from nothing.
    create_model(api, name)
    fresh = ok(api.get(f"{UC_2_1}/models/{name}"))
    assert not fresh.get("aliases") and not fresh.get("tags")
    assert int(create_version(api, name)) == 1


# The safety net ---------------------------------------------------------------------------


@contextmanager
def _rival_tag(server: RunningServer, version_id: str, key: str) -> Iterator[Callable[[], None]]:
    """A concurrent writer that keeps no lock protocol (as a replica of another release might):
    it inserts tag `key` on a version in a transaction left open. Yields `win()`, which waits
    until a request of the server is blocked behind that row, then commits it."""
    import psycopg

    uri = server.database_uri.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(uri) as rival, psycopg.connect(uri, autocommit=True) as watcher:
        rival.execute(
            "INSERT INTO tags (securable_type, securable_id, key, value) "
            "VALUES ('model_version', %s, %s, 'theirs')",
            (version_id, key),
        )

        def win() -> None:
            deadline = time.monotonic() + 30
            while not watcher.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()[0]:  # type: ignore[index]
                assert time.monotonic() < deadline, "the server never waited for the row"
                time.sleep(0.01)  # polling pg_stat_activity for the wait, not a guessed delay
            rival.commit()

        yield win


def _raced(server: RunningServer, send: Callable[[], Any], version_id: str, key: str) -> Any:
    with _rival_tag(server, version_id, key) as win, ThreadPoolExecutor(1) as pool:
        pending = pool.submit(send)
        win()
        return pending.result(timeout=60)


@pytest.mark.parametrize(
    ("dialect", "code"), [("uc", "ABORTED"), ("registry", "RESOURCE_CONFLICT")]
)
def test_a_lost_race_is_a_409_in_the_dialects_own_words_and_is_audited(
    server: RunningServer, api: httpx.Client, schema: str, dialect: str, code: str
) -> None:
    if server.backend != "postgresql":
        pytest.skip("SQLite runs one write transaction at a time: nobody can hold a row")
    name = f"{schema}.{unique_name()}"
    create_model(api, name)
    version = create_version(api, name)
    version_id = ok(api.get(f"{UC_2_1}/models/{name}/versions/{version}"))["id"]

    def send() -> httpx.Response:
        if dialect == "uc":
            return api.patch(
                f"{UC_2_1}/subentity-tags/registered_model/{name}/{version}",
                json={"changes": {"add_tags": [{"key": "raced", "value": "ours"}]}},
            )
        return api.post(
            f"{REGISTRY_2_0}/model-versions/set-tag",
            json={"name": name, "version": version, "key": "raced", "value": "ours"},
        )

    response = _raced(server, send, version_id, "raced")

    assert response.status_code == 409, response.text
    body = response.json()
    assert body["error_code"] == code
    assert "concurrent change" in body["message"] and "send it again" in body["message"]
    request_id = response.headers["x-request-id"]
    records = ok(api.get(f"{NATIVE}/audit", params={"request_id": request_id}))["records"]
    assert [(r["outcome"], r["error_code"]) for r in records] == [("failed", "ABORTED")]
    # Nothing of the request stayed; the winner's value did.
    tags = ok(api.get(f"{UC_2_1}/models/{name}/versions/{version}"))["tags"]
    assert tags == [{"key": "raced", "value": "theirs"}]


def test_the_cli_client_sends_a_request_that_lost_a_race_again(
    server: RunningServer, api: httpx.Client, schema: str
) -> None:
    if server.backend != "postgresql":
        pytest.skip("SQLite runs one write transaction at a time: nobody can hold a row")
    from modelcatalog.client import CatalogClient

    name = f"{schema}.{unique_name()}"
    create_model(api, name)
    version = create_version(api, name)
    version_id = ok(api.get(f"{UC_2_1}/models/{name}/versions/{version}"))["id"]

    with CatalogClient(server.url, server.admin_token) as client:
        _raced(
            server,
            lambda: client.patch(
                f"{UC_2_1}/subentity-tags/registered_model/{name}/{version}",
                {"changes": {"add_tags": [{"key": "raced", "value": "ours"}]}},
            ),
            version_id,
            "raced",
        )

    # The first attempt lost; the second found the winner's tag and changed it.
    tags = ok(api.get(f"{UC_2_1}/models/{name}/versions/{version}"))["tags"]
    assert tags == [{"key": "raced", "value": "ours"}]


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
