"""Limits the server keeps whatever a client sends: JSON bodies refused while they are read once
they pass --max-request-bytes, deep nesting refused without harm to the connection, failed
authentications from one address slowed down without locking anyone else out, and the audit
queue's health in /metrics. The database plays no part here: SQLite only."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.http import error_of, ok
from support.servers import RunningServer, run_server

UC = "/api/2.1/unity-catalog"
LIMIT = 256 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {
        "MODELCATALOG_MAX_REQUEST_BYTES": str(LIMIT),
        "MODELCATALOG_AUTH_FAILURES_PER_MINUTE": "30",
    }
    with run_server(tmp_path_factory.mktemp("limits"), extra_env=env) as up:
        yield up


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _raw_request(server: RunningServer, head: str, chunks: Iterator[bytes]) -> tuple[int, int]:
    """Send a request by hand; return (status, bytes of body sent before the answer came)."""
    host, port = server.url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(head.encode())
        sock.settimeout(0.0)
        answer = b""
        for chunk in chunks:
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                pass
            if answer:
                break
            try:
                sock.settimeout(60)
                sock.sendall(chunk)
                sock.settimeout(0.0)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        sock.settimeout(60)
        while b"\r\n" not in answer:
            answer += sock.recv(65536)
    return int(answer.split(b" ", 2)[1]), sent


def _head(server: RunningServer, extra: str) -> str:
    return (
        f"POST {UC}/catalogs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.admin_token}\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n"
    )


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(
    server: RunningServer,
) -> None:
    status, _ = _raw_request(server, _head(server, "Content-Length: 157286400\r\n"), iter([]))
    assert status == 413


def test_a_chunked_body_is_refused_once_it_passes_the_limit_without_buffering_it(
    server: RunningServer,
) -> None:
    piece = b"[" * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    before = _peak_rss_kib(server.process.pid)
    # 150 MiB offered; the answer must come long before it is all sent.
    status, sent = _raw_request(
        server, _head(server, "Transfer-Encoding: chunked\r\n"), iter([chunk] * 2400)
    )
    assert status == 413
    assert sent < 150 * 1024 * 1024
    grown_mib = (_peak_rss_kib(server.process.pid) - before) / 1024
    assert grown_mib < 64, f"the server grew by {grown_mib:.0f} MiB reading a refused body"


def test_a_body_just_under_the_limit_is_read(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
        comment = "x" * (LIMIT - 200)
        response = api.post(
            f"{UC}/catalogs", json={"name": "big_comment", "comment": comment[:65536]}
        )
        ok(response)
        refused = api.post(f"{UC}/catalogs", json={"name": "too_big", "x": "y" * LIMIT})
        body = error_of(refused, 413)
        assert "--max-request-bytes" in body["message"] and body["error_code"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize("depth", [65, 1000, 100_000])
def test_deep_nesting_is_refused_and_the_connection_stays_usable(
    server: RunningServer, depth: int
) -> None:
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
        nested = '{"name": "n", "x": ' + "[" * depth + "]" * depth + "}"
        if len(nested) > LIMIT:
            pytest.skip("bigger than this server's body limit (refused as too large)")
        response = api.post(f"{UC}/catalogs", content=nested)
        assert "deeper than 64" in error_of(response, 400)["message"]
        for path in (
            "/api/2.0/mlflow/unity-catalog/registered-models/create",
            "/api/modelcatalog/jobs",
        ):
            assert api.post(path, content=nested).status_code == 400
        ok(api.get(f"{UC}/catalogs"))  # the same keep-alive connection still answers


def test_repeated_failed_authentications_are_slowed_down_per_address(
    server: RunningServer,
) -> None:
    good = server.headers()
    bad = {"Authorization": "Bearer mc_not_a_token"}
    elsewhere = httpx.HTTPTransport(local_address="127.0.0.2")
    with (
        httpx.Client(base_url=server.url, timeout=60, transport=elsewhere) as attacker,
        httpx.Client(base_url=server.url, timeout=60) as neighbour,
    ):
        ok(attacker.get(f"{UC}/catalogs", headers=good))  # verified, so remembered a moment
        statuses = [attacker.get(f"{UC}/catalogs", headers=bad).status_code for _ in range(33)]
        assert statuses[:30] == [401] * 30 and set(statuses[30:]) == {429}, statuses
        slowed = attacker.get(f"{UC}/catalogs", headers=bad)
        assert error_of(slowed, 429)["error_code"] == "RESOURCE_EXHAUSTED"
        assert 1 <= int(slowed.headers["Retry-After"]) <= 2
        # The principal is not locked out, and another address is not slowed down.
        ok(attacker.get(f"{UC}/catalogs", headers=good))
        assert neighbour.get(f"{UC}/catalogs", headers=bad).status_code == 401
        ok(neighbour.get(f"{UC}/catalogs", headers=good))
        # The bucket refills: thirty a minute is one every two seconds.
        time.sleep(int(slowed.headers["Retry-After"]))
        assert attacker.get(f"{UC}/catalogs", headers=bad).status_code == 401


def test_metrics_show_the_audit_queue_and_no_dropped_records(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
        ok(api.get(f"{UC}/catalogs"))
        text = api.get("/metrics").text
    values = {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("modelcatalog_audit_")
    }
    assert values["modelcatalog_audit_records_dropped"] == 0
    assert "modelcatalog_audit_records_unwritten" in values
    assert "modelcatalog_audit_write_failures" in values
