"""Typed errors raised by the service layer; each wire dialect maps them in one place."""

from __future__ import annotations


class CatalogError(Exception):
    """Base of every error the catalog reports to a caller."""

    kind = "INTERNAL_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(CatalogError):
    """The named object does not exist (or the caller may not see it)."""

    kind = "NOT_FOUND"


class HiddenFromCaller(NotFound):
    """Reported as not found because the caller may not see the object (audited as a denial)."""


class AlreadyExists(CatalogError):
    """An object with that name exists already."""

    kind = "ALREADY_EXISTS"


class InvalidParameter(CatalogError):
    """A request field is missing or malformed; the message names the field and what is allowed."""

    kind = "INVALID_PARAMETER"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class RequestTooLarge(InvalidParameter):
    """The request body is larger than the server accepts."""

    kind = "REQUEST_TOO_LARGE"


class FailedPrecondition(CatalogError):
    """The request is well formed but the object is not in a state that allows it."""

    kind = "FAILED_PRECONDITION"


class PermissionDenied(CatalogError):
    """The caller is authenticated but not allowed to do this."""

    kind = "PERMISSION_DENIED"


class Unauthenticated(CatalogError):
    """No valid credentials came with the request."""

    kind = "UNAUTHENTICATED"


class TooManyRequests(CatalogError):
    """The client must slow down; `retry_after` says for how many seconds."""

    kind = "REQUEST_LIMIT_EXCEEDED"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(CatalogError):
    """The server cannot serve this request now (it would lose a guarantee); retry later."""

    kind = "TEMPORARILY_UNAVAILABLE"

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after
