"""Server settings, from CLI flags or environment variables, validated once at start."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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
    ) -> ServerSettings:
        """Fill what was not given from the data folder (SQLite file, artifacts folder)."""
        folder = Path(data_dir or DEFAULT_DATA_DIR).expanduser().resolve()
        uri = database_uri or f"sqlite:///{folder / 'catalog.db'}"
        root = storage_root or str(folder / "artifacts")
        lifetime = url_lifetime_seconds or cls.url_lifetime_seconds
        if not min_url_lifetime() <= lifetime <= MAX_URL_LIFETIME:
            raise ValueError(
                f"the presigned URL lifetime is {lifetime} seconds; it must be between "
                f"{min_url_lifetime()} and {MAX_URL_LIFETIME}"
            )
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
        )

    @property
    def admin_token_file(self) -> Path:
        return self.data_dir / "admin-token"

    @property
    def secret_key_file(self) -> Path:
        """The key that encrypts stored secrets, unless MODELCATALOG_SECRET_KEY gives one."""
        return self.data_dir / "secret-key"


def admin_token_from_env() -> str | None:
    value = os.environ.get("MODELCATALOG_ADMIN_TOKEN", "").strip()
    return value or None
