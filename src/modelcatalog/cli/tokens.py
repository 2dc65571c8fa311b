"""`modelcatalog tokens`: personal access tokens for the API, the CLI and MLflow."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from modelcatalog.cli import remote
from modelcatalog.cli.remote import OutputFormat, OutputOption, UrlOption
from modelcatalog.client.http import CATALOG_API, segment
from modelcatalog.client.lifetimes import parse_lifetime

app = typer.Typer(
    help="Personal access tokens: your own, or (metastore admins) another principal's.",
    no_args_is_help=True,
)

COLUMNS: list[remote.Column] = [
    ("token id", "token_id"),
    ("principal", "principal"),
    ("comment", "comment"),
    ("created", lambda t: remote.timestamp(t.get("created_at") or t.get("creation_time"))),
    ("expires", lambda t: remote.timestamp(t.get("expires_at") or t.get("expiry_time"))),
    ("revoked", lambda t: "yes" if t.get("revoked") else ""),
]

PrincipalOption = Annotated[
    str | None,
    typer.Option(
        "--principal",
        help="Whose tokens: a user or service principal (metastore admins only). Default: yours.",
        show_default=False,
    ),
]


def _principal(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise typer.BadParameter("a principal's name is required.", param_hint="'--principal'")
    return value


def _lifetime_seconds(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_lifetime(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--lifetime'") from exc


@app.command("create")
def create(
    comment: Annotated[
        str | None,
        typer.Option("--comment", help="What the token is for.", show_default=False),
    ] = None,
    lifetime: Annotated[
        str | None,
        typer.Option(
            "--lifetime",
            help="How long the token is valid: a number and a unit s, m, h or d "
            "(30d, 12h, 90m, 3600s). Default: the server's.",
            show_default=False,
        ),
    ] = None,
    principal: PrincipalOption = None,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Create a token for yourself, or with --principal for someone else (metastore admins).

    The token is shown this once only.

    --output text prints the token alone on stdout, and its id and expiry on stderr.

    --output json prints the server's whole answer, the token included.
    """
    body: dict[str, Any] = {"comment": comment}
    if lifetime is not None:
        body["lifetime_seconds"] = _lifetime_seconds(lifetime)
    owner = _principal(principal)
    if owner is not None:
        body["principal"] = owner
    with remote.connect(url) as client:
        created = client.post(f"{CATALOG_API}/tokens", body)
    if output is OutputFormat.json:
        remote.print_json(created)
        return
    print(created.get("token", ""))
    expiry = remote.timestamp(created.get("expires_at"))
    remote.done(
        f"Created token {created.get('token_id', '')}"
        + (f" for {owner}" if owner is not None else "")
        + (f", valid until {expiry}" if expiry else "")
        + ". Store it now: it cannot be shown again."
    )


@app.command("list")
def list_(
    principal: PrincipalOption = None,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """List your tokens, or another principal's with --principal; never the tokens themselves."""
    owner = _principal(principal)
    with remote.connect(url) as client:
        tokens = list(client.paginate(f"{CATALOG_API}/tokens", "tokens", principal=owner))
    remote.print_list(tokens, COLUMNS, output, "tokens")


@app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="Token id from `tokens list`.")],
    url: UrlOption = None,
) -> None:
    """Revoke a token; it stops working at once."""
    if not token_id.strip():
        raise typer.BadParameter("a token id is required.", param_hint="'ID'")
    with remote.connect(url) as client:
        client.delete(f"{CATALOG_API}/tokens/{segment(token_id.strip())}")
    remote.done(f"Revoked token {token_id.strip()}.")
