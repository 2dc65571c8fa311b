"""The organisation's OpenID Connect provider, as the catalog talks to it: its discovery
document, its signing keys (JWKS), its tokens checked, and the three exchanges the catalog makes
there (authorization code with PKCE, device authorization, user info).

Tokens are checked with PyJWT: signature by a key of the provider's JWKS (asymmetric algorithms
only), issuer, audience, expiry and issue time within the stated clock skew. Keys are cached per
process; a token signed by a key not yet seen fetches the JWKS again (at most every few
seconds, so that made-up key ids cannot turn every request into a fetch), which is how a
provider's key rotation is followed."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from modelcatalog.errors import Unauthenticated, Unavailable
from modelcatalog.service.sso_settings import SingleSignOn

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
"""Signature algorithms accepted: asymmetric ones only (never `none`, never a shared secret)."""
JWKS_MAX_AGE_SECONDS = 3600.0
"""Keys are fetched again at least this often."""
JWKS_MIN_REFETCH_SECONDS = 5.0
"""An unknown key id fetches the keys again at most this often."""
HTTP_TIMEOUT_SECONDS = 10.0
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class ProviderMisconfigured(ValueError):
    """The provider cannot be used as configured (said at server start)."""


class DeviceFlowPending(Exception):
    """The person has not finished the device sign-in yet (`slow_down`: poll less often)."""

    def __init__(self, slow_down: bool) -> None:
        super().__init__("authorization pending")
        self.slow_down = slow_down


def looks_like_jwt(token: str) -> bool:
    """Whether a bearer token is a JWT (three base64url parts, a JSON header) rather than one
    of the catalog's own tokens."""
    return token.startswith("eyJ") and token.count(".") == 2


@dataclass(frozen=True)
class Tokens:
    """What the provider's token endpoint answered."""

    id_token: str | None
    access_token: str | None


class IdentityProvider:
    """One provider, its metadata and keys cached for this process."""

    def __init__(self, settings: SingleSignOn, http: httpx.Client | None = None) -> None:
        self.settings = settings
        self._http = http or httpx.Client(timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False)
        # Reentrant: fetching the keys reads the metadata, each under the lock.
        self._lock = threading.RLock()
        self._metadata: dict[str, Any] | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._keys_fetched_at = float("-inf")

    # -- discovery and keys ------------------------------------------------------------------

    @property
    def discovery_url(self) -> str:
        return f"{self.settings.issuer_url}/.well-known/openid-configuration"

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = self._http.get(url)
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"The identity provider's {what} at {url} cannot be read: {exc or type(exc)}."
            ) from None
        if response.status_code != 200:
            raise Unavailable(
                f"The identity provider's {what} at {url} answered {response.status_code}."
            )
        try:
            body = response.json()
        except ValueError:
            raise Unavailable(f"The identity provider's {what} at {url} is not JSON.") from None
        if not isinstance(body, dict):
            raise Unavailable(f"The identity provider's {what} at {url} is not a JSON object.")
        return body

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, read once per process."""
        if self._metadata is not None:
            return self._metadata
        with self._lock:
            if self._metadata is None:
                found = self._get_json(self.discovery_url, "discovery document")
                issuer = str(found.get("issuer", ""))
                if issuer.rstrip("/") != self.settings.issuer_url:
                    raise Unavailable(
                        f"The discovery document at {self.discovery_url} names the issuer "
                        f"{issuer!r}, not {self.settings.issuer!r}: set --oidc-issuer to the "
                        "provider's issuer exactly."
                    )
                for needed in ("jwks_uri", "token_endpoint"):
                    if not found.get(needed):
                        raise Unavailable(
                            f"The discovery document at {self.discovery_url} has no {needed}."
                        )
                self._metadata = found
        return self._metadata

    def _fetch_keys(self) -> None:
        url = str(self.metadata()["jwks_uri"])
        document = self._get_json(url, "signing keys (JWKS)")
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys") or []:
            if not isinstance(entry, Mapping) or entry.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK.from_dict(dict(entry))
            except jwt.PyJWTError:
                continue  # a kind of key this catalog does not use
            keys[str(entry.get("kid", ""))] = key
        if not keys:
            raise Unavailable(f"The identity provider's JWKS at {url} holds no signing key.")
        self._keys = keys
        self._keys_fetched_at = time.monotonic()

    def _key(self, kid: str) -> jwt.PyJWK:
        age = time.monotonic() - self._keys_fetched_at
        found = self._keys.get(kid)
        if found is not None and age < JWKS_MAX_AGE_SECONDS:
            return found
        with self._lock:
            age = time.monotonic() - self._keys_fetched_at
            if (found is None and age >= JWKS_MIN_REFETCH_SECONDS) or age >= JWKS_MAX_AGE_SECONDS:
                self._fetch_keys()
            found = self._keys.get(kid)
        if found is None:
            raise Unauthenticated(
                f"The token is signed with a key ('{kid}') that the identity provider does not "
                "publish."
            )
        return found

    def check(self) -> None:
        """Read the discovery document and the keys now (at server start); ProviderMisconfigured
        saying what is wrong otherwise."""
        try:
            self.metadata()
            with self._lock:
                self._fetch_keys()
        except Unavailable as exc:
            raise ProviderMisconfigured(exc.message) from None

    # -- tokens ------------------------------------------------------------------------------

    def verify(
        self, token: str, *, audience: str, what: str = "token", nonce: str | None = None
    ) -> dict[str, Any]:
        """The claims of a JWT the provider signed for `audience`; Unauthenticated saying why
        it is refused otherwise (Unavailable while the provider's keys cannot be read)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated(f"The {what} is not a valid JWT.") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise Unauthenticated(
                f"The {what} is signed with {algorithm!r}; this catalog accepts "
                f"{', '.join(ALGORITHMS)} from its identity provider."
            )
        key = self._key(str(header.get("kid", "")))
        skew = self.settings.clock_skew_seconds
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=audience,
                issuer=str(self.metadata()["issuer"]),
                leeway=skew,
                options={"require": ["exp", "iat", "iss", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated(
                f"The {what} has expired{self._ago(token)} (clock skew tolerance {skew} s)."
            ) from None
        except jwt.InvalidAudienceError:
            said = self._unverified(token).get("aud")
            raise Unauthenticated(
                f"The {what} is for the audience {said!r}; this catalog accepts tokens for "
                f"{audience!r} (--oidc-audience, default the client id)."
            ) from None
        except jwt.InvalidIssuerError:
            said = self._unverified(token).get("iss")
            raise Unauthenticated(
                f"The {what} was issued by {said!r}, not by {self.settings.issuer!r}."
            ) from None
        except (jwt.ImmatureSignatureError, jwt.InvalidIssuedAtError):
            raise Unauthenticated(
                f"The {what} is dated in the future: the identity provider's clock and this "
                f"server's differ by more than the tolerated {skew} s."
            ) from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated(f"The {what} has no '{exc.claim}' claim.") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated(f"The {what}'s signature does not verify.") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"The {what} is not valid: {exc}.") from None
        if nonce is not None and claims.get("nonce") != nonce:
            raise Unauthenticated(f"The {what} does not carry this sign-in's nonce.")
        return claims

    @staticmethod
    def _unverified(token: str) -> dict[str, Any]:
        try:
            return jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return {}

    def _ago(self, token: str) -> str:
        expired = self._unverified(token).get("exp")
        if not isinstance(expired, (int, float)):
            return ""
        return f" {int(time.time() - expired)} s ago"

    # -- exchanges ---------------------------------------------------------------------------

    def _endpoint(self, name: str, purpose: str) -> str:
        found = self.metadata().get(name)
        if not found:
            raise Unavailable(f"The identity provider offers no {name}, which {purpose} needs.")
        return str(found)

    def scopes(self) -> str:
        """What to ask for: who the person is, their e-mail, and their groups where the
        provider has a scope for them."""
        supported = self.metadata().get("scopes_supported") or []
        extra = [s for s in ("groups",) if s in supported]
        return " ".join(["openid", "email", "profile", *extra])

    def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> str:
        """Where a browser signs in (authorization code flow with PKCE, S256)."""
        endpoint = self._endpoint("authorization_endpoint", "browser sign-in")
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.client_id,
                "redirect_uri": redirect_uri,
                "scope": self.scopes(),
                "state": state,
                "nonce": nonce,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    def _client_auth(self) -> dict[str, Any]:
        if self.settings.client_secret:
            return {"auth": (self.settings.client_id, self.settings.client_secret)}
        return {}

    def _token_request(self, form: dict[str, str]) -> httpx.Response:
        if not self.settings.client_secret:
            form = {**form, "client_id": self.settings.client_id}
        try:
            return self._http.post(
                str(self.metadata()["token_endpoint"]), data=form, **self._client_auth()
            )
        except httpx.HTTPError as exc:
            raise Unavailable(f"The identity provider's token endpoint failed: {exc}.") from None

    @staticmethod
    def _tokens(response: httpx.Response, what: str) -> Tokens:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            detail = body.get("error_description") if isinstance(body, dict) else None
            raise Unauthenticated(
                f"The identity provider refused the {what}: {error or response.status_code}"
                + (f" ({detail})" if detail else "")
                + "."
            )
        return Tokens(body.get("id_token"), body.get("access_token"))

    def exchange_code(self, code: str, *, redirect_uri: str, code_verifier: str) -> Tokens:
        response = self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            }
        )
        return self._tokens(response, "authorization code")

    def start_device(self) -> dict[str, Any]:
        """A device authorization (RFC 8628): codes for the person to confirm elsewhere."""
        endpoint = self._endpoint("device_authorization_endpoint", "sign-in from a terminal")
        form = {"scope": self.scopes()}
        if not self.settings.client_secret:
            form["client_id"] = self.settings.client_id
        try:
            response = self._http.post(endpoint, data=form, **self._client_auth())
        except httpx.HTTPError as exc:
            raise Unavailable(f"The identity provider's device endpoint failed: {exc}.") from None
        if response.status_code != 200:
            raise Unavailable(
                f"The identity provider refused a device authorization ({response.status_code}): "
                f"{response.text[:200]}"
            )
        body: dict[str, Any] = response.json()
        return body

    def poll_device(self, device_code: str) -> Tokens:
        """The tokens of a finished device sign-in; DeviceFlowPending until the person is done."""
        response = self._token_request({"grant_type": DEVICE_GRANT, "device_code": device_code})
        if response.status_code == 400:
            try:
                error = response.json().get("error")
            except ValueError:
                error = None
            if error in ("authorization_pending", "slow_down"):
                raise DeviceFlowPending(error == "slow_down")
        return self._tokens(response, "device sign-in")

    def userinfo(self, access_token: str) -> dict[str, Any]:
        """The user info the provider gives for an access token (empty if it gives none)."""
        endpoint = self.metadata().get("userinfo_endpoint")
        if not endpoint:
            return {}
        try:
            response = self._http.get(
                str(endpoint), headers={"Authorization": f"Bearer {access_token}"}
            )
        except httpx.HTTPError:
            return {}
        if response.status_code != 200:
            return {}
        try:
            found = response.json()
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}

    def end_session_url(self, post_logout_redirect_uri: str) -> str | None:
        """Where to sign out of the provider too (RP-initiated logout), if it says."""
        endpoint = self.metadata().get("end_session_endpoint")
        if not endpoint:
            return None
        query = urlencode(
            {
                "client_id": self.settings.client_id,
                "post_logout_redirect_uri": post_logout_redirect_uri,
            }
        )
        return f"{endpoint}{'&' if '?' in str(endpoint) else '?'}{query}"
