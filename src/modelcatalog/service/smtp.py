"""The SMTP server's settings as the catalog keeps them: validated, and stored as one row of the
`settings` table with the password sealed (encrypted)."""

from __future__ import annotations

import json
import re

from sqlalchemy.orm import Session

from modelcatalog.channels.email import DEFAULT_PORTS, SECURITY, SmtpSettings, address
from modelcatalog.domain import rules
from modelcatalog.errors import InvalidParameter
from modelcatalog.store import tables as t

#: The `settings` row that holds the SMTP settings as JSON (the password sealed).
SETTING_KEY = "notifications.smtp"
NOT_CONFIGURED = (
    "no SMTP server is configured: modelcatalog notifications smtp set --host HOST --from ADDRESS"
)
HOST = re.compile(r"^[A-Za-z0-9_.:\[\]-]{1,253}$")


def validate(
    *,
    host: object,
    port: object,
    security: object,
    from_address: object,
    username: object,
    password: object,
) -> tuple[SmtpSettings, str | None]:
    """Validated settings, and the plain password (still to be sealed)."""
    if not isinstance(host, str) or not HOST.fullmatch(host.strip()):
        raise InvalidParameter(
            f"'host' is {host!r}: expected the SMTP server's host name or IP address.", "host"
        )
    mode: object = security.strip().lower() if isinstance(security, str) else security
    mode = "starttls" if mode in (None, "") else mode
    if mode not in SECURITY:
        raise InvalidParameter(
            f"'security' is {security!r}; allowed: {', '.join(SECURITY)}.", "security"
        )
    if port in (None, ""):
        number = DEFAULT_PORTS[mode]
    else:
        port = rules.whole_number(port)
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise InvalidParameter(f"'port' is {port!r}: expected 1 to 65535.", "port")
        number = port
    sender = address(from_address, "from_address")
    user = username.strip() if isinstance(username, str) and username.strip() else None
    if username not in (None, "") and not isinstance(username, str):
        raise InvalidParameter("'username' must be a string.", "username")
    secret = password if isinstance(password, str) and password else None
    if password not in (None, "") and not isinstance(password, str):
        raise InvalidParameter("'password' must be a string.", "password")
    if (user is None) != (secret is None):
        raise InvalidParameter(
            "SMTP authentication needs both 'username' and 'password' (or neither).",
            "password" if user else "username",
        )
    return SmtpSettings(host.strip(), number, mode, sender, user), secret


def stored(settings: SmtpSettings, sealed_password: str | None) -> SmtpSettings:
    """The settings as kept: with the sealed password."""
    return SmtpSettings(
        settings.host,
        settings.port,
        settings.security,
        settings.from_address,
        settings.username,
        sealed_password,
    )


def store(session: Session, settings: SmtpSettings, sealed_password: str | None) -> None:
    """Replace the stored SMTP settings."""
    value = json.dumps(
        {
            "host": settings.host,
            "port": settings.port,
            "security": settings.security,
            "from_address": settings.from_address,
            "username": settings.username,
            "password": sealed_password,
        },
        sort_keys=True,
    )
    row = session.get(t.Setting, SETTING_KEY)
    if row is None:
        session.add(t.Setting(key=SETTING_KEY, value=value))
    else:
        row.value = value


def load(session: Session) -> SmtpSettings | None:
    """The stored SMTP settings (password sealed), or None when none are."""
    row = session.get(t.Setting, SETTING_KEY)
    if row is None:
        return None
    raw = json.loads(row.value)
    return SmtpSettings(
        raw["host"],
        raw["port"],
        raw["security"],
        raw["from_address"],
        raw.get("username"),
        raw.get("password"),
    )


def remove(session: Session) -> bool:
    """Delete the SMTP settings; False when there were none."""
    row = session.get(t.Setting, SETTING_KEY)
    if row is None:
        return False
    session.delete(row)
    return True
