"""What can go wrong when talking to a catalog server, as typed errors with readable messages."""

from __future__ import annotations


class CatalogClientError(Exception):
    """Base of every error the client raises; `str()` is a message fit for a user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ServerUnreachable(CatalogClientError):
    """No HTTP answer at all: wrong URL, server down, TLS or network failure."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"cannot reach the catalog server at {url} ({reason}). Check --url or "
            "MODELCATALOG_URL and that the server is running."
        )
        self.url = url


class MissingToken(CatalogClientError):
    """No token is configured for the server."""

    def __init__(self, url: str) -> None:
        super().__init__(
            f"no token for {url}: set MODELCATALOG_TOKEN or run `modelcatalog login --url {url}`."
        )
        self.url = url


class ServerError(CatalogClientError):
    """The server answered with an error body `{"error_code", "message"}`."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.detail = message


class NotFound(ServerError):
    """404: the object does not exist, or the caller may not see it."""


class AlreadyExists(ServerError):
    """409: an object with that name exists already."""


class Conflict(ServerError):
    """409 ABORTED / RESOURCE_CONFLICT: a concurrent change won a race with the request (which
    changed nothing and may be sent again as it is), or the object is not in a state that allows
    it (a model that still has versions, deleted without force)."""


class InvalidRequest(ServerError):
    """400: the server rejected a parameter."""


class Unauthenticated(ServerError):
    """401: the token is missing, unknown, expired or revoked."""


class PermissionDenied(ServerError):
    """403: the token is valid but lacks the privilege."""


_BY_STATUS: dict[int, type[ServerError]] = {
    400: InvalidRequest,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: AlreadyExists,
}

#: A 409 with one of these codes is a lost race, not an existing object.
CONFLICT_CODES = ("ABORTED", "RESOURCE_CONFLICT")

_DEFAULT_CODES = {
    400: "INVALID_PARAMETER_VALUE",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    409: "RESOURCE_ALREADY_EXISTS",
}


def server_error(status: int, body: object, reason: str = "") -> ServerError:
    """Build the typed error for an HTTP error answer, whatever shape its body has."""
    error_code = ""
    message = ""
    if isinstance(body, dict):
        error_code = str(body.get("error_code") or "")
        message = str(body.get("message") or body.get("detail") or "")
    elif isinstance(body, str):
        message = body.strip()[:500]
    error_code = error_code or _DEFAULT_CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "")
    error_code = error_code or f"HTTP_{status}"
    message = message or reason or f"HTTP {status}"
    if status == 401:
        message += " (the token was rejected: run `modelcatalog login` or check MODELCATALOG_TOKEN)"
    if status == 409 and error_code in CONFLICT_CODES:
        return Conflict(status, error_code, message)
    return _BY_STATUS.get(status, ServerError)(status, error_code, message)
