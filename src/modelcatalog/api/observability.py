"""Prometheus metrics by route and status, and one structured log line per request."""

from __future__ import annotations

import json
import logging
import random
import time
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from modelcatalog.service.audit import AuditLog

access_log = logging.getLogger("modelcatalog.access")


class Metrics:
    """The server's own metrics registry (one per application, so tests can run several)."""

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

    def watch_audit(self, audit_log: AuditLog) -> None:
        """Expose the audit writer's queue and failures, read when scraped."""
        for name, text, read in (
            (
                "modelcatalog_audit_records_unwritten",
                "Audit records queued or being written, not yet committed",
                lambda: audit_log.unwritten,
            ),
            (
                "modelcatalog_audit_records_dropped",
                "Audit records ever given up on (stays 0)",
                lambda: audit_log.dropped,
            ),
            (
                "modelcatalog_audit_write_failures",
                "Failed attempts to write audit records (each retried)",
                lambda: audit_log.write_failures,
            ),
            (
                "modelcatalog_audit_records_escaped",
                "Audit records stored escaped because the database refused them as they were",
                lambda: audit_log.escaped,
            ),
        ):
            Gauge(name, text, registry=self.registry).set_function(read)

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


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
