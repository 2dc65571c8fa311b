"""The main pages at a desktop and a phone size: screenshots for a person to look at (in the
test's temporary folder), no page wider than the screen even with a 255-character model name
and a 1,000-character tag value, and every page usable from the keyboard."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from support.browser import Cast, sign_in
from support.servers import RunningServer
from support.versions import create_model, ready_version

UC = "/api/2.1/unity-catalog"
SIZES = {"desktop": {"width": 1400, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_the_main_pages_fit_the_screen_with_the_longest_names_and_values(
    browser: Browser,
    web_server: RunningServer,
    admin_api: httpx.Client,
    cast: Cast,
    tmp_path: Path,
    size: str,
) -> None:
    schema = cast.model.rsplit(".", 1)[0]
    long_model = f"{schema}.{'m' * 255}"
    create_model(admin_api, long_model)
    ready_version(admin_api, long_model)
    admin_api.patch(
        f"{UC}/securable-tags/registered_model/{long_model}",
        json={"changes": {"add_tags": [{"key": "k" * 255, "value": "v" * 1000}]}},
    ).raise_for_status()
    page = sign_in(browser, web_server, cast.admin, viewport=SIZES[size])
    catalog, schema_name = schema.split(".")
    pages = {
        "home": "/",
        "schema": f"/c/{catalog}/{schema_name}",
        "model": f"/m/{long_model}",
        "version": f"/m/{long_model}/v/1",
        "permissions": f"/m/{cast.model}?tab=permissions",
        "search": "/search?q=m",
        "approvals": "/approvals",
        "audit": "/audit",
        "tokens": "/me/tokens",
        "automation": "/automation",
        "principals": "/admin/principals",
    }
    too_wide = []
    for name, address in pages.items():
        answer = page.goto(address)
        assert answer is not None and answer.status == 200, (address, answer and answer.status)
        page.screenshot(path=str(tmp_path / f"{name}-{size}.png"), full_page=True)
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if width[0] > width[1]:
            too_wide.append((name, width))
    assert too_wide == [], f"pages wider than the screen: {too_wide} (see {tmp_path})"


def test_the_search_box_and_the_main_links_are_reached_with_the_keyboard_alone(
    browser: Browser, web_server: RunningServer, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.owner)
    reached = []
    for _ in range(8):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate("document.activeElement.textContent || document.activeElement.id")
        )
    assert "Skip to content" in reached[0]
    assert "q" in reached
    assert "Approvals" in "".join(reached)


def test_the_api_documentation_renders_from_the_package_under_the_strict_policy(
    browser: Browser, web_server: RunningServer
) -> None:
    page = browser.new_context(base_url=web_server.url).new_page()
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    answer = page.goto("/docs")
    assert answer is not None and "unsafe-inline" not in answer.headers["content-security-policy"]
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() > 50
    assert [u for u in requested if not u.startswith(web_server.url)] == []
    assert problems == []
