"""Server settings, from CLI flags or environment variables, validated once at start."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = "modelcatalog-data"
MIN_URL_LIFETIME = 10
MAX_URL_LIFETIME = 86_400


@dataclass(frozen=True)
class ServerSettings:
    """Where the catalog keeps its metadata and its files."""

    data_dir: Path
    database_uri: str
    storage_root: str
    url_lifetime_seconds: int = 900

    @classmethod
    def resolve(
        cls,
        *,
        data_dir: str | None = None,
        database_uri: str | None = None,
        storage_root: str | None = None,
        url_lifetime_seconds: int | None = None,
    ) -> ServerSettings:
        """Fill what was not given from the data folder (SQLite file, artifacts folder)."""
        folder = Path(data_dir or DEFAULT_DATA_DIR).expanduser().resolve()
        uri = database_uri or f"sqlite:///{folder / 'catalog.db'}"
        root = storage_root or str(folder / "artifacts")
        lifetime = url_lifetime_seconds or cls.url_lifetime_seconds
        if not MIN_URL_LIFETIME <= lifetime <= MAX_URL_LIFETIME:
            raise ValueError(
                f"the presigned URL lifetime is {lifetime} seconds; it must be between "
                f"{MIN_URL_LIFETIME} and {MAX_URL_LIFETIME}"
            )
        return cls(
            data_dir=folder, database_uri=uri, storage_root=root, url_lifetime_seconds=lifetime
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
