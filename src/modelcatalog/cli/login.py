"""`modelcatalog login` and `logout`: keep a token per server in the login file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from modelcatalog.cli import remote
from modelcatalog.cli.remote import UrlOption
from modelcatalog.client import CatalogClient, CatalogClientError, credentials
from modelcatalog.client.credentials import CredentialsFileError
from modelcatalog.client.http import CATALOG_API


def _read_token(token_file: Path | None) -> str:
    if token_file is not None:
        if str(token_file) == "-":
            return sys.stdin.read().strip()
        try:
            return token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise typer.BadParameter(
                f"cannot read {token_file}: {exc.strerror}", param_hint="'--token-file'"
            ) from exc
    if not sys.stdin.isatty():
        return sys.stdin.read().strip()
    return str(typer.prompt("Token", hide_input=True)).strip()


def _principal(me: dict[str, Any]) -> str:
    for key in ("user_name", "principal", "name", "email", "id"):
        if me.get(key):
            return str(me[key])
    return "an unnamed principal"


def login(
    url: UrlOption = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="Save the server under this name (for `modelcatalog --profile NAME ...`) "
            "instead of making it the default.",
            show_default=False,
        ),
    ] = None,
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read the token from stdin (as --token-file -).")
    ] = False,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            help="Read the token from this file ('-' for stdin). Without it the token is read "
            "from stdin when piped, else from a hidden prompt.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check a token against the server and save it for later commands and for MLflow.

    The token is saved in $MODELCATALOG_CONFIG_DIR/credentials.json (default
    ~/.config/modelcatalog/), readable only by you, and the server becomes the default for
    commands without --url. MODELCATALOG_TOKEN, when set, still takes precedence.
    """
    if profile is not None and not profile.strip():
        raise typer.BadParameter("a profile name is required.", param_hint="'--profile'")
    if token_stdin and token_file is not None:
        raise typer.BadParameter("give --token-stdin or --token-file, not both.")
    resolved = remote.server_url(url)
    token = _read_token(Path("-") if token_stdin else token_file)
    if not token:
        raise typer.BadParameter("the token is empty.", param_hint="token")
    try:
        with CatalogClient(resolved, token) as client:
            me = client.get(f"{CATALOG_API}/me")
        path = credentials.remember_token(
            resolved, token, profile=profile.strip() if profile else None
        )
    except CatalogClientError as exc:
        raise remote.fail(exc.message) from exc
    except (CredentialsFileError, OSError) as exc:
        raise remote.fail(f"cannot save the token: {exc}") from exc
    named = f" as profile '{profile.strip()}'" if profile else ""
    remote.done(f"Logged in to {resolved}{named} as {_principal(me)}; token saved in {path}.")


def logout(url: UrlOption = None) -> None:
    """Forget the saved token for a server."""
    resolved = remote.server_url(url)
    try:
        forgotten = credentials.forget_token(resolved)
    except (CredentialsFileError, OSError) as exc:
        raise remote.fail(str(exc)) from exc
    if forgotten:
        remote.done(f"Logged out of {resolved}.")
    else:
        remote.done(f"No saved token for {resolved}.")
