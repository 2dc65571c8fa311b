"""The bulk upload: a PENDING version's files as one tar stream, against a real server.

Authorized like an upload, every member confined, streamed to the store, the server's own
digests returned and used at finalize; listing a PENDING version's files for its writers."""

from __future__ import annotations

import io
import os
import tarfile
import uuid
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.governance import add_principal, audit_records, grant, token_for

UC = "/api/2.1/unity-catalog"
BULK = "/api/modelcatalog/migration/versions/{name}/{version}/files"
MLMODEL = b"""flavors: {python_function: {loader_module: mlflow.sklearn}}
signature:
  inputs: '[{"type": "double", "name": "x"}]'
  outputs: '[{"type": "long"}]'
"""
FILES = {
    "MLmodel": MLMODEL,
    "model.pkl": os.urandom(5000),
    "code/helpers/features.py": b"def features(x):\n    return x\n",
    "résumé — notes " + "x" * 120 + ".txt": b"non-ASCII, over 100 characters",
}


def tar_of(*members: tuple[str, bytes] | tarfile.TarInfo) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
                continue
            info = tarfile.TarInfo(member[0])
            info.size = len(member[1])
            tar.addfile(info, io.BytesIO(member[1]))
    return buffer.getvalue()


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def manifest_of(files: dict[str, bytes]) -> list[dict[str, Any]]:
    return sorted(
        ({"path": p, "size": len(d), "sha256": sha256(d).hexdigest()} for p, d in files.items()),
        key=lambda f: f["path"],
    )


@pytest.fixture
def model(api: httpx.Client, schema: str) -> str:
    name = f"{schema}.m_{uuid.uuid4().hex[:8]}"
    catalog, schema_name, model_name = name.split(".")
    api.post(
        f"{UC}/models",
        json={"catalog_name": catalog, "schema_name": schema_name, "name": model_name},
    ).raise_for_status()
    return name


def pending(api: httpx.Client, model: str, number: int = 7) -> int:
    """A PENDING version with the given number, made through the migration path."""
    origin = {"registry": "sqlite:///src.db", "model": "src", "version": str(number)}
    answer = api.post(
        "/api/modelcatalog/migration/versions",
        json={"name": model, "version": number, "origin": origin},
    )
    assert answer.json()["status"] == "PENDING_REGISTRATION", answer.text
    return number


def put_tar(
    client: httpx.Client, model: str, number: int, body: bytes | Iterator[bytes]
) -> httpx.Response:
    return client.put(
        BULK.format(name=model, version=number),
        content=body,
        headers={"Content-Type": "application/x-tar"},
    )


def finalize(api: httpx.Client, model: str, number: int) -> dict[str, Any]:
    answer = api.patch(f"{UC}/models/{model}/versions/{number}/finalize", json={})
    assert answer.is_success, answer.text
    return answer.json()


def recorded(api: httpx.Client, model: str, number: int) -> list[dict[str, Any]]:
    body = api.get(f"/api/modelcatalog/models/{model}/versions/{number}/manifest").json()
    return sorted(body["files"], key=lambda f: f["path"])


def listing(client: httpx.Client, model: str, number: int, relative: str = "") -> httpx.Response:
    catalog, schema, name = model.split(".")
    return client.get(
        f"/api/2.0/fs/directories/Models/{catalog}/{schema}/{name}/{number}/{relative}"
    )


def stored_file(server: Any, api: httpx.Client, model: str, number: int, path: str) -> Path:
    """The file a local store holds for one version's path (other versions hold equal bytes)."""
    answer = api.get(f"{UC}/models/{model}")
    assert answer.status_code == 200, answer.text
    model_id = answer.json()["id"]
    found = server.data_dir / "artifacts" / model_id / str(number) / path
    assert found.is_file(), f"{path} not found in the store at {found}"
    return found


# Writing -------------------------------------------------------------------------------------


def test_one_request_writes_every_file_and_answers_the_servers_digests(
    api: httpx.Client, model: str
) -> None:
    number = pending(api, model)
    answer = put_tar(api, model, number, tar_of(*FILES.items()))
    assert answer.status_code == 200, answer.text
    assert sorted(answer.json()["files"], key=lambda f: f["path"]) == manifest_of(FILES)
    assert finalize(api, model, number)["status"] == "READY"
    assert recorded(api, model, number) == manifest_of(FILES)


def test_finalize_in_the_same_request_answers_the_version_and_its_manifest(
    api: httpx.Client, model: str
) -> None:
    number = pending(api, model)
    answer = api.put(
        BULK.format(name=model, version=number) + "?finalize=true",
        content=tar_of(*FILES.items()),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model_version"]["status"] == "READY"
    assert sorted(body["manifest"], key=lambda f: f["path"]) == manifest_of(FILES)
    assert recorded(api, model, number) == manifest_of(FILES)
    records = audit_records(api, request_id=answer.headers["x-request-id"])
    assert sorted(r["action"] for r in records) == [
        "finalizeModelVersion",
        "getModelVersionManifest",
        "uploadModelVersionFiles",
    ]


def test_finalize_in_the_same_request_still_checks_the_signature(
    api: httpx.Client, model: str
) -> None:
    number = pending(api, model)
    answer = api.put(
        BULK.format(name=model, version=number) + "?finalize=true",
        content=tar_of(("MLmodel", b"flavors: {}\n"), ("model.pkl", b"p")),
    )
    assert answer.status_code == 400
    assert "did not contain any signature metadata" in answer.json()["message"]
    found = api.get(f"{UC}/models/{model}/versions/{number}").json()
    assert found["status"] == "FAILED_REGISTRATION"


def test_the_body_is_streamed_not_held_in_memory(
    server: Any, api: httpx.Client, model: str
) -> None:
    """A 256 MiB member raises the server's peak memory by far less than its size."""
    if server.backend != "sqlite":
        pytest.skip("one backend is enough to watch the server's memory")
    size = 256 << 20
    block = os.urandom(1 << 20)
    digest = sha256()
    for _ in range(size >> 20):
        digest.update(block)

    def body() -> Iterator[bytes]:
        info = tarfile.TarInfo("weights.bin")
        info.size = size
        yield info.tobuf(tarfile.PAX_FORMAT)
        for _ in range(size >> 20):
            yield block
        yield bytes(1024)

    def peak() -> int:
        status = Path(f"/proc/{server.process.pid}/status").read_text()
        return int(
            next(
                v for k, v in (line.split(":") for line in status.splitlines()) if k == "VmHWM"
            ).split()[0]
        )

    before = peak()
    number = pending(api, model)
    answer = put_tar(api, model, number, body())
    assert answer.status_code == 200, answer.text
    assert answer.json()["files"] == [
        {"path": "weights.bin", "size": size, "sha256": digest.hexdigest()}
    ]
    assert (peak() - before) * 1024 < 64 << 20


def test_finalize_uses_the_digest_the_server_recorded_while_writing(
    server: Any, api: httpx.Client, model: str
) -> None:
    """The manifest takes the writer's recorded digest without reading the file again, and
    reads a file again once it was changed behind the store's back."""
    if server.backend != "sqlite":
        pytest.skip("the store is the same local folder on every backend")
    number = pending(api, model)
    assert put_tar(api, model, number, tar_of(*FILES.items())).status_code == 200
    kept = stored_file(server, api, model, number, "model.pkl")
    marker = "f" * 64
    info = kept.stat()
    os.setxattr(
        kept, "user.modelcatalog.sha256", f"{marker} {info.st_size} {info.st_mtime_ns}".encode()
    )
    edited = stored_file(server, api, model, number, "code/helpers/features.py")
    os.chmod(edited, 0o644)
    edited.write_bytes(b"# changed\n")
    os.utime(edited, ns=(info.st_mtime_ns + 10**9,) * 2)
    finalize(api, model, number)
    by_path = {f["path"]: f for f in recorded(api, model, number)}
    assert by_path["model.pkl"]["sha256"] == marker  # taken as recorded: not read again
    assert by_path["code/helpers/features.py"]["sha256"] == sha256(b"# changed\n").hexdigest()


def test_the_upload_is_audited_with_what_it_wrote(api: httpx.Client, model: str) -> None:
    number = pending(api, model)
    answer = put_tar(api, model, number, tar_of(*FILES.items()))
    records = audit_records(api, request_id=answer.headers["x-request-id"])
    assert [(r["action"], r["securable"], r["outcome"]) for r in records] == [
        ("uploadModelVersionFiles", model, "ok")
    ]
    assert records[0]["parameters"]["files"] == len(FILES)
    assert records[0]["parameters"]["bytes"] == sum(len(d) for d in FILES.values())


# Refusals ------------------------------------------------------------------------------------

BAD_MEMBERS = [
    pytest.param(
        ("../outside", b"x"), "member 2 '../outside': path '../outside' has a '..'", id="dotdot"
    ),
    pytest.param(
        ("/etc/cron.d/x", b"x"),
        "member 2 '/etc/cron.d/x': path '/etc/cron.d/x' is absolute",
        id="absolute",
    ),
    pytest.param(
        ("./MLmodel2", b"x"), "member 2 './MLmodel2': path './MLmodel2' has a '.' segment", id="dot"
    ),
    pytest.param((".modelcatalog-tmp-x", b"x"), "starts with the reserved prefix", id="reserved"),
    pytest.param(
        link("model.pkl", "/etc/passwd"), "member 2 'model.pkl' is a symbolic link", id="symlink"
    ),
    pytest.param(
        link("model.pkl", "MLmodel", tarfile.LNKTYPE),
        "member 2 'model.pkl' is a hard link",
        id="hardlink",
    ),
    pytest.param(
        link("tty", "", tarfile.CHRTYPE), "member 2 'tty' is a character device", id="device"
    ),
    pytest.param(
        ("MLmodel", b"again"), "member 2 'MLmodel' appears twice in the archive", id="twice"
    ),
    pytest.param(
        ("MLmodel/inner", b"x"),
        "member 2 'MLmodel/inner' is both a file and a folder",
        id="file-and-folder",
    ),
]


@pytest.mark.parametrize(("bad", "message"), BAD_MEMBERS)
def test_a_bad_member_fails_the_request_precisely_and_a_rerun_overwrites(
    server: Any, api: httpx.Client, model: str, bad: Any, message: str
) -> None:
    number = pending(api, model)
    answer = put_tar(api, model, number, tar_of(("MLmodel", b"from the refused request"), bad))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "INVALID_ARGUMENT"
    assert message in answer.json()["message"]
    assert "the 1 file(s) before it were written" in answer.json()["message"]
    assert not (server.data_dir / "outside").exists()
    assert not list(server.data_dir.rglob("cron.d"))
    # The same version, sent again correctly, ends with exactly the right files.
    assert put_tar(api, model, number, tar_of(*FILES.items())).status_code == 200
    finalize(api, model, number)
    assert recorded(api, model, number) == manifest_of(FILES)


@pytest.mark.parametrize(
    ("before", "after", "why"),
    [
        ("data", "data/x", "'data' is already a file of this version"),
        ("data/x", "data", "'data' is already a folder of this version (it holds 'data/x')"),
    ],
    ids=["file-then-inside", "folder-then-file"],
)
def test_a_member_clashing_with_a_file_sent_before_is_refused_by_name(
    api: httpx.Client, model: str, before: str, after: str, why: str
) -> None:
    number = pending(api, model)
    assert put_tar(api, model, number, tar_of((before, b"first"))).status_code == 200
    answer = put_tar(api, model, number, tar_of(("MLmodel", MLMODEL), (after, b"second")))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "INVALID_ARGUMENT"
    message = answer.json()["message"]
    assert f"member 2: Cannot write '{after}': {why}" in message
    assert "the 1 file(s) before it were written" in message


def test_a_stream_cut_short_leaves_no_partial_file(api: httpx.Client, model: str) -> None:
    number = pending(api, model)
    whole = tar_of(("MLmodel", MLMODEL), ("model.pkl", b"p" * 100_000))
    answer = put_tar(api, model, number, whole[:2048])
    assert answer.status_code == 400
    assert "the stream ended inside member 2 'model.pkl'" in answer.json()["message"]
    names = [c["name"] for c in listing(api, model, number).json()["contents"]]
    assert names == ["MLmodel"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x1f\x8b\x08\x00" + bytes(2000), "gzip-compressed; send an uncompressed tar"),
        (b'{"files": []}' * 100, "member 1 is not a valid tar header"),
    ],
    ids=["gzip", "json"],
)
def test_a_body_that_is_no_plain_tar_is_refused(
    api: httpx.Client, model: str, body: bytes, message: str
) -> None:
    number = pending(api, model)
    answer = put_tar(api, model, number, body)
    assert answer.status_code == 400
    assert message in answer.json()["message"]
    assert "no file was written" in answer.json()["message"]


def test_a_ready_version_takes_no_files(api: httpx.Client, model: str) -> None:
    number = pending(api, model)
    put_tar(api, model, number, tar_of(*FILES.items()))
    finalize(api, model, number)
    answer = put_tar(api, model, number, tar_of(("MLmodel", b"replaced")))
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "FAILED_PRECONDITION"
    assert "files can be written only while it is PENDING_REGISTRATION" in answer.json()["message"]
    assert recorded(api, model, number) == manifest_of(FILES)


def test_bad_names_and_numbers_are_refused(api: httpx.Client, model: str) -> None:
    assert put_tar(api, model, 0, tar_of(*FILES.items())).status_code == 400
    missing = put_tar(api, model, 99, tar_of(*FILES.items()))
    assert missing.status_code == 404
    assert "version 99 does not exist" in missing.json()["message"]
    assert put_tar(api, "no.such.model", 1, tar_of(*FILES.items())).status_code == 404


# Who may write and list ------------------------------------------------------------------------


@pytest.fixture
def people(server: Any, api: httpx.Client, model: str) -> Iterator[dict[str, httpx.Client]]:
    """A writer (CREATE MODEL VERSION) and a reader (EXECUTE) of the model, with clients."""
    catalog, schema, _ = model.split(".")
    clients = {}
    for role, privilege in (("writer", "CREATE MODEL VERSION"), ("reader", "EXECUTE")):
        name = f"{role}_{uuid.uuid4().hex[:8]}"
        add_principal(api, name)
        grant(api, "catalog", catalog, name, "USE CATALOG")
        grant(api, "schema", f"{catalog}.{schema}", name, "USE SCHEMA")
        grant(api, "registered_model", model, name, privilege)
        clients[role] = httpx.Client(
            base_url=server.url, headers=server.headers(token_for(api, name)), timeout=60
        )
    yield clients
    for client in clients.values():
        client.close()


def test_create_model_version_is_needed_to_upload(
    api: httpx.Client, model: str, people: dict[str, httpx.Client]
) -> None:
    number = pending(api, model)
    refused = put_tar(people["reader"], model, number, tar_of(*FILES.items()))
    assert refused.status_code == 403, refused.text
    assert "CREATE MODEL VERSION" in refused.json()["message"]
    assert listing(api, model, number).status_code == 404  # nothing was written
    assert put_tar(people["writer"], model, number, tar_of(*FILES.items())).status_code == 200


def test_a_pending_versions_files_are_listed_for_its_writers_only(
    api: httpx.Client, model: str, people: dict[str, httpx.Client]
) -> None:
    number = pending(api, model)
    put_tar(api, model, number, tar_of(*FILES.items()))
    listed = listing(people["writer"], model, number)
    assert listed.status_code == 200, listed.text
    found = {c["name"]: c for c in listed.json()["contents"]}
    assert found["model.pkl"]["file_size"] == len(FILES["model.pkl"])
    assert found["code"]["is_directory"] is True
    assert listing(people["reader"], model, number).status_code == 403
    # Once READY it is the other way round: readers list, writing is over.
    finalize(api, model, number)
    assert listing(people["reader"], model, number).status_code == 200


def test_a_path_naming_a_file_lists_as_empty(api: httpx.Client, model: str) -> None:
    number = pending(api, model)
    put_tar(api, model, number, tar_of(*FILES.items()))
    finalize(api, model, number)
    assert listing(api, model, number, "MLmodel").json() == {"contents": []}
    assert listing(api, model, number, "no-such-folder").status_code == 404
