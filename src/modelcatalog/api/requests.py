"""Reading request fields the way stock clients send them.

MLflow sends GET fields as query parameters and other methods' fields as a JSON body; Unity
Catalog clients repeat path fields in both. A field may arrive through any of these."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from modelcatalog.domain import lineage, text
from modelcatalog.domain.lineage import Entity
from modelcatalog.errors import InvalidParameter, RequestTooLarge

DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024
"""The largest JSON body a request may carry, unless the server is told otherwise."""

MAX_DEPTH = 64
"""How deeply a JSON body may nest objects and lists."""


async def fields(request: Request) -> dict[str, Any]:
    """Query parameters overlaid with the JSON body (if any), every string checked against the
    text rules (the query and the path were checked when the caller was authenticated)."""
    merged: dict[str, Any] = dict(request.query_params)
    if request.method == "GET":
        return merged
    raw = await limited_body(request)
    if raw.strip():
        try:
            body = json.loads(raw)
        except RecursionError:
            raise InvalidParameter(
                f"The request body nests objects or lists deeper than {MAX_DEPTH} levels.", "body"
            ) from None
        except ValueError as exc:
            raise InvalidParameter(f"The request body is not valid JSON: {exc}.", "body") from None
        if not isinstance(body, dict):
            raise InvalidParameter("The request body must be a JSON object.", "body")
        problem = text.first_problem(body, "", max_depth=MAX_DEPTH)
        if problem is not None:
            raise InvalidParameter(problem, "body")
        merged.update(body)
    return merged


async def limited_body(request: Request) -> bytes:
    """The whole body, refused as soon as it passes the server's limit (never buffered past
    it): a declared length over the limit is refused before a byte is read."""
    limit: int = getattr(request.app.state, "max_request_bytes", DEFAULT_MAX_REQUEST_BYTES)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    pieces: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        pieces.append(chunk)
    raw = b"".join(pieces)
    request._body = raw  # as Starlette keeps it, for anything that reads the body again
    return raw


def _too_large(size: int, limit: int) -> RequestTooLarge:
    return RequestTooLarge(
        f"The request body is {size:,} bytes or more; this server accepts at most {limit:,} "
        "(--max-request-bytes). Model files go through the upload URLs, not JSON bodies.",
        "body",
    )


def checked_address(request: Request) -> None:
    """Refuse a path or query parameter that breaks the text rules, naming it."""
    # A path names things (lengths are the service's to judge): a single line, nothing more.
    for name, value in request.path_params.items():
        if isinstance(value, str):
            text.checked(value, name, text.DEFAULT)
    for name, value in request.query_params.multi_items():
        problem = text.problem(name, text.DEFAULT)
        if problem is not None:
            raise InvalidParameter(f"A query parameter's name {problem}.", "query")
        text.checked(value, name)


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


def flag(value: object, field: str) -> bool:
    """A boolean field, as JSON or as a query parameter; absent is false."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidParameter(f"'{field}' is {value!r}: expected true or false.", field)


def reported_lineage(request: Request) -> list[Entity]:
    """The notebook, job and tables a create request's lineage header reports (MLflow's
    `databricks-uc` client sends it for versions registered from a notebook or job run)."""
    return lineage.from_header(request.headers.get(lineage.HEADER))
