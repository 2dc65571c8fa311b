"""Tokens: only a valid, unexpired, unrevoked token of an existing principal gets in; every
refusal says why and leaves an audit record."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from support.governance import NATIVE, add_principal, audit_records, token_for


def _me(server, token: str | None) -> httpx.Response:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.get(f"{server.url}{NATIVE}/me", headers=headers, timeout=30)


def _refused(response: httpx.Response, words: str) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error_code"] == "UNAUTHENTICATED"
    assert words in body["message"], body["message"]


@pytest.fixture
def user(api: httpx.Client) -> str:
    name = f"tok-{uuid.uuid4().hex[:8]}"
    add_principal(api, name)
    return name


def test_a_token_made_for_a_principal_acts_as_that_principal(server, api, user) -> None:  # type: ignore[no-untyped-def]
    response = _me(server, token_for(api, user))
    assert response.status_code == 200
    assert response.json() == {"name": user, "is_admin": False}


def test_an_expired_token_is_refused(server, api, user) -> None:  # type: ignore[no-untyped-def]
    token = token_for(api, user, lifetime_seconds=1)
    assert _me(server, token).status_code == 200
    deadline = time.monotonic() + 10
    while _me(server, token).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    _refused(_me(server, token), "expired")


def test_a_revoked_token_is_refused_at_once(server, api, user) -> None:  # type: ignore[no-untyped-def]
    made = api.post(f"{NATIVE}/tokens", json={"principal": user}).json()
    assert _me(server, made["token"]).status_code == 200
    assert api.delete(f"{NATIVE}/tokens/{made['token_id']}").status_code == 200
    _refused(_me(server, made["token"]), "revoked")


@pytest.mark.parametrize(
    "token", ["not-a-token", "mc_" + "x" * 43, "Bearer", "mc_\u00e9\u00e9", "a b c"], ids=repr
)
def test_a_malformed_or_unknown_token_is_refused(server, token: str) -> None:  # type: ignore[no-untyped-def]
    response = httpx.get(
        f"{server.url}{NATIVE}/me",
        headers={"Authorization": f"Bearer {token}".encode()},
        timeout=30,
    )
    assert response.status_code == 401, response.text
    assert response.json()["error_code"] == "UNAUTHENTICATED"


def test_a_missing_token_is_refused_with_how_to_get_one(server) -> None:  # type: ignore[no-untyped-def]
    _refused(_me(server, None), "Authorization: Bearer")


def test_the_token_of_a_deleted_principal_stops_working(server, api, user) -> None:  # type: ignore[no-untyped-def]
    token = token_for(api, user)
    assert _me(server, token).status_code == 200
    assert api.delete(f"{NATIVE}/principals/{user}").status_code == 200
    _refused(_me(server, token), "not valid")


def test_refusals_are_audited_without_the_token(server, api) -> None:  # type: ignore[no-untyped-def]
    secret = "mc_" + uuid.uuid4().hex
    response = _me(server, secret)
    assert response.status_code == 401
    found = audit_records(api, request_id=response.headers["x-request-id"])
    assert len(found) == 1
    assert found[0]["outcome"] == "denied"
    assert found[0]["action"] == "authenticate"
    assert secret not in str(found[0])


def test_only_admins_make_tokens_for_others(server, api, user) -> None:  # type: ignore[no-untyped-def]
    other = f"tok-{uuid.uuid4().hex[:8]}"
    add_principal(api, other)
    mine = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token_for(api, user)}"}
    )
    refused = mine.post(f"{NATIVE}/tokens", json={"principal": other})
    assert refused.status_code == 403, refused.text
    assert "admins" in refused.json()["message"]
    own = mine.post(f"{NATIVE}/tokens", json={"comment": "mine"})
    assert own.status_code == 200
    assert own.json()["principal"] == user
    group = f"grp-{uuid.uuid4().hex[:8]}"
    add_principal(api, group, "group")
    for_group = api.post(f"{NATIVE}/tokens", json={"principal": group})
    assert for_group.status_code == 400
    assert "group" in for_group.json()["message"]
