"""Managed artifact storage: model version files as bytes under confined keys.

This package knows no database and no HTTP. :func:`open_store` picks the store from a URI;
:mod:`~modelcatalog.storage.keys` builds every key; :mod:`~modelcatalog.storage.presign` signs
the URLs through which clients move bytes.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from modelcatalog.storage.base import (
    ArtifactStore,
    ObjectNotFound,
    ObjectTooLarge,
    ObjectWriter,
    PathConflict,
    StorageError,
    StoredObject,
    WrittenObject,
)
from modelcatalog.storage.keys import InvalidPath, confine, file_key, version_prefix
from modelcatalog.storage.local import LocalArtifactStore

__all__ = [
    "ArtifactStore",
    "InvalidPath",
    "LocalArtifactStore",
    "ObjectNotFound",
    "ObjectTooLarge",
    "ObjectWriter",
    "PathConflict",
    "StorageError",
    "StoredObject",
    "WrittenObject",
    "confine",
    "file_key",
    "open_store",
    "version_prefix",
]

ENDPOINT_ENV_VARS = ("MODELCATALOG_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL")
"""Environment variables naming an S3-compatible endpoint, first one set wins."""

ROLE_ENV_VAR = "MODELCATALOG_S3_ROLE_ARN"
"""The role whose STS sessions, narrowed by a session policy to one version's prefix, become
clients' temporary credentials; unset, clients get presigned URLs only."""

STS_ENDPOINT_ENV_VAR = "MODELCATALOG_STS_ENDPOINT_URL"
"""Where STS is asked for those sessions; by default the S3 endpoint (as MinIO and moto serve
it), or AWS's own STS when no endpoint is set."""

_ALLOWED_FORMS = "a local path, file:///absolute/path, or s3://bucket[/prefix]"


def open_store(uri_or_path: str) -> ArtifactStore:
    """Return the store named by a local path, a ``file://`` URI or an ``s3://`` URI."""
    if not uri_or_path:
        raise ValueError(f"artifact location is empty; use {_ALLOWED_FORMS}")
    if "://" not in uri_or_path:
        return LocalArtifactStore(Path(uri_or_path))
    parts = urlsplit(uri_or_path)
    if parts.query or parts.fragment:
        raise ValueError(f"artifact location {uri_or_path!r} has a query or fragment")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"file URI {uri_or_path!r} names a remote host {parts.netloc!r}")
        return LocalArtifactStore(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        # Deferred: a local-only deployment never pays for importing boto3.
        from modelcatalog.storage.s3 import S3ArtifactStore

        endpoint_url = next((os.environ[v] for v in ENDPOINT_ENV_VARS if os.environ.get(v)), None)
        return S3ArtifactStore(
            parts.netloc,
            unquote(parts.path),
            endpoint_url=endpoint_url,
            role_arn=os.environ.get(ROLE_ENV_VAR) or None,
            sts_endpoint_url=os.environ.get(STS_ENDPOINT_ENV_VAR) or None,
        )
    raise ValueError(f"unsupported artifact location {uri_or_path!r}; use {_ALLOWED_FORMS}")
