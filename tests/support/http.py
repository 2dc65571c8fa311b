"""Checks and names every HTTP test uses: a successful answer's body, a refusal's error, unique
names, and waiting on a condition with a deadline."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx


def ok(response: httpx.Response) -> Any:
    """The JSON body of a 200 answer (the catalog answers every success with 200); the
    server's answer in the failure otherwise."""
    assert response.status_code == 200, (
        f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
    )
    return response.json()


def error_of(response: httpx.Response, status: int) -> dict[str, str]:
    """The error body of a refused request, after checking its status."""
    assert response.status_code == status, f"{response.status_code} {response.text}"
    body = response.json()
    assert set(body) >= {"error_code", "message"}, body
    return body


def unique(prefix: str = "m") -> str:
    """A name no other test uses: `prefix_` and ten hex digits."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def wait_for(
    probe: Callable[[], Any], what: str, timeout: float = 60.0, interval: float = 0.05
) -> Any:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)  # poll interval, not a guessed duration
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {last!r}")


def metric_value(text: str, name: str, **labels: str) -> float:
    """The Prometheus sample of `name` with exactly these labels in an exposition (0 when
    absent)."""
    wanted = sorted(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.compile(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$")
    for line in text.splitlines():
        found = pattern.match(line)
        if found and sorted(filter(None, (found.group(1) or "").split(","))) == wanted:
            return float(found.group(2))
    return 0.0
