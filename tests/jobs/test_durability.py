"""A server killed mid-run (kill -9) and started again loses no run and no approval: a task whose
worker died is retried (or failed with the reason), its orphaned process is gone, and a waiting
approval is still waiting."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from support.http import ok, unique, wait_for
from support.jobs import (
    NATIVE,
    QUICK_ENGINE,
    create_job,
    linked_model,
    new_ready_version,
    run,
    task,
    wait_for_run,
)
from support.servers import postgres_database, run_server

PY = sys.executable


def _client(server) -> httpx.Client:  # type: ignore[no-untyped-def]
    return httpx.Client(base_url=server.url, headers=server.headers(), timeout=60)


def _schema(api: httpx.Client) -> str:
    catalog = unique("c")
    ok(api.post("/api/2.1/unity-catalog/catalogs", json={"name": catalog}))
    ok(api.post("/api/2.1/unity-catalog/schemas", json={"name": "s", "catalog_name": catalog}))
    return f"{catalog}.s"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: it only waits for its parent to read its status.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


def _slow_job(
    api: httpx.Client, pid_file: Path, retries: int, token_file: Path | None = None
) -> dict:
    keep_token = (
        f"open({str(token_file)!r}, 'w').write(os.environ['MODELCATALOG_TOKEN'])\n"
        if token_file
        else ""
    )
    # The first attempt trains long enough for a test to kill its server; a retry at once.
    script = (
        "import os, time\n"
        f"first = not os.path.exists({str(pid_file)!r})\n"
        + keep_token
        + f"open({str(pid_file)!r}, 'a').write(str(os.getpid()) + '\\n')\n"
        "print('training', flush=True)\n"
        "time.sleep(4 if first else 0)\n"
        "print('trained')\n"
    )
    return create_job(
        api,
        f"""
        name: {unique("train")}
        tasks:
          - name: train
            command: [{PY!r}, "-c", {script!r}]
            retries: {retries}
            retry_delay_seconds: 0
        """,
    )


def _running(api: httpx.Client, model: str, version: int, pid_file: Path) -> dict:
    found = wait_for_run(api, model, version, ("RUNNING",))
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), "the task to start")
    return found


def test_a_task_lost_with_a_killed_server_is_retried_after_restart(tmp_path: Path) -> None:
    data_dir, pid_file = tmp_path / "catalog", tmp_path / "pids"
    with run_server(data_dir, extra_env=QUICK_ENGINE) as first, _client(first) as api:
        model = linked_model(api, _schema(api), _slow_job(api, pid_file, retries=1)["id"])
        version = new_ready_version(api, model)
        started = _running(api, model, version, pid_file)
        first.process.kill()
        first.process.wait()
    orphan = int(pid_file.read_text().split()[0])
    wait_for(lambda: not _alive(orphan), "the task's process to die with its server", 10)
    with run_server(data_dir, extra_env=QUICK_ENGINE) as second, _client(second) as api:
        done = wait_for_run(api, model, version, ("SUCCEEDED", "FAILED"))
        assert done["run_id"] == started["run_id"]
        assert done["state"] == "SUCCEEDED", done
        attempts = task(run(api, done["run_id"]), "train")["attempts"]
        assert [a["attempt"] for a in attempts] == [1, 2]
        assert "was lost" in attempts[0]["message"]
        assert "trained" in attempts[1]["output"]


def test_a_task_lost_without_retries_fails_the_run_with_the_reason(tmp_path: Path) -> None:
    data_dir, pid_file = tmp_path / "catalog", tmp_path / "pids"
    with run_server(data_dir, extra_env=QUICK_ENGINE) as first, _client(first) as api:
        model = linked_model(api, _schema(api), _slow_job(api, pid_file, retries=0)["id"])
        version = new_ready_version(api, model)
        _running(api, model, version, pid_file)
        first.process.kill()
        first.process.wait()
    with run_server(data_dir, extra_env=QUICK_ENGINE) as second, _client(second) as api:
        done = wait_for_run(api, model, version, ("SUCCEEDED", "FAILED"))
        assert done["state"] == "FAILED"
        assert "was lost: its worker" in done["state_message"]


@contextmanager
def _database(backend: str) -> Iterator[str | None]:
    """A database both servers of a test use: None for SQLite in the data folder."""
    if backend == "postgresql":
        with postgres_database() as uri:
            yield uri
    else:
        yield None


@pytest.mark.both_databases
def test_a_lost_tasks_token_is_revoked_when_its_task_is_taken_for_lost(
    backend: str, tmp_path: Path
) -> None:
    data_dir, pid_file, token_file = tmp_path / "catalog", tmp_path / "pids", tmp_path / "token"
    with _database(backend) as database_uri:
        with (
            run_server(data_dir, database_uri=database_uri, extra_env=QUICK_ENGINE) as first,
            _client(first) as api,
        ):
            job = _slow_job(api, pid_file, retries=0, token_file=token_file)
            model = linked_model(api, _schema(api), job["id"])
            version = new_ready_version(api, model)
            _running(api, model, version, pid_file)
            as_task = {"Authorization": f"Bearer {token_file.read_text()}"}
            ok(api.get(f"{NATIVE}/me", headers=as_task))
            first.process.kill()
            first.process.wait()
        with (
            run_server(data_dir, database_uri=database_uri, extra_env=QUICK_ENGINE) as second,
            _client(second) as api,
        ):
            done = wait_for_run(api, model, version, ("SUCCEEDED", "FAILED"))
            assert "was lost: its worker" in done["state_message"]
            refused = api.get(f"{NATIVE}/me", headers=as_task)
            assert refused.status_code == 401, refused.text
            assert "revoked" in refused.json()["message"]


def test_a_waiting_approval_survives_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "catalog"
    with run_server(data_dir, extra_env=QUICK_ENGINE) as first, _client(first) as api:
        job = create_job(
            api,
            f"""
            name: {unique("gate")}
            tasks:
              - name: approval
                approval: {{}}
              - name: deploy
                depends_on: [approval]
                command: [{PY!r}, "-c", "print('deployed')"]
            """,
        )
        model = linked_model(api, _schema(api), job["id"])
        version = new_ready_version(api, model)
        waiting = wait_for_run(api, model, version, ("APPROVAL",))
        first.process.kill()
        first.process.wait()
    with run_server(data_dir, extra_env=QUICK_ENGINE) as second, _client(second) as api:
        assert run(api, waiting["run_id"])["state"] == "APPROVAL"
        ok(api.post(f"{NATIVE}/deployment-runs/{waiting['run_id']}/tasks/approval/approve"))
        done = wait_for_run(api, model, version, ("SUCCEEDED",))
        assert task(done, "deploy")["state"] == "SUCCEEDED"
