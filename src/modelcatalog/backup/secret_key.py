"""The secret key in a backup: where the server's key comes from, a fingerprint that names it
without revealing it, and the check that it opens every secret the database holds.

A key given in MODELCATALOG_SECRET_KEY is not written into the backup: whoever chose to keep the
key out of the data folder keeps it, and a backup folder travels to places (other disks, other
machines) the variable never went. The backup records its fingerprint, and a restore checks that
the key it is given is that one.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Connection, select

from modelcatalog.backup.folder import BackupFailed
from modelcatalog.service import smtp
from modelcatalog.service.secrets import KEY_ENV
from modelcatalog.store import tables as t

FROM_FILE = "file"
FROM_ENVIRONMENT = "environment"
NONE = "none"


@dataclass(frozen=True)
class SecretKey:
    """The key a server uses and where it comes from; `value` is never printed or logged."""

    source: str
    value: bytes | None
    file: Path | None = None

    @property
    def fingerprint(self) -> str | None:
        return fingerprint(self.value) if self.value else None


def fingerprint(key: bytes) -> str:
    """A name for a key that says nothing about it (a hash with a purpose prefix)."""
    return hashlib.sha256(b"modelcatalog secret key fingerprint\0" + key.strip()).hexdigest()[:32]


def current_key(key_file: Path) -> SecretKey:
    """The key a server with these settings uses, read as `service.secrets.load_key` reads it,
    but never made: a backup must not invent a key the server does not have."""
    value = os.environ.get(KEY_ENV, "").strip()
    if value:
        return SecretKey(FROM_ENVIRONMENT, value.encode())
    if key_file.is_file():
        return SecretKey(FROM_FILE, key_file.read_bytes().strip(), key_file)
    return SecretKey(NONE, None)


@dataclass(frozen=True)
class SealedSecret:
    """A secret stored encrypted: what it belongs to, and its ciphertext."""

    owner: str
    sealed: str


def sealed_secrets(connection: Connection) -> list[SealedSecret]:
    """Every encrypted secret in the database: webhook signing secrets and the SMTP password."""
    found = [
        SealedSecret(f"webhook destination {name!r}", str(sealed))
        for name, sealed in connection.execute(
            select(t.NotificationDestination.name, t.NotificationDestination.encrypted_secret)
            .where(t.NotificationDestination.encrypted_secret.is_not(None))
            .order_by(t.NotificationDestination.name)
        )
    ]
    raw = connection.scalar(select(t.Setting.value).where(t.Setting.key == smtp.SETTING_KEY))
    if raw:
        password = json.loads(raw).get("password")
        if password:
            found.append(SealedSecret("the SMTP password", password))
    return found


def unopened(key: bytes | None, secrets: list[SealedSecret]) -> list[SealedSecret]:
    """The secrets `key` does not decrypt (all of them without a key)."""
    if not secrets:
        return []
    if key is None:
        return list(secrets)
    try:
        box = Fernet(key)
    except ValueError:
        return list(secrets)
    failed = []
    for secret in secrets:
        try:
            box.decrypt(secret.sealed.encode())
        except InvalidToken:
            failed.append(secret)
    return failed


def describe(secrets: list[SealedSecret], limit: int = 5) -> str:
    names = [s.owner for s in secrets[:limit]]
    more = len(secrets) - len(names)
    return ", ".join(names) + (f" and {more} more" if more else "")


def check_opens(key: SecretKey, secrets: list[SealedSecret], where: str) -> None:
    """BackupFailed unless `key` opens every stored secret."""
    failed = unopened(key.value, secrets)
    if not failed:
        return
    source = {
        FROM_FILE: f"the key file {key.file}",
        FROM_ENVIRONMENT: KEY_ENV,
        NONE: "no key (neither a key file nor " + KEY_ENV + ")",
    }[key.source]
    raise BackupFailed(
        f"{where}: {source} does not open {len(failed)} of the {len(secrets)} stored secrets "
        f"({describe(failed)}); the server uses another key: give its {KEY_ENV} or its --data-dir"
    )
