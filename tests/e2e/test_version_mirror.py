"""A local store hands a READY version out at a read-only mirror of its files (MLflow's `uc:`
client may delete the folder it was handed). A read of one version in any dialect makes the
mirror again if a client deleted it, and no version that is not READY is ever mirrored."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from support.http import error_of, ok, unique
from support.models import SIGNED_MLMODEL
from support.versions import (
    REGISTRY_2_0,
    UC_2_1,
    create_model,
    create_version,
    finalize,
    put_file,
    ready_version,
)

ALIAS = "champion"

VersionRead = Callable[[httpx.Client, str, str], str]
"""Reads one version through one dialect; returns the storage location it reports."""


def _2_0_get(api: httpx.Client, name: str, version: str) -> str:
    found = ok(
        api.get(f"{REGISTRY_2_0}/model-versions/get", params={"name": name, "version": version})
    )
    return found["model_version"]["storage_location"]


def _2_0_download_uri(api: httpx.Client, name: str, version: str) -> str:
    params = {"name": name, "version": version}
    return ok(api.get(f"{REGISTRY_2_0}/model-versions/get-download-uri", params=params))[
        "artifact_uri"
    ]


def _2_0_alias(api: httpx.Client, name: str, version: str) -> str:
    found = ok(
        api.get(f"{REGISTRY_2_0}/registered-models/alias", params={"name": name, "alias": ALIAS})
    )
    assert found["model_version"]["version"] == version
    return found["model_version"]["storage_location"]


def _2_1_get(api: httpx.Client, name: str, version: str) -> str:
    return ok(api.get(f"{UC_2_1}/models/{name}/versions/{version}"))["storage_location"]


def _2_1_alias(api: httpx.Client, name: str, version: str) -> str:
    found = ok(api.get(f"{UC_2_1}/models/{name}/aliases/{ALIAS}"))
    assert str(found["version"]) == version
    return found["storage_location"]


BY_NUMBER: dict[str, VersionRead] = {
    "2.0-get": _2_0_get,
    "2.0-download-uri": _2_0_download_uri,
    "2.1-get": _2_1_get,
}
READS: dict[str, VersionRead] = {**BY_NUMBER, "2.0-alias": _2_0_alias, "2.1-alias": _2_1_alias}


def _folder(file_uri: str) -> Path:
    return Path(unquote(urlsplit(file_uri).path))


def _mirror_of(api: httpx.Client, name: str, version: str) -> Path:
    """Where the version's mirror is kept, found from the model's own location."""
    model_folder = _folder(ok(api.get(f"{UC_2_1}/models/{name}"))["storage_location"])
    return model_folder.parent / "_mirror" / model_folder.name / version


def _set_alias(api: httpx.Client, name: str, version: str) -> None:
    ok(api.put(f"{UC_2_1}/models/{name}/aliases/{ALIAS}", json={"version_num": int(version)}))


@pytest.mark.parametrize("read", READS.values(), ids=READS.keys())
def test_a_read_in_any_dialect_remakes_a_deleted_mirror(
    api: httpx.Client, schema: str, read: VersionRead
) -> None:
    name = f"{schema}.{unique()}"
    create_model(api, name)
    version = ready_version(api, name)
    _set_alias(api, name, version)
    mirror = _mirror_of(api, name, version)
    assert (mirror / "MLmodel").read_text() == SIGNED_MLMODEL

    shutil.rmtree(mirror)  # what MLflow's uc: client does to a folder it downloaded from
    assert _folder(read(api, name, version)) == mirror
    assert (mirror / "MLmodel").read_text() == SIGNED_MLMODEL


@pytest.mark.parametrize("read", BY_NUMBER.values(), ids=BY_NUMBER.keys())
def test_a_version_that_is_not_ready_is_never_mirrored(
    api: httpx.Client, schema: str, read: VersionRead
) -> None:
    name = f"{schema}.{unique()}"
    create_model(api, name)
    pending = create_version(api, name)
    put_file(api, name, pending, "MLmodel", SIGNED_MLMODEL)
    failed = create_version(api, name)
    put_file(api, name, failed, "MLmodel", SIGNED_MLMODEL.split("signature:")[0])
    error_of(finalize(api, name, failed), 400)  # no signature: FAILED_REGISTRATION

    for version, location in ((pending, "own folder"), (failed, "")):
        reported = read(api, name, version)
        if location:
            assert (_folder(reported) / "MLmodel").read_text() == SIGNED_MLMODEL
        else:
            assert reported == ""
        assert not _mirror_of(api, name, version).exists()
