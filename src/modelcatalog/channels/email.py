"""Notifications by email: a plain-text message per notification, sent with the standard
library's smtplib through the SMTP server the catalog keeps settings for (`service.smtp`)."""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from modelcatalog.domain import events as ev
from modelcatalog.errors import InvalidParameter

TIMEOUT_SECONDS = 10.0
SECURITY = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
MAX_ADDRESS = 254
# One plain address: a dotted domain, no display name, no list, no comments.
ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
SUBJECTS = {
    ev.MODEL_CREATED: "registered model created",
    ev.MODEL_VERSION_CREATED: "version created",
    ev.MODEL_VERSION_READY: "version ready",
    ev.MODEL_ALIAS_SET: "alias set",
    ev.MODEL_EVENTS: "model changes",
    ev.RUN_STARTED: "deployment run started",
    ev.RUN_SUCCEEDED: "deployment run succeeded",
    ev.RUN_FAILED: "deployment run failed",
    ev.APPROVAL_REQUESTED: "approval requested",
    ev.APPROVED: "approved",
    ev.REJECTED: "rejected",
    ev.TEST: "test notification",
}


def address(value: object, field: str) -> str:
    """One email address, `name@example.com`; InvalidParameter naming `field` otherwise."""
    text = value.strip() if isinstance(value, str) else ""
    _, parsed = email.utils.parseaddr(text)
    if not text or parsed != text or len(text) > MAX_ADDRESS or not ADDRESS.fullmatch(text):
        shown = value if isinstance(value, str) and len(value) <= 80 else "(given value)"
        raise InvalidParameter(
            f"'{field}' is {shown!r}: expected one email address such as ops@example.com "
            "(no display name, no list; the domain must contain a dot).",
            field,
        )
    return text


@dataclass(frozen=True)
class SmtpSettings:
    """How the server reaches its SMTP server. `password` is the sealed (encrypted) password."""

    host: str
    port: int
    security: str
    from_address: str
    username: str | None = None
    password: str | None = None

    def public(self) -> dict[str, Any]:
        """What an admin may read back: everything but the password."""
        return {
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "from_address": self.from_address,
            "username": self.username,
            "has_password": self.password is not None,
        }


def message(kind: str, payload: dict[str, Any], sender: str, to: str) -> EmailMessage:
    """A plain-text email for one notification: what happened, to which model, by whom."""
    what = SUBJECTS.get(kind, kind.replace("_", " ").lower())
    model = payload.get("model_name")
    version = payload.get("version")
    about = f"{model} version {version}" if model and version else (model or "")
    if kind == ev.TEST:
        about = str(payload.get("destination", ""))
    mail = EmailMessage()
    mail["Subject"] = f"[modelcatalog] {what}" + (f": {about}" if about else "")
    mail["From"] = sender
    mail["To"] = to
    mail["Date"] = email.utils.formatdate(localtime=False)
    mail["Message-ID"] = email.utils.make_msgid(domain=sender.rsplit("@", 1)[1])
    lines = [f"Event: {kind}"]
    for key, label in (
        ("model_name", "Model"),
        ("version", "Version"),
        ("alias", "Alias"),
        ("job", "Deployment job"),
        ("job_name", "Deployment job"),
        ("run_id", "Run"),
        ("task", "Task"),
        ("state", "State"),
        ("message", "Message"),
        ("reason", "Reason"),
        ("group", "Approvers"),
        ("actor", "By"),
        ("trigger", "Trigger"),
        ("destination", "Destination"),
    ):
        if payload.get(key) not in (None, ""):
            lines.append(f"{label}: {payload[key]}")
    if isinstance(payload.get("timestamp"), int):
        moment = dt.datetime.fromtimestamp(payload["timestamp"] / 1000, tz=dt.UTC)
        lines.append(f"When: {moment:%Y-%m-%d %H:%M:%S} UTC")
    for change in payload.get("changes") or []:
        if isinstance(change, dict):
            parts = [str(change.get("event", "")), str(change.get("model_name", ""))]
            if change.get("version"):
                parts.append(f"version {change['version']}")
            if change.get("alias"):
                parts.append(f"alias {change['alias']}")
            if change.get("actor"):
                parts.append(f"by {change['actor']}")
            lines.append("- " + " ".join(p for p in parts if p))
    if kind == ev.TEST:
        lines.append("")
        lines.append("This is a test: the destination receives modelcatalog notifications.")
    mail.set_content("\n".join(lines) + "\n")
    return mail


def send(settings: SmtpSettings, password: str | None, mail: EmailMessage) -> None:
    """Send one message; smtplib's exceptions (and OSError) say what went wrong."""
    client: smtplib.SMTP
    if settings.security == "ssl":
        client = smtplib.SMTP_SSL(
            settings.host,
            settings.port,
            timeout=TIMEOUT_SECONDS,
            context=ssl.create_default_context(),
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT_SECONDS)
    with client:
        if settings.security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if settings.username is not None and password is not None:
            client.login(settings.username, password)
        client.send_message(mail)
