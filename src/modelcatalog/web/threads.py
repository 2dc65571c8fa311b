"""Where pages do their blocking work: a few worker threads, not the event loop's forty.

Building a page is mostly Python (queries, views, templates), which runs one thread at a time.
Sixteen pages built at once on sixteen threads only fight over the interpreter lock: each took
about half as long again as alone, and the slowest waited the longest. A page waits here, on
the event loop, until one of a few threads is free, so the pages in progress finish in the
order they came (benchmarks/web). The API's threads are not shared: a long upload never
holds a page back, nor a page an upload."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar

T = TypeVar("T")

PAGE_THREADS = 2
"""Pages built at once per server process: more than the cores, for the time spent waiting on
the database, few enough that they rarely wait for one another."""

_limiter: RunVar[CapacityLimiter] = RunVar("modelcatalog_page_threads")


def _page_threads() -> CapacityLimiter:
    # One limiter per event loop, as anyio keeps its own default one.
    try:
        return _limiter.get()
    except LookupError:
        made = CapacityLimiter(PAGE_THREADS)
        _limiter.set(made)
        return made


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking service call for a page on one of the page threads."""
    return await to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=_page_threads())
