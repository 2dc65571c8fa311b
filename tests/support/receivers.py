"""Real receivers for notification tests: an HTTP server that records the webhooks it is sent, and
an SMTP server (aiosmtpd) that captures mail, optionally behind SMTP authentication.

Both run in threads of the test process on free local ports; `wait_for(n)` blocks until n
requests or messages arrived (or fails after a deadline), so tests never sleep on a guess.

    with WebhookReceiver(answers=[500, 500]) as hook:     # then 200 for every later request
        ...create a destination for hook.url...
        first, second, third = hook.wait_for(3)
        assert mlflow_signature_valid("s3cret", third.headers, third.body)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from support.servers import free_port

# The SMTP test server authenticates without TLS on purpose (it only listens on 127.0.0.1).
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    def header(self, name: str) -> str | None:
        """A header by name, compared case-insensitively as HTTP does."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


class WebhookReceiver:
    """A local HTTP server recording every request; answers the statuses in `answers` in turn,
    then `default` for every later request."""

    def __init__(self, answers: Iterable[int] = (), default: int = 200) -> None:
        self.requests: list[ReceivedRequest] = []
        self._answers = list(answers)
        self._default = default
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._arrived:
                    status = receiver._answers.pop(0) if receiver._answers else receiver._default
                    receiver.requests.append(
                        ReceivedRequest("POST", self.path, dict(self.headers.items()), body, status)
                    )
                    receiver._arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass  # keep test output quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[ReceivedRequest]:
        """The first `count` requests, once they have arrived."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(
                    f"expected {count} webhook requests within {timeout} s, got "
                    f"{len(self.requests)}"
                )
            return self.requests[:count]


def mlflow_signature_valid(
    secret: str, headers: dict[str, str], body: bytes, max_age_seconds: int = 300
) -> bool:
    """Verify a webhook exactly as MLflow documents it for receivers: recompute the HMAC-SHA256 of
    `{delivery_id}.{timestamp}.{body}`, compare `v1,<base64>` in constant time, refuse stale
    timestamps."""
    lower = {k.lower(): v for k, v in headers.items()}
    delivery_id = lower.get("x-mlflow-delivery-id")
    timestamp = lower.get("x-mlflow-timestamp")
    signature = lower.get("x-mlflow-signature")
    if not delivery_id or not timestamp or not signature or not signature.startswith("v1,"):
        return False
    if abs(time.time() - int(timestamp)) > max_age_seconds:
        return False
    content = f"{delivery_id}.{timestamp}.{body.decode('utf-8')}"
    expected = base64.b64encode(
        hmac.new(secret.encode("utf-8"), content.encode("utf-8"), hashlib.sha256).digest()
    ).decode("utf-8")
    return hmac.compare_digest(signature[3:], expected)


@dataclass
class CapturedMail:
    """One message the SMTP server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None


@dataclass
class _Handler:
    capture: SmtpCapture

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        login = session.auth_data.login.decode() if session.auth_data else None
        self.capture._add(
            CapturedMail(envelope.mail_from, list(envelope.rcpt_tos), parsed, login)  # type: ignore[arg-type]
        )
        return "250 Message accepted for delivery"


@dataclass
class SmtpCapture:
    """A real SMTP server (aiosmtpd) on a free local port, without TLS. With `username` and
    `password` it requires SMTP AUTH and refuses any other credentials."""

    username: str | None = None
    password: str | None = None
    messages: list[CapturedMail] = field(default_factory=list)
    failed_logins: int = 0

    def __post_init__(self) -> None:
        self.port = free_port()
        self._arrived = threading.Condition()
        extra: dict[str, Any] = {}
        if self.username is not None:
            extra = {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": False,  # a local test server speaks plain SMTP
            }
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **extra)

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        ):
            return AuthResult(success=True, auth_data=auth_data)
        self.failed_logins += 1
        return AuthResult(success=False, handled=False)

    def _add(self, mail: CapturedMail) -> None:
        with self._arrived:
            self.messages.append(mail)
            self._arrived.notify_all()

    def __enter__(self) -> SmtpCapture:
        self._controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._controller.stop()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[CapturedMail]:
        """The first `count` messages, once they have arrived."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(
                    f"expected {count} emails within {timeout} s, got {len(self.messages)}"
                )
            return self.messages[:count]

    def wait_for_mail_to(self, address: str, timeout: float = 30.0) -> CapturedMail:
        """The first message to `address`, once it has arrived (others may come in between)."""

        def first() -> CapturedMail | None:
            return next((m for m in self.messages if address in m.rcpt_tos), None)

        with self._arrived:
            if not self._arrived.wait_for(lambda: first() is not None, timeout):
                raise AssertionError(f"expected an email to {address} within {timeout} s")
            return first()  # type: ignore[return-value]
