"""Client side of the catalog: the login file and an HTTP client for the server's APIs."""

from modelcatalog.client.errors import (
    AlreadyExists,
    CatalogClientError,
    Conflict,
    InvalidRequest,
    MissingToken,
    NotFound,
    PermissionDenied,
    ServerError,
    ServerUnreachable,
    Unauthenticated,
)
from modelcatalog.client.http import CatalogClient

__all__ = [
    "AlreadyExists",
    "CatalogClient",
    "CatalogClientError",
    "Conflict",
    "InvalidRequest",
    "MissingToken",
    "NotFound",
    "PermissionDenied",
    "ServerError",
    "ServerUnreachable",
    "Unauthenticated",
]
