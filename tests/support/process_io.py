"""Bytes a process (and its children) has read and written, from Linux's /proc/<pid>/io.

`rchar` and `wchar` count every byte passed through read- and write-like system calls: sockets,
files and pipes alike. A server that relays a model file reads it from one socket and writes it
to another, so both grow by at least the file's size; one that only authorizes grows by its
requests, answers and database work."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class IoBytes:
    read: int
    written: int

    def __sub__(self, other: IoBytes) -> IoBytes:
        return IoBytes(self.read - other.read, self.written - other.written)


def _descendants(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            found += _descendants(int(child))
    return found


def io_bytes(pid: int) -> IoBytes:
    """Bytes read and written so far by `pid` and every process below it."""
    read = written = 0
    for member in _descendants(pid):
        try:
            fields = dict(
                line.split(": ", 1) for line in Path(f"/proc/{member}/io").read_text().splitlines()
            )
        except FileNotFoundError:
            continue  # a child that exited meanwhile
        read += int(fields["rchar"])
        written += int(fields["wchar"])
    return IoBytes(read, written)
