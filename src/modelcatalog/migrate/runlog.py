"""The run log: one JSON object per line, appended and flushed as things happen.

It is the machine-readable record of a run (what was created, uploaded, skipped, failed) and
what a rerun reads to know which files of an interrupted version are already on the target.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO


@dataclass(frozen=True)
class LoggedFile:
    """A file a previous run uploaded."""

    size: int
    sha256: str


class RunLog:
    """Appends events to a JSON-lines file; safe to call from many worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._uploaded = read_uploaded(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: TextIO = open(path, "a", encoding="utf-8")  # noqa: SIM115

    def close(self) -> None:
        self._handle.close()

    def event(self, name: str, **fields: Any) -> None:
        """Append one event, flushed at once so a killed run leaves a complete record."""
        line = json.dumps({"time": round(time.time(), 3), "event": name, **fields})
        with self._lock:
            self._handle.write(line + "\n")
            self._handle.flush()

    def uploaded(self, model: str, version: int) -> dict[str, LoggedFile]:
        """Files of one version that earlier runs logged as uploaded, by path."""
        return dict(self._uploaded.get((model, version), {}))


def read_uploaded(path: Path) -> dict[tuple[str, int], dict[str, LoggedFile]]:
    """The `file_uploaded` events of versions a log does not record as copied (a torn last
    line is ignored): read line by line, and only what a rerun still needs is kept."""
    found: dict[tuple[str, int], dict[str, LoggedFile]] = {}
    for event in _events(path):
        name = event.get("event")
        if name == "file_uploaded":
            key = (str(event["model"]), int(event["version"]))
            found.setdefault(key, {})[str(event["path"])] = LoggedFile(
                int(event["size"]), str(event["sha256"])
            )
        elif name == "version_copied":
            found.pop((str(event["model"]), int(event["version"])), None)
    return found


def _events(path: Path) -> Iterator[dict[str, Any]]:
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115
    except FileNotFoundError:
        return
    with handle:
        for line in handle:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # the line a killed run was writing
            if isinstance(event, dict):
                yield event


def read_events(path: Path) -> list[dict[str, Any]]:
    """All complete events of a log file; none if it does not exist."""
    return list(_events(path))
