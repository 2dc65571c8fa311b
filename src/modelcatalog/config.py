"""Server settings, from CLI flags or environment variables, validated once at start.

One `ServerSettings` object holds everything a process of the catalog needs (the server, its
worker processes, Celery workers). `from_environment` is the one place that reads the
MODELCATALOG_* variables; `to_environment` writes them back for a server's worker processes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelcatalog.service.deployments.settings import EMBEDDED, JobSettings
from modelcatalog.service.session_lifetimes import SessionLifetimes
from modelcatalog.service.sso_settings import (
    DEFAULT_CLOCK_SKEW_SECONDS,
    SECRET_VARIABLE,
    SingleSignOn,
)

DEFAULT_DATA_DIR = "modelcatalog-data"
MIN_URL_LIFETIME = 10
# For test servers only: lowers MIN_URL_LIFETIME, so that a test watches a URL expire within
# a second or two instead of waiting ten.
TEST_MIN_URL_LIFETIME_VARIABLE = "MODELCATALOG_TEST_MIN_URL_LIFETIME_SECONDS"
MAX_URL_LIFETIME = 86_400
DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024
MIN_MAX_REQUEST_BYTES = 64 * 1024
DEFAULT_AUTH_FAILURES_PER_MINUTE = 30


def min_url_lifetime() -> int:
    """The shortest presigned URL lifetime accepted: MIN_URL_LIFETIME, unless a test lowers it."""
    return int(os.environ.get(TEST_MIN_URL_LIFETIME_VARIABLE) or MIN_URL_LIFETIME)


def check_url_lifetime(seconds: int) -> int:
    """`seconds` if it is an accepted presigned URL lifetime; otherwise ValueError saying why."""
    low = min_url_lifetime()
    if not low <= seconds <= MAX_URL_LIFETIME:
        raise ValueError(
            f"the presigned URL lifetime is {seconds} seconds; it must be between "
            f"{low} and {MAX_URL_LIFETIME}"
        )
    return seconds


@dataclass(frozen=True)
class ServerSettings:
    """Where the catalog keeps its metadata and its files."""

    data_dir: Path
    database_uri: str
    storage_root: str
    url_lifetime_seconds: int = 900
    # The largest JSON request body; model files travel through upload URLs, not JSON.
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    # Failed authentications one client address may make per minute before it is slowed down
    # (0: never slowed down).
    auth_failures_per_minute: int = DEFAULT_AUTH_FAILURES_PER_MINUTE
    #: How deployment jobs, triggers and notifications run.
    jobs: JobSettings = field(default_factory=JobSettings)
    #: How long a web UI session lives unused and at most.
    sessions: SessionLifetimes = field(default_factory=SessionLifetimes)
    #: The MLflow tracking UI that version pages link runs into (none: runs are not linked).
    tracking_ui_url: str | None = None
    #: The port on which /metrics is answered without a token (none: only on the API port,
    #: with one).
    metrics_port: int | None = None
    #: The organisation's OpenID Connect provider (none: single sign-on is off).
    sso: SingleSignOn | None = None
    #: False: people's personal access tokens are refused; service principals keep theirs.
    personal_tokens_for_users: bool = True

    @classmethod
    def resolve(
        cls,
        *,
        data_dir: str | None = None,
        database_uri: str | None = None,
        storage_root: str | None = None,
        url_lifetime_seconds: int | None = None,
        max_request_bytes: int | None = None,
        auth_failures_per_minute: int | None = None,
        jobs: JobSettings | None = None,
        sessions: SessionLifetimes | None = None,
        tracking_ui_url: str | None = None,
        metrics_port: int | None = None,
        sso: SingleSignOn | None = None,
        personal_tokens_for_users: bool = True,
    ) -> ServerSettings:
        """Fill what was not given from the data folder (SQLite file, artifacts folder)."""
        folder = Path(data_dir or DEFAULT_DATA_DIR).expanduser().resolve()
        uri = database_uri or f"sqlite:///{folder / 'catalog.db'}"
        root = storage_root or str(folder / "artifacts")
        lifetime = check_url_lifetime(url_lifetime_seconds or cls.url_lifetime_seconds)
        body_limit = max_request_bytes or cls.max_request_bytes
        if body_limit < MIN_MAX_REQUEST_BYTES:
            raise ValueError(
                f"the request body limit is {body_limit} bytes; it must be at least "
                f"{MIN_MAX_REQUEST_BYTES} (64 KiB)"
            )
        failures = (
            cls.auth_failures_per_minute
            if auth_failures_per_minute is None
            else auth_failures_per_minute
        )
        if failures < 0:
            raise ValueError(
                f"the failed authentications per minute are {failures}; use 0 (no limit) or more"
            )
        return cls(
            data_dir=folder,
            database_uri=uri,
            storage_root=root,
            url_lifetime_seconds=lifetime,
            max_request_bytes=body_limit,
            auth_failures_per_minute=failures,
            jobs=jobs or JobSettings(),
            sessions=sessions or SessionLifetimes(),
            tracking_ui_url=check_tracking_ui_url(tracking_ui_url),
            metrics_port=check_port(metrics_port, "metrics port"),
            sso=sso,
            personal_tokens_for_users=personal_tokens_for_users,
        )

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> ServerSettings:
        """The settings the MODELCATALOG_* variables give (what is not set takes its default)."""
        return cls.resolve(
            data_dir=env.get("MODELCATALOG_DATA_DIR"),
            database_uri=env.get("MODELCATALOG_DATABASE_URI"),
            storage_root=env.get("MODELCATALOG_STORAGE_ROOT"),
            url_lifetime_seconds=_number(env, "MODELCATALOG_URL_LIFETIME_SECONDS", int),
            max_request_bytes=_number(env, "MODELCATALOG_MAX_REQUEST_BYTES", int),
            auth_failures_per_minute=_number(env, "MODELCATALOG_AUTH_FAILURES_PER_MINUTE", int),
            jobs=job_settings(env),
            sessions=session_lifetimes(env),
            tracking_ui_url=env.get("MODELCATALOG_TRACKING_UI_URL", "").strip() or None,
            metrics_port=_number(env, "MODELCATALOG_METRICS_PORT", int),
            sso=single_sign_on(env),
            personal_tokens_for_users=not _flag(env.get("MODELCATALOG_DISABLE_PAT_FOR_USERS")),
        )

    def to_environment(self) -> dict[str, str]:
        """The MODELCATALOG_* variables from which `from_environment` reads these settings back."""
        jobs = self.jobs
        variables = {
            "MODELCATALOG_DATA_DIR": str(self.data_dir),
            "MODELCATALOG_DATABASE_URI": self.database_uri,
            "MODELCATALOG_STORAGE_ROOT": self.storage_root,
            "MODELCATALOG_URL_LIFETIME_SECONDS": str(self.url_lifetime_seconds),
            "MODELCATALOG_MAX_REQUEST_BYTES": str(self.max_request_bytes),
            "MODELCATALOG_AUTH_FAILURES_PER_MINUTE": str(self.auth_failures_per_minute),
            "MODELCATALOG_JOB_QUEUE": jobs.queue,
            "MODELCATALOG_JOB_WORKERS": str(jobs.workers),
            "MODELCATALOG_JOB_LEASE_SECONDS": repr(jobs.lease_seconds),
            "MODELCATALOG_JOB_POLL_SECONDS": repr(jobs.poll_seconds),
            "MODELCATALOG_PUBLIC_URL": jobs.public_url,
            "MODELCATALOG_ALLOW_HTTP_WEBHOOKS": "1" if jobs.allow_http_webhooks else "",
            "MODELCATALOG_ALLOW_PRIVATE_WEBHOOKS": "1" if jobs.allow_private_webhooks else "",
            "MODELCATALOG_DELIVERY_ATTEMPTS": str(jobs.delivery_attempts),
            "MODELCATALOG_DELIVERY_BACKOFF_SECONDS": repr(jobs.delivery_backoff_seconds),
        }
        if jobs.broker_url:
            variables["MODELCATALOG_BROKER_URL"] = jobs.broker_url
        variables["MODELCATALOG_SESSION_IDLE_SECONDS"] = str(self.sessions.idle_seconds)
        variables["MODELCATALOG_SESSION_MAX_SECONDS"] = str(self.sessions.max_seconds)
        if self.tracking_ui_url:
            variables["MODELCATALOG_TRACKING_UI_URL"] = self.tracking_ui_url
        if self.metrics_port:
            variables["MODELCATALOG_METRICS_PORT"] = str(self.metrics_port)
        if self.sso is not None:
            # The client secret stays where it came from: MODELCATALOG_OIDC_CLIENT_SECRET.
            sso = self.sso
            variables["MODELCATALOG_OIDC_ISSUER"] = sso.issuer
            variables["MODELCATALOG_OIDC_CLIENT_ID"] = sso.client_id
            variables["MODELCATALOG_OIDC_AUDIENCE"] = sso.audience or ""
            variables["MODELCATALOG_OIDC_GROUPS_CLAIM"] = sso.groups_claim or ""
            variables["MODELCATALOG_OIDC_ADMIN_GROUP"] = sso.admin_group or ""
            variables["MODELCATALOG_OIDC_CLOCK_SKEW_SECONDS"] = str(sso.clock_skew_seconds)
        variables["MODELCATALOG_DISABLE_PAT_FOR_USERS"] = (
            "" if self.personal_tokens_for_users else "1"
        )
        return variables

    @property
    def admin_token_file(self) -> Path:
        return self.data_dir / "admin-token"

    @property
    def secret_key_file(self) -> Path:
        """The key that encrypts stored secrets, unless MODELCATALOG_SECRET_KEY gives one."""
        return self.data_dir / "secret-key"


def session_lifetimes(env: Mapping[str, str], **given: int | None) -> SessionLifetimes:
    """Web UI session lifetimes from the MODELCATALOG_* variables; `given` ones (flags) win."""
    values = {
        "idle_seconds": given.get("idle_seconds")
        or _number(env, "MODELCATALOG_SESSION_IDLE_SECONDS", int),
        "max_seconds": given.get("max_seconds")
        or _number(env, "MODELCATALOG_SESSION_MAX_SECONDS", int),
    }
    return SessionLifetimes(**{name: value for name, value in values.items() if value is not None})


def check_port(port: int | None, what: str) -> int | None:
    """A TCP port to listen on, 1 to 65535 (None: not listening)."""
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"the {what} is {port}; use a port from 1 to 65535")
    return port


def single_sign_on(env: Mapping[str, str], **given: Any) -> SingleSignOn | None:
    """Single sign-on settings from the MODELCATALOG_OIDC_* variables; `given` ones (flags)
    win. None without an issuer; ValueError saying what is wrong otherwise."""

    def read(name: str, variable: str) -> Any:
        if given.get(name) is not None:
            return given[name]
        return env.get(variable, "").strip() or None

    issuer = read("issuer", "MODELCATALOG_OIDC_ISSUER")
    client_id = read("client_id", "MODELCATALOG_OIDC_CLIENT_ID")
    if issuer is None:
        if client_id is not None:
            raise ValueError("--oidc-client-id is given without --oidc-issuer")
        return None
    groups_claim = given.get("groups_claim")
    if groups_claim is None:
        groups_claim = env.get("MODELCATALOG_OIDC_GROUPS_CLAIM", "groups")
    skew = given.get("clock_skew_seconds")
    if skew is None:
        skew = _number(env, "MODELCATALOG_OIDC_CLOCK_SKEW_SECONDS", int)
    return SingleSignOn(
        issuer=issuer,
        client_id=client_id or "",
        client_secret=env.get(SECRET_VARIABLE, "").strip() or None,
        audience=read("audience", "MODELCATALOG_OIDC_AUDIENCE"),
        groups_claim=groups_claim.strip() or None,
        admin_group=read("admin_group", "MODELCATALOG_OIDC_ADMIN_GROUP"),
        clock_skew_seconds=DEFAULT_CLOCK_SKEW_SECONDS if skew is None else skew,
    )


def check_tracking_ui_url(url: str | None) -> str | None:
    """`url` without a trailing slash if it is an http(s) address; otherwise ValueError."""
    if not url:
        return None
    if not url.startswith(("http://", "https://")) or any(c in url for c in " \"<>'"):
        raise ValueError(
            f"the MLflow tracking UI URL is {url!r}; it must be an http:// or https:// address"
        )
    return url.rstrip("/")


def job_settings(env: Mapping[str, str], **given: Any) -> JobSettings:
    """Job settings from the MODELCATALOG_* variables; `given` ones (command-line flags) win."""
    read = {
        "queue": lambda: env.get("MODELCATALOG_JOB_QUEUE", "").strip() or EMBEDDED,
        "workers": lambda: _number(env, "MODELCATALOG_JOB_WORKERS", int),
        "broker_url": lambda: env.get("MODELCATALOG_BROKER_URL", "").strip() or None,
        "lease_seconds": lambda: _number(env, "MODELCATALOG_JOB_LEASE_SECONDS", float),
        "poll_seconds": lambda: _number(env, "MODELCATALOG_JOB_POLL_SECONDS", float),
        "public_url": lambda: env.get("MODELCATALOG_PUBLIC_URL", "").strip() or None,
        "allow_http_webhooks": lambda: _flag(env.get("MODELCATALOG_ALLOW_HTTP_WEBHOOKS")),
        "allow_private_webhooks": lambda: _flag(env.get("MODELCATALOG_ALLOW_PRIVATE_WEBHOOKS")),
        "delivery_attempts": lambda: _number(env, "MODELCATALOG_DELIVERY_ATTEMPTS", int),
        "delivery_backoff_seconds": lambda: _number(
            env, "MODELCATALOG_DELIVERY_BACKOFF_SECONDS", float
        ),
    }
    values = {name: given[name] if name in given else value() for name, value in read.items()}
    # Unset (or given as None): where tasks reach this machine's server.
    values["public_url"] = (values["public_url"] or _default_url(env)).rstrip("/")
    return JobSettings(**{name: value for name, value in values.items() if value is not None})


def default_public_url(host: str, port: int | str) -> str:
    """Where tasks reach a server listening on `host`:`port` (any address: this machine)."""
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def _default_url(env: Mapping[str, str]) -> str:
    return default_public_url(
        env.get("MODELCATALOG_HOST") or "127.0.0.1", env.get("MODELCATALOG_PORT") or 8080
    )


def _number(env: Mapping[str, str], name: str, kind: type[int] | type[float]) -> Any:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{name} is {raw!r}; expected a number") from None


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def admin_token_from_env() -> str | None:
    value = os.environ.get("MODELCATALOG_ADMIN_TOKEN", "").strip()
    return value or None
