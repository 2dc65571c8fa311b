"""`modelcatalog service-principals secrets`: OAuth secrets, with which machines get access
tokens (client credentials) instead of holding a long-lived personal access token."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from modelcatalog.cli import remote
from modelcatalog.cli.remote import OutputFormat, OutputOption, UrlOption
from modelcatalog.client.http import CATALOG_API, segment
from modelcatalog.client.lifetimes import parse_lifetime

app = typer.Typer(
    help="OAuth secrets of a service principal (metastore admins). With DATABRICKS_HOST, "
    "DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET set, MLflow and databricks-sdk get "
    "hour-long access tokens from the catalog by themselves.",
    no_args_is_help=True,
)

COLUMNS: list[remote.Column] = [
    ("secret id", "secret_id"),
    ("client id", "client_id"),
    ("created", lambda s: remote.timestamp(s.get("created_at"))),
    ("by", "created_by"),
    ("expires", lambda s: remote.timestamp(s.get("expires_at"))),
    ("last used", lambda s: remote.timestamp(s.get("last_used_at")) or "never"),
    ("state", lambda s: "expired" if s.get("expired") else "live"),
]

NameArgument = Annotated[
    str,
    typer.Argument(metavar="NAME", help="The service principal's name.", show_default=False),
]


def _path(name: str) -> str:
    if not name.strip():
        raise typer.BadParameter("a service principal's name is required.", param_hint="'NAME'")
    return f"{CATALOG_API}/service-principals/{segment(name.strip())}/secrets"


@app.command("create")
def create(
    name: NameArgument,
    lifetime: Annotated[
        str | None,
        typer.Option(
            "--lifetime",
            help="How long the secret is valid: a number and a unit s, m, h or d (365d, 12h). "
            "Default 730d, the most allowed.",
            show_default=False,
        ),
    ] = None,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Create an OAuth secret for a service principal; the secret is shown this once only.

    --output text prints the secret alone on stdout, and the client id and expiry on stderr.

    --output json prints the server's whole answer, the secret included.
    """
    body: dict[str, Any] = {}
    if lifetime is not None:
        try:
            body["lifetime_seconds"] = parse_lifetime(lifetime)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--lifetime'") from exc
    with remote.connect(url) as client:
        created = client.post(_path(name), body)
    if output is OutputFormat.json:
        remote.print_json(created)
        return
    print(created.get("secret", ""))
    remote.done(
        f"Created secret {created.get('secret_id', '')} for {name.strip()}, valid until "
        f"{remote.timestamp(created.get('expires_at'))}. Client id: "
        f"{created.get('client_id', '')}. Store the secret now: it cannot be shown again."
    )


@app.command("list")
def list_(
    name: NameArgument, url: UrlOption = None, output: OutputOption = OutputFormat.text
) -> None:
    """List a service principal's OAuth secrets; never the secrets themselves."""
    with remote.connect(url) as client:
        found = client.get(_path(name))
    remote.print_list(found.get("secrets") or [], COLUMNS, output, "secrets")


@app.command("delete")
def delete(
    name: NameArgument,
    secret_id: Annotated[
        str, typer.Argument(metavar="SECRET_ID", help="The id from `secrets list`.")
    ],
    url: UrlOption = None,
) -> None:
    """Delete an OAuth secret: it buys no more tokens, and the tokens it bought stop working."""
    if not secret_id.strip():
        raise typer.BadParameter("a secret id is required.", param_hint="'SECRET_ID'")
    with remote.connect(url) as client:
        client.delete(f"{_path(name)}/{segment(secret_id.strip())}")
    remote.done(f"Deleted secret {secret_id.strip()} of {name.strip()}.")
