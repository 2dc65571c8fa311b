"""What every stored record is stamped with: the time in milliseconds and a new opaque id."""

from __future__ import annotations

import time
import uuid


def now_ms() -> int:
    """Milliseconds since the epoch, the unit every wire dialect uses for timestamps."""
    return int(time.time() * 1000)


def new_id() -> str:
    """A new opaque object id."""
    return uuid.uuid4().hex
