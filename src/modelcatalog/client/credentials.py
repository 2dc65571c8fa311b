"""The login file: one bearer token per catalog server, and the server used by default.

`modelcatalog login` writes it; the CLI and the `modelcatalog://` MLflow scheme read it. It lives
in `$MODELCATALOG_CONFIG_DIR` (else `~/.config/modelcatalog/`) as `credentials.json`:

    {"default_url": "http://127.0.0.1:8080",
     "servers": {"http://127.0.0.1:8080": {"token": "..."}},
     "profiles": {"prod": {"url": "https://catalog.example.com"}}}

A profile names a server (as the Databricks CLI's profiles do): `modelcatalog login --profile
prod --url ...` saves it, and `modelcatalog --profile prod <command>` (or
$MODELCATALOG_PROFILE) uses it.

Tokens are secrets: the file is only ever readable by its owner, is replaced atomically so a
crash never leaves half a file, and nothing here prints a token.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

CONFIG_DIR_ENV = "MODELCATALOG_CONFIG_DIR"
URL_ENV = "MODELCATALOG_URL"
TOKEN_ENV = "MODELCATALOG_TOKEN"
PROFILE_ENV = "MODELCATALOG_PROFILE"
DEFAULT_URL = "http://127.0.0.1:8080"
FILE_NAME = "credentials.json"


class CredentialsFileError(Exception):
    """The login file exists but cannot be read as one."""


def config_dir() -> Path:
    """The folder holding the login file."""
    configured = os.environ.get(CONFIG_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".config" / "modelcatalog"


def credentials_path() -> Path:
    """Where the login file is (whether or not it exists)."""
    return config_dir() / FILE_NAME


def normalize_url(url: str) -> str:
    """Spell a server URL one way, so `HTTP://Host:8080/` and `http://host:8080` share a login."""
    text = url.strip()
    if "://" not in text:
        raise ValueError(f"'{url}' is not a server URL; expected e.g. {DEFAULT_URL}")
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(f"'{url}' is not an http(s) server URL; expected e.g. {DEFAULT_URL}")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


@dataclass
class Credentials:
    """The contents of the login file."""

    default_url: str | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    #: Named servers: profile name → server URL.
    profiles: dict[str, str] = field(default_factory=dict)

    def token_for(self, url: str) -> str | None:
        """The saved token for a server, if any."""
        return self.tokens.get(normalize_url(url))

    def to_json(self) -> dict[str, object]:
        found: dict[str, object] = {
            "default_url": self.default_url,
            "servers": {url: {"token": token} for url, token in sorted(self.tokens.items())},
        }
        if self.profiles:
            found["profiles"] = {name: {"url": u} for name, u in sorted(self.profiles.items())}
        return found


def load(path: Path | None = None) -> Credentials:
    """Read the login file; a missing file means no logins."""
    path = path or credentials_path()
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Credentials()
    try:
        data = json.loads(raw)
        servers = data.get("servers") or {}
        tokens = {normalize_url(url): str(entry["token"]) for url, entry in servers.items()}
        profiles = {
            str(name): normalize_url(entry["url"])
            for name, entry in (data.get("profiles") or {}).items()
        }
        default_url = data.get("default_url")
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CredentialsFileError(
            f"{path} is not a valid credentials file ({exc}); delete it and run "
            "`modelcatalog login` again."
        ) from exc
    return Credentials(
        default_url=normalize_url(default_url) if default_url else None,
        tokens=tokens,
        profiles=profiles,
    )


def save(credentials: Credentials, path: Path | None = None) -> Path:
    """Write the login file atomically, readable by its owner only."""
    path = path or credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # mkstemp creates the file with mode 0600, so the token is never readable by others, not
    # even for the moment between writing and renaming.
    fd, tmp_name = tempfile.mkstemp(prefix=".credentials-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(credentials.to_json(), handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o600)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def remember_token(
    url: str, token: str, path: Path | None = None, *, profile: str | None = None
) -> Path:
    """Save a token for a server; name the server `profile`, or else make it the default."""
    credentials = load(path)
    key = normalize_url(url)
    credentials.tokens[key] = token
    if profile:
        credentials.profiles[profile] = key
    else:
        credentials.default_url = key
    return save(credentials, path)


def profile_url(name: str) -> str:
    """The server a profile names; ValueError naming the profiles there are otherwise."""
    known = load().profiles
    if name not in known:
        there = ", ".join(sorted(known)) or "none yet (modelcatalog login --profile NAME)"
        raise ValueError(f"no profile '{name}'; the profiles are: {there}")
    return known[name]


def forget_token(url: str, path: Path | None = None) -> bool:
    """Remove a server's token; returns whether there was one."""
    credentials = load(path)
    key = normalize_url(url)
    if key not in credentials.tokens:
        return False
    del credentials.tokens[key]
    if credentials.default_url == key:
        credentials.default_url = None
    save(credentials, path)
    return True


def resolve_url(explicit: str | None = None) -> str:
    """The server to talk to: `--url`, else $MODELCATALOG_URL, else the profile named by
    $MODELCATALOG_PROFILE, else the last login, else local."""
    chosen = explicit or os.environ.get(URL_ENV)
    if not chosen and os.environ.get(PROFILE_ENV):
        chosen = profile_url(os.environ[PROFILE_ENV])
    if not chosen:
        try:
            chosen = load().default_url
        except CredentialsFileError:
            chosen = None
    return normalize_url(chosen or DEFAULT_URL)


def resolve_token(url: str) -> str | None:
    """The token for a server: $MODELCATALOG_TOKEN, else the login file's entry for that URL."""
    from_env = os.environ.get(TOKEN_ENV)
    if from_env:
        return from_env.strip()
    return load().token_for(url)
