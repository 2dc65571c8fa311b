"""Where a `modelcatalog` URI points: the server, and optionally one model version.

Registry URIs:   modelcatalog://host:port            (HTTP)
                 modelcatalog://host:port?tls=true   (HTTPS)
                 modelcatalog+https://host:port      (HTTPS, where that scheme is registered)
Version URIs:    modelcatalog://host:port/models/<catalog.schema.model>/versions/<n>[/<path>]

Version URIs always use the plain `modelcatalog` scheme (with `?tls=true` for HTTPS) so that
loading a model needs no entry point beyond `modelcatalog`.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit, urlunsplit

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import UNAUTHENTICATED
from mlflow.utils.rest_utils import MlflowHostCreds

from modelcatalog.client import credentials

SCHEME = "modelcatalog"
TLS_SCHEME = "modelcatalog+https"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _invalid(uri: str, why: str) -> MlflowException:
    return MlflowException.invalid_parameter_value(
        f"Invalid modelcatalog URI '{uri}': {why}. Expected modelcatalog://host:port "
        "(HTTP), modelcatalog://host:port?tls=true or modelcatalog+https://host:port (HTTPS)."
    )


@dataclass(frozen=True)
class CatalogServer:
    """A catalog server as MLflow reaches it."""

    url: str  # http(s)://host:port, normalized

    @classmethod
    def from_uri(cls, uri: str) -> CatalogServer:
        """The server a `modelcatalog` registry or version URI names."""
        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        if scheme not in (SCHEME, TLS_SCHEME):
            raise _invalid(uri, f"the scheme is '{parts.scheme}'")
        if not parts.hostname:
            raise _invalid(uri, "there is no host")
        try:
            parts.port  # noqa: B018 - urlsplit validates the port lazily
        except ValueError as exc:
            raise _invalid(uri, str(exc)) from exc
        query = parse_qs(parts.query, keep_blank_values=True)
        tls_values = query.pop("tls", [])
        if query:
            raise _invalid(uri, f"unknown query parameter(s) {', '.join(sorted(query))}")
        tls = scheme == TLS_SCHEME
        for value in tls_values:
            if value.lower() in _TRUE:
                tls = True
            elif value.lower() not in _FALSE:
                raise _invalid(uri, f"tls={value} is neither true nor false")
        http_scheme = "https" if tls else "http"
        return cls(credentials.normalize_url(f"{http_scheme}://{parts.netloc}"))

    @property
    def tls(self) -> bool:
        return self.url.startswith("https://")

    def host_creds(self) -> MlflowHostCreds:
        """Credentials for MLflow's REST helpers; read on every call so a new login is picked up."""
        token = credentials.resolve_token(self.url)
        if not token:
            raise MlflowException(
                f"No token for the model catalog at {self.url}: set MODELCATALOG_TOKEN or run "
                f"`modelcatalog login --url {self.url}`.",
                error_code=UNAUTHENTICATED,
            )
        return MlflowHostCreds(host=self.url, token=token)

    def version_uri(self, full_name: str, version: str | int) -> str:
        """The URI naming one model version's files."""
        netloc = urlsplit(self.url).netloc
        path = f"/models/{full_name}/versions/{version}"
        return urlunsplit((SCHEME, netloc, path, "tls=true" if self.tls else "", ""))


@dataclass(frozen=True)
class VersionLocation:
    """A model version's files, or a path inside them, on a catalog server."""

    server: CatalogServer
    full_name: str
    version: str
    path: str = ""

    @classmethod
    def from_uri(cls, uri: str) -> VersionLocation:
        """Parse `modelcatalog://host:port/models/<c.s.m>/versions/<n>[/<path>]`."""
        server = CatalogServer.from_uri(uri)
        segments = [s for s in urlsplit(uri).path.split("/") if s]
        if len(segments) < 4 or segments[0] != "models" or segments[2] != "versions":
            raise _invalid(uri, "a model version URI has the path /models/<c.s.m>/versions/<n>")
        full_name, version = segments[1], segments[3]
        if full_name.count(".") != 2 or not version.isdigit():
            raise _invalid(uri, f"'{full_name}' version '{version}' is not a model version")
        path = posixpath.normpath("/".join(segments[4:])) if segments[4:] else ""
        if path.startswith(".."):
            raise _invalid(uri, "the path leaves the model version")
        return cls(server, full_name, version, path)
