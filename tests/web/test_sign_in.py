"""Signing in to the web UI with a token, the session it gives, and signing out."""

from __future__ import annotations

import sqlite3
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, expect

from support.browser import Cast, sign_in
from support.servers import RunningServer


def test_a_page_asked_for_without_a_session_leads_to_sign_in_and_back(
    browser: Browser, web_server: RunningServer, cast: Cast
) -> None:
    page = browser.new_context(base_url=web_server.url).new_page()
    page.goto(f"/m/{cast.model}?tab=versions")
    assert page.url.startswith(f"{web_server.url}/signin?next=")
    page.fill("#token", cast.owner.token)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{web_server.url}/m/{cast.model}?tab=versions")
    expect(page.locator("h1")).to_have_text(cast.model)


def test_the_session_cookie_is_http_only_and_the_token_reaches_no_page(
    browser: Browser, web_server: RunningServer, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.owner)
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["modelcatalog_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert session["value"] != cast.owner.token
    assert "modelcatalog_session" not in page.evaluate("document.cookie")
    assert cast.owner.token not in page.content()
    assert cast.owner.token not in page.url


def test_a_wrong_token_is_refused_with_the_reason_and_no_session(
    browser: Browser, web_server: RunningServer
) -> None:
    page = browser.new_context(base_url=web_server.url).new_page()
    page.goto("/signin")
    page.fill("#token", "mc_not_a_token")
    page.click("button:has-text('Sign in')")
    expect(page.locator("#token-error")).to_have_text("The token is not valid.")
    assert "modelcatalog_session" not in {c["name"] for c in page.context.cookies()}


def test_signing_out_ends_the_session_for_its_cookie_everywhere(
    browser: Browser, web_server: RunningServer, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.owner)
    secret = next(c["value"] for c in page.context.cookies() if c["name"] == "modelcatalog_session")
    page.click("button:has-text('Sign out')")
    page.wait_for_url(f"{web_server.url}/signin")
    # The old cookie, replayed, opens nothing: the session ended in the database.
    replayed = httpx.get(
        f"{web_server.url}/", cookies={"modelcatalog_session": secret}, follow_redirects=False
    )
    assert replayed.status_code == 303
    assert replayed.headers["location"] == "/signin"


def test_a_session_unused_past_its_idle_lifetime_asks_to_sign_in_again(
    browser: Browser, web_server: RunningServer, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.owner)
    database = web_server.database_uri.removeprefix("sqlite:///")
    with sqlite3.connect(database) as connection:
        # Thirteen hours ago, one more than the default idle lifetime.
        connection.execute(
            "UPDATE browser_sessions SET last_seen_at = last_seen_at - 13 * 3600 * 1000 "
            "WHERE principal_id = (SELECT id FROM principals WHERE name = ?)",
            (cast.owner.name,),
        )
    page.goto("/")
    assert page.url.startswith(f"{web_server.url}/signin")


def test_signing_in_and_out_is_in_the_audit_log(
    browser: Browser, web_server: RunningServer, admin_api: httpx.Client, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.reader)
    page.click("button:has-text('Sign out')")
    page.wait_for_url(f"{web_server.url}/signin")
    records = admin_api.get(
        "/api/modelcatalog/audit", params={"principal": cast.reader.name}
    ).json()["records"]
    actions = [r["action"] for r in records]
    assert "signIn" in actions and "signOut" in actions


def test_every_page_and_form_without_a_session_leads_to_sign_in_and_changes_nothing(
    web_server: RunningServer, cast: Cast
) -> None:
    from modelcatalog.web import edits, pages

    values = {
        "catalog": cast.model.split(".")[0],
        "schema": "ml",
        "full_name": cast.model,
        "version": "1",
        "path": "MLmodel",
        "run_id": "r",
        "task": "t",
        "securable_type": "registered_model",
        "token_id": "x",
        "name": cast.owner.name,
    }
    open_pages = {"/docs", "/favicon.ico"}
    checked = 0
    with httpx.Client(base_url=web_server.url, follow_redirects=False) as client:
        for router in (pages.router, edits.router):
            for route in router.routes:
                template = route.path.replace(":path}", "}")  # type: ignore[attr-defined]
                path = template.format(**values)
                for method in route.methods - {"HEAD"}:  # type: ignore[attr-defined]
                    if route.path in open_pages:  # type: ignore[attr-defined]
                        continue
                    answer = client.request(method, path, data={"alias": "a", "version": "1"})
                    assert answer.status_code == 303, (method, path, answer.status_code)
                    assert answer.headers["location"].startswith("/signin"), (method, path)
                    checked += 1
    assert checked > 20


@pytest.mark.parametrize(
    "elsewhere",
    ["//evil.example/", "/\\evil.example/", "https://evil.example/", "/\t/evil.example/"],
    ids=["scheme-relative", "backslash", "absolute", "tab"],
)
def test_signing_in_never_sends_the_browser_to_another_site(
    browser: Browser, web_server: RunningServer, cast: Cast, elsewhere: str
) -> None:
    page = browser.new_context(base_url=web_server.url).new_page()
    page.goto(f"/signin?next={quote(elsewhere, safe='')}")
    page.fill("#token", cast.reader.token)
    page.click("button:has-text('Sign in')")
    page.wait_for_load_state()
    assert page.url == f"{web_server.url}/"
