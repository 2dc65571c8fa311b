"""Presigned URLs: the server signs a method, a key, an expiry and a principal, then verifies.

The signature is a base64url HMAC-SHA256 over a canonical JSON array of those four values plus a
version tag. JSON makes the encoding unambiguous whatever characters a key or principal holds,
so no two different requests share a canonical string. The method is signed but not sent: the
server verifies against the method it actually received, so a URL signed for PUT fails for GET.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping

# Query parameter names carried by a presigned URL.
EXPIRES = "expires"
PRINCIPAL = "principal"
SIGNATURE = "signature"

_VERSION = "modelcatalog-presign-v1"
_MIN_SECRET_BYTES = 16


class PresignError(Exception):
    """A presigned URL was refused."""


class InvalidSignature(PresignError):
    """The URL was not signed by this server for this method and key, or was altered."""


class ExpiredSignature(PresignError):
    """The URL was genuine but its expiry time has passed."""


def new_secret() -> bytes:
    """Return a fresh random 32-byte signing secret."""
    return secrets.token_bytes(32)


def sign(
    secret: bytes, *, method: str, key: str, expires_at: int, principal: str
) -> dict[str, str]:
    """Return the query parameters that let ``principal`` do ``method`` on ``key`` until then.

    ``expires_at`` is in epoch seconds; the URL is valid while the current time is before it.
    """
    _check_secret(secret)
    if isinstance(expires_at, bool) or not isinstance(expires_at, int) or expires_at < 0:
        raise ValueError(f"expires_at {expires_at!r} is not a non-negative integer")
    if not principal:
        raise ValueError("principal is empty")
    if not key:
        raise ValueError("key is empty")
    return {
        EXPIRES: str(expires_at),
        PRINCIPAL: principal,
        SIGNATURE: _signature(secret, method, key, str(expires_at), principal),
    }


def verify(secret: bytes, *, method: str, key: str, params: Mapping[str, str], now: float) -> str:
    """Return the principal a presigned request acts for, or raise a PresignError.

    The signature is checked before the expiry, so ExpiredSignature is only ever raised for a
    URL this server really issued; an altered expiry is an InvalidSignature.
    """
    _check_secret(secret)
    missing = [name for name in (EXPIRES, PRINCIPAL, SIGNATURE) if not params.get(name)]
    if missing:
        raise InvalidSignature(f"presigned URL lacks query parameter(s): {', '.join(missing)}")
    expires, principal, signature = params[EXPIRES], params[PRINCIPAL], params[SIGNATURE]
    # Digits only: int() would also accept " 12", "+12" or "1_2", which sign() never produces.
    if not (expires.isascii() and expires.isdigit()):
        raise InvalidSignature(f"presigned URL has a malformed {EXPIRES!r}: {expires!r}")
    expected = _signature(secret, method, key, expires, principal)
    if not hmac.compare_digest(expected.encode("utf-8"), signature.encode("utf-8")):
        raise InvalidSignature(
            f"presigned URL signature does not match this {method.upper()} request for {key!r}"
        )
    if now >= int(expires):
        raise ExpiredSignature(f"presigned URL expired at {expires} (now {int(now)})")
    return principal


def _signature(secret: bytes, method: str, key: str, expires: str, principal: str) -> str:
    # ASCII-escaped JSON: unambiguous, and encodable even for strings with lone surrogates.
    canonical = json.dumps([_VERSION, method.upper(), key, expires, principal]).encode("ascii")
    digest = hmac.new(secret, canonical, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _check_secret(secret: bytes) -> None:
    if not isinstance(secret, bytes) or len(secret) < _MIN_SECRET_BYTES:
        raise ValueError(f"signing secret must be at least {_MIN_SECRET_BYTES} bytes")
