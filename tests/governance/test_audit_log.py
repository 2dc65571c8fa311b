"""The audit log: what a record holds, queries by securable, principal, action and time, and
`verify` catching an edited, a deleted and an out-of-order record (tampered with in the
database itself, as an attacker with database access would)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from modelcatalog.service.audit import HEAD_KEY
from support.governance import NATIVE, UC, add_principal, audit_records, grant, token_for
from support.http import ok
from support.servers import RunningServer, postgres_database, run_server
from support.versions import files_path, ready_version

pytestmark = pytest.mark.both_databases


@contextmanager
def _server_with_activity(backend: str, data_dir: Path) -> Iterator[httpx.Client]:
    """A server of its own (tests here tamper with its database) and an admin client that has
    made a catalog, a schema and a model with a READY version."""
    with ExitStack() as stack:
        uri = stack.enter_context(postgres_database()) if backend == "postgresql" else None
        server = stack.enter_context(run_server(data_dir, database_uri=uri))
        client = stack.enter_context(
            httpx.Client(base_url=server.url, headers=server.headers(), timeout=60)
        )
        catalog = f"a_{uuid.uuid4().hex[:6]}"
        ok(client.post(f"{UC}/catalogs", json={"name": catalog}))
        ok(client.post(f"{UC}/schemas", json={"name": "s", "catalog_name": catalog}))
        ok(
            client.post(
                f"{UC}/models", json={"catalog_name": catalog, "schema_name": "s", "name": "m"}
            )
        )
        ready_version(client, f"{catalog}.s.m")
        client.catalog = catalog  # type: ignore[attr-defined]
        client.server = server  # type: ignore[attr-defined]
        yield client


@pytest.fixture(scope="module")
def admin(backend, tmp_path_factory) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    """For the tests that only read the log."""
    with _server_with_activity(backend, tmp_path_factory.mktemp("audit")) as client:
        yield client


@pytest.fixture
def tampered(backend, tmp_path) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    """For one tampering test: a fresh server whose log verifies before the test breaks it."""
    with _server_with_activity(backend, tmp_path / "server") as client:
        response = client.get(f"{NATIVE}/audit/verify")
        assert ok(response)["intact"]
        # Tamper only once the verification's own record has landed, so nothing is in flight.
        request_id = response.headers["x-request-id"]
        deadline = time.monotonic() + 10
        while not _sql(
            client.server,  # type: ignore[attr-defined]
            "SELECT seq FROM audit_records WHERE request_id = :r",
            r=request_id,
        ):
            assert time.monotonic() < deadline, "the verification's record never landed"
            time.sleep(0.02)
        yield client
        # A record forged past the chain head takes the number the server's next record needs,
        # and a stopping server waits out its flush deadline for records it cannot append:
        # remove what lies past the head, so that it appends them and stops at once.
        server = client.server  # type: ignore[attr-defined]
        ((head,),) = _sql(server, "SELECT value FROM settings WHERE key = :k", k=HEAD_KEY)
        _sql(server, "DELETE FROM audit_records WHERE seq > :s", s=int(head.partition(":")[0]))


def _verify(admin: httpx.Client) -> dict:
    return ok(admin.get(f"{NATIVE}/audit/verify"))


def _sql(server: RunningServer, statement: str, **params: object) -> list:
    engine = create_engine(server.database_uri.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as connection:
            result = connection.execute(text(statement), params)
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


def test_an_untouched_log_verifies(admin: httpx.Client) -> None:
    report = _verify(admin)
    assert report["intact"] and report["problems"] == []
    assert report["records"] > 5


#: Text a mutation's record carries in its parameters, sealed by the server (on PostgreSQL by
#: the database itself) and checked again by `verify`.
AWKWARD_TEXT = [
    'a "quoted" word, a back\\slash and a \\u0041 that is not an escape',
    "line one\nline two\ttabbed\r\nend",
    "modèle 模型 ключ 😀 \u2028\u2029 Ω",
    "'; SELECT 1; -- %s %(at)s :at ::text ||",
    "x" * 2500,  # longer than a parameter keeps: cut, with a mark
]


def test_records_of_changes_with_awkward_text_verify(admin: httpx.Client) -> None:
    catalog = admin.catalog  # type: ignore[attr-defined]
    for n, comment in enumerate(AWKWARD_TEXT):
        ok(
            admin.post(
                f"{UC}/models",
                json={
                    "catalog_name": catalog,
                    "schema_name": "s",
                    "name": f"awkward{n}",
                    "comment": comment,
                },
            )
        )
    stored = _sql(
        admin.server,  # type: ignore[attr-defined]
        "SELECT parameters FROM audit_records WHERE action = 'createRegisteredModel' "
        "AND securable LIKE :name ORDER BY seq",
        name=f"{catalog}.s.awkward%",
    )
    assert len(stored) == len(AWKWARD_TEXT)
    assert "模型" in stored[2][0] and "😀" in stored[2][0]
    report = _verify(admin)
    assert report["intact"] and report["problems"] == []


def test_an_edited_record_is_found(tampered: httpx.Client) -> None:
    own_server, admin = tampered.server, tampered  # type: ignore[attr-defined]
    target = _sql(own_server, "SELECT seq FROM audit_records WHERE outcome = 'ok' ORDER BY seq")[2][
        0
    ]
    _sql(own_server, "UPDATE audit_records SET principal = 'someone-else' WHERE seq = :s", s=target)
    report = _verify(admin)
    assert not report["intact"]
    assert any(p.startswith(f"record {target}:") and "edited" in p for p in report["problems"])


def test_a_deleted_record_is_found(tampered: httpx.Client) -> None:
    own_server, admin = tampered.server, tampered  # type: ignore[attr-defined]
    _sql(own_server, "DELETE FROM audit_records WHERE seq = 3")
    report = _verify(admin)
    assert not report["intact"]
    assert any("record 4" in p and "missing" in p for p in report["problems"]), report


def test_a_record_inserted_out_of_order_is_found(tampered: httpx.Client) -> None:
    own_server, admin = tampered.server, tampered  # type: ignore[attr-defined]
    # A forged record appended with a valid hash of its own, but linked to an old record.
    from modelcatalog.service.audit import record_hash

    last = _sql(own_server, "SELECT max(seq) FROM audit_records")[0][0]
    old = _sql(own_server, "SELECT hash FROM audit_records WHERE seq = 2")[0][0]
    forged = {
        "seq": last + 1,
        "at": 1,
        "principal": "admin",
        "action": "deleteRegisteredModel",
        "securable_type": "registered_model",
        "securable": "x.y.z",
        "parameters": "{}",
        "outcome": "ok",
        "error_code": None,
        "request_id": None,
        "client_address": None,
        "prev_hash": old,
    }
    forged["hash"] = record_hash(forged)
    _sql(
        own_server,
        "INSERT INTO audit_records (seq, at, principal, action, securable_type, securable, "
        "parameters, outcome, error_code, request_id, client_address, prev_hash, hash) VALUES "
        "(:seq, :at, :principal, :action, :securable_type, :securable, :parameters, :outcome, "
        ":error_code, :request_id, :client_address, :prev_hash, :hash)",
        **forged,
    )
    problems = _verify(admin)["problems"]
    assert any(f"record {last + 1}" in p and "does not link" in p for p in problems), problems
    assert any("chain head" in p for p in problems), problems


def test_a_mutation_record_names_who_what_where_and_hides_secrets(admin: httpx.Client) -> None:
    model = f"{admin.catalog}.s.m"
    response = admin.patch(f"{UC}/models/{model}", json={"comment": "audited edit"})
    ok(response)
    (record,) = audit_records(admin, request_id=response.headers["x-request-id"])
    assert record["principal"] == "admin"
    assert record["action"] == "updateRegisteredModel"
    assert record["securable"] == model
    assert record["parameters"]["comment"] == "audited edit"
    assert record["outcome"] == "ok"
    assert record["client_address"] == "127.0.0.1"
    made = admin.post(f"{NATIVE}/tokens", json={"comment": "for audit test"})
    (token_record,) = audit_records(admin, request_id=made.headers["x-request-id"])
    assert made.json()["token"] not in str(token_record)


def test_every_artifact_read_is_recorded_under_the_reader(admin: httpx.Client) -> None:
    own_server = admin.server  # type: ignore[attr-defined]
    reader = f"reader-{uuid.uuid4().hex[:6]}"
    add_principal(admin, reader)
    grant(admin, "catalog", admin.catalog, reader, "USE CATALOG", "USE SCHEMA", "EXECUTE")
    client = httpx.Client(
        base_url=own_server.url, headers={"Authorization": f"Bearer {token_for(admin, reader)}"}
    )
    model = f"{admin.catalog}.s.m"
    url = ok(
        client.post(
            "/api/2.0/fs/create-download-url", json={"path": files_path(model, 1, "MLmodel")}
        )
    )["url"]
    download = httpx.get(url)
    assert download.status_code == 200
    (record,) = audit_records(admin, request_id=download.headers["x-request-id"])
    assert record["action"] == "readArtifact"
    assert record["principal"] == reader
    assert record["securable"] == model
    assert record["parameters"]["path"] == "MLmodel"
    # A read URL cannot write, and that attempt is a recorded denial.
    refused = httpx.put(url, content=b"overwrite")
    assert refused.status_code == 403
    (denial,) = audit_records(admin, request_id=refused.headers["x-request-id"])
    assert denial["outcome"] == "denied"


def test_queries_by_securable_principal_action_and_time(admin: httpx.Client) -> None:
    model = f"{admin.catalog}.s.m"
    everything = audit_records(admin)
    about_model = audit_records(admin, securable=model)
    assert about_model and all(r["securable"] == model for r in about_model)
    creations = audit_records(admin, action="createRegisteredModel")
    assert creations and all(r["action"] == "createRegisteredModel" for r in creations)
    by_admin = audit_records(admin, principal="admin")
    assert all(r["principal"] == "admin" for r in by_admin)
    assert {r["seq"] for r in everything if r["principal"] == "admin"} <= {
        r["seq"] for r in by_admin
    }
    httpx.get(f"{admin.server.url}{NATIVE}/me")  # type: ignore[attr-defined]
    anonymous = audit_records(admin, principal="anonymous")
    assert anonymous and all(r["outcome"] == "denied" for r in anonymous)
    middle = everything[len(everything) // 2]["time"]
    later = audit_records(admin, since=str(middle))
    assert later and all(r["time"] >= middle for r in later)
    earlier = audit_records(admin, until=str(middle))
    assert all(r["time"] < middle for r in earlier)
    bad = admin.get(f"{NATIVE}/audit", params={"since": "yesterday"})
    assert bad.status_code == 400
    assert "since" in bad.json()["message"]


def test_newest_first_pages_backwards_through_the_same_records_and_outcome_filters(
    admin: httpx.Client,
) -> None:
    oldest_first = audit_records(admin, max_results="7")
    newest_first = audit_records(admin, max_results="7", order="newest_first")
    # Records written while paging (the queries themselves) are newer than the first page.
    seen = {r["seq"] for r in oldest_first}
    assert [r["seq"] for r in newest_first if r["seq"] in seen] == sorted(seen, reverse=True)
    denied = audit_records(admin, outcome="denied")
    assert all(r["outcome"] == "denied" for r in denied)
    for params, field, allowed in (
        ({"order": "sideways"}, "order", "newest_first"),
        ({"outcome": "maybe"}, "outcome", "denied"),
    ):
        answer = admin.get(f"{NATIVE}/audit", params=params)
        assert answer.status_code == 400, params
        assert field in answer.json()["message"] and allowed in answer.json()["message"]
    first = ok(admin.get(f"{NATIVE}/audit", params={"max_results": "2"}))
    crossed = admin.get(
        f"{NATIVE}/audit",
        params={"order": "newest_first", "page_token": first["next_page_token"]},
    )
    assert crossed.status_code == 400 and "page_token" in crossed.json()["message"]


def test_denials_around_a_hostile_request_are_all_kept(admin: httpx.Client) -> None:
    """A principal with no grants is denied three times, sends a name with a NUL byte, and is
    denied once more: every denial and the refused request are in the log, which verifies."""
    name = f"nobody_{uuid.uuid4().hex[:6]}"
    add_principal(admin, name)
    server = admin.server  # type: ignore[attr-defined]
    model = f"{admin.catalog}.s.m"
    with httpx.Client(
        base_url=server.url, headers=server.headers(token_for(admin, name)), timeout=60
    ) as stranger:
        for _ in range(3):
            assert stranger.get(f"{UC}/models/{model}").status_code == 404
        hostile = stranger.get(f"{UC}/models/{admin.catalog}.s.m%00x")
        assert hostile.status_code == 400, hostile.text
        assert "NUL" in hostile.json()["message"]
        assert stranger.get(f"{UC}/models/{model}").status_code == 404
    records = audit_records(admin, principal=name)
    denied = [r for r in records if r["outcome"] == "denied"]
    refused = [r for r in records if r["action"] == "refuseRequest"]
    assert len(denied) == 4, records
    assert len(refused) == 1 and refused[0]["outcome"] == "failed", records
    assert "\x00" in refused[0]["parameters"]["path"]
    assert _verify(admin)["intact"]
