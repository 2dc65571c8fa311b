"""Opaque page tokens for keyset pagination, and the clamp on page sizes."""

from __future__ import annotations

import base64
import json

from modelcatalog.domain.rules import as_int
from modelcatalog.errors import InvalidParameter

MAX_PAGE = 1000
# Versions are small rows and MLflow asks for 10,000 at once without paging further.
MAX_VERSION_PAGE = 10_000


def page_size(
    value: object, default: int = 100, field: str = "max_results", maximum: int = MAX_PAGE
) -> int:
    """Clamp a page size to 1..1000; 0 or absent means the default; negative is an error."""
    if value is None or value == "":
        return default
    try:
        size = as_int(value)
    except (TypeError, ValueError):
        raise InvalidParameter(f"'{field}' is '{value}': expected a whole number.", field) from None
    if size < 0:
        raise InvalidParameter(f"'{field}' is {size}: it must not be negative.", field)
    if size == 0:
        return default
    return min(size, maximum)


def encode(after: list) -> str:
    """A token that resumes a listing after the given sort key."""
    return base64.urlsafe_b64encode(json.dumps(after).encode()).decode().rstrip("=")


def decode(token: object, shape: tuple[type, ...], field: str = "page_token") -> list | None:
    """The sort key a token resumes after (None for the first page).

    `shape` is the type of each part of the key; a token of any other shape was not issued
    for this listing and is refused."""
    if token is None or token == "":
        return None
    try:
        text = str(token)
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = json.loads(raw)
    except ValueError:
        value = None
    if (
        not isinstance(value, list)
        or len(value) != len(shape)
        or not all(type(part) is kind for part, kind in zip(value, shape, strict=True))
    ):
        raise InvalidParameter(
            f"'{field}' is not a token this server issued for this listing; pass the "
            "next_page_token of the previous page unchanged.",
            field,
        )
    return value
