"""Reading request fields the way stock clients send them.

MLflow sends GET fields as query parameters and other methods' fields as a JSON body; Unity
Catalog clients repeat path fields in both. A field may arrive through any of these."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from modelcatalog.errors import InvalidParameter


async def fields(request: Request) -> dict[str, Any]:
    """Query parameters overlaid with the JSON body (if any)."""
    merged: dict[str, Any] = dict(request.query_params)
    if request.method == "GET":
        return merged
    raw = await request.body()
    if raw.strip():
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise InvalidParameter(f"The request body is not valid JSON: {exc}.", "body") from None
        if not isinstance(body, dict):
            raise InvalidParameter("The request body must be a JSON object.", "body")
        merged.update(body)
    return merged


def tag_pairs(value: object, field: str = "tags") -> dict[str, object]:
    """`[{"key": .., "value": ..}, ...]` as a dict, with a precise error for anything else."""
    if value in (None, ""):
        return {}
    if not isinstance(value, list):
        raise InvalidParameter(f"'{field}' must be a list of {{key, value}} objects.", field)
    pairs: dict[str, object] = {}
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise InvalidParameter(
                f"'{field}[{i}]' must be an object with 'key' (a string) and 'value'.", field
            )
        pairs[item["key"]] = item.get("value")
    return pairs


def flag(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1", "yes"))
