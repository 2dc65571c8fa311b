"""Webhooks as MLflow sends them: a JSON envelope (`entity`, `action`, `timestamp`, `data`) POSTed
with `X-MLflow-Delivery-Id`, `X-MLflow-Timestamp` and, when the destination has a secret,
`X-MLflow-Signature: v1,<base64 HMAC-SHA256 of "{delivery_id}.{timestamp}.{body}">`, so a receiver
written for MLflow's own webhooks verifies ours unchanged.

A URL is checked when a destination is created and again before every attempt, because DNS can
change in between: https only, and no private, loopback, link-local, reserved or multicast
address, unless the server allows them. The connection then goes to the very address that was
checked (no second lookup a rebinding DNS server could answer differently); TLS still verifies
the certificate against the URL's host name."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import Any

from modelcatalog.domain import events as ev
from modelcatalog.errors import InvalidParameter

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"
TIMEOUT_SECONDS = 10.0
MAX_URL = 2048

#: MLflow's envelope names an entity and an action; our event kinds map onto them.
ENVELOPES = {
    ev.MODEL_CREATED: ("registered_model", "created"),
    ev.MODEL_VERSION_CREATED: ("model_version", "created"),
    ev.MODEL_VERSION_READY: ("model_version", "ready"),
    ev.MODEL_ALIAS_SET: ("model_version_alias", "created"),
    ev.MODEL_EVENTS: ("registered_model", "changed"),
    ev.RUN_STARTED: ("deployment_run", "started"),
    ev.RUN_SUCCEEDED: ("deployment_run", "succeeded"),
    ev.RUN_FAILED: ("deployment_run", "failed"),
    ev.APPROVAL_REQUESTED: ("deployment_approval", "requested"),
    ev.APPROVED: ("deployment_approval", "approved"),
    ev.REJECTED: ("deployment_approval", "rejected"),
    ev.TEST: ("notification_destination", "test"),
}


@dataclass(frozen=True)
class Target:
    """A checked URL and the addresses its host resolved to."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


class Refused(Exception):
    """The URL may not be called (scheme, or an address the server does not allow)."""


def _embedded_ipv4(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    # An IPv4-mapped, 6to4 or NAT64 IPv6 address carries an IPv4 one that must pass the check.
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in ipaddress.IPv6Network("64:ff9b::/96"):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return embedded
    return ip


def is_public(address: str) -> bool:
    """False for private, loopback, link-local, reserved, multicast and unspecified addresses."""
    ip = _embedded_ipv4(ipaddress.ip_address(address.split("%", 1)[0]))
    return ip.is_global and not ip.is_multicast


def check_url(url: object, *, allow_http: bool, allow_private: bool) -> Target:
    """Parse and resolve a webhook URL; `Refused` says why it may not be called."""
    if not isinstance(url, str) or not url.strip():
        raise Refused("a webhook URL is required: https://host[:port]/path")
    url = url.strip()
    if len(url) > MAX_URL:
        raise Refused(f"the URL is {len(url)} characters long; at most {MAX_URL} are allowed")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"'{url}' is not a valid URL ({exc})") from None
    allowed = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in allowed:
        hint = (
            ""
            if allow_http
            else " (plain http is allowed only with MODELCATALOG_ALLOW_HTTP_WEBHOOKS=1)"
        )
        raise Refused(f"the URL's scheme is '{parts.scheme}'; only https:// is allowed{hint}")
    if not parts.hostname:
        raise Refused(f"'{url}' has no host name")
    if parts.username is not None or parts.password is not None:
        raise Refused(
            "the URL carries a user name or password, which everyone who can list destinations "
            "would see; give a signing secret instead"
        )
    if parts.fragment:
        raise Refused("the URL has a #fragment, which is never sent to a server")
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"the host '{host}' cannot be resolved ({exc})") from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise Refused(
                    f"the host '{host}' resolves to {address}, a private, loopback, link-local, "
                    "reserved or multicast address; webhooks go to public addresses only "
                    "(unless the server runs with MODELCATALOG_ALLOW_PRIVATE_WEBHOOKS=1)"
                )
    return Target(url, parts.scheme, host, port, addresses)


def validate_url(url: object, *, allow_http: bool, allow_private: bool, field: str) -> str:
    """A webhook URL fit for a new destination, or InvalidParameter naming `field`."""
    try:
        return check_url(url, allow_http=allow_http, allow_private=allow_private).url
    except Refused as exc:
        raise InvalidParameter(f"'{field}' is refused: {exc}.", field) from None


def sign(secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    """MLflow's signature: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`."""
    content = f"{delivery_id}.{timestamp}.{body}".encode()
    digest = hmac.new(secret.encode(), content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def envelope(kind: str, data: dict[str, Any], at_ms: int) -> dict[str, Any]:
    """MLflow's webhook envelope around a notification's payload.

    The timestamp is when the notification was made, not when this attempt is sent, so every
    retry carries the same body."""
    entity, action = ENVELOPES.get(kind, ("model_event", kind.lower()))
    moment = dt.datetime.fromtimestamp(at_ms / 1000, tz=dt.UTC)
    return {
        "entity": entity,
        "action": action,
        "timestamp": moment.isoformat(),
        "data": {"event": kind, **data},
    }


def headers(delivery_id: str, timestamp: str, body: str, secret: str | None) -> dict[str, str]:
    """The headers of one attempt; signed only when the destination has a secret."""
    found = {
        "Content-Type": "application/json",
        DELIVERY_ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: timestamp,
        "User-Agent": "modelcatalog-webhooks",
    }
    if secret:
        found[SIGNATURE_HEADER] = sign(secret, delivery_id, timestamp, body)
    return found


def post(
    target: Target, body: str, sent_headers: dict[str, str], timeout: float = TIMEOUT_SECONDS
) -> int:
    """POST to the checked address; the HTTP status (redirects are not followed). Network
    failures raise OSError or http.client.HTTPException."""
    parts = urllib.parse.urlsplit(target.url)
    path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    last_error: OSError | None = None

    def pinned(address: tuple[str, int], timeout: float, source: Any = None) -> socket.socket:
        # Connect to an address the check accepted (the first that answers), never to a
        # fresh lookup; the Host header and TLS server name stay the URL's host.
        nonlocal last_error
        for ip in target.addresses:
            try:
                return socket.create_connection((ip, address[1]), timeout, source)
            except OSError as exc:
                last_error = exc
        raise last_error or OSError(f"no address to connect to for {target.host}")

    connection._create_connection = pinned  # type: ignore[attr-defined]
    try:
        connection.request("POST", path, body=body.encode(), headers=sent_headers)
        response = connection.getresponse()
        response.read(64 * 1024)  # the answer is not used; read a little so the close is clean
        return response.status
    finally:
        connection.close()


def body_of(kind: str, data: dict[str, Any], at_ms: int) -> str:
    """The exact JSON text that is sent and signed."""
    return json.dumps(envelope(kind, data, at_ms))
