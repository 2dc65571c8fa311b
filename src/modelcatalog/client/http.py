"""`CatalogClient`: a small JSON-over-HTTP client for one catalog server and one token."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from modelcatalog import __version__
from modelcatalog.client.errors import Conflict, MissingToken, ServerUnreachable, server_error

UC_API = "/api/2.1/unity-catalog"
CATALOG_API = "/api/modelcatalog"

Json = dict[str, Any]

#: Times a request that lost a race (409 ABORTED: nothing changed) is sent in all.
CONFLICT_ATTEMPTS = 3


def segment(value: str | int) -> str:
    """Quote one path segment (names are plain, but a stray `/` must not change the route)."""
    return quote(str(value), safe="")


class CatalogClient:
    """Talks to one catalog server as the holder of one bearer token."""

    def __init__(self, url: str, token: str | None, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout,
            headers={"User-Agent": f"modelcatalog-cli/{__version__}"},
            # A plain-HTTP server needs no TLS context: building one loads the CA bundle, a
            # quarter of a CLI command's start-up. HTTPS servers are verified as always (this
            # client follows no redirects, so a plain-HTTP URL never leads to an HTTPS one).
            verify=self.url.startswith("https://"),
        )

    def authorization(self, token: str | None = None) -> dict[str, str]:
        """The header that authenticates a request (for bodies this client does not send)."""
        bearer = token or self._token
        if not bearer:
            raise MissingToken(self.url)
        return {"Authorization": f"Bearer {bearer}"}

    def __enter__(self) -> CatalogClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        token: str | None = None,
        anonymous: bool = False,
    ) -> Json:
        """Send one request and return its JSON body; raise a typed error for an error answer.
        `anonymous` sends no token (to sign in, before there is one).

        A request that lost a race with a concurrent change changed nothing on the server; it is
        sent again, a few times at most, before its Conflict is raised."""
        authorization = {} if anonymous else self.authorization(token)
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                response = self._http.request(
                    method,
                    path,
                    params=query,
                    json=json,
                    headers=authorization,
                )
            except httpx.TransportError as exc:
                raise ServerUnreachable(self.url, _describe(exc)) from exc
            if not response.is_error:
                break
            try:
                body: object = response.json()
            except ValueError:
                body = response.text
            error = server_error(response.status_code, body, response.reason_phrase)
            if not isinstance(error, Conflict) or attempt == CONFLICT_ATTEMPTS:
                raise error
        if not response.content:
            return {}
        try:
            data = response.json()
        except ValueError as exc:
            raise ServerUnreachable(
                self.url, f"the answer to {method} {path} is not JSON; is this a catalog server?"
            ) from exc
        return data if isinstance(data, dict) else {"value": data}

    def get(self, path: str, **params: Any) -> Json:
        """GET with query parameters."""
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Json) -> Json:
        """POST a JSON body."""
        return self.request("POST", path, json=body)

    def put(self, path: str, body: Json) -> Json:
        """PUT a JSON body."""
        return self.request("PUT", path, json=body)

    def patch(self, path: str, body: Json) -> Json:
        """PATCH a JSON body."""
        return self.request("PATCH", path, json=body)

    def delete(self, path: str, **params: Any) -> Json:
        """DELETE with query parameters."""
        return self.request("DELETE", path, params=params)

    def paginate(
        self, path: str, items_key: str, *, page_size: int | None = None, **params: Any
    ) -> Iterator[Json]:
        """Yield every item of a list endpoint, following `next_page_token` to the end."""
        page_token: str | None = None
        seen_tokens: set[str] = set()
        while True:
            page = self.get(path, max_results=page_size, page_token=page_token, **params)
            yield from page.get(items_key) or []
            page_token = page.get("next_page_token") or None
            # A server that hands back a token it already gave would loop forever.
            if not page_token or page_token in seen_tokens:
                return
            seen_tokens.add(page_token)


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _describe(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed: {exc}" if str(exc) else "connection refused"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"
