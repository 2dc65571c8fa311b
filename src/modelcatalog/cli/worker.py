"""`modelcatalog worker`: run deployment tasks that servers send through a Celery broker."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated

import typer

from modelcatalog.cli.server import _shown_uri
from modelcatalog.config import ServerSettings
from modelcatalog.service.deployments.settings import CELERY, JobSettings


def worker(
    broker_url: Annotated[
        str,
        typer.Option(
            envvar="MODELCATALOG_BROKER_URL",
            help="The Celery broker the servers send tasks to (their --broker-url): "
            "redis://host:6379/0 or amqp://user:password@host:5672/vhost.",
        ),
    ],
    database_uri: Annotated[
        str,
        typer.Option(
            envvar="MODELCATALOG_DATABASE_URI",
            help="SQLAlchemy URI of the catalog's database (the servers' --database-uri), e.g. "
            "postgresql+psycopg://user@host/db, or sqlite:////path/catalog.db on the server's "
            "machine.",
        ),
    ],
    public_url: Annotated[
        str,
        typer.Option(
            envvar="MODELCATALOG_PUBLIC_URL",
            help="The URL tasks reach the catalog at (handed to them with their token).",
        ),
    ],
    data_dir: Annotated[
        str,
        typer.Option(
            envvar="MODELCATALOG_DATA_DIR",
            help="The servers' data folder; only used for the default --storage-root.",
        ),
    ] = "modelcatalog-data",
    storage_root: Annotated[
        str | None,
        typer.Option(
            envvar="MODELCATALOG_STORAGE_ROOT",
            help="Where model files live (the servers' --storage-root). Default: "
            "<data-dir>/artifacts.",
        ),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(
            envvar="MODELCATALOG_WORKER_CONCURRENCY",
            min=1,
            max=64,
            help="Tasks this worker runs at once.",
        ),
    ] = 2,
    job_lease: Annotated[
        float,
        typer.Option(
            "--job-lease-seconds",
            envvar="MODELCATALOG_JOB_LEASE_SECONDS",
            help="The servers' --job-lease-seconds (use the same value): a running task "
            "renews its lease three times per lease.",
        ),
    ] = 30.0,
    log_level: Annotated[
        str, typer.Option(envvar="MODELCATALOG_LOG_LEVEL", help="debug, info, warning or error.")
    ] = "info",
) -> None:
    """Run deployment tasks sent through a Celery broker by servers started with --job-queue celery.

    Start as many workers as you like, on any machine that reaches the broker, the database and the catalog's URL. A worker sends no notifications (the servers do), so it needs no MODELCATALOG_SECRET_KEY. Tasks never see the worker's MODELCATALOG_* variables; each gets a token of its own.
    """  # noqa: E501 -- Rich wraps help text; a line break would show as one.
    # Deferred: the service layer, SQLAlchemy and Celery load only for this command.
    from modelcatalog.api.observability import configure_logging
    from modelcatalog.jobs import celery_queue
    from modelcatalog.wiring import build_context

    if log_level.lower() not in ("debug", "info", "warning", "error"):
        raise typer.BadParameter("expected debug, info, warning or error", param_hint="--log-level")
    configure_logging(log_level)

    try:
        celery_queue.check_broker_url(broker_url)
        jobs = JobSettings(
            queue=CELERY,
            broker_url=broker_url,
            lease_seconds=job_lease,
            public_url=public_url.rstrip("/"),
        )
    except ValueError as exc:
        _fail(str(exc))
    if not public_url.startswith(("http://", "https://")):
        _fail(f"--public-url is {public_url!r}; expected http://host:port or https://host")
    _check_database(database_uri)
    settings = ServerSettings.resolve(
        data_dir=data_dir, database_uri=database_uri, storage_root=storage_root, jobs=jobs
    )
    # The pool is threads: a task waits on its process, and one context (one connection pool)
    # serves them all. A worker killed outright takes its tasks' processes with it, so the
    # engine's lease, not a surviving pool process, decides what happens to them.
    app = celery_queue.make_app(broker_url, build_context(settings))
    _check_broker(app, broker_url)
    node = f"modelcatalog-{os.getpid()}@{socket.gethostname()}"
    typer.echo(
        f"modelcatalog worker {node}: {concurrency} slot(s) on queue {celery_queue.QUEUE}",
        err=True,
    )
    app.worker_main(
        [
            "worker",
            f"--loglevel={log_level.upper()}",
            "--pool=threads",
            f"--concurrency={concurrency}",
            f"--hostname={node}",
            f"--queues={celery_queue.QUEUE}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _check_database(uri: str) -> None:
    """Fail now, with the reason, if the database is unreachable or holds no catalog."""
    # Deferred: SQLAlchemy loads only for the commands that open a database.
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from modelcatalog.store.database import Database

    shown = _shown_uri(uri)
    try:
        url = make_url(uri)
    except ArgumentError as exc:
        _fail(f"--database-uri {shown}: {exc}")
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        # Opening it would make an empty file: a worker never creates a catalog.
        _fail(f"--database-uri {shown}: no such SQLite file on this machine")
    try:
        db = Database(uri)
    except (ArgumentError, ValueError) as exc:
        _fail(f"--database-uri {shown}: {exc}")
    try:
        with db.engine.connect() as connection:
            has_catalog = inspect(connection).has_table("task_runs")
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        _fail(f"--database-uri {shown}: {reason}; the database must be reachable from here")
    finally:
        db.dispose()
    if not has_catalog:
        _fail(
            f"--database-uri {shown} holds no catalog; point it at the database of a "
            "'modelcatalog server' (which creates the schema at its first start)"
        )


def _check_broker(app, url: str) -> None:  # type: ignore[no-untyped-def]
    """Fail now if the broker does not answer (Celery would otherwise retry forever)."""
    # Deferred with Celery, which brings kombu.
    from kombu.utils.url import maybe_sanitize_url

    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=2, interval_start=0.5, timeout=5)
    except Exception as exc:  # kombu raises the transport's own errors
        _fail(
            f"--broker-url {maybe_sanitize_url(url)}: cannot reach the broker ({exc}); is Redis "
            "or RabbitMQ running there?"
        )
