"""`modelcatalog server`: run the catalog."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import Annotated

import typer

from modelcatalog.config import (
    ServerSettings,
    check_url_lifetime,
    default_public_url,
    job_settings,
    session_lifetimes,
    single_sign_on,
)


def _url_lifetime_in_range(value: int) -> int:
    """Refuse a presigned URL lifetime out of range, naming the option (the rule is
    `config.check_url_lifetime`; test servers may lower its minimum)."""
    try:
        return check_url_lifetime(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def server(
    host: Annotated[
        str, typer.Option(envvar="MODELCATALOG_HOST", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(envvar="MODELCATALOG_PORT", min=1, max=65535, help="Port to listen on.")
    ] = 8080,
    data_dir: Annotated[
        str,
        typer.Option(
            envvar="MODELCATALOG_DATA_DIR",
            help="Folder for the embedded defaults: the SQLite database, the artifacts folder and "
            "the first admin token.",
        ),
    ] = "modelcatalog-data",
    database_uri: Annotated[
        str | None,
        typer.Option(
            envvar="MODELCATALOG_DATABASE_URI",
            help="SQLAlchemy URI of the catalog database, e.g. "
            "postgresql+psycopg://user@host/db. Default: SQLite in --data-dir.",
        ),
    ] = None,
    storage_root: Annotated[
        str | None,
        typer.Option(
            envvar="MODELCATALOG_STORAGE_ROOT",
            help="Where model files live: a folder, file:///path or s3://bucket/prefix (endpoint "
            "from MODELCATALOG_S3_ENDPOINT_URL). Default: <data-dir>/artifacts.",
        ),
    ] = None,
    url_lifetime: Annotated[
        int,
        typer.Option(
            envvar="MODELCATALOG_URL_LIFETIME_SECONDS",
            callback=_url_lifetime_in_range,
            help="Seconds a presigned upload or download URL stays valid (10 to 86400).",
        ),
    ] = 900,
    max_request_bytes: Annotated[
        int,
        typer.Option(
            envvar="MODELCATALOG_MAX_REQUEST_BYTES",
            min=65_536,
            help="Largest JSON request body in bytes (refused with 413 while it is read). Model "
            "files are uploaded through URLs and are not limited by it.",
        ),
    ] = 16 * 1024 * 1024,
    auth_failures_per_minute: Annotated[
        int,
        typer.Option(
            envvar="MODELCATALOG_AUTH_FAILURES_PER_MINUTE",
            min=0,
            help="Failed authentications one client address may make per minute (in bursts of "
            "as many) before it is answered 429 with Retry-After; 0 turns this off.",
        ),
    ] = 30,
    workers: Annotated[
        int, typer.Option(envvar="MODELCATALOG_WORKERS", min=1, max=64, help="Worker processes.")
    ] = 1,
    log_level: Annotated[
        str, typer.Option(envvar="MODELCATALOG_LOG_LEVEL", help="debug, info, warning or error.")
    ] = "info",
    job_queue: Annotated[
        str,
        typer.Option(
            envvar="MODELCATALOG_JOB_QUEUE",
            help="Where deployment tasks run: 'embedded' (worker threads in this server) or "
            "'celery' (a Celery broker and 'modelcatalog worker' processes).",
        ),
    ] = "embedded",
    job_workers: Annotated[
        int,
        typer.Option(
            envvar="MODELCATALOG_JOB_WORKERS",
            min=0,
            max=64,
            help="Deployment tasks an embedded server runs at once, per server process.",
        ),
    ] = 2,
    broker_url: Annotated[
        str | None,
        typer.Option(
            envvar="MODELCATALOG_BROKER_URL",
            help="Celery broker for --job-queue celery, e.g. redis://localhost:6379/0 or "
            "amqp://guest@localhost//.",
        ),
    ] = None,
    job_lease: Annotated[
        float,
        typer.Option(
            "--job-lease-seconds",
            envvar="MODELCATALOG_JOB_LEASE_SECONDS",
            help="A running task silent this long is taken for lost and retried or failed.",
        ),
    ] = 30.0,
    public_url: Annotated[
        str | None,
        typer.Option(
            envvar="MODELCATALOG_PUBLIC_URL",
            help="The URL deployment tasks reach this catalog at. Default: http://HOST:PORT.",
        ),
    ] = None,
    allow_http_webhooks: Annotated[
        bool,
        typer.Option(
            envvar="MODELCATALOG_ALLOW_HTTP_WEBHOOKS",
            help="Accept webhook URLs that are plain http:// (https only by default).",
        ),
    ] = False,
    allow_private_webhooks: Annotated[
        bool,
        typer.Option(
            envvar="MODELCATALOG_ALLOW_PRIVATE_WEBHOOKS",
            help="Accept webhooks to private, loopback and link-local addresses.",
        ),
    ] = False,
    session_idle_hours: Annotated[
        float,
        typer.Option(
            min=0.1,
            help="Hours a web UI session may go unused before its person signs in again.",
        ),
    ] = 12.0,
    session_max_days: Annotated[
        float,
        typer.Option(
            min=0.01,
            help="Days after which a web UI session ends however much it is used.",
        ),
    ] = 7.0,
    tracking_ui_url: Annotated[
        str | None,
        typer.Option(
            envvar="MODELCATALOG_TRACKING_UI_URL",
            help="The MLflow tracking UI (e.g. https://mlflow.example.com) that version pages "
            "link their runs into. Default: runs are shown, not linked.",
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            envvar="MODELCATALOG_METRICS_PORT",
            help="Also listen on this port for Prometheus: GET /metrics there needs no token, "
            "and nothing else is served there. Default: /metrics only on the API port, with a "
            "token.",
            show_default=False,
        ),
    ] = None,
    metrics_host: Annotated[
        str,
        typer.Option(
            envvar="MODELCATALOG_METRICS_HOST",
            help="The address the metrics port listens on (0.0.0.0 for every interface).",
        ),
    ] = "127.0.0.1",
    oidc_issuer: Annotated[
        str | None,
        typer.Option(
            envvar="MODELCATALOG_OIDC_ISSUER",
            help="The organisation's OpenID Connect provider (its issuer URL): people sign in "
            "with it, and its access tokens are accepted as bearer tokens. The client secret is "
            "read from MODELCATALOG_OIDC_CLIENT_SECRET.",
            rich_help_panel="Single sign-on",
        ),
    ] = None,
    oidc_client_id: Annotated[
        str | None,
        typer.Option(
            envvar="MODELCATALOG_OIDC_CLIENT_ID",
            help="The catalog's client id at the provider.",
            rich_help_panel="Single sign-on",
        ),
    ] = None,
    oidc_audience: Annotated[
        str | None,
        typer.Option(
            envvar="MODELCATALOG_OIDC_AUDIENCE",
            help="The audience ('aud') the provider's access tokens must carry to be accepted "
            "as bearer tokens. Default: the client id.",
            rich_help_panel="Single sign-on",
        ),
    ] = None,
    oidc_groups_claim: Annotated[
        str,
        typer.Option(
            envvar="MODELCATALOG_OIDC_GROUPS_CLAIM",
            help="The claim listing a person's groups; memberships follow it at each sign-in "
            "('' turns this off).",
            rich_help_panel="Single sign-on",
        ),
    ] = "groups",
    oidc_admin_group: Annotated[
        str | None,
        typer.Option(
            envvar="MODELCATALOG_OIDC_ADMIN_GROUP",
            help="Members of this provider group are metastore admins.",
            rich_help_panel="Single sign-on",
        ),
    ] = None,
    oidc_clock_skew: Annotated[
        int,
        typer.Option(
            "--oidc-clock-skew-seconds",
            envvar="MODELCATALOG_OIDC_CLOCK_SKEW_SECONDS",
            min=0,
            max=600,
            help="How far the provider's clock may differ from this server's when token expiry "
            "and issue times are checked.",
            rich_help_panel="Single sign-on",
        ),
    ] = 60,
    disable_pat_for_users: Annotated[
        bool,
        typer.Option(
            "--disable-pat-for-users",
            envvar="MODELCATALOG_DISABLE_PAT_FOR_USERS",
            help="Refuse people's personal access tokens (they sign in with single sign-on); "
            "service principals keep their tokens and OAuth, the built-in admin its token.",
            rich_help_panel="Single sign-on",
        ),
    ] = False,
) -> None:
    """Start the catalog on http://HOST:PORT (SQLite and a local folder unless told otherwise).

    On first start it creates the metastore admin. Set MODELCATALOG_ADMIN_TOKEN to choose the admin's token; otherwise one is written to <data-dir>/admin-token (mode 600).
    """  # noqa: E501 -- Rich wraps help text; a line break would show as one.
    # Refused before the application loads, which takes seconds.
    if log_level.lower() not in ("debug", "info", "warning", "error"):
        raise typer.BadParameter("expected debug, info, warning or error", param_hint="--log-level")
    # Deferred: the server application, uvicorn and SQLAlchemy load only for this command.
    import uvicorn
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    from modelcatalog.api.observability import configure_logging
    from modelcatalog.app import prepare, sweep_interrupted_uploads
    from modelcatalog.store.database import UnknownSchema, UnreachableDatabase, first_line

    configure_logging(log_level)

    try:
        if job_queue == "celery" and broker_url:
            # Deferred: Celery loads only for servers that send tasks through a broker.
            from modelcatalog.jobs.celery_queue import check_broker_url

            check_broker_url(broker_url or "")
        jobs = job_settings(
            os.environ,
            queue=job_queue,
            workers=job_workers,
            broker_url=broker_url,
            lease_seconds=job_lease,
            public_url=public_url or default_public_url(host, port),
            allow_http_webhooks=allow_http_webhooks,
            allow_private_webhooks=allow_private_webhooks,
        )
        sessions = session_lifetimes(
            os.environ,
            idle_seconds=round(session_idle_hours * 3600),
            max_seconds=round(session_max_days * 86_400),
        )
        sso = single_sign_on(
            os.environ,
            issuer=oidc_issuer,
            client_id=oidc_client_id,
            audience=oidc_audience,
            groups_claim=oidc_groups_claim,
            admin_group=oidc_admin_group,
            clock_skew_seconds=oidc_clock_skew,
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        settings = ServerSettings.resolve(
            data_dir=data_dir,
            database_uri=database_uri,
            storage_root=storage_root,
            url_lifetime_seconds=url_lifetime,
            max_request_bytes=max_request_bytes,
            auth_failures_per_minute=auth_failures_per_minute,
            jobs=jobs,
            sessions=sessions,
            tracking_ui_url=tracking_ui_url,
            metrics_port=metrics_port,
            sso=sso,
            personal_tokens_for_users=not disable_pat_for_users,
        )
        if metrics_port is not None and metrics_port == port:
            raise ValueError(f"the metrics port is the API port ({port}); choose another")
        token_file = prepare(settings)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except (UnreachableDatabase, ArgumentError, NoSuchModuleError) as exc:
        # The URI itself is wrong, or names a database that cannot be reached from here.
        typer.echo(
            f"error: --database-uri {_shown_uri(settings.database_uri)}: {first_line(exc)}. "
            "Expected sqlite:///path/to/file.db or "
            "postgresql+psycopg://user[:password]@host[:port]/database, reachable from here.",
            err=True,
        )
        raise typer.Exit(2) from None
    except UnknownSchema as exc:
        typer.echo(f"error: --database-uri {_shown_uri(settings.database_uri)}: {exc}.", err=True)
        raise typer.Exit(2) from None
    except SQLAlchemyError as exc:
        # Reached, but preparing it failed: say what the database said, not that the URI is bad.
        typer.echo(
            f"error: preparing the database at {_shown_uri(settings.database_uri)} failed: "
            f"{first_line(exc)}",
            err=True,
        )
        raise typer.Exit(2) from None
    if settings.sso is not None:
        # Deferred: the provider's client loads only for servers that sign people in with it.
        from modelcatalog.service.identity_provider import IdentityProvider, ProviderMisconfigured

        try:
            IdentityProvider(settings.sso).check()
        except ProviderMisconfigured as exc:
            typer.echo(f"error: --oidc-issuer {settings.sso.issuer}: {exc}", err=True)
            raise typer.Exit(2) from None
    if token_file is not None:
        typer.echo(
            f"Created the metastore admin 'admin'. Its token is in {token_file} (readable only "
            f"by you). To use it: modelcatalog login --token-file {token_file}",
            err=True,
        )
    # The sweep walks the whole artifact folder: off the start-up path, while requests flow.
    threading.Thread(target=sweep_interrupted_uploads, args=(settings,), daemon=True).start()
    # The server's processes (uvicorn's workers) read these settings back, whole, from here.
    os.environ.update(settings.to_environment())
    if workers > 1:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_shared_metrics_folder(settings))
    config = uvicorn.Config(
        "modelcatalog.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level.lower(),
        access_log=False,
        log_config=None,
    )
    sockets = [config.bind_socket()]
    if metrics_port is not None:
        sockets.append(_metrics_socket(metrics_host, metrics_port))
    metrics_at = ""
    if metrics_port is not None:
        metrics_at = f", metrics on http://{metrics_host}:{metrics_port}/metrics"
    typer.echo(
        f"modelcatalog serving on http://{host}:{port} "
        f"(database: {settings.database_uri.split('://')[0]}, "
        f"storage: {settings.storage_root}{metrics_at})",
        err=True,
    )
    server = uvicorn.Server(config)
    if workers > 1:
        # Deferred with uvicorn: only a server with several workers supervises them.
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=sockets).run()
    else:
        server.run(sockets=sockets)
    if not server.started and workers == 1:
        raise typer.Exit(1)


def _shared_metrics_folder(settings: ServerSettings) -> Path:
    """Where the workers keep their counters for one another (PROMETHEUS_MULTIPROC_DIR, the
    operator's if set), emptied of an earlier run's."""
    folder = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or settings.data_dir / "metrics")
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.db"):
        old.unlink()
    return folder


def _metrics_socket(host: str, port: int) -> socket.socket:
    """The metrics port's listening socket, bound before the workers start (they share it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        typer.echo(f"error: --metrics-port {port} on {host}: {exc.strerror}.", err=True)
        raise typer.Exit(2) from None
    sock.set_inheritable(True)
    return sock


def _shown_uri(uri: str) -> str:
    """A database URI fit for a message: the password, if any, masked."""
    # Deferred: SQLAlchemy loads only for the commands that open a database.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(uri).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(uri.split("@")[-1]) if "@" in uri else repr(uri)
