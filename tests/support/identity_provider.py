"""A real OpenID Connect provider for the sign-in tests: the certified `oidc-provider` package
run by Node.js (tests/oidc_provider/provider.mjs) on loopback, and what a person does there:
sign in on its pages, confirm a device code, get an access token for the catalog."""

from __future__ import annotations

import json
import select
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, Route

from support.servers import stopped_at_exit, wait_until_answering

PROVIDER_DIR = Path(__file__).resolve().parent.parent / "oidc_provider"
CLIENT_ID = "modelcatalog"
CLIENT_SECRET = "test-client-secret-0123456789abcdef0123456789"
TERMINAL_CLIENT_ID = "catalog-terminal"
"""A public client of the provider that tests use to get access tokens for the catalog."""
AUDIENCE = "api://modelcatalog"
OTHER_AUDIENCE = "api://another-service"
SHORT_LIVED_AUDIENCE = "api://modelcatalog-short"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass
class IdentityProvider:
    """A running provider and its test hooks."""

    issuer: str
    process: subprocess.Popen = field(repr=False)
    log_path: Path = field(repr=False)

    def set_user(self, login: str, **claims: Any) -> None:
        """Set what the provider says about `login` (email, groups, email_verified ...)."""
        httpx.post(f"{self.issuer}/test/users/{login}", json=claims).raise_for_status()

    def rotate_keys(self) -> list[str]:
        """Sign with a new key from now on (the old one stays published); the key ids."""
        answer = httpx.post(f"{self.issuer}/test/rotate-keys")
        answer.raise_for_status()
        return answer.json()["kids"]

    def retire_old_keys(self) -> list[str]:
        answer = httpx.post(f"{self.issuer}/test/retire-old-keys")
        answer.raise_for_status()
        return answer.json()["kids"]

    def trust(self, catalog_urls: list[str]) -> None:
        """Register the catalog's client for the catalogs at `catalog_urls` (and the terminal
        client), replacing what was registered."""
        answer = httpx.post(f"{self.issuer}/test/clients", json={"clients": clients(catalog_urls)})
        answer.raise_for_status()

    def server_env(self, **extra: str) -> dict[str, str]:
        """The variables that point a catalog server at this provider."""
        return {
            "MODELCATALOG_OIDC_ISSUER": self.issuer,
            "MODELCATALOG_OIDC_CLIENT_ID": CLIENT_ID,
            "MODELCATALOG_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "MODELCATALOG_OIDC_AUDIENCE": AUDIENCE,
            **extra,
        }


def clients(catalog_urls: list[str]) -> list[dict[str, Any]]:
    """The provider's clients: the catalog (code flow with PKCE, device flow, its redirect
    and sign-out paths), and a public terminal client for access tokens."""
    return [
        {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [f"{url}/signin/sso/callback" for url in catalog_urls],
            "post_logout_redirect_uris": [f"{url}/signin/sso/signed-out" for url in catalog_urls],
            "grant_types": ["authorization_code", DEVICE_GRANT],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
        },
        {
            "client_id": TERMINAL_CLIENT_ID,
            "token_endpoint_auth_method": "none",
            "grant_types": [DEVICE_GRANT],
            "response_types": [],
            "redirect_uris": [],
        },
    ]


RESOURCES = {
    AUDIENCE: {},
    OTHER_AUDIENCE: {},
    SHORT_LIVED_AUDIENCE: {"audience": AUDIENCE, "ttl": 2},
}
"""The APIs the provider issues JWT access tokens for (resource indicators): the catalog, another
service, and the catalog again with two-second tokens."""


STARTUP_SECONDS = 30
"""How long the provider may take to say it listens."""


@contextmanager
def run_identity_provider(log_dir: Path) -> Iterator[IdentityProvider]:
    """The provider on a port of 127.0.0.1 that it picks itself; register clients with
    `trust`."""
    node = shutil.which("node")
    if node is None or not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError(
            "the OpenID Connect provider needs Node.js and its package: run "
            "'npm ci' in tests/oidc_provider (.ci/run does)"
        )
    log_path = log_dir / "oidc-provider.log"
    config = json.dumps({"port": 0, "clients": [], "resources": RESOURCES})
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [node, "provider.mjs", config],
            cwd=PROVIDER_DIR,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    with stopped_at_exit(process):
        assert process.stdout is not None
        # The provider's one line, or nothing if it died; a provider stuck before it listens
        # fails the test instead of holding it forever.
        ready, _, _ = select.select([process.stdout], [], [], STARTUP_SECONDS)
        first = process.stdout.readline() if ready else ""
        if not first.startswith("listening "):
            raise RuntimeError(
                f"the OpenID Connect provider did not start within {STARTUP_SECONDS} s:\n"
                f"{log_path.read_text()}"
            )
        issuer = first.split(" ", 1)[1].strip()
        wait_until_answering(
            f"{issuer}/.well-known/openid-configuration", process, log_path, timeout=30
        )
        yield IdentityProvider(issuer, process, log_path)


# -- what a person does at the provider ------------------------------------------------------


def loopback_only(page: Page) -> None:
    """Keep the provider's pages from reaching the internet (they link a web font)."""

    def route(r: Route) -> None:
        if r.request.url.startswith("http://127.0.0.1"):
            r.continue_()
        else:
            r.abort()

    page.route("**/*", route)


def sign_in_at_provider(page: Page, login: str) -> None:
    """On the provider's sign-in page: any password goes with a login."""
    page.wait_for_selector("input[name=login]")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password")
    page.click("button[type=submit]")


def confirm_device_code(browser: Browser, verification_uri_complete: str, login: str) -> None:
    """A person opens the device link in a browser, confirms the code and signs in."""
    context = browser.new_context()
    try:
        page = context.new_page()
        loopback_only(page)
        page.goto(verification_uri_complete)
        page.click("button[autofocus]")  # Continue: the code shown is the one on the device
        sign_in_at_provider(page, login)
        page.wait_for_selector("text=Sign-in Success")
    finally:
        context.close()


def access_token(
    provider: IdentityProvider, browser: Browser, login: str, resource: str = AUDIENCE
) -> str:
    """An access token (a JWT) for `resource`, as a person's own tool gets one from the
    provider: the device flow of the provider's terminal client, with a resource indicator."""
    started = httpx.post(
        f"{provider.issuer}/device/auth",
        data={
            "client_id": TERMINAL_CLIENT_ID,
            "scope": "openid email profile groups",
            "resource": resource,
        },
    )
    started.raise_for_status()
    codes = started.json()
    confirm_device_code(browser, codes["verification_uri_complete"], login)
    answer = httpx.post(
        f"{provider.issuer}/token",
        data={
            "client_id": TERMINAL_CLIENT_ID,
            "grant_type": DEVICE_GRANT,
            "device_code": codes["device_code"],
        },
    )
    answer.raise_for_status()
    return answer.json()["access_token"]
