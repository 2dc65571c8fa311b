"""The web UI's error dialect: an error reaches a person as a page that says what went wrong."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import Response

from modelcatalog.web.render import page

TITLES = {
    "NOT_FOUND": "Not found",
    "PERMISSION_DENIED": "Not allowed",
    "UNAUTHENTICATED": "Not signed in",
    "INVALID_PARAMETER": "Not accepted",
    "FAILED_PRECONDITION": "Not possible now",
    "REQUEST_LIMIT_EXCEEDED": "Too many requests",
    "ALREADY_EXISTS": "Already exists",
    "ABORTED": "Changed meanwhile",
}


@dataclass(frozen=True, eq=False)
class HtmlPages:
    """Errors as a page with a title, the message, and a way back."""

    name: str = "web UI"

    def response(self, kind: str, message: str, status: int) -> Response:
        return page(
            "error.html",
            status,
            title=TITLES.get(kind, "Something went wrong"),
            message=message,
            kind=kind,
        )


WEB_UI = HtmlPages()
