"""Prometheus metrics by route and status, and one structured log line per request."""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelcatalog.service import measures
from modelcatalog.store import tables as t

if TYPE_CHECKING:
    from modelcatalog.service.audit import AuditLog
    from modelcatalog.store.database import Database

access_log = logging.getLogger("modelcatalog.access")


class Metrics:
    """The server's metrics: requests by route and status, the counters of `service.measures`,
    and readings taken when scraped (the audit writer, the database pools, deployment runs by
    state). One per application, so tests can run several.

    With several worker processes (`--workers`), the server sets PROMETHEUS_MULTIPROC_DIR and
    the counters of every worker are kept in files there and summed by whichever worker answers
    the scrape (prometheus_client's multiprocess mode); readings describe that worker."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "modelcatalog_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "modelcatalog_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )
        self.readings = Readings()
        shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if shared:
            self.shown = CollectorRegistry()
            MultiProcessCollector(self.shown, shared)
            self.shown.register(self.readings)
        else:
            self.shown = self.registry
            self.registry.register(self.readings)
            self.registry.register(_Registered(measures.REGISTRY))

    def render(self) -> Response:
        return Response(generate_latest(self.shown), media_type=CONTENT_TYPE_LATEST)


class _Registered:
    """Another registry's metrics, shown in this one."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


class Readings:
    """Gauges read when scraped, from the objects that hold them."""

    def __init__(self) -> None:
        self.audit: AuditLog | None = None
        self.db: Database | None = None

    def describe(self) -> list[Metric]:
        return []  # read at scrape time only: nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        if self.audit is not None:
            yield from self._audit(self.audit)
        if self.db is not None:
            yield from self._database(self.db)

    @staticmethod
    def _audit(audit_log: AuditLog) -> Iterator[Metric]:
        for name, text, value in (
            (
                "modelcatalog_audit_records_unwritten",
                "Audit records queued or being written, not yet committed",
                audit_log.unwritten,
            ),
            (
                "modelcatalog_audit_records_dropped",
                "Audit records ever given up on (stays 0)",
                audit_log.dropped,
            ),
            (
                "modelcatalog_audit_write_failures",
                "Failed attempts to write audit records (each retried)",
                audit_log.write_failures,
            ),
            (
                "modelcatalog_audit_records_escaped",
                "Audit records stored escaped because the database refused them as they were",
                audit_log.escaped,
            ),
        ):
            yield GaugeMetricFamily(name, text, value=value)

    @staticmethod
    def _database(db: Database) -> Iterator[Metric]:
        pools = GaugeMetricFamily(
            "modelcatalog_database_connections",
            "Database connections of the answering process by pool (writes, reads) and state",
            labels=["pool", "state"],
        )
        engines = {"writes": db.engine}
        if db.read_engine is not db.engine:
            engines["reads"] = db.read_engine
        for pool_name, engine in engines.items():
            pool = engine.pool
            for state, read in (("in_use", "checkedout"), ("idle", "checkedin")):
                if hasattr(pool, read):
                    pools.add_metric([pool_name, state], getattr(pool, read)())
        yield pools
        runs = GaugeMetricFamily(
            "modelcatalog_deployment_runs", "Deployment runs by state", labels=["state"]
        )
        with db.read() as session:
            for state, count in session.execute(
                select(t.JobRun.state, func.count()).group_by(t.JobRun.state)
            ):
                runs.add_metric([state], count)
        yield runs


class JsonFormatter(logging.Formatter):
    """Log records as one JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in (
            "request_id",
            "method",
            "route",
            "path",
            "status",
            "duration_ms",
            "principal",
            "client",
        ):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("modelcatalog")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


class RequestObserver:
    """ASGI middleware: request id, metrics and the access log for every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Unique enough to find a request in the logs, and much cheaper than uuid4's syscall.
        request_id = f"{random.getrandbits(128):032x}"
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(elapsed)
            request = Request(scope)
            access_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": method,
                    "route": template,
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "principal": getattr(request.state, "principal", None),
                    "client": scope.get("client", ("", 0))[0] if scope.get("client") else None,
                },
            )


class MetricsPort:
    """ASGI middleware, outermost: on the metrics port, `GET /metrics` is answered without a
    token (Prometheus scrapers rarely carry one) and nothing else is served; requests on the
    API port pass through untouched, where /metrics keeps requiring a token."""

    def __init__(self, app: ASGIApp, metrics: Metrics, port: int) -> None:
        self.app = app
        self.metrics = metrics
        self.port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        if scope["type"] != "http" or not server or server[1] != self.port:
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/metrics" and scope["method"] in ("GET", "HEAD"):
            # In a thread: deployment runs by state are counted in the database when scraped.
            response = await run_in_threadpool(self.metrics.render)
        else:
            response = Response(
                "Only GET /metrics is served on the metrics port.\n",
                status_code=404,
                media_type="text/plain",
            )
        await response(scope, receive, send)
