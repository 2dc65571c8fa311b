"""Slowing down repeated failed authentications from one client address.

Each address has a bucket of allowed failures that refills steadily; an address whose bucket is
empty is answered 429 with `Retry-After` for credentials not verified moments ago, without
checking them, so guessing tokens from it goes no faster than the refill. Other addresses, and
tokens this server verified recently (from any address), are not affected: the principal is
never locked out. Buckets are per server process."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict

from modelcatalog.errors import TooManyRequests

DEFAULT_FAILURES_PER_MINUTE = 30
MAX_ADDRESSES = 10_000
"""Addresses remembered at once; the longest-quiet ones are forgotten first."""


class FailedAuthThrottle:
    """A token bucket of failed authentications per client address."""

    def __init__(self, failures_per_minute: int = DEFAULT_FAILURES_PER_MINUTE) -> None:
        self.capacity = float(failures_per_minute)
        self.refill_per_second = failures_per_minute / 60.0
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def check(self, address: str | None) -> None:
        """Raise TooManyRequests if `address` has used up its failures for now."""
        if not self.enabled or address is None:
            return
        with self._lock:
            left = self._left(address, time.monotonic())
        if left < 1:
            wait = math.ceil((1 - left) / self.refill_per_second)
            raise TooManyRequests(
                f"Too many failed authentications from {address}; retry in {wait} seconds.",
                retry_after=wait,
            )

    def failed(self, address: str | None) -> None:
        """Count one failed authentication from `address`."""
        if not self.enabled or address is None:
            return
        with self._lock:
            now = time.monotonic()
            self._buckets[address] = (max(self._left(address, now) - 1, 0.0), now)
            self._buckets.move_to_end(address)
            while len(self._buckets) > MAX_ADDRESSES:
                self._buckets.popitem(last=False)

    def _left(self, address: str, now: float) -> float:
        left, at = self._buckets.get(address, (self.capacity, now))
        return min(self.capacity, left + (now - at) * self.refill_per_second)
