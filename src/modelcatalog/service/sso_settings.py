"""How the catalog trusts the organisation's OpenID Connect provider (single sign-on)."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_CLOCK_SKEW_SECONDS = 60
MAX_CLOCK_SKEW_SECONDS = 600
SECRET_VARIABLE = "MODELCATALOG_OIDC_CLIENT_SECRET"


@dataclass(frozen=True)
class SingleSignOn:
    """The provider (`issuer`), the catalog's client registration there, and how its tokens'
    claims map to principals."""

    issuer: str
    client_id: str
    # Read from MODELCATALOG_OIDC_CLIENT_SECRET only, never from a flag, and never shown.
    client_secret: str | None = field(default=None, repr=False)
    #: The `aud` that access tokens sent as bearer tokens must carry (default: the client id).
    audience: str | None = None
    #: The claim that lists a person's groups (none: memberships are not synchronised).
    groups_claim: str | None = "groups"
    #: Members of this group (named by the groups claim) are metastore admins.
    admin_group: str | None = None
    #: How far the provider's clock and ours may differ when expiry and issue times are checked.
    clock_skew_seconds: int = DEFAULT_CLOCK_SKEW_SECONDS

    def __post_init__(self) -> None:
        if not self.issuer.startswith(("https://", "http://")) or any(
            c in self.issuer for c in " \"<>'?#"
        ):
            raise ValueError(
                f"the OpenID Connect issuer is {self.issuer!r}; it must be an https:// URL "
                "(the provider's 'issuer', without /.well-known/openid-configuration)"
            )
        if not self.client_id.strip():
            raise ValueError("--oidc-client-id is required with --oidc-issuer")
        if not 0 <= self.clock_skew_seconds <= MAX_CLOCK_SKEW_SECONDS:
            raise ValueError(
                f"the clock skew tolerance is {self.clock_skew_seconds} seconds; it must be "
                f"between 0 and {MAX_CLOCK_SKEW_SECONDS}"
            )

    @property
    def issuer_url(self) -> str:
        """The issuer without a trailing slash, where its discovery document hangs."""
        return self.issuer.rstrip("/")

    @property
    def accepted_audience(self) -> str:
        return self.audience or self.client_id
