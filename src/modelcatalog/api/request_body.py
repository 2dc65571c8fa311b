"""A request body as a blocking stream for a worker thread, filled by the event loop.

The event loop receives the body and hands it over in batches of at least :data:`BLOCK` bytes
through a queue a few batches deep, so receiving the next bytes overlaps with hashing and writing
the previous ones in the worker thread, and memory stays bounded whatever the body's size. The
pieces the server received are handed over as they are: joining them would copy every byte once
more, which costs as much as hashing them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.abc
import anyio.from_thread
from anyio.streams.memory import MemoryObjectReceiveStream
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from modelcatalog.errors import InvalidParameter

BLOCK = 1 << 20
"""Bytes handed to the worker thread at a time (at least)."""

DEPTH = 4
"""Batches that may wait in the queue before the event loop stops reading the socket."""

T = TypeVar("T")


class RequestBody:
    """The body as a read-only binary stream, for code running in a worker thread."""

    def __init__(self, receive: MemoryObjectReceiveStream[list[bytes]]) -> None:
        self._receive = receive
        self._batch: list[bytes] = []
        self._block = b""
        self._offset = 0
        self._failure: str | None = None

    def __str__(self) -> str:
        return "request body"

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (a whole piece as received when `size` is negative); b"" at the
        end."""
        if self._offset == len(self._block):
            if not self._batch:
                try:
                    self._batch = anyio.from_thread.run(self._receive.receive)
                except anyio.EndOfStream:
                    if self._failure is not None:
                        raise InvalidParameter(
                            f"The request body ended early: {self._failure}.", "body"
                        ) from None
                    return b""
                self._batch.reverse()
            self._block = self._batch.pop()
            self._offset = 0
        if self._offset == 0 and (size < 0 or size >= len(self._block)):
            self._offset = len(self._block)
            return self._block  # the whole block, without a copy
        end = len(self._block) if size < 0 else min(len(self._block), self._offset + size)
        data = self._block[self._offset : end]
        self._offset = end
        return data

    def fail(self, reason: str) -> None:
        self._failure = reason


async def with_body(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(*args, body)` in a worker thread while the event loop feeds it the body."""
    send, receive = anyio.create_memory_object_stream[list[bytes]](max_buffer_size=DEPTH)
    body = RequestBody(receive)

    async def pump() -> None:
        async with send:
            pending: list[bytes] = []
            size = 0
            try:
                async for chunk in request.stream():
                    if not chunk:
                        continue
                    pending.append(chunk)
                    size += len(chunk)
                    if size >= BLOCK:
                        await send.send(pending)
                        pending, size = [], 0
            except Exception as exc:  # the client went away mid-body
                body.fail(type(exc).__name__)
                return
            if pending:
                await send.send(pending)

    outcome: list[Any] = []

    async def work(group: anyio.abc.TaskGroup) -> None:
        try:
            outcome.append(await run_in_threadpool(fn, *args, body))
        except Exception as exc:
            outcome.append(exc)
        # Whatever the thread did not read is not wanted (it failed, or refused the request
        # before reading): stop receiving it.
        group.cancel_scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(pump)
        group.start_soon(work, group)
    if not outcome:
        raise RuntimeError("the request body was not handed over")  # cancelled from outside
    if isinstance(outcome[0], Exception):
        raise outcome[0]
    return outcome[0]
