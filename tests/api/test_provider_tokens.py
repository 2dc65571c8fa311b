"""How a token of the identity provider is judged, claim by claim, and what each refusal says.

The end-to-end tests get real tokens from a real provider; these cases need tokens no honest
provider hands out (dated in the future, unsigned, for another issuer), so they are signed here
with a key the provider's JWKS document publishes, served to the catalog's client in process."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from modelcatalog.errors import Unauthenticated, Unavailable
from modelcatalog.service.identity_provider import IdentityProvider, ProviderMisconfigured
from modelcatalog.service.sso_settings import SingleSignOn

ISSUER = "https://login.example.com"
AUDIENCE = "api://modelcatalog"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwks(*keys: tuple[str, Any]) -> dict:
    published = []
    for kid, key in keys:
        entry = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        published.append({**entry, "kid": kid, "use": "sig", "alg": "RS256"})
    return {"keys": published}


class Provider:
    """The provider's two documents, as its HTTP endpoints would serve them."""

    def __init__(self) -> None:
        self.keys = _jwks(("k1", KEY))
        self.fetches = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "jwks_uri": f"{ISSUER}/jwks",
                    "token_endpoint": f"{ISSUER}/token",
                },
            )
        if request.url.path == "/jwks":
            self.fetches += 1
            return httpx.Response(200, json=self.keys)
        return httpx.Response(404)


@pytest.fixture
def served() -> Provider:
    return Provider()


@pytest.fixture
def provider(served: Provider) -> IdentityProvider:
    settings = SingleSignOn(issuer=ISSUER, client_id="catalog", clock_skew_seconds=30)
    return IdentityProvider(settings, httpx.Client(transport=httpx.MockTransport(served.handle)))


def _token(key: Any = KEY, kid: str = "k1", algorithm: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "ada", "iat": now, "exp": now + 300, **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key, algorithm=algorithm, headers={"kid": kid})


def test_a_token_within_every_rule_gives_its_claims(provider: IdentityProvider) -> None:
    claims = provider.verify(_token(email="ada@example.com"), audience=AUDIENCE)
    assert (claims["sub"], claims["email"]) == ("ada", "ada@example.com")


def test_times_within_the_clock_skew_are_accepted(provider: IdentityProvider) -> None:
    now = _now()
    provider.verify(_token(iat=now + 20, exp=now - 20), audience=AUDIENCE)


def _now() -> int:
    return int(time.time())


# Tokens are made when the test runs (their times are relative to then).
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: _token(exp=_now() - 120), "has expired"),
        (lambda: _token(iat=_now() + 120), "dated in the future"),
        (lambda: _token(nbf=_now() + 120), "dated in the future"),
        (lambda: _token(aud="api://another"), "for the audience 'api://another'"),
        (lambda: _token(iss="https://evil.example.com"), "issued by 'https://evil.example.com'"),
        (lambda: _token(sub=None), "no 'sub' claim"),
        (lambda: _token(exp=None), "no 'exp' claim"),
        (lambda: _token(key=OTHER_KEY), "signature does not verify"),
        (lambda: _token(kid="unknown"), "does not publish"),
        (lambda: _token(key="a shared secret of thirty-two bytes!", algorithm="HS256"), "'HS256'"),
        (lambda: jwt.encode({"sub": "ada"}, None, algorithm="none"), "'none'"),
        (lambda: "eyJ.not.a-token", "not a valid JWT"),
    ],
    ids=[
        "expired",
        "issued-in-the-future",
        "not-yet-valid",
        "other-audience",
        "other-issuer",
        "no-subject",
        "no-expiry",
        "other-key",
        "unknown-key",
        "shared-secret",
        "unsigned",
        "garbage",
    ],
)
def test_a_token_breaking_a_rule_is_refused_saying_which(
    provider: IdentityProvider, make: Callable[[], str], message: str
) -> None:
    token = make()
    with pytest.raises(Unauthenticated, match=message):
        provider.verify(token, audience=AUDIENCE)


def test_the_expiry_message_states_the_tolerance(provider: IdentityProvider) -> None:
    with pytest.raises(Unauthenticated, match=r"clock skew tolerance 30 s"):
        provider.verify(_token(exp=_now() - 120), audience=AUDIENCE)


def test_a_new_key_is_fetched_once_and_made_up_key_ids_do_not_refetch(
    provider: IdentityProvider, served: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider.verify(_token(), audience=AUDIENCE)
    assert served.fetches == 1
    served.keys = _jwks(("k2", OTHER_KEY), ("k1", KEY))
    # A rotation is seen only once the last fetch is a few seconds old.
    monkeypatch.setattr(provider, "_keys_fetched_at", time.monotonic() - 10)
    provider.verify(_token(key=OTHER_KEY, kid="k2"), audience=AUDIENCE)
    assert served.fetches == 2
    for _ in range(5):
        with pytest.raises(Unauthenticated, match="does not publish"):
            provider.verify(_token(kid="made-up"), audience=AUDIENCE)
    assert served.fetches == 2


def test_an_unreachable_provider_is_unavailable_not_a_bad_token() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    settings = SingleSignOn(issuer=ISSUER, client_id="catalog")
    provider = IdentityProvider(settings, httpx.Client(transport=httpx.MockTransport(down)))
    with pytest.raises(Unavailable, match="discovery document .* cannot be read"):
        provider.verify(_token(), audience=AUDIENCE)
    with pytest.raises(ProviderMisconfigured, match="cannot be read"):
        provider.check()
