"""Secrets kept at rest (webhook signing secrets, the SMTP password) are encrypted with a key
that never enters the database: Fernet (AES-128-CBC with HMAC-SHA256) from `cryptography`."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_ENV = "MODELCATALOG_SECRET_KEY"


class SecretBox:
    """Encrypts and decrypts short secrets.

    The key may be given as a function, called at the first seal or open: a process that never
    handles a secret (a Celery worker sends no notifications) then never needs the key."""

    def __init__(self, key: bytes | Callable[[], bytes]) -> None:
        self._key = key
        self._fernet: Fernet | None = None
        self._lock = threading.Lock()

    def _box(self) -> Fernet:
        with self._lock:
            if self._fernet is None:
                self._fernet = Fernet(self._key() if callable(self._key) else self._key)
            return self._fernet

    def seal(self, secret: str) -> str:
        return self._box().encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._box().decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise ValueError(
                "a stored secret cannot be decrypted: the server's secret key changed "
                f"(set {KEY_ENV} or restore <data-dir>/secret-key)"
            ) from None


def load_key(key_file: Path) -> bytes:
    """The key from MODELCATALOG_SECRET_KEY, else from `key_file` (made, mode 600, if missing).

    Replicas and workers on other machines must share it: set the variable there."""
    value = os.environ.get(KEY_ENV, "").strip()
    if value:
        try:
            Fernet(value.encode())
        except ValueError:
            raise ValueError(
                f"{KEY_ENV} is not a Fernet key (32 url-safe base64-encoded bytes); make one "
                "with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            ) from None
        return value.encode()
    if key_file.exists():
        return key_file.read_bytes().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # Written in full under another name, then linked into place: a process starting at the
    # same moment finds either no key file or a whole one, never an empty one.
    draft = key_file.with_name(f".{key_file.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(draft, key_file)
    except FileExistsError:
        return key_file.read_bytes().strip()
    finally:
        draft.unlink()
    return key
