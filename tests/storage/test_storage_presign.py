"""Presigned URLs: what is signed must verify, and any change to it must not."""

from __future__ import annotations

import pytest

from modelcatalog.storage.presign import (
    ExpiredSignature,
    InvalidSignature,
    PresignError,
    new_secret,
    sign,
    verify,
)

SECRET = b"s" * 32
KEY = "0123456789abcdef0123456789abcdef/1/MLmodel"
NOW = 1_700_000_000
EXPIRES = NOW + 300


def signed(method: str = "GET", key: str = KEY, principal: str = "alice@example.com") -> dict:
    return sign(SECRET, method=method, key=key, expires_at=EXPIRES, principal=principal)


def test_round_trip_returns_the_principal() -> None:
    params = signed()
    assert set(params) == {"expires", "principal", "signature"}
    assert verify(SECRET, method="GET", key=KEY, params=params, now=NOW) == "alice@example.com"


def test_signature_is_url_safe() -> None:
    signature = signed()["signature"]
    assert set(signature) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_method_is_case_insensitive() -> None:
    assert verify(SECRET, method="get", key=KEY, params=signed("GET"), now=NOW)


@pytest.mark.parametrize(("signed_for", "used_for"), [("PUT", "GET"), ("GET", "PUT")])
def test_signed_method_is_bound(signed_for: str, used_for: str) -> None:
    with pytest.raises(InvalidSignature, match=f"{used_for} request"):
        verify(SECRET, method=used_for, key=KEY, params=signed(signed_for), now=NOW)


@pytest.mark.parametrize(
    "other_key",
    [KEY + "x", KEY[:-1], KEY.replace("/1/", "/2/"), KEY.upper(), KEY + "/", ""],
)
def test_signed_key_is_bound(other_key: str) -> None:
    with pytest.raises(InvalidSignature):
        verify(SECRET, method="GET", key=other_key, params=signed(), now=NOW)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("principal", "mallory@example.com"),
        ("principal", "alice@example.com "),
        ("expires", str(EXPIRES + 1)),
        ("expires", str(EXPIRES - 1)),
        ("signature", "A" * 43),
    ],
)
def test_tampered_parameter_fails(name: str, value: str) -> None:
    params = {**signed(), name: value}
    with pytest.raises(InvalidSignature):
        verify(SECRET, method="GET", key=KEY, params=params, now=NOW)


def test_tampered_signature_by_one_character_fails() -> None:
    params = signed()
    last = params["signature"][-1]
    params["signature"] = params["signature"][:-1] + ("A" if last != "A" else "B")
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(SECRET, method="GET", key=KEY, params=params, now=NOW)


@pytest.mark.parametrize("expires", [" 1700000300", "+1700000300", "1_700_000_300", "1e9", "-5"])
def test_malformed_expiry_fails(expires: str) -> None:
    with pytest.raises(InvalidSignature, match="malformed"):
        verify(SECRET, method="GET", key=KEY, params={**signed(), "expires": expires}, now=NOW)


@pytest.mark.parametrize("missing", ["expires", "principal", "signature"])
def test_missing_parameter_fails(missing: str) -> None:
    params = {name: value for name, value in signed().items() if name != missing}
    with pytest.raises(InvalidSignature, match=f"lacks query parameter.*{missing}"):
        verify(SECRET, method="GET", key=KEY, params=params, now=NOW)


def test_other_secret_fails() -> None:
    with pytest.raises(InvalidSignature):
        verify(new_secret(), method="GET", key=KEY, params=signed(), now=NOW)


@pytest.mark.parametrize("now", [EXPIRES, EXPIRES + 0.5, EXPIRES + 86_400])
def test_expired_fails(now: float) -> None:
    with pytest.raises(ExpiredSignature, match="expired"):
        verify(SECRET, method="GET", key=KEY, params=signed(), now=now)


def test_valid_until_just_before_expiry() -> None:
    assert verify(SECRET, method="GET", key=KEY, params=signed(), now=EXPIRES - 0.001)


def test_expired_and_tampered_is_invalid_not_expired() -> None:
    params = {**signed(), "principal": "mallory"}
    with pytest.raises(InvalidSignature):
        verify(SECRET, method="GET", key=KEY, params=params, now=EXPIRES + 10)


def test_errors_share_a_base() -> None:
    assert issubclass(InvalidSignature, PresignError)
    assert issubclass(ExpiredSignature, PresignError)


def test_fields_cannot_be_shifted_between_key_and_principal() -> None:
    # With naive concatenation "a\nb" + "c" and "a" + "b\nc" would sign the same string.
    first = sign(SECRET, method="GET", key="k\nx", expires_at=EXPIRES, principal="p")
    second = sign(SECRET, method="GET", key="k", expires_at=EXPIRES, principal="x\np")
    assert first["signature"] != second["signature"]


def test_new_secret_is_random_and_long_enough() -> None:
    assert len(new_secret()) == 32
    assert new_secret() != new_secret()


@pytest.mark.parametrize("secret", [b"", b"short", "s" * 32])
def test_weak_or_non_bytes_secret_is_refused(secret: object) -> None:
    with pytest.raises(ValueError, match="secret"):
        sign(secret, method="GET", key=KEY, expires_at=EXPIRES, principal="a")  # type: ignore[arg-type]
