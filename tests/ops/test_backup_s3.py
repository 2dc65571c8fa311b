"""A catalog whose files live in a bucket (a real local S3 server, moto): the backup lists the
files and leaves the bucket to its own means; restore checks the bucket against that list."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from support.cli import run_cli
from support.http import ok
from support.servers import run_moto, run_server
from support.versions import create_model, ready_version

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_moto(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


def _bucket(endpoint: str) -> str:
    name = f"models-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, **_credentials()).create_bucket(Bucket=name)
    return name


def _credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": AWS_ENV["AWS_DEFAULT_REGION"],
    }


def test_a_bucket_is_listed_not_copied_and_restore_checks_it(moto: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELCATALOG_")}
    env |= {**AWS_ENV, "MODELCATALOG_S3_ENDPOINT_URL": moto}
    root = f"s3://{_bucket(moto)}/catalog"
    with (
        run_server(tmp_path / "server", storage_root=root, extra_env=env) as server,
        httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api,
    ):
        ok(api.post("/api/2.1/unity-catalog/catalogs", json={"name": "c"}))
        ok(api.post("/api/2.1/unity-catalog/schemas", json={"name": "s", "catalog_name": "c"}))
        create_model(api, "c.s.m")
        ready_version(api, "c.s.m")
        ready_version(api, "c.s.m")
        made = run_cli(
            "backup", "--to", str(tmp_path / "b"), "--data-dir", str(server.data_dir),
            "--storage-root", root, env=env,
        )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "back the bucket up by its own means (versioning, replication)" in made.stderr
    manifest = json.loads((tmp_path / "b/manifest.json").read_text())["artifacts"]
    assert (manifest["store"], manifest["included"], manifest["files"]) == ("s3", False, 2)
    assert not (tmp_path / "b/artifacts").exists()
    listed = json.loads((tmp_path / "b/artifacts.json").read_text())
    assert [v["version"] for v in listed["versions"]] == [1, 2]

    restored = run_cli(
        "restore", "--from", str(tmp_path / "b"), "--data-dir", str(tmp_path / "new"),
        "--storage-root", root, "--deep", env=env,
    )  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    assert "2 files checked, all present" in restored.stderr
    assert f"The artifact files are not in the backup (they were in {root})" in restored.stderr

    empty = f"s3://{_bucket(moto)}/catalog"
    checked = run_cli(
        "restore", "--from", str(tmp_path / "b"), "--storage-root", empty, "--verify-only",
        env=env,
    )  # fmt: skip
    assert checked.returncode == 1
    assert "missing: c.s.m version 1: MLmodel" in checked.stderr
    assert "missing: c.s.m version 2: MLmodel" in checked.stderr
    assert "2 files checked, 2 missing and 0 different" in checked.stderr
