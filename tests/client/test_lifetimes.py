"""Token lifetimes as the CLI accepts them."""

import pytest

from modelcatalog.client.lifetimes import parse_lifetime


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3600s", 3600),
        ("90m", 5400),
        ("12h", 43200),
        ("30d", 2_592_000),
        ("1s", 1),
        (" 7d ", 604_800),
        ("2H", 7200),
    ],
    ids=["seconds", "minutes", "hours", "days", "one-second", "surrounding-space", "upper-unit"],
)
def test_lifetime_is_parsed_to_seconds(text: str, seconds: int) -> None:
    assert parse_lifetime(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "a lifetime is required"),
        ("30", "'30' has no unit"),
        ("3w", "unknown unit 'w'"),
        ("0d", "is zero"),
        ("d30", "is not a lifetime"),
        ("1.5h", "is not a lifetime"),
        ("-5m", "is not a lifetime"),
        ("5 m", "is not a lifetime"),
        ("1h30m", "one unit"),
    ],
    ids=[
        "empty",
        "no-unit",
        "unknown-unit",
        "zero",
        "unit-first",
        "fraction",
        "negative",
        "inner-space",
        "compound",
    ],
)
def test_bad_lifetime_names_the_problem(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_lifetime(text)
