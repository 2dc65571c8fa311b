"""Signing in from a terminal with the organisation's identity provider, through the catalog
(`modelcatalog login --sso`): the catalog starts a device authorization at the provider, the
person confirms a short code in any browser, and the catalog hands back a token of its own."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from modelcatalog.client.http import CATALOG_API, CatalogClient

START = f"{CATALOG_API}/sso/device-authorizations"
FINISH = f"{CATALOG_API}/sso/device-tokens"
SLOW_DOWN_SECONDS = 5


class SignInExpired(Exception):
    """The code was not confirmed before it expired."""


def device_sign_in(
    client: CatalogClient,
    show: Callable[[dict[str, Any]], None],
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Sign in: `show` tells the person where to confirm which code; returns the catalog's
    answer (`token`, `principal`, `expires_at`) once they have."""
    _, started = client.post_anonymous(START, {})
    show(started)
    interval = float(started.get("interval") or 5)
    deadline = clock() + float(started.get("expires_in") or 600)
    while clock() < deadline:
        sleep(interval)
        status, answer = client.post_anonymous(FINISH, {"device_code": started["device_code"]})
        if status == 200:
            return answer
        if answer.get("status") == "slow_down":
            interval += SLOW_DOWN_SECONDS
    raise SignInExpired("the code was not confirmed in time: run the command again")
