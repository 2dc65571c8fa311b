"""Validation of names, aliases, tags and descriptions, as DESIGN.md states them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import SupportsIndex, SupportsInt

from modelcatalog.domain import text
from modelcatalog.errors import InvalidParameter

NAME_PART = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
ALIAS = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)
TAG_KEY_FORBIDDEN = set(".,-=/:")
MAX_TAGS = 50
MAX_TAG_KEY = 255
MAX_TAG_VALUE = text.FIELDS["value"].max_length or 1000
MAX_COMMENT = text.MAX_COMMENT
MAX_VERSION = 2**31 - 1
STAGE_WORDS = {"production", "staging", "archived", "none", "latest"}


@dataclass(frozen=True)
class ModelName:
    """A registered model's full name, `catalog.schema.model`, stored lower-case."""

    catalog: str
    schema: str
    model: str

    @property
    def full(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.model}"

    def __str__(self) -> str:
        return self.full


def name_part(value: object, field: str) -> str:
    """Check one part of a securable name and return it lower-cased."""
    if not isinstance(value, str) or not value:
        problem = "is required" if value in (None, "") else "must be a string"
        raise InvalidParameter(
            f"'{field}' {problem}: a name of 1 to 255 letters, digits, '_' or '-'.", field
        )
    if not NAME_PART.fullmatch(value):
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise InvalidParameter(
            f"'{field}' is '{shown}': a name part must be 1 to 255 characters of letters, "
            "digits, '_' or '-' (no dots, spaces or other characters).",
            field,
        )
    return value.lower()


def split_full_name(value: object, field: str, parts: int) -> tuple[str, ...]:
    """Split a dotted full name of exactly `parts` parts, each checked and lower-cased."""
    shapes = {2: "catalog.schema", 3: "catalog.schema.model"}
    words = {2: "two", 3: "three"}
    if not isinstance(value, str) or not value:
        raise InvalidParameter(f"'{field}' is required: a full name '{shapes[parts]}'.", field)
    pieces = value.split(".")
    if len(pieces) != parts:
        raise InvalidParameter(
            f"'{field}' is '{value}': expected a {parts}-level name '{shapes[parts]}' "
            f"(got {len(pieces)} part{'s' if len(pieces) != 1 else ''}); "
            f"specify all {words[parts]} levels of the name.",
            field,
        )
    return tuple(name_part(p, field) for p in pieces)


def model_name(value: object, field: str = "name") -> ModelName:
    """Parse `catalog.schema.model`."""
    catalog, schema, model = split_full_name(value, field, 3)
    return ModelName(catalog, schema, model)


def version_number(value: object, field: str = "version") -> int:
    """A model version number: a positive integer, given as int or digits."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, float) and value.is_integer():  # JSON does not tell 1.0 from 1
        value = int(value)
    if isinstance(value, int) and 0 < value <= MAX_VERSION:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        if 0 < int(value) <= MAX_VERSION:
            return int(value)
    word = str(value).strip().lower() if value is not None else ""
    if word in STAGE_WORDS:
        raise InvalidParameter(
            f"'{field}' is '{value}': stages and 'latest' do not exist in the catalog; "
            "refer to a version by its number or by an alias (models:/catalog.schema.model@alias).",
            field,
        )
    raise InvalidParameter(
        f"'{field}' is '{value}': expected a version number from 1 to {MAX_VERSION}.", field
    )


def alias_name(value: object, field: str = "alias") -> str:
    """Check an alias name; `latest` and `v<digits>` are reserved because MLflow resolves them."""
    if not isinstance(value, str) or not ALIAS.fullmatch(value):
        raise InvalidParameter(
            f"'{field}' is '{value}': an alias is 1 to 255 letters, digits, '_' or '-'.", field
        )
    if RESERVED_ALIAS.fullmatch(value):
        raise InvalidParameter(
            f"'{field}' is '{value}': 'latest' and 'v<number>' are reserved alias names "
            "(MLflow resolves them itself).",
            field,
        )
    return value


def tag_key(value: object, field: str = "key") -> str:
    """Check a tag key: 1 to 255 characters, none of . , - = / :"""
    if not isinstance(value, str) or not value or len(value) > MAX_TAG_KEY:
        raise InvalidParameter(
            f"'{field}' must be a tag key of 1 to {MAX_TAG_KEY} characters.", field
        )
    text.checked(value, field, text.FIELDS["key"])
    bad = sorted(set(value) & TAG_KEY_FORBIDDEN)
    if bad:
        raise InvalidParameter(
            f"'{field}' is '{value}': tag keys may not contain {' '.join(bad)} "
            "(forbidden: . , - = / :).",
            field,
        )
    return value


def tag_value(value: object, field: str = "value") -> str:
    """Check a tag value: a string of at most 1000 characters (absent means empty)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidParameter(f"'{field}' must be a string.", field)
    if len(value) > MAX_TAG_VALUE:
        raise InvalidParameter(
            f"'{field}' is {len(value)} characters long; a tag value is at most {MAX_TAG_VALUE}.",
            field,
        )
    return text.checked(value, field, text.FIELDS["value"])


def comment(value: object, field: str = "comment") -> str | None:
    """Check a Markdown description: at most 65,536 characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParameter(f"'{field}' must be a string.", field)
    if len(value) > MAX_COMMENT:
        raise InvalidParameter(
            f"'{field}' is {len(value)} characters long; a description is at most {MAX_COMMENT:,}.",
            field,
        )
    return text.checked(value, field, text.FIELDS["comment"])


_PRINCIPAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@+-]{0,254}$")


def principal_name(value: object, field: str = "name") -> str:
    """A user's, service principal's or group's name, as identity providers hand them out
    (emails, application ids, group names with spaces); compared exactly."""
    if not isinstance(value, str) or not _PRINCIPAL.fullmatch(value):
        raise InvalidParameter(
            f"'{field}' is {value!r}: a principal's name is 1 to 255 characters, starting with a "
            "letter or digit, then letters, digits, spaces or . _ @ + -.",
            field,
        )
    return value


def optional_text(value: object, field: str) -> str | None:
    """A text field that may be absent (None or empty), checked by its rule in `text.FIELDS`;
    anything but a string is refused."""
    if value is not None and not isinstance(value, str):
        raise InvalidParameter(f"'{field}' must be a string.", field)
    return text.checked(value, field) if value else None


def lifetime_seconds(
    value: object, maximum: int, limit_words: str, absent_words: str, *, zero_is_absent: bool
) -> int | None:
    """A lifetime in whole seconds from 1 to `maximum`, or None when none is given (also 0
    when `zero_is_absent`); the message says the limit and what no lifetime means."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON does not tell 60.0 from 60
    absent: tuple[object, ...] = (None, "", 0) if zero_is_absent else (None, "")
    if not isinstance(value, bool) and value in absent:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= maximum:
        raise InvalidParameter(
            f"'lifetime_seconds' is {value!r}: expected a whole number of seconds from 1 to "
            f"{maximum} ({limit_words}), or none for {absent_words}.",
            "lifetime_seconds",
        )
    return value


def as_int(value: object) -> int:
    """`int(value)` for a value of any type, such as one read from a request; TypeError for a
    value int() does not take."""
    if isinstance(value, (str, bytes, bytearray, SupportsInt, SupportsIndex)):
        return int(value)
    raise TypeError(f"int() does not take a {type(value).__name__}")


def whole_number(value: object) -> object:
    """`value` as an int when it writes a whole number: a float such as 60.0 (JSON does not tell
    60.0 from 60) or ASCII digits with blanks around; anything else unchanged."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return value
