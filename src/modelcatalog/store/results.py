"""What a statement's result says beyond its rows: how many rows an UPDATE or DELETE matched."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, Result


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched.

    `Session.execute` returns a `CursorResult` for every INSERT, UPDATE and DELETE, though its
    signature promises only a `Result`, which has no row count."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"a {type(result).__name__} carries no row count")
    return result.rowcount
