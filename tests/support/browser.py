"""People in a browser: Debian's Chromium driven by Playwright, signed in through the form."""

from __future__ import annotations

from dataclasses import dataclass

from playwright.sync_api import Browser, Page

from support.servers import RunningServer

CHROMIUM = "/usr/bin/chromium"


@dataclass(frozen=True)
class Person:
    name: str
    token: str


@dataclass(frozen=True)
class Cast:
    """A model and the people around it: its owner, a reader with EXECUTE only, an approver,
    and someone with no grants at all; the admin is the server's."""

    model: str
    owner: Person
    reader: Person
    approver: Person
    nobody: Person
    admin: Person


def sign_in(browser: Browser, server: RunningServer, person: Person, **context: object) -> Page:
    """A new browser (its own cookies) signed in as `person` through the sign-in form."""
    page = browser.new_context(base_url=server.url, **context).new_page()  # type: ignore[arg-type]
    page.goto("/")
    page.fill("#token", person.token)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{server.url}/")
    return page
