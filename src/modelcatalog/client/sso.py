"""Signing in from a terminal with the organisation's identity provider, through the catalog
(`modelcatalog login --sso`), which hands back a token of its own:

- with the provider's device flow, the catalog starts a device authorization and the person
  confirms a short code in any browser;
- without it (or when asked), the person signs in in a browser on this machine, which the
  catalog then sends to a listener on loopback with a code; the code is worth a token only with
  the PKCE verifier this terminal kept."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from modelcatalog.client.http import CATALOG_API, CatalogClient

OFFERED = f"{CATALOG_API}/sso"
START = f"{CATALOG_API}/sso/device-authorizations"
FINISH = f"{CATALOG_API}/sso/device-tokens"
TERMINAL = f"{CATALOG_API}/sso/terminal-tokens"
SLOW_DOWN_SECONDS = 5
BROWSER_SECONDS = 600


class SignInExpired(Exception):
    """The code was not confirmed before it expired (or the browser sign-in failed)."""


def offers_device_flow(client: CatalogClient) -> bool:
    """Whether the catalog's provider has a device flow (else: a browser on this machine)."""
    offered = client.request("GET", OFFERED, anonymous=True)
    if not offered.get("enabled"):
        raise SignInExpired(
            "single sign-on is not configured on this catalog: log in with a token instead"
        )
    return bool(offered.get("device_flow"))


def device_sign_in(
    client: CatalogClient,
    show: Callable[[dict[str, Any]], None],
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Sign in: `show` tells the person where to confirm which code; returns the catalog's
    answer (`token`, `principal`, `expires_at`) once they have."""
    started = client.request("POST", START, json={}, anonymous=True)
    show(started)
    interval = float(started.get("interval") or 5)
    deadline = clock() + float(started.get("expires_in") or 600)
    while clock() < deadline:
        sleep(interval)
        answer = client.request(
            "POST", FINISH, json={"device_code": started["device_code"]}, anonymous=True
        )
        if "token" in answer:  # 202 {"status": ...} until the person has confirmed the code
            return answer
        if answer.get("status") == "slow_down":
            interval += SLOW_DOWN_SECONDS
    raise SignInExpired("the code was not confirmed in time: run the command again")


class _Listener(BaseHTTPRequestHandler):
    """Takes the one request the browser makes after signing in: `/?code=...`."""

    received: dict[str, str]
    done: threading.Event

    def do_GET(self) -> None:  # noqa: N802 -- http.server's name
        query = parse_qs(urlsplit(self.path).query)
        if "code" not in query:
            self.send_response(404)
            self.end_headers()
            return
        self.received["code"] = query["code"][0]
        body = b"Signed in to the catalog. You can close this tab and go back to the terminal."
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.done.set()

    def log_message(self, format: str, *args: Any) -> None:
        return None  # the terminal shows what matters itself


def browser_sign_in(
    client: CatalogClient, show: Callable[[str], None], *, timeout: float = BROWSER_SECONDS
) -> dict[str, Any]:
    """Sign in in a browser on this machine: `show` gets the address to open; returns the
    catalog's answer (`token`, `principal`, `expires_at`) once the browser came back."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    received: dict[str, str] = {}
    done = threading.Event()
    handler = type("Listener", (_Listener,), {"received": received, "done": done})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        here = f"http://127.0.0.1:{server.server_port}/"
        show(f"{client.url}/signin/sso?{urlencode({'terminal': here, 'challenge': challenge})}")
        if not done.wait(timeout):
            raise SignInExpired("the browser did not come back in time: run the command again")
    finally:
        server.shutdown()
        server.server_close()
    return client.request(
        "POST",
        TERMINAL,
        json={"code": received["code"], "code_verifier": verifier},
        anonymous=True,
    )
