"""A bearer token, whichever kind: one of the catalog's own tokens, or an access token (a JWT)
of the organisation's identity provider when single sign-on is configured."""

from __future__ import annotations

from modelcatalog.service import principals, single_sign_on
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.identity_provider import looks_like_jwt

PROVIDER_TOKEN_CACHE_ID = "sso:{}"
"""How a verified provider token is filed in the token cache (by its principal)."""


def authenticate(ctx: ServiceContext, token: str | None) -> Caller:
    """The principal a bearer token stands for, or Unauthenticated with the reason.

    A provider token verified moments ago is answered from the token cache as catalog tokens
    are (never past its expiry), so the signature is checked once per token every few
    seconds, not on every request."""
    if not token or ctx.sso is None or not looks_like_jwt(token):
        return principals.authenticate(ctx, token)
    digest = principals.hash_token(token)
    known = ctx.tokens.get(digest)
    if known is not None:
        return known
    caller, expires_at = single_sign_on.bearer(ctx, token)
    ctx.tokens.put(digest, caller, expires_at, PROVIDER_TOKEN_CACHE_ID.format(caller.principal_id))
    return caller
