"""The load generator: a fixed number of requests from N concurrent asyncio clients.

Each client is one coroutine with its own aiohttp session and keep-alive connection; together
they send exactly `total` requests (after `warmup` untimed ones) and stop. A request is timed
from just before it is sent to when its body has been read."""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True, slots=True)
class Reply:
    """A response whose body has been read in full."""

    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def raise_for_status(self) -> None:
        if self.status >= 400:
            raise RuntimeError(f"HTTP {self.status}: {self.body[:500]!r}")


# One request: given the session and the coroutine's private state, send it and read the reply.
Step = Callable[[aiohttp.ClientSession, dict[str, Any]], Awaitable[Reply]]


@dataclass(frozen=True)
class Measurement:
    """What one scenario at one concurrency produced."""

    requests: int
    clients: int
    seconds: float
    errors: int
    latencies_ms: list[float]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return 0.0
        index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
        return ordered[index]

    def summary(self) -> dict[str, float | int]:
        return {
            "requests": self.requests,
            "clients": self.clients,
            "seconds": round(self.seconds, 3),
            "errors": self.errors,
            "throughput_rps": round(self.throughput, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 2) if self.latencies_ms else 0,
            "max_ms": round(max(self.latencies_ms), 2) if self.latencies_ms else 0,
        }


async def _drive(
    base_url: str | tuple[str, ...],
    headers: dict[str, str],
    step: Step,
    clients: int,
    total: int,
    warmup: int,
    ready: Callable[[], object] | None = None,
) -> tuple[float, float, int, list[float]]:
    """Warm up, then time `total` requests; returns (wall start, seconds, errors, latencies).

    Several base URLs (replicas of one server) share the clients out in turn."""
    urls = (base_url,) if isinstance(base_url, str) else base_url
    # One session (one keep-alive connection) per coroutine, as with one client per coroutine
    # before. aiohttp (C HTTP parser) costs far less CPU per request than httpx did: with
    # httpx the generator's core saturated before our server's did.
    timeout = aiohttp.ClientTimeout(total=60.0)
    async with contextlib.AsyncExitStack() as stack:
        pool = [
            await stack.enter_async_context(
                aiohttp.ClientSession(
                    base_url=urls[i % len(urls)],
                    headers=headers,
                    timeout=timeout,
                    connector=aiohttp.TCPConnector(limit=1, keepalive_timeout=300.0),
                )
            )
            for i in range(clients)
        ]
        states: list[dict[str, Any]] = [{"worker": i, "client": c} for i, c in enumerate(pool)]
        remaining = warmup

        async def warm(state: dict[str, Any]) -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                (await step(state["client"], state)).raise_for_status()

        # Warm-up opens every connection and fills the servers' caches; it is not timed.
        await asyncio.gather(*(warm(s) for s in states))
        if ready is not None:
            ready()

        left = total
        latencies: list[float] = []
        errors = 0

        async def work(state: dict[str, Any]) -> None:
            nonlocal left, errors
            while left > 0:
                left -= 1
                began = time.perf_counter()
                reply = await step(state["client"], state)
                latencies.append((time.perf_counter() - began) * 1000)
                if reply.status >= 400:
                    errors += 1

        wall = time.time()
        started = time.perf_counter()
        await asyncio.gather(*(work(s) for s in states))
        seconds = time.perf_counter() - started
        # Sessions a step opened for itself (for URLs elsewhere) close with the clients.
        for state in states:
            for value in state.values():
                if isinstance(value, aiohttp.ClientSession) and value not in pool:
                    await value.close()
        return wall, seconds, errors, latencies


def _run(coroutine: Awaitable[Any]) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)  # type: ignore[arg-type]
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)  # type: ignore[arg-type]


def _drive_in_process(args: tuple) -> tuple[float, float, int, list[float]]:
    *drive_args, barrier = args
    # Every process finishes its warm-up before any starts the timed part.
    return _run(_drive(*drive_args, ready=barrier.wait))


def measure(
    base_url: str | tuple[str, ...],
    headers: dict[str, str],
    step: Step,
    *,
    clients: int,
    total: int,
    warmup: int,
    processes: int = 1,
) -> Measurement:
    """Send `total` timed requests from `clients` concurrent clients (over `processes`)."""
    if processes <= 1 or clients < processes:
        _, seconds, errors, latencies = _run(
            _drive(base_url, headers, step, clients, total, warmup)
        )
        return Measurement(total, clients, seconds, errors, latencies)
    # Several generator processes, for when one Python process cannot keep a server busy. The
    # time spans the earliest start to the latest finish across processes.
    context = multiprocessing.get_context("fork")
    with context.Manager() as manager:
        barrier = manager.Barrier(processes)
        shares = [
            (
                base_url,
                headers,
                step,
                clients // processes + (1 if i < clients % processes else 0),
                total // processes + (1 if i < total % processes else 0),
                warmup // processes,
                barrier,
            )
            for i in range(processes)
        ]
        with context.Pool(processes) as pool:
            parts = pool.map(_drive_in_process, shares)
    first = min(wall for wall, *_ in parts)
    last = max(wall + seconds for wall, seconds, *_ in parts)
    latencies = [value for *_, part in parts for value in part]
    errors = sum(part[2] for part in parts)
    return Measurement(total, clients, last - first, errors, latencies)
