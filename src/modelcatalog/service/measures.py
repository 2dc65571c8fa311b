"""What an operator watches, counted where it happens; each metric is defined here, once.

The counters live in this process's `REGISTRY`, which the server's `/metrics` shows next to its
request metrics (api/observability.py): model events as they commit (versions created and READY,
alias moves, deployment runs started, succeeded and failed, approvals), versions that failed
registration, authorization denials, notification deliveries by outcome, deployment task
durations, and storage errors. Gauges read when scraped (the audit queue, deployment runs by
state, the database pool) are added by the server, which holds what they read."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry()

model_events = Counter(
    "modelcatalog_model_events_total",
    "Model events committed (MODEL_VERSION_CREATED, MODEL_VERSION_READY, MODEL_ALIAS_SET, "
    "RUN_STARTED, RUN_SUCCEEDED, RUN_FAILED, ...)",
    ["event"],
    registry=REGISTRY,
)
versions_failed = Counter(
    "modelcatalog_versions_failed_registration_total",
    "Versions that failed registration at finalize (no signature, unreadable files)",
    registry=REGISTRY,
)
denials = Counter(
    "modelcatalog_authorization_denials_total",
    "Requests refused for want of a privilege (including objects hidden from the caller)",
    ["privilege"],
    registry=REGISTRY,
)
deliveries = Counter(
    "modelcatalog_notification_deliveries_total",
    "Notification delivery attempts by channel and outcome (delivered, retrying, failed)",
    ["channel", "outcome"],
    registry=REGISTRY,
)
task_seconds = Histogram(
    "modelcatalog_deployment_task_duration_seconds",
    "How long deployment task attempts ran, by outcome (succeeded, failed)",
    ["outcome"],
    registry=REGISTRY,
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
)
storage_errors = Counter(
    "modelcatalog_storage_errors_total",
    "Artifact store operations that failed (disk, permissions, S3 answers)",
    ["error"],
    registry=REGISTRY,
)
