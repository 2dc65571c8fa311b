"""Single sign-on settings: read once from flags and MODELCATALOG_OIDC_* variables, handed to
the server's processes whole, the client secret never written anywhere but where it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelcatalog.config import ServerSettings, single_sign_on
from modelcatalog.service.sso_settings import SingleSignOn

SECRET = "a-client-secret-that-must-not-travel"


def test_single_sign_on_settings_read_back_the_same_without_the_secret(tmp_path: Path) -> None:
    sso = SingleSignOn(
        issuer="https://login.example.com/oauth2/default",
        client_id="0oa1modelcatalog",
        client_secret=SECRET,
        audience="api://modelcatalog",
        groups_claim="roles",
        admin_group="catalog-admins",
        clock_skew_seconds=5,
    )
    settings = ServerSettings.resolve(
        data_dir=str(tmp_path), sso=sso, personal_tokens_for_users=False
    )
    variables = settings.to_environment()
    assert SECRET not in variables.values()
    assert SECRET not in repr(settings)
    # Worker processes find the secret where the server found it.
    read = ServerSettings.from_environment({**variables, "MODELCATALOG_OIDC_CLIENT_SECRET": SECRET})
    assert read == settings


def test_flags_win_and_an_empty_groups_claim_turns_memberships_off() -> None:
    env = {
        "MODELCATALOG_OIDC_ISSUER": "https://old.example.com",
        "MODELCATALOG_OIDC_CLIENT_ID": "old",
        "MODELCATALOG_OIDC_GROUPS_CLAIM": "groups",
    }
    sso = single_sign_on(env, issuer="https://new.example.com", groups_claim="")
    assert sso is not None
    assert (sso.issuer, sso.client_id, sso.groups_claim) == ("https://new.example.com", "old", None)
    assert sso.accepted_audience == "old"
    assert single_sign_on({}) is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MODELCATALOG_OIDC_CLIENT_ID": "c"}, "without --oidc-issuer"),
        ({"MODELCATALOG_OIDC_ISSUER": "https://login.example.com"}, "--oidc-client-id is required"),
        (
            {"MODELCATALOG_OIDC_ISSUER": "login.example.com", "MODELCATALOG_OIDC_CLIENT_ID": "c"},
            "must be an https:// URL",
        ),
        (
            {
                "MODELCATALOG_OIDC_ISSUER": "https://login.example.com",
                "MODELCATALOG_OIDC_CLIENT_ID": "c",
                "MODELCATALOG_OIDC_CLOCK_SKEW_SECONDS": "3600",
            },
            "between 0 and 600",
        ),
        (
            {
                "MODELCATALOG_OIDC_ISSUER": "https://login.example.com",
                "MODELCATALOG_OIDC_CLIENT_ID": "c",
                "MODELCATALOG_OIDC_CLOCK_SKEW_SECONDS": "a minute",
            },
            "expected a number",
        ),
    ],
    ids=[
        "client-without-issuer",
        "issuer-without-client",
        "not-a-url",
        "skew-too-large",
        "skew-nan",
    ],
)
def test_settings_that_cannot_work_are_refused_saying_why(env: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        single_sign_on(env)
