"""/openapi.json describes the API exactly: schemathesis, with every check it has, finds nothing
against a real server on each database.

Schema-valid requests must be accepted, schema-violating ones refused with a 4xx, every status,
content type and body must be the documented ones, and nothing may answer 5xx. The run is
bounded (tests/e2e/schemathesis.toml: a handful of examples per operation, a fixed seed) and
its whole output is shown when it fails."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from schemathesis_hooks import DESTINATION, WEBHOOK

from support.servers import RunningServer, backend_server

HERE = Path(__file__).parent
TIME_LIMIT_SECONDS = 240
"""A run that takes longer than this fails: it is meant to stay a few minutes per database."""

# Webhook destinations the fuzzer creates point at a closed port on this machine.
SERVER_ENV = {"MODELCATALOG_ALLOW_HTTP_WEBHOOKS": "1", "MODELCATALOG_ALLOW_PRIVATE_WEBHOOKS": "1"}


@pytest.fixture
def server(backend: str, tmp_path: Path) -> Iterator[RunningServer]:
    """A throwaway server of its own (the fuzzer deletes, renames and re-owns what it finds),
    with the notification destination the fuzzer's triggers and job definitions name."""
    with backend_server(backend, tmp_path / "server", extra_env=SERVER_ENV) as up:
        created = httpx.post(
            f"{up.url}/api/modelcatalog/notification-destinations",
            headers=up.headers(),
            json={"name": DESTINATION, "kind": "webhook", "address": WEBHOOK},
        )
        assert created.status_code == 200, created.text
        yield up


def test_openapi_describes_the_api_as_schemathesis_finds_it(
    server: RunningServer, tmp_path: Path
) -> None:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        f"{server.url}/openapi.json",
        "--header",
        f"Authorization: Bearer {server.admin_token}",
        "--checks",
        "all",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    env = dict(os.environ)
    env["SCHEMATHESIS_HOOKS"] = "schemathesis_hooks"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    started = time.monotonic()
    try:
        done = subprocess.run(
            command,
            env=env,
            cwd=tmp_path,  # where schemathesis keeps its cache, so no run replays another's
            capture_output=True,
            text=True,
            timeout=TIME_LIMIT_SECONDS,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"schemathesis ran past {TIME_LIMIT_SECONDS} s:\n{exc.stdout}")
    elapsed = time.monotonic() - started
    summary = done.stdout[done.stdout.rfind("SUMMARY") :]
    print(f"schemathesis on {server.backend}, {elapsed:.0f} s:\n{summary}")
    assert done.returncode == 0, done.stdout + done.stderr + "\n--- server log ---\n" + server.log()
