"""What `modelcatalog backup` and `modelcatalog restore` refuse, and what they leave behind when
they do: damaged or foreign backup folders, a newer schema, a target that holds a catalog, a
secret key that is not in the backup, a backup killed half-way; and an older schema upgraded."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet
from sqlalchemy import create_engine

from modelcatalog.store.database import MIGRATIONS
from support.cli import run_cli
from support.http import ok
from support.jobs import QUICK_ENGINE
from support.models import SIGNED_MLMODEL
from support.servers import RunningServer, run_server
from support.versions import create_model, create_version, finalize, put_file, ready_version

UC = "/api/2.1/unity-catalog"
DESTINATIONS = "/api/modelcatalog/notification-destinations"
SMTP = "/api/modelcatalog/notifications/smtp"
MODEL = "c.s.m"


def _catalog(api: httpx.Client) -> None:
    ok(api.post(f"{UC}/catalogs", json={"name": "c"}))
    ok(api.post(f"{UC}/schemas", json={"name": "s", "catalog_name": "c"}))
    create_model(api, MODEL)


def _webhook(api: httpx.Client, secret: str) -> None:
    body = {"name": "hook", "kind": "webhook", "address": "http://127.0.0.1:9/hook"}
    ok(api.post(DESTINATIONS, json={**body, "secret": secret}))


@pytest.fixture(scope="module")
def made_backup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A backup (artifacts included) of a catalog with two versions and a webhook secret."""
    base = tmp_path_factory.mktemp("made")
    with (
        run_server(base / "server", extra_env=QUICK_ENGINE) as server,
        httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api,
    ):
        _catalog(api)
        ready_version(api, MODEL)
        ready_version(api, MODEL)
        _webhook(api, "s3cret")
        made = run_cli(
            "backup", "--to", str(base / "backup"), "--data-dir", str(server.data_dir),
            "--with-artifacts", env=server.env(),
        )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return base / "backup"


@pytest.fixture
def backup(made_backup: Path, tmp_path: Path) -> Path:
    """A copy of the backup that a test may damage."""
    return Path(shutil.copytree(made_backup, tmp_path / "backup"))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELCATALOG_")}
    return {**env, **extra}


def restore(backup: Path, data_dir: Path, *options: str, **env: str) -> subprocess.CompletedProcess:
    return run_cli(
        "restore", "--from", str(backup), "--data-dir", str(data_dir), *options, env=_env(**env)
    )


def _artifact_file(backup: Path) -> str:
    return (
        next(p for p in (backup / "artifacts").rglob("*") if p.is_file())
        .relative_to(backup)
        .as_posix()
    )


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


# Damaged backups --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "which", ["database/catalog.db", "secret-key", "artifacts.json", "artifact"]
)
def test_restore_names_a_file_whose_checksum_differs_and_writes_nothing(
    backup: Path, tmp_path: Path, which: str
) -> None:
    name = _artifact_file(backup) if which == "artifact" else which
    _flip_a_byte(backup / name)
    refused = restore(backup, tmp_path / "target")
    assert refused.returncode == 1, refused.stderr
    assert f"{name}: checksum mismatch" in refused.stderr
    assert not (tmp_path / "target").exists()


def test_restore_names_a_file_cut_short(backup: Path, tmp_path: Path) -> None:
    path = backup / "database/catalog.db"
    path.write_bytes(path.read_bytes()[:4096])
    refused = restore(backup, tmp_path / "target")
    assert refused.returncode == 1
    assert "database/catalog.db: 4096 bytes where the manifest says" in refused.stderr
    assert not (tmp_path / "target").exists()


def test_restore_names_a_file_missing_from_the_backup(backup: Path, tmp_path: Path) -> None:
    (backup / "secret-key").unlink()
    refused = restore(backup, tmp_path / "target")
    assert refused.returncode == 1
    assert "secret-key is listed in the manifest but missing" in refused.stderr
    assert not (tmp_path / "target").exists()


@pytest.mark.parametrize(
    ("manifest", "said"),
    [
        ("{not json", "is not JSON"),
        ('{"format": "something-else", "format_version": 1}', "is not a modelcatalog backup"),
        (
            '{"format": "modelcatalog-backup", "format_version": 2}',
            "format version 2, written by a newer",
        ),
        ('{"format": "modelcatalog-backup", "format_version": 1}', "the manifest lacks"),
    ],
    ids=["not-json", "other-format", "newer-format", "incomplete"],
)
def test_restore_refuses_a_manifest_it_cannot_read(
    backup: Path, tmp_path: Path, manifest: str, said: str
) -> None:
    (backup / "manifest.json").write_text(manifest)
    refused = restore(backup, tmp_path / "target")
    assert refused.returncode == 1
    assert said in refused.stderr
    assert not (tmp_path / "target").exists()


def test_restore_refuses_a_folder_without_a_manifest(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    refused = restore(tmp_path / "empty", tmp_path / "target")
    assert refused.returncode == 1
    assert "holds no manifest.json: it is not a complete modelcatalog backup" in refused.stderr


def test_restore_from_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    refused = restore(tmp_path / "nowhere", tmp_path / "target")
    assert refused.returncode == 2
    assert "no such folder" in refused.stderr


def test_restore_refuses_a_schema_newer_than_this_release(backup: Path, tmp_path: Path) -> None:
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["alembic_revision"] = "0099_from_a_newer_release"
    (backup / "manifest.json").write_text(json.dumps(manifest))
    refused = restore(backup, tmp_path / "target")
    assert refused.returncode == 1
    assert "revision '0099_from_a_newer_release', which this release does not know" in (
        refused.stderr
    )
    assert not (tmp_path / "target").exists()


# Targets ----------------------------------------------------------------------------------------


def _versions_in(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT count(*) FROM model_versions").fetchone()[0]


def test_restore_refuses_a_database_that_holds_a_catalog_unless_forced(
    backup: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    assert restore(backup, target).returncode == 0
    with sqlite3.connect(target / "catalog.db") as connection:
        connection.execute("DELETE FROM model_versions")

    refused = restore(backup, target)
    assert refused.returncode == 1
    assert "the target database is not empty" in refused.stderr
    assert _versions_in(target / "catalog.db") == 0

    forced = restore(backup, target, "--force")
    assert forced.returncode == 0, forced.stderr
    assert _versions_in(target / "catalog.db") == 2


def test_restore_refuses_a_data_folder_in_use_unless_forced(backup: Path, tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (target / "admin-token").write_text("mc_token_of_a_server_that_ran_here\n")
    refused = restore(backup, target)
    assert refused.returncode == 1
    assert f"the data folder {target} is in use (admin-token)" in refused.stderr
    assert not (target / "catalog.db").exists()
    assert restore(backup, target, "--force").returncode == 0


def test_a_sqlite_backup_is_not_restored_into_postgresql(backup: Path, tmp_path: Path) -> None:
    uri = "postgresql+psycopg://catalog@127.0.0.1:1/catalog"
    refused = restore(backup, tmp_path / "target", "--database-uri", uri)
    assert refused.returncode == 2
    assert "the backup holds a sqlite database and --database-uri names a postgresql one" in (
        refused.stderr
    )
    assert not (tmp_path / "target").exists()


def test_verify_only_lists_the_files_the_artifact_store_lacks(backup: Path, tmp_path: Path) -> None:
    target = tmp_path / "target"
    assert restore(backup, target).returncode == 0
    assert restore(backup, target, "--verify-only", "--deep").returncode == 0
    lost = target / "artifacts" / Path(_artifact_file(backup)).relative_to("artifacts")
    lost.unlink()
    checked = restore(backup, target, "--verify-only")
    assert checked.returncode == 1
    version = lost.parent.name
    assert f"missing: {MODEL} version {version}: MLmodel" in checked.stderr
    assert "2 files checked, 1 missing and 0 different" in checked.stderr


# Backups ----------------------------------------------------------------------------------------


def test_backup_refuses_a_folder_that_is_not_empty(backup: Path, tmp_path: Path) -> None:
    refused = run_cli("backup", "--to", str(backup), "--data-dir", str(tmp_path), env=_env())
    assert refused.returncode == 2
    assert "the folder exists and is not empty" in refused.stderr


def test_artifacts_of_a_bucket_are_not_copied(tmp_path: Path) -> None:
    refused = run_cli(
        "backup", "--to", str(tmp_path / "b"), "--data-dir", str(tmp_path),
        "--storage-root", "s3://models/catalog", "--with-artifacts", env=_env(),
    )  # fmt: skip
    assert refused.returncode == 2
    assert "back the bucket up by its own means (versioning, replication)" in refused.stderr
    assert not (tmp_path / "b").exists()


def test_an_older_schema_is_upgraded_by_the_migrations_after_restore(tmp_path: Path) -> None:
    database = tmp_path / "old" / "catalog.db"
    database.parent.mkdir()
    engine = create_engine(f"sqlite:///{database}")
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
    engine.dispose()
    made = run_cli(
        "backup", "--to", str(tmp_path / "b"), "--data-dir", str(database.parent), env=_env()
    )
    assert made.returncode == 0, made.stderr
    assert json.loads((tmp_path / "b/manifest.json").read_text())["alembic_revision"] == "0006"

    assert restore(tmp_path / "b", tmp_path / "new").returncode == 0
    with sqlite3.connect(tmp_path / "new/catalog.db") as connection:
        (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert revision == ScriptDirectory.from_config(config).get_current_head() != "0006"


def test_a_killed_backup_leaves_no_folder_that_looks_complete(tmp_path: Path) -> None:
    size = 96 * 1024 * 1024
    with (
        run_server(tmp_path / "server") as server,
        httpx.Client(base_url=server.url, headers=server.headers(), timeout=120) as api,
    ):
        _catalog(api)
        version = create_version(api, MODEL)
        put_file(api, MODEL, version, "MLmodel", SIGNED_MLMODEL)
        put_file(api, MODEL, version, "weights.bin", os.urandom(size))
        assert ok(finalize(api, MODEL, version))["model_version"]["status"] == "READY"
        target = tmp_path / "backup"
        process = subprocess.Popen(
            [sys.executable, "-m", "modelcatalog", "backup", "--to", str(target),
             "--data-dir", str(server.data_dir), "--with-artifacts"],
            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            partial = _wait_for_partial_copy(tmp_path, size, process)
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    assert partial.stat().st_size < size
    assert not target.exists()
    (left,) = [p for p in tmp_path.iterdir() if p.name.startswith(".backup.incomplete-")]
    assert not (left / "manifest.json").exists()
    assert restore(target, tmp_path / "t1").returncode == 2
    refused = restore(left, tmp_path / "t2")
    assert refused.returncode == 1
    assert "what a backup that was interrupted left behind" in refused.stderr


def test_a_version_deleted_while_the_files_are_copied_is_marked_and_named_on_restore(
    tmp_path: Path,
) -> None:
    size = 96 * 1024 * 1024
    with (
        run_server(tmp_path / "server") as server,
        httpx.Client(base_url=server.url, headers=server.headers(), timeout=120) as api,
    ):
        _catalog(api)
        big = create_version(api, MODEL)
        put_file(api, MODEL, big, "MLmodel", SIGNED_MLMODEL)
        put_file(api, MODEL, big, "weights.bin", os.urandom(size))
        assert ok(finalize(api, MODEL, big))["model_version"]["status"] == "READY"
        small = ready_version(api, MODEL)
        target = tmp_path / "backup"
        process = subprocess.Popen(
            [sys.executable, "-m", "modelcatalog", "backup", "--to", str(target),
             "--data-dir", str(server.data_dir), "--with-artifacts"],
            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            # Held still after its snapshot, while it copies the first version's files.
            _wait_for_partial_copy(tmp_path, size, process)
            process.send_signal(signal.SIGSTOP)
            ok(api.delete(f"{UC}/models/{MODEL}/versions/{small}"))
            process.send_signal(signal.SIGCONT)
            _, said = process.communicate(timeout=300)
        finally:
            process.kill()
            process.wait()
    assert process.returncode == 0, said
    assert f"{MODEL} version {small} was deleted while the backup ran" in said
    assert (
        json.loads((target / "manifest.json").read_text())["artifacts"]["deleted_during_backup"]
        == 1
    )
    listed = {
        v["version"]: v for v in json.loads((target / "artifacts.json").read_text())["versions"]
    }
    assert listed[int(small)].get("deleted_during_backup") is True
    assert "deleted_during_backup" not in listed[int(big)]
    assert not list((target / "artifacts").glob(f"*/{small}/*"))

    restored = restore(target, tmp_path / "new")
    assert restored.returncode == 1
    assert (
        f"missing: {MODEL} version {small}: MLmodel (the version was deleted while the backup "
        "ran: delete it again)" in restored.stderr
    )
    assert f"1 version ({MODEL} version {small}), restored without files" in restored.stderr
    assert restore(target, tmp_path / "new", "--verify-only").stderr.count("missing:") == 1


def _wait_for_partial_copy(parent: Path, size: int, process: subprocess.Popen) -> Path:
    """The artifact file a running backup is copying, once it is there but not whole."""
    while process.poll() is None:
        for draft in parent.glob(".backup.incomplete-*"):
            for path in draft.glob("artifacts/*/*/weights.bin"):
                if 0 < path.stat().st_size < size - 8 * 1024 * 1024:
                    return path
    raise AssertionError(f"the backup ended (exit code {process.returncode}) before it was killed")


# The secret key ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key_from_environment(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningServer, str]]:
    """A server whose secret key comes from MODELCATALOG_SECRET_KEY, with a webhook secret and
    an SMTP password; and that key."""
    key = Fernet.generate_key().decode()
    env = {**QUICK_ENGINE, "MODELCATALOG_SECRET_KEY": key}
    with run_server(tmp_path_factory.mktemp("env-key"), extra_env=env) as server:
        with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
            _catalog(api)
            _webhook(api, "kept-in-the-environment")
            smtp = {"host": "127.0.0.1", "port": 25, "security": "none"}
            smtp |= {"from_address": "catalog@example.com", "username": "mailer"}
            ok(api.put(SMTP, json={**smtp, "password": "smtp-password"}))
        yield server, key


def test_a_key_from_the_environment_is_not_in_the_backup_and_restore_asks_for_it(
    key_from_environment: tuple[RunningServer, str], tmp_path: Path
) -> None:
    server, key = key_from_environment
    folder = tmp_path / "b"
    made = run_cli(
        "backup", "--to", str(folder), "--data-dir", str(server.data_dir), "-o", "json",
        env=_env(MODELCATALOG_SECRET_KEY=key),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "comes from MODELCATALOG_SECRET_KEY and is not in the backup" in made.stderr
    assert key not in made.stdout + made.stderr
    assert not (folder / "secret-key").exists()
    recorded = json.loads(made.stdout)["secret_key"]
    assert (recorded["source"], recorded["included"], recorded["stored_secrets"]) == (
        "environment", False, 2,
    )  # fmt: skip

    missing = restore(folder, tmp_path / "t1")
    assert missing.returncode == 1
    assert "took its secret key from MODELCATALOG_SECRET_KEY" in missing.stderr
    assert not (tmp_path / "t1").exists()

    wrong = restore(folder, tmp_path / "t2", MODELCATALOG_SECRET_KEY=Fernet.generate_key().decode())
    assert wrong.returncode == 1
    assert "is not the backup's" in wrong.stderr
    assert not (tmp_path / "t2").exists()

    right = restore(folder, tmp_path / "t3", MODELCATALOG_SECRET_KEY=key)
    assert right.returncode == 0, right.stderr
    assert key not in right.stdout + right.stderr

    accepted = restore(folder, tmp_path / "t4", "--accept-lost-secrets")
    assert accepted.returncode == 0, accepted.stderr
    assert (
        "2 stored secrets cannot be opened (webhook destination 'hook', the SMTP password)"
        in accepted.stderr
    )


def test_a_backup_whose_key_does_not_open_the_stored_secrets_is_refused(
    key_from_environment: tuple[RunningServer, str], tmp_path: Path
) -> None:
    server, _ = key_from_environment
    refused = run_cli(
        "backup", "--to", str(tmp_path / "b"), "--data-dir", str(server.data_dir),
        env=_env(),
    )  # fmt: skip
    assert refused.returncode == 1
    assert (
        "does not open 2 of the 2 stored secrets (webhook destination 'hook', the SMTP password)"
        in refused.stderr
    )
    assert not (tmp_path / "b").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".b.incomplete-")]
