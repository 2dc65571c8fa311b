"""Recently verified tokens, kept in memory so that a busy client is not looked up on every
request."""

from __future__ import annotations

import threading
import time

from modelcatalog.service.caller import Caller
from modelcatalog.service.stamps import now_ms


class TokenCache:
    """Recently verified tokens, so that a busy client is not looked up on every request.

    An entry lives `ttl_seconds` at most and never past its token's expiry; revoking a token
    through this process drops it at once, and other replicas notice within the TTL."""

    def __init__(self, ttl_seconds: float = 5.0, max_entries: int = 10_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[Caller, float, int | None, str]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> Caller | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        caller, cached_at, expires_at, _ = entry
        if time.monotonic() - cached_at > self.ttl_seconds or (
            expires_at is not None and expires_at <= now_ms()
        ):
            self._entries.pop(digest, None)
            return None
        return caller

    def put(self, digest: str, caller: Caller, expires_at: int | None, token_id: str) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[digest] = (caller, time.monotonic(), expires_at, token_id)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def forget(self, token_id: str) -> None:
        with self._lock:
            for digest in [d for d, e in self._entries.items() if e[3] == token_id]:
                self._entries.pop(digest, None)
