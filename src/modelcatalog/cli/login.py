"""`modelcatalog login` and `logout`: keep a token per server in the login file."""

from __future__ import annotations

import sys
import webbrowser
from pathlib import Path
from typing import Annotated, Any

import typer

from modelcatalog.cli import remote
from modelcatalog.cli.remote import UrlOption
from modelcatalog.client import CatalogClient, CatalogClientError, credentials
from modelcatalog.client.credentials import CredentialsFileError
from modelcatalog.client.http import CATALOG_API
from modelcatalog.client.sso import (
    SignInExpired,
    browser_sign_in,
    device_sign_in,
    offers_device_flow,
)


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
    sso: Annotated[
        bool,
        typer.Option(
            "--sso",
            help="Sign in with the organisation's identity provider instead of a token: confirm "
            "the code shown in any browser, and the catalog's token for you is saved.",
        ),
    ] = False,
    browser: Annotated[
        bool,
        typer.Option(
            "--browser",
            help="With --sso: sign in in a browser on this machine (which comes back to the "
            "command on 127.0.0.1), also where the provider has no device flow.",
        ),
    ] = False,
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
    if sso and (token_stdin or token_file is not None):
        raise typer.BadParameter("--sso signs in without a token: drop --token-stdin/--token-file.")
    resolved = remote.server_url(url)
    if browser and not sso:
        raise typer.BadParameter("--browser goes with --sso.")
    token = (
        _signed_in(resolved, browser)
        if sso
        else _read_token(Path("-") if token_stdin else token_file)
    )
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


def _show_code(started: dict[str, Any]) -> None:
    where = started.get("verification_uri_complete") or started.get("verification_uri")
    remote.stderr.print(
        f"To sign in, open {where} and confirm the code {started.get('user_code')}.",
        highlight=False,
        soft_wrap=True,
    )
    if sys.stdout.isatty() and where:
        webbrowser.open(str(where))
    remote.stderr.print("Waiting for the sign-in to finish…", highlight=False)


def _show_address(address: str) -> None:
    remote.stderr.print(
        f"To sign in, open {address} in a browser on this machine.", highlight=False
    )
    if sys.stdout.isatty():
        webbrowser.open(address)
    remote.stderr.print("Waiting for the sign-in to finish…", highlight=False)


def _signed_in(url: str, in_browser: bool) -> str:
    """Sign in at the identity provider through the catalog (its device flow where it has
    one, else a browser here); the catalog's token for you."""
    try:
        with CatalogClient(url, None) as client:
            if in_browser or not offers_device_flow(client):
                return str(browser_sign_in(client, _show_address)["token"])
            return str(device_sign_in(client, _show_code)["token"])
    except CatalogClientError as exc:
        raise remote.fail(exc.message) from exc
    except SignInExpired as exc:
        raise remote.fail(str(exc)) from exc


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
