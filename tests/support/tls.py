"""One TLS context for every HTTP client a test process makes.

httpx reads the whole CA bundle into a new TLS context for each client it makes, about 20 ms of
CPU, even for the plain-HTTP loopback URLs the tests use; the tests make thousands of clients
(a poll of a starting server alone makes one every 50 ms). `share_default_context` makes
clients that ask for httpx's default verification (no client certificate) share one context per
CA source (certifi's bundle, or SSL_CERT_FILE or SSL_CERT_DIR as httpx reads them), read once;
every other choice (`verify=False`, a context or certificate of the caller's) still gets
exactly what httpx makes for it.
"""

from __future__ import annotations

import functools
import os
import ssl
from typing import Any

import httpx._transports.default as transports


def share_default_context() -> None:
    """Make this process's httpx clients with default verification share one TLS context."""
    make = transports.create_ssl_context
    if getattr(make, "shared", False):
        return

    @functools.cache
    def default_context(trust_env: bool, ca_file: str | None, ca_dir: str | None) -> ssl.SSLContext:
        # httpx reads the two variables itself; they are the cache key, so a change is seen.
        return make(trust_env=trust_env)

    def create_ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        if verify is True and cert is None:
            return default_context(
                trust_env, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
            )
        return make(verify=verify, cert=cert, trust_env=trust_env)

    create_ssl_context.shared = True  # type: ignore[attr-defined]
    transports.create_ssl_context = create_ssl_context  # type: ignore[assignment]
