"""A run's or a verification's share of a plan's models, for runs spread over several machines."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Shard:
    """This run's share of the models: those whose stable hash falls in slot `index` of `count`."""

    index: int = 1
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`I/N` with 1 <= I <= N."""
        parts = text.split("/")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"'{text}' is not I/N (e.g. 1/4: the first of four shards)")
        index, count = int(parts[0]), int(parts[1])
        if count < 1 or not 1 <= index <= count:
            raise ValueError(f"'{text}': I must be from 1 to N, and N at least 1")
        return cls(index, count)

    def includes(self, source_name: str) -> bool:
        digest = hashlib.sha256(source_name.encode("utf-8")).hexdigest()
        return int(digest[:16], 16) % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
