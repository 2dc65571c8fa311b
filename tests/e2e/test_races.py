"""Races between writers: many at once on one object, and writes against deletes.

The limits and invariants hold under any concurrency on either database, and a request that
loses a race answers a 4xx in its dialect's words, never a 500. Replicas that start together
and a server killed mid-write are in test_replicas_postgres.py.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from functools import partial
from typing import Any

import httpx
import pytest

from support.http import ok
from support.http import unique as unique_name
from support.servers import RunningServer
from support.versions import REGISTRY_2_0, UC_2_1, create_model, create_version, ready_version

# Races meet each database's own locking and isolation.
pytestmark = pytest.mark.both_databases

WRITERS = 32
NATIVE = "/api/modelcatalog"


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
            return client.delete(f"{UC_2_1}/models/{name}", params={"force": "true"})
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
