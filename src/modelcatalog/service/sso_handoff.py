"""Short-lived values the server signs and hands out during a single sign-on, so that any
replica can take the next step without shared state: a browser's sign-in in progress (its
state, nonce and PKCE verifier, in a cookie) and a terminal's sign-in code (handed to the
`modelcatalog login --sso` listening on loopback, and worth a catalog token only with the
verifier that terminal kept)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from sqlalchemy import select

from modelcatalog.errors import Unauthenticated
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.store import tables as t

FLOW = "sso-flow"
TERMINAL_CODE = "sso-terminal-code"
TERMINAL_CODE_SECONDS = 120


def _mac(ctx: ServiceContext, purpose: str, body: str) -> str:
    message = f"{purpose}:{body}".encode()
    return hmac.new(ctx.signing_secret, message, hashlib.sha256).hexdigest()


def seal(ctx: ServiceContext, purpose: str, values: dict[str, Any]) -> str:
    """`values` (and the time) as text only this catalog can have written, for `purpose`."""
    body = base64.urlsafe_b64encode(json.dumps({**values, "at": time.time()}).encode()).decode()
    return f"{body}.{_mac(ctx, purpose, body)}"


def unseal(ctx: ServiceContext, purpose: str, sealed: str | None, seconds: float) -> dict | None:
    """The values `seal` wrote for `purpose` at most `seconds` ago; None for anything else."""
    if not sealed or "." not in sealed:
        return None
    body, _, mac = sealed.rpartition(".")
    if not hmac.compare_digest(_mac(ctx, purpose, body).encode(), mac.encode()):
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(body.encode()))
    except ValueError:
        return None
    if not isinstance(values, dict) or float(values.get("at", 0)) + seconds < time.time():
        return None
    return values


def challenge_of(verifier: str) -> str:
    """PKCE's S256 challenge of a verifier (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def terminal_code(ctx: ServiceContext, caller: Caller, challenge: str) -> str:
    """A code for the terminal that started a sign-in with `challenge`."""
    return seal(ctx, TERMINAL_CODE, {"principal_id": caller.principal_id, "challenge": challenge})


def redeem_terminal_code(ctx: ServiceContext, code: object, verifier: object) -> Caller:
    """The principal a terminal's code names, if the verifier is the one its challenge came
    from and the code is fresh; Unauthenticated otherwise."""
    values = unseal(
        ctx, TERMINAL_CODE, code if isinstance(code, str) else None, TERMINAL_CODE_SECONDS
    )
    if values is None:
        raise Unauthenticated("The sign-in code is not valid or has expired: sign in again.")
    if not isinstance(verifier, str) or not hmac.compare_digest(
        challenge_of(verifier).encode(), str(values.get("challenge")).encode()
    ):
        raise Unauthenticated("The sign-in code was not issued to this terminal.")
    with ctx.db.read() as session:
        row = session.scalar(select(t.Principal).where(t.Principal.id == values["principal_id"]))
    if row is None or not row.active:
        raise Unauthenticated("The person who signed in is no longer active here.")
    return Caller(name=row.name, principal_id=row.id, is_admin=row.is_admin)
