"""What the governance tests share: principals with tokens, grants, and audit lookups."""

from __future__ import annotations

import time
from typing import Any

import httpx

from support.http import ok

UC = "/api/2.1/unity-catalog"
NATIVE = "/api/modelcatalog"


def add_principal(api: httpx.Client, name: str, kind: str = "user") -> None:
    ok(api.post(f"{NATIVE}/principals", json={"name": name, "kind": kind}))


def token_for(api: httpx.Client, name: str, **extra: Any) -> str:
    """A new token for `name`, made by the admin (the only time its secret is shown)."""
    return ok(api.post(f"{NATIVE}/tokens", json={"principal": name, **extra}))["token"]


def add_member(api: httpx.Client, group: str, member: str) -> None:
    ok(api.post(f"{NATIVE}/principals/{group}/members", json={"member": member}))


def grant(
    api: httpx.Client, securable_type: str, full_name: str, principal: str, *privileges: str
) -> None:
    ok(
        api.patch(
            f"{UC}/permissions/{securable_type}/{full_name}",
            json={"changes": [{"principal": principal, "add": list(privileges), "remove": []}]},
        )
    )


def audit_records(api: httpx.Client, **filters: str) -> list[dict]:
    """Every audit record matching the filters (following pages)."""
    records: list[dict] = []
    token = None
    while True:
        params = {**filters, **({"page_token": token} if token else {})}
        body = ok(api.get(f"{NATIVE}/audit", params=params))
        records += body["records"]
        token = body.get("next_page_token")
        if not token:
            return records


def records_of_request(api: httpx.Client, request_id: str, timeout: float = 10.0) -> list[dict]:
    """The records one request left; queued records are flushed by the query itself, but a
    request served by another worker process may take a moment to land."""
    deadline = time.monotonic() + timeout
    while True:
        found = audit_records(api, request_id=request_id)
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
