"""Backup and restore of a busy catalog, end to end, on SQLite and on PostgreSQL.

A real server takes writes from a thread while `modelcatalog backup` runs as its own process;
the server and its data are destroyed; `modelcatalog restore` brings the backup into a new data
folder (and a new PostgreSQL database); a new server on it keeps the audit chain, every version
and its files, the old tokens, a model stock MLflow loads, and a webhook secret that still signs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import mlflow
import numpy as np
import pytest

from support.cli import run_cli, run_cli_process
from support.http import ok
from support.jobs import QUICK_ENGINE
from support.models import fit_tiny_model, log_tiny_model, mlflow_registry
from support.receivers import WebhookReceiver, mlflow_signature_valid
from support.servers import RunningServer, backend_server, postgres_database, run_server
from support.versions import create_model, files_path, ready_version

pytestmark = pytest.mark.both_databases

UC = "/api/2.1/unity-catalog"
NATIVE = "/api/modelcatalog"
WEBHOOK_SECRET = "whsec-kept-across-restore"


class VersionWriter:
    """A thread that makes READY versions of one model until stopped, noting when each one
    became READY."""

    def __init__(self, server: RunningServer, full_name: str) -> None:
        self._api = httpx.Client(base_url=server.url, headers=server.headers(), timeout=60)
        self.full_name = full_name
        self.ready_at: dict[int, float] = {}
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._made = threading.Condition()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                version = int(ready_version(self._api, self.full_name))
                with self._made:
                    self.ready_at[version] = time.monotonic()
                    self._made.notify_all()
        except BaseException as exc:  # reported by stop()
            self.error = exc
            with self._made:
                self._made.notify_all()

    def __enter__(self) -> VersionWriter:
        self._thread.start()
        return self

    def wait_for(self, count: int) -> None:
        with self._made:
            assert self._made.wait_for(lambda: len(self.ready_at) >= count or self.error, 60)
        assert self.error is None, self.error

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)
        self._api.close()
        assert self.error is None, self.error

    def __exit__(self, *exc: object) -> None:
        if self._thread.is_alive():
            self.stop()


def _download(api: httpx.Client, full_name: str, version: int, path: str) -> bytes:
    url = ok(
        api.post(
            "/api/2.0/fs/create-download-url", json={"path": files_path(full_name, version, path)}
        )
    )["url"]
    response = httpx.get(url, timeout=60)
    assert response.status_code == 200, response.text
    return response.content


def _versions(api: httpx.Client, full_name: str) -> dict[int, str]:
    found: dict[int, str] = {}
    token = None
    while True:
        params = {"max_results": 1000, **({"page_token": token} if token else {})}
        page = ok(api.get(f"{UC}/models/{full_name}/versions", params=params))
        found |= {int(v["version"]): v["status"] for v in page.get("model_versions", [])}
        token = page.get("next_page_token")
        if not token:
            return found


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


def test_a_busy_catalog_backed_up_destroyed_and_restored_elsewhere_keeps_everything(
    backend: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    webhook_receiver: WebhookReceiver,
) -> None:
    catalog = f"c_{uuid.uuid4().hex[:8]}"
    loaded_name, busy_name = f"{catalog}.s.churn", f"{catalog}.s.busy"
    tiny = fit_tiny_model()
    backup = tmp_path / "backup"
    old_dir = tmp_path / "old"
    with ExitStack() as old_stack:
        old = old_stack.enter_context(backend_server(backend, old_dir, extra_env=QUICK_ENGINE))
        api = old_stack.enter_context(
            httpx.Client(base_url=old.url, headers=old.headers(), timeout=60)
        )
        ok(api.post(f"{UC}/catalogs", json={"name": catalog}))
        ok(api.post(f"{UC}/schemas", json={"name": "s", "catalog_name": catalog}))
        registry = f"modelcatalog://{urlsplit(old.url).netloc}"
        with mlflow_registry(
            registry, tmp_path / "mlflow-old", monkeypatch, MODELCATALOG_TOKEN=old.admin_token
        ) as client:
            log_tiny_model(tiny, loaded_name)
            client.set_registered_model_alias(loaded_name, "champion", "1")
        hook = f"hook_{uuid.uuid4().hex[:8]}"
        ok(
            api.post(
                f"{NATIVE}/notification-destinations",
                json={
                    "name": hook,
                    "kind": "webhook",
                    "address": webhook_receiver.url,
                    "secret": WEBHOOK_SECRET,
                },
            )
        )
        create_model(api, busy_name)
        with VersionWriter(old, busy_name) as writer:
            writer.wait_for(3)
            began = time.monotonic()
            command = ["backup", "--to", str(backup), "--data-dir", str(old_dir)]
            command += ["--database-uri", old.database_uri, "--with-artifacts"]
            taken = run_cli_process(*command, env=old.env(), timeout=300)
            ended = time.monotonic()
            writer.wait_for(len(writer.ready_at) + 2)
            writer.stop()
        assert taken.returncode == 0, taken.stderr
        # The writer was busy while the backup ran: some versions became READY in between.
        assert any(began < at < ended for at in writer.ready_at.values()), writer.ready_at
        final_versions = _versions(api, busy_name)
    # Destroyed: the server is stopped, its PostgreSQL database dropped, its folder removed.
    shutil.rmtree(old_dir)
    assert not old_dir.exists()

    listed = json.loads((backup / "artifacts.json").read_text())
    snapshot = {v["version"]: v for v in listed["versions"] if v["model"] == busy_name}
    # Consistent: every version READY before the backup began is in it, none made after it ended.
    assert {n for n, at in writer.ready_at.items() if at < began} <= set(snapshot)
    assert not {n for n, at in writer.ready_at.items() if at > ended} & set(snapshot)
    assert len(final_versions) > len(snapshot)

    new_dir = tmp_path / "new"
    with ExitStack() as new_stack:
        new_uri = None
        if backend == "postgresql":
            new_uri = new_stack.enter_context(postgres_database())
        command = ["restore", "--from", str(backup), "--data-dir", str(new_dir)]
        restored = run_cli_process(
            *command, *(["--database-uri", new_uri] if new_uri else []), env=old.env()
        )
        assert restored.returncode == 0, restored.stderr
        assert "all present" in restored.stderr
        again = run_cli_process(
            *command, *(["--database-uri", new_uri] if new_uri else []), env=old.env()
        )
        assert again.returncode == 1
        assert "the target database is not empty" in again.stderr
        forced = run_cli_process(
            *command, *(["--database-uri", new_uri] if new_uri else []), "--force", env=old.env()
        )
        assert forced.returncode == 0, forced.stderr
        assert (new_dir / "secret-key").stat().st_mode & 0o777 == 0o600
        new = new_stack.enter_context(
            run_server(new_dir, database_uri=new_uri, extra_env=QUICK_ENGINE)
        )
        api = new_stack.enter_context(
            httpx.Client(base_url=new.url, headers=new.headers(), timeout=60)
        )

        verified = run_cli("audit", "verify", env=new.env())
        assert verified.returncode == 0, verified.stderr
        assert verified.stdout.startswith("intact:"), verified.stdout

        # The old server's tokens are in the restored database.
        assert httpx.get(f"{new.url}{UC}/catalogs", headers=old.headers()).status_code == 200

        # Exactly the versions of the snapshot, each with every file of its manifest.
        restored_versions = _versions(api, busy_name)
        assert {n for n, s in restored_versions.items() if s == "READY"} == set(snapshot)
        # At most the one version the writer was uploading at the snapshot, still pending.
        pending = {n: s for n, s in restored_versions.items() if n not in snapshot}
        assert len(pending) <= 1 and set(pending.values()) <= {"PENDING_REGISTRATION"}, pending
        for number, listed_version in snapshot.items():
            manifest = ok(api.get(f"{NATIVE}/models/{busy_name}/versions/{number}/manifest"))
            files = {f["path"]: f["sha256"] for f in manifest["files"]}
            assert files == {f["path"]: f["sha256"] for f in listed_version["files"]}
            for path, sha256 in files.items():
                data = _download(api, busy_name, number, path)
                assert hashlib.sha256(data).hexdigest() == sha256

        registry = f"modelcatalog://{urlsplit(new.url).netloc}"
        with mlflow_registry(
            registry, tmp_path / "mlflow-new", monkeypatch, MODELCATALOG_TOKEN=new.admin_token
        ):
            loaded = mlflow.pyfunc.load_model(f"models:/{loaded_name}@champion")
            np.testing.assert_array_equal(loaded.predict(tiny.features), tiny.expected)

        queued = ok(api.post(f"{NATIVE}/notification-destinations/{hook}/test"))
        (received,) = webhook_receiver.wait_for(1)
        assert received.header("X-MLflow-Delivery-Id") == queued["id"]
        assert mlflow_signature_valid(WEBHOOK_SECRET, received.headers, received.body)
