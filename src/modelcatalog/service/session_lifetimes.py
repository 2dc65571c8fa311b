"""How long a web UI session lives: unused, and at most."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_IDLE_SECONDS = 12 * 3600
DEFAULT_MAX_SECONDS = 7 * 86_400


@dataclass(frozen=True)
class SessionLifetimes:
    """How long a browser session lives unused (`idle_seconds`) and at most (`max_seconds`)."""

    idle_seconds: int = DEFAULT_IDLE_SECONDS
    max_seconds: int = DEFAULT_MAX_SECONDS

    def __post_init__(self) -> None:
        if self.idle_seconds < 60:
            raise ValueError(
                f"the session idle lifetime is {self.idle_seconds} seconds; it must be at least 60"
            )
        if self.max_seconds < self.idle_seconds:
            raise ValueError(
                f"the session lifetime ({self.max_seconds} seconds) must be at least its idle "
                f"lifetime ({self.idle_seconds} seconds)"
            )
