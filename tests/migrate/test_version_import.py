"""The migration's import call: small versions of a model created, written and finalized by one
streamed request in one transaction, against a real server.

Every file's sha256 is checked against what the client declares, the origin and a signature
waiver are recorded as by the migration path, only owners and MANAGE holders may import, each
version keeps its audit record and its event, and a call cut off at any point (the client or
the server killed) leaves no version behind, so that sending it again creates each version
exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from modelcatalog.store.database import create_database_engine
from support.governance import add_principal, grant, records_of_request, token_for
from support.http import error_of, ok
from support.servers import run_server
from support.versions import REGISTRY_2_0

UC = "/api/2.1/unity-catalog"
IMPORT = "/api/modelcatalog/migration/versions/{name}/import"
MLMODEL = b"""flavors: {python_function: {loader_module: mlflow.sklearn}}
signature:
  inputs: '[{"type": "double", "name": "x"}]'
  outputs: '[{"type": "long"}]'
"""
UNSIGNED = b"flavors: {python_function: {loader_module: mlflow.sklearn}}\n"


def files_of(number: int) -> dict[str, bytes]:
    return {
        "MLmodel": MLMODEL,
        "model.pkl": os.urandom(3000) + bytes([number]),
        "code/features.py": f"def features(x):  # version {number}\n    return x\n".encode(),
    }


def origin(number: int) -> dict[str, str]:
    return {
        "registry": "sqlite:///old-registry.db",
        "model": "churn",
        "version": str(number),
        "run_id": f"run{number}",
        "run_link": f"http://mlflow.example/#/runs/run{number}",
    }


def member(name: str, data: bytes) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    padding = bytes(-len(data) % tarfile.BLOCKSIZE)
    return info.tobuf(tarfile.PAX_FORMAT) + data + padding


def parts(
    versions: dict[int, dict[str, bytes]],
    fields: dict[int, dict[str, Any]] | None = None,
    digests: dict[str, dict[str, str]] | None = None,
) -> list[bytes]:
    """The import archive in pieces: `versions.json`, one piece per file, `sha256.json` and the
    end of the archive."""
    fields = fields or {}
    described = [
        {"version": n, "origin": origin(n), "source": f"models:/churn/{n}", **fields.get(n, {})}
        for n in versions
    ]
    pieces = [member("versions.json", json.dumps({"versions": described}).encode())]
    for number, files in versions.items():
        pieces += [member(f"{number}/{path}", data) for path, data in files.items()]
    if digests is None:
        digests = {
            str(n): {p: sha256(d).hexdigest() for p, d in files.items()}
            for n, files in versions.items()
        }
    pieces.append(member("sha256.json", json.dumps(digests).encode()))
    pieces.append(bytes(2 * tarfile.BLOCKSIZE))
    return pieces


def send(client: httpx.Client, model: str, body: bytes | Iterator[bytes]) -> httpx.Response:
    return client.post(
        IMPORT.format(name=model), content=body, headers={"Content-Type": "application/x-tar"}
    )


def imported(client: httpx.Client, model: str, *pieces: bytes) -> dict[int, dict[str, Any]]:
    """Import, expecting success; each version's answer by number."""
    body = ok(send(client, model, b"".join(pieces)))
    return {v["model_version"]["version"]: v for v in body["versions"]}


def manifest_of(files: dict[str, bytes]) -> list[dict[str, Any]]:
    return sorted(
        ({"path": p, "size": len(d), "sha256": sha256(d).hexdigest()} for p, d in files.items()),
        key=lambda f: f["path"],
    )


def version_numbers(api: httpx.Client, model: str) -> list[int]:
    listed = ok(api.get(f"{UC}/models/{model}/versions"))["model_versions"]
    return sorted(v["version"] for v in listed)


def staged(server: Any) -> list[Path]:
    """Files waiting (complete) in import staging folders of a server's local store."""
    root = server.data_dir / "artifacts" / "_import"
    while True:
        if not root.exists():
            return []
        try:
            return [
                p
                for p in root.rglob("*")
                if p.is_file() and not p.name.startswith(".modelcatalog-")
            ]
        except FileNotFoundError:
            continue  # the server removed a folder while it was being listed: list again


def cut_off(pieces: list[bytes]) -> list[bytes]:
    """The first version's files and the first of the second's (4 files), then half of an
    8 MiB file: the server hands a body on in blocks of 1 MiB, so the 4 files reach it."""
    header = tarfile.TarInfo("2/weights.bin")
    header.size = 8 << 20
    return [*pieces[:5], header.tobuf(tarfile.PAX_FORMAT), os.urandom(4 << 20)]


def wait_until(condition: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.02)  # poll interval, not a guessed duration


@pytest.fixture
def model(api: httpx.Client, schema: str) -> str:
    name = f"{schema}.m_{uuid.uuid4().hex[:8]}"
    catalog, schema_name, model_name = name.split(".")
    ok(
        api.post(
            f"{UC}/models",
            json={"catalog_name": catalog, "schema_name": schema_name, "name": model_name},
        )
    )
    return name


# What one call makes ---------------------------------------------------------------------------


def test_one_call_creates_writes_and_finalizes_several_versions(
    api: httpx.Client, model: str
) -> None:
    versions = {n: files_of(n) for n in (2, 3, 7)}
    fields = {3: {"tags": {"team": "risk"}, "comment": "third", "run_id": "run3"}}
    answers = imported(api, model, *parts(versions, fields))
    assert sorted(answers) == [2, 3, 7]
    for number, files in versions.items():
        answer = answers[number]
        assert answer["outcome"] == "created"
        assert answer["model_version"]["status"] == "READY"
        assert answer["model_version"]["origin"] == origin(number)
        assert answer["manifest"] == manifest_of(files)
        shown = ok(api.get(f"{UC}/models/{model}/versions/{number}"))
        assert shown["status"] == "READY" and shown["origin"] == origin(number)
        recorded = ok(api.get(f"/api/modelcatalog/models/{model}/versions/{number}/manifest"))
        assert sorted(recorded["files"], key=lambda f: f["path"]) == manifest_of(files)
    third = ok(api.get(f"{UC}/models/{model}/versions/3"))
    assert third["comment"] == "third" and third["run_id"] == "run3"
    assert {t["key"]: t["value"] for t in third["tags"]} == {"team": "risk"}
    # The gaps stay gaps, and a version made later by the usual path comes after them all.
    created = ok(
        api.post(f"{REGISTRY_2_0}/model-versions/create", json={"name": model, "source": "x"})
    )
    assert created["model_version"]["version"] == "8"


def test_the_files_are_served_as_sent(api: httpx.Client, model: str) -> None:
    files = files_of(1)
    imported(api, model, *parts({1: files}))
    catalog, schema, name = model.split(".")
    for path, data in files.items():
        signed = ok(
            api.post(
                "/api/2.0/fs/create-download-url",
                json={"path": f"/Models/{catalog}/{schema}/{name}/1/{path}"},
            )
        )
        answer = httpx.get(signed["url"])
        assert answer.status_code == 200, answer.text
        assert answer.content == data


def test_the_signature_is_checked_and_a_waiver_recorded(api: httpx.Client, model: str) -> None:
    """As at finalize: without a signature a version fails (its files quarantined) unless it
    carries a waiver, which is recorded; the other versions of the call are not held back."""
    waiver = "legacy model; its input example was lost"
    unsigned = {"MLmodel": UNSIGNED, "model.pkl": b"p"}
    answers = imported(
        api,
        model,
        *parts(
            {1: unsigned, 2: unsigned, 3: files_of(3)},
            {2: {"signature_waiver": waiver}},
        ),
    )
    failed = answers[1]["model_version"]
    assert failed["status"] == "FAILED_REGISTRATION"
    assert "did not contain any signature metadata" in failed["status_message"]
    assert answers[1]["manifest"] == []
    assert answers[2]["model_version"]["status"] == "READY"
    assert ok(api.get(f"{UC}/models/{model}/versions/2"))["signature_waiver"] == waiver
    assert answers[3]["model_version"]["status"] == "READY"
    catalog, schema, name = model.split(".")
    listing = api.get(f"/api/2.0/fs/directories/Models/{catalog}/{schema}/{name}/1/")
    assert listing.status_code in (400, 404), listing.text  # quarantined: no path serves them


def test_each_version_keeps_its_audit_record_and_its_event(
    server: Any, api: httpx.Client, model: str
) -> None:
    answer = send(api, model, b"".join(parts({4: files_of(4), 5: files_of(5)})))
    ok(answer)
    records = records_of_request(api, answer.headers["x-request-id"])
    assert sorted((r["action"], r["securable"], r["outcome"]) for r in records) == [
        ("importModelVersion", model, "ok"),
        ("importModelVersion", model, "ok"),
        ("importModelVersions", model, "ok"),
    ]
    per_version = {
        r["parameters"]["version"]: r["parameters"]
        for r in records
        if r["action"] == "importModelVersion"
    }
    assert sorted(per_version) == [4, 5]
    for number, parameters in per_version.items():
        assert parameters["status"] == "READY"
        assert parameters["outcome"] == "created"
        assert parameters["origin"] == origin(number)
        assert parameters["files"] == 3
    call = next(r for r in records if r["action"] == "importModelVersions")
    assert call["parameters"]["versions"] == [4, 5]
    assert call["parameters"]["files"] == 6
    engine = create_database_engine(server.database_uri, for_writes=False)
    try:
        with engine.connect() as connection:
            events = connection.execute(
                text(
                    "SELECT kind, version, actor FROM model_events WHERE model_name = :name "
                    "AND version IS NOT NULL ORDER BY version"
                ),
                {"name": model},
            ).all()
    finally:
        engine.dispose()
    assert [tuple(e) for e in events] == [
        ("MODEL_VERSION_READY", 4, "admin"),
        ("MODEL_VERSION_READY", 5, "admin"),
    ]


# Checked before anything is made ---------------------------------------------------------------


def test_a_sha256_mismatch_is_refused_and_nothing_is_made(
    server: Any, api: httpx.Client, model: str
) -> None:
    versions = {1: files_of(1), 2: files_of(2)}
    digests = {
        str(n): {p: sha256(d).hexdigest() for p, d in files.items()}
        for n, files in versions.items()
    }
    declared = sha256(b"what the source held").hexdigest()
    digests["2"]["model.pkl"] = declared
    refused = send(api, model, b"".join(parts(versions, digests=digests)))
    message = error_of(refused, 400)["message"]
    actual = sha256(versions[2]["model.pkl"]).hexdigest()
    assert f"Version 2, file 'model.pkl': the server computed sha256 {actual}" in message
    assert f"declares {declared}" in message
    assert "No version was imported" in message
    assert version_numbers(api, model) == []
    assert staged(server) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("lost", "Version 1: the files ['model.pkl'] are declared in 'sha256.json' but were not"),
        ("extra", "Version 1: the files ['extra.txt'] are in the archive but not declared"),
        ("no-digests", "the archive ended without 'sha256.json'"),
        ("not-first", "the archive must begin with the file 'versions.json'"),
        (
            "stray",
            "member 3 '9/MLmodel' is not under the number of a version 'versions.json' lists",
        ),
        ("escape", "member 3 '1/../../x': path '../../x' has a '..' segment"),
    ],
)
def test_an_archive_that_does_not_add_up_is_refused_by_name(
    api: httpx.Client, model: str, change: str, message: str
) -> None:
    files = files_of(1)
    pieces = parts({1: files})
    if change == "lost":
        pieces.pop(2)  # the member 1/model.pkl
    elif change == "extra":
        pieces.insert(2, member("1/extra.txt", b"x"))
    elif change == "no-digests":
        pieces.pop(-2)
    elif change == "not-first":
        pieces = [pieces[1], pieces[0], *pieces[2:]]
    elif change == "stray":
        pieces.insert(2, member("9/MLmodel", MLMODEL))
    elif change == "escape":
        pieces.insert(2, member("1/../../x", b"x"))
    refused = send(api, model, b"".join(pieces))
    assert message in error_of(refused, 400)["message"]
    assert version_numbers(api, model) == []


def test_bad_version_fields_are_refused_naming_the_field(api: httpx.Client, model: str) -> None:
    refused = send(api, model, b"".join(parts({1: files_of(1)}, {1: {"origin": {"model": "x"}}})))
    body = error_of(refused, 400)
    assert "'versions[0].origin' must be an object with 'registry', 'model'" in body["message"]
    refused = send(api, model, b"".join(parts({1: files_of(1)}, {1: {"colour": "blue"}})))
    assert "'versions[0]' has unknown fields ['colour']" in error_of(refused, 400)["message"]


def test_a_version_of_another_origin_refuses_the_call(api: httpx.Client, model: str) -> None:
    ok(
        api.post(
            "/api/modelcatalog/migration/versions",
            json={"name": model, "version": 2, "origin": {**origin(2), "model": "other"}},
        )
    )
    refused = send(api, model, b"".join(parts({1: files_of(1), 2: files_of(2)})))
    assert (
        "version 2 already exists and was not made by this migration"
        in (error_of(refused, 409)["message"])
    )
    assert version_numbers(api, model) == [2]


# Who may import ----------------------------------------------------------------------------------


@pytest.mark.parametrize("privilege", ["EXECUTE", "CREATE MODEL VERSION"])
def test_only_owners_and_manage_holders_may_import(
    server: Any, api: httpx.Client, model: str, privilege: str
) -> None:
    """As the migration path: a reader is refused, and so is a writer without MANAGE (a version
    with a number of its choosing and an origin is not an ordinary new version)."""
    catalog, schema, _ = model.split(".")
    name = f"u_{uuid.uuid4().hex[:8]}"
    add_principal(api, name)
    grant(api, "catalog", catalog, name, "USE CATALOG")
    grant(api, "schema", f"{catalog}.{schema}", name, "USE SCHEMA")
    grant(api, "registered_model", model, name, privilege)
    pieces = parts({1: files_of(1)})
    with httpx.Client(
        base_url=server.url, headers=server.headers(token_for(api, name)), timeout=60
    ) as caller:
        refused = send(caller, model, b"".join(pieces))
        assert "ownership of or MANAGE on registered_model" in error_of(refused, 403)["message"]
        records = records_of_request(api, refused.headers["x-request-id"])
        assert [(r["action"], r["principal"], r["outcome"]) for r in records] == [
            ("importModelVersions", name, "denied")
        ]
        assert version_numbers(api, model) == []
        assert staged(server) == []
        grant(api, "registered_model", model, name, "MANAGE")
        answers = imported(caller, model, *pieces)
    assert answers[1]["model_version"]["created_by"] == name


# Sent again ---------------------------------------------------------------------------------------


def test_sending_a_call_again_creates_nothing_twice(
    server: Any, api: httpx.Client, model: str
) -> None:
    versions = {1: files_of(1), 2: files_of(2)}
    first = imported(api, model, *parts(versions))
    again = imported(api, model, *parts({**versions, 3: files_of(3)}))
    assert [again[n]["outcome"] for n in (1, 2, 3)] == ["present", "present", "created"]
    for number in (1, 2):
        assert again[number]["model_version"]["id"] == first[number]["model_version"]["id"]
        assert again[number]["manifest"] == first[number]["manifest"]
    assert version_numbers(api, model) == [1, 2, 3]


def test_a_pending_version_of_the_same_origin_is_finished(api: httpx.Client, model: str) -> None:
    """What an earlier run left PENDING through the step-by-step path is completed."""
    made = ok(
        api.post(
            "/api/modelcatalog/migration/versions",
            json={"name": model, "version": 4, "origin": origin(4)},
        )
    )
    answers = imported(api, model, *parts({4: files_of(4)}))
    assert answers[4]["outcome"] == "resumed"
    assert answers[4]["model_version"]["id"] == made["id"]
    assert answers[4]["model_version"]["status"] == "READY"


CLIENT = """
import sys, time, httpx
pieces = [bytes.fromhex(line) for line in sys.stdin.read().split()]
def body():
    yield from pieces
    print("sent", flush=True)
    time.sleep(3600)  # the rest never comes: the client is killed here
httpx.post(sys.argv[1], content=body(), headers={"Authorization": "Bearer " + sys.argv[2],
           "Content-Type": "application/x-tar"}, timeout=3600)
"""


def test_a_client_killed_mid_import_leaves_nothing_and_a_rerun_makes_everything(
    server: Any, api: httpx.Client, model: str
) -> None:
    versions = {1: files_of(1), 2: files_of(2)}
    pieces = parts(versions)
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT, server.url + IMPORT.format(name=model), server.admin_token],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert client.stdin and client.stdout
    client.stdin.write("\n".join(p.hex() for p in cut_off(pieces)))
    client.stdin.close()
    try:
        assert client.stdout.readline().strip() == "sent"
        wait_until(lambda: len(staged(server)) == 4, "staging the files sent")
    finally:
        os.kill(client.pid, signal.SIGKILL)
        client.wait()
    wait_until(lambda: staged(server) == [], "removing the cut-off call's staging folder")
    assert version_numbers(api, model) == []
    answers = imported(api, model, *pieces)
    assert [answers[n]["outcome"] for n in (1, 2)] == ["created", "created"]
    assert version_numbers(api, model) == [1, 2]


def test_a_server_killed_mid_import_leaves_nothing_that_a_rerun_cannot_finish(
    tmp_path: Path,
) -> None:
    """The server dies while the call is being received: no version exists afterwards, the
    call sent again makes each version once, and the staging folder the dead server left is
    swept when a server starts once it is an hour old."""
    data = tmp_path / "server"
    versions = {1: files_of(1), 2: files_of(2)}
    pieces = parts(versions)
    go_on = threading.Event()
    with run_server(data) as server:
        with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
            ok(api.post(f"{UC}/catalogs", json={"name": "main"}))
            ok(api.post(f"{UC}/schemas", json={"name": "ml", "catalog_name": "main"}))
            ok(
                api.post(
                    f"{UC}/models",
                    json={"catalog_name": "main", "schema_name": "ml", "name": "churn"},
                )
            )

        def body() -> Iterator[bytes]:
            yield from cut_off(pieces)
            go_on.wait(120)

        outcome: list[Any] = []

        def post() -> None:
            try:
                with httpx.Client(headers=server.headers(), timeout=120) as client:
                    outcome.append(send_to(client, server.url, "main.ml.churn", body()))
            except httpx.HTTPError as exc:
                outcome.append(exc)

        sender = threading.Thread(target=post)
        sender.start()
        try:
            wait_until(lambda: len(staged(server)) == 4, "staging the files sent")
            os.kill(server.process.pid, signal.SIGKILL)
            server.process.wait()
        finally:
            go_on.set()
            sender.join()
    assert isinstance(outcome[0], httpx.HTTPError)  # the call never got an answer
    leftovers = staged(server)
    assert len(leftovers) == 4
    with run_server(data) as server:
        with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
            assert version_numbers(api, "main.ml.churn") == []
            answers = imported(api, "main.ml.churn", *pieces)
            assert [answers[n]["outcome"] for n in (1, 2)] == ["created", "created"]
            for number, files in versions.items():
                assert answers[number]["manifest"] == manifest_of(files)
            assert version_numbers(api, "main.ml.churn") == [1, 2]
    assert all(path.exists() for path in leftovers)  # too young to be swept
    hour_ago = time.time() - 3700
    for path in leftovers:
        os.utime(path, (hour_ago, hour_ago))
    with run_server(data) as server:
        wait_until(lambda: staged(server) == [], "sweeping the abandoned staging folder")
        with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
            assert version_numbers(api, "main.ml.churn") == [1, 2]


def send_to(client: httpx.Client, url: str, model: str, body: Iterator[bytes]) -> httpx.Response:
    return client.post(
        url + IMPORT.format(name=model),
        content=body,
        headers={"Content-Type": "application/x-tar"},
    )


def test_the_body_is_not_subject_to_the_json_body_limit(
    server: Any, api: httpx.Client, model: str
) -> None:
    """An artifact upload: a version of 20 MiB goes in one call, past the 16 MiB JSON limit."""
    big = {"MLmodel": MLMODEL, "weights.bin": os.urandom(20 << 20)}
    answers = imported(api, model, *parts({1: big}))
    assert answers[1]["manifest"] == manifest_of(big)


def test_the_call_is_in_the_native_openapi_document(api: httpx.Client) -> None:
    document = ok(api.get("/openapi.json"))
    operation = document["paths"]["/api/modelcatalog/migration/versions/{full_name}/import"]["post"]
    assert "application/x-tar" in operation["requestBody"]["content"]
