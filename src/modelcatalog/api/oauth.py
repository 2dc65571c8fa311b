"""OAuth 2.0 for machines, where databricks-sdk (and so MLflow) looks for it.

With `DATABRICKS_HOST` pointed at the catalog and `DATABRICKS_CLIENT_ID` /
`DATABRICKS_CLIENT_SECRET` set to a service principal's client id and secret, databricks-sdk
reads `/.well-known/databricks-config` (recent releases) or
`/oidc/.well-known/oauth-authorization-server` (older ones), then posts the client credentials
to the token endpoint, `/oidc/v1/token`, and sends the access token it gets as a bearer token.

These paths answer without a bearer token, as their protocol requires: the discovery documents
hold nothing secret, and the token endpoint authenticates the client by its credentials. Errors
take OAuth's shape (RFC 6749 section 5.2): `{"error", "error_description"}`."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from modelcatalog.api.deps import ContextDep, anonymous, call
from modelcatalog.api.dialects import speaking
from modelcatalog.errors import InvalidParameter, TooManyRequests, Unauthenticated
from modelcatalog.service import audit, client_credentials

TOKEN_PATH = "/oidc/v1/token"
MAX_FORM_BYTES = 16 * 1024
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True, eq=False)
class OAuthErrors:
    """RFC 6749's error shape: `invalid_client` (401, with the challenge) for a refused client,
    `invalid_request` for a malformed one; the catalog's message as the description."""

    name: str = "OAuth 2.0"

    def response(self, kind: str, message: str, status: int) -> Response:
        error = {
            "UNAUTHENTICATED": "invalid_client",
            "REQUEST_LIMIT_EXCEEDED": "slow_down",
        }.get(kind, "invalid_request" if status < 500 else "server_error")
        headers = dict(NO_STORE)
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="modelcatalog"'
        return JSONResponse(
            {"error": error, "error_description": message}, status_code=status, headers=headers
        )


OAUTH = OAuthErrors()

# Protocol endpoints, specified by their RFCs rather than by the catalog's OpenAPI document.
router = APIRouter(route_class=speaking(OAUTH), include_in_schema=False)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/.well-known/databricks-config")
async def host_metadata(request: Request) -> dict:
    """Where this host's OAuth endpoints are, for databricks-sdk's host discovery."""
    return {"oidc_endpoint": f"{_base(request)}/oidc"}


@router.get("/oidc/.well-known/oauth-authorization-server")
async def authorization_server(request: Request) -> dict:
    """The authorization server's metadata (RFC 8414): the client credentials grant only."""
    base = _base(request)
    return {
        "issuer": f"{base}/oidc",
        "token_endpoint": f"{base}{TOKEN_PATH}",
        # databricks-sdk reads this field; no interactive grant is offered here.
        "authorization_endpoint": f"{base}/oidc/v1/authorize",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": list(client_credentials.SCOPES),
        "response_types_supported": [],
    }


def _refusal(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=NO_STORE
    )


async def _form(request: Request) -> dict[str, str]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise InvalidParameter(
            "The token request is sent as application/x-www-form-urlencoded, "
            f"not '{kind or 'nothing'}'."
        )
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InvalidParameter(f"The token request is larger than {MAX_FORM_BYTES // 1024} KiB.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise InvalidParameter("The token request is not UTF-8 text.") from None
    found: dict[str, str] = {}
    for key, value in pairs:
        if key in found:  # RFC 6749 section 3.2: parameters are sent once
            raise InvalidParameter(f"'{key}' is sent more than once.")
        found[key] = value
    return found


def _credentials(request: Request, form: dict[str, str]) -> tuple[str, str]:
    """The client id and secret, from HTTP Basic (its parts form-encoded, RFC 6749 section
    2.3.1) or from the form; never both."""
    header = request.headers.get("authorization", "")
    in_form = "client_secret" in form
    if header:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            raise Unauthenticated("The client authenticates with HTTP Basic or in the form.")
        if in_form:
            raise InvalidParameter("The client authenticated twice: with Basic and in the form.")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("The Basic credentials are not valid base64 text.") from None
        client_id, colon, secret = decoded.partition(":")
        if not colon:
            raise Unauthenticated("The Basic credentials are not 'client id:secret'.")
        return unquote_plus(client_id), unquote_plus(secret)
    if in_form:
        return form.get("client_id", ""), form["client_secret"]
    raise Unauthenticated(
        "No client credentials: send the client id and secret with HTTP Basic, or as "
        "client_id and client_secret in the form."
    )


@router.post(TOKEN_PATH)
async def token(request: Request, ctx: ContextDep) -> Response:
    """Client credentials in, a bearer access token out (an hour's)."""
    form = await _form(request)
    grant = form.get("grant_type", "")
    if grant != "client_credentials":
        return _refusal(
            "unsupported_grant_type",
            f"'grant_type' is {grant!r}: this catalog grants 'client_credentials' only.",
        )
    try:
        scope = client_credentials.scope_of(form.get("scope"))
    except InvalidParameter as exc:
        return _refusal("invalid_scope", exc.message)
    throttle = request.app.state.auth_throttle
    address = request.client.host if request.client else None
    who = anonymous(request)
    try:
        throttle.check(address)
        client_id, secret = _credentials(request, form)
        caller, secret_id = await call(client_credentials.client, ctx, client_id, secret)
    except (Unauthenticated, TooManyRequests) as exc:
        if isinstance(exc, Unauthenticated):
            throttle.failed(address)
        audit.record_refused_credentials(ctx.audit, who, request.url.path, exc.message, exc.kind)
        raise
    caller = replace(caller, request_id=who.request_id, client_address=who.client_address)
    issued = await call(client_credentials.issue, ctx, caller, secret_id, scope)
    request.state.principal = caller.name
    return JSONResponse(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        },
        headers=NO_STORE,
    )
