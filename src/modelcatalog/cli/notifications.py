"""`modelcatalog notifications`: where notifications go (email addresses, signed webhooks), the
delivery log, and the SMTP server email goes through.

Secrets (a webhook's signing secret, the SMTP password) are read from stdin or from an
environment variable you name, never from a flag's value: command lines end up in shell
histories and process listings."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from modelcatalog.cli import remote
from modelcatalog.cli.remote import OutputFormat, OutputOption, UrlOption
from modelcatalog.client.http import CATALOG_API, segment
from modelcatalog.domain import rules
from modelcatalog.errors import InvalidParameter

app = typer.Typer(
    help="Notification destinations (email, signed webhooks), the delivery log and SMTP.",
    no_args_is_help=True,
)
smtp = typer.Typer(
    help="The SMTP server email notifications go through (metastore admins).",
    no_args_is_help=True,
)
app.add_typer(smtp, name="smtp")

DESTINATIONS = f"{CATALOG_API}/notification-destinations"
DELIVERIES = f"{CATALOG_API}/deliveries"
SMTP = f"{CATALOG_API}/notifications/smtp"

COLUMNS: list[remote.Column] = [
    ("name", "name"),
    ("kind", "kind"),
    ("address", "address"),
    ("signed", lambda d: "yes" if d.get("has_secret") else ""),
    ("owner", "owner"),
    ("created", remote.created),
]
DELIVERY_COLUMNS: list[remote.Column] = [
    ("id", "id"),
    ("destination", "destination"),
    ("event", "event"),
    ("state", "state"),
    ("attempts", "attempts"),
    ("created", remote.created),
    ("next attempt", lambda d: remote.timestamp(d.get("next_attempt_at"))),
    ("status", "last_status"),
    ("error", "last_error"),
]
SMTP_FIELDS: list[remote.Column] = [
    ("host", "host"),
    ("port", "port"),
    ("security", "security"),
    ("from", "from_address"),
    ("username", "username"),
    ("password", lambda s: "stored (encrypted)" if s.get("has_password") else "none"),
]

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The destination's name.")]


def _name(value: str, hint: str = "'NAME'") -> str:
    """A destination name, checked before any request (a typo is a usage error, exit 2)."""
    try:
        return rules.name_part(value, "name")
    except InvalidParameter as exc:
        raise typer.BadParameter(exc.message, param_hint=hint) from exc


def read_secret(
    stdin: bool, env: str | None, what: str, stdin_flag: str, env_flag: str
) -> str | None:
    """A secret from the first line of stdin or from the named environment variable."""
    if stdin and env:
        raise typer.BadParameter(
            f"give {stdin_flag} or {env_flag}, not both.", param_hint=f"'{env_flag}'"
        )
    if stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise typer.BadParameter(
                f"{stdin_flag} read an empty {what}.", param_hint=f"'{stdin_flag}'"
            )
        return value
    if env:
        value = os.environ.get(env, "")
        if not value:
            raise typer.BadParameter(
                f"the environment variable {env} is not set or empty.", param_hint=f"'{env_flag}'"
            )
        return value
    return None


@app.command("create")
def create(
    name: NameArgument,
    email: Annotated[
        str | None, typer.Option("--email", help="Send to this email address.", show_default=False)
    ] = None,
    webhook: Annotated[
        str | None,
        typer.Option("--webhook", help="POST to this https:// URL.", show_default=False),
    ] = None,
    secret_stdin: Annotated[
        bool,
        typer.Option(
            "--secret-stdin",
            help="Read the webhook's signing secret from the first line of stdin: requests are "
            "then signed with X-MLflow-Signature as MLflow signs its webhooks.",
        ),
    ] = False,
    secret_env: Annotated[
        str | None,
        typer.Option(
            "--secret-env",
            metavar="VARIABLE",
            help="Read the webhook's signing secret from this environment variable.",
            show_default=False,
        ),
    ] = None,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Create a destination: --email ADDRESS or --webhook URL (one of them)."""
    clean = _name(name)
    if (email is None) == (webhook is None):
        raise typer.BadParameter(
            "give exactly one of --email or --webhook.", param_hint="'--email'"
        )
    if (secret_stdin or secret_env) and webhook is None:
        raise typer.BadParameter(
            "a signing secret applies to --webhook only.", param_hint="'--secret-stdin'"
        )
    secret = read_secret(secret_stdin, secret_env, "secret", "--secret-stdin", "--secret-env")
    body: dict[str, Any] = {
        "name": clean,
        "kind": "email" if email is not None else "webhook",
        "address": email if email is not None else webhook,
    }
    if secret is not None:
        body["secret"] = secret
    with remote.connect(url) as client:
        created = client.post(DESTINATIONS, body)
    if output is OutputFormat.json:
        remote.print_json(created)
        return
    kind, where = created.get("kind"), created.get("address")
    signed = " (signed)" if created.get("has_secret") else ""
    remote.done(f"Created {kind} destination {created.get('name')} → {where}{signed}.")


@app.command("list")
def list_(url: UrlOption = None, output: OutputOption = OutputFormat.text) -> None:
    """List every destination (never a secret)."""
    with remote.connect(url) as client:
        found = client.get(DESTINATIONS).get("destinations") or []
    remote.print_list(found, COLUMNS, output, "destinations")


@app.command("get")
@app.command("show", hidden=True)  # the earlier name, kept working
def show(
    name: NameArgument, url: UrlOption = None, output: OutputOption = OutputFormat.text
) -> None:
    """Show one destination."""
    with remote.connect(url) as client:
        found = client.get(f"{DESTINATIONS}/{segment(_name(name))}")
    remote.print_object(found, COLUMNS, output)


@app.command("delete")
def delete(name: NameArgument, url: UrlOption = None) -> None:
    """Delete a destination and its delivery log (its owner or a metastore admin)."""
    clean = _name(name)
    with remote.connect(url) as client:
        client.delete(f"{DESTINATIONS}/{segment(clean)}")
    remote.done(f"Deleted destination {clean}.")


@app.command("test")
def test(
    name: NameArgument, url: UrlOption = None, output: OutputOption = OutputFormat.text
) -> None:
    """Queue a test notification; follow it with `notifications deliveries --destination NAME`."""
    clean = _name(name)
    with remote.connect(url) as client:
        queued = client.post(f"{DESTINATIONS}/{segment(clean)}/test", {})
    if output is OutputFormat.json:
        remote.print_json(queued)
        return
    remote.done(f"Queued test notification {queued.get('id')} to {clean}.")


@app.command("deliveries")
def deliveries(
    destination: Annotated[
        str | None,
        typer.Option(
            "--destination", help="Only this destination's deliveries.", show_default=False
        ),
    ] = None,
    state: Annotated[
        str | None,
        typer.Option("--state", help="PENDING, DELIVERED or FAILED.", show_default=False),
    ] = None,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """The delivery log, newest first: your destinations' (every one, for metastore admins)."""
    if state is not None and state.upper() not in ("PENDING", "DELIVERED", "FAILED"):
        raise typer.BadParameter("expected PENDING, DELIVERED or FAILED.", param_hint="'--state'")
    name = _name(destination, "'--destination'") if destination is not None else None
    with remote.connect(url) as client:
        found = list(
            client.paginate(
                DELIVERIES, "deliveries", destination=name, state=state.upper() if state else None
            )
        )
    remote.print_list(found, DELIVERY_COLUMNS, output, "deliveries")


@smtp.command("set")
def smtp_set(
    host: Annotated[str, typer.Option("--host", help="The SMTP server's host name.")],
    from_address: Annotated[
        str, typer.Option("--from", help="The sender address of notifications.")
    ],
    port: Annotated[
        int | None,
        typer.Option(
            "--port", help="Default: 587 (starttls), 465 (ssl), 25 (none).", show_default=False
        ),
    ] = None,
    security: Annotated[
        str, typer.Option("--security", help="starttls, ssl or none.")
    ] = "starttls",
    username: Annotated[
        str | None,
        typer.Option(
            "--username", help="Log in as this user (needs a password).", show_default=False
        ),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
    ] = False,
    password_env: Annotated[
        str | None,
        typer.Option(
            "--password-env",
            metavar="VARIABLE",
            help="Read the password from this environment variable.",
            show_default=False,
        ),
    ] = None,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Set the SMTP server; the password is stored encrypted and never shown."""
    if security.lower() not in ("starttls", "ssl", "none"):
        raise typer.BadParameter("expected starttls, ssl or none.", param_hint="'--security'")
    password = read_secret(
        password_stdin, password_env, "password", "--password-stdin", "--password-env"
    )
    if (username is None) != (password is None):
        raise typer.BadParameter(
            "SMTP login needs --username and a password (--password-stdin or --password-env).",
            param_hint="'--username'",
        )
    body = {
        "host": host,
        "port": port,
        "security": security.lower(),
        "from_address": from_address,
        "username": username,
        "password": password,
    }
    with remote.connect(url) as client:
        saved = client.put(SMTP, body)
    if output is OutputFormat.json:
        remote.print_json(saved)
        return
    remote.done(
        f"SMTP server set: {saved.get('host')}:{saved.get('port')} ({saved.get('security')})."
    )


@smtp.command("get")
@smtp.command("show", hidden=True)  # the earlier name, kept working
def smtp_show(url: UrlOption = None, output: OutputOption = OutputFormat.text) -> None:
    """Show the SMTP settings (the password only as stored or not)."""
    with remote.connect(url) as client:
        found = client.get(SMTP)
    remote.print_object(found, SMTP_FIELDS, output)


@smtp.command("delete")
def smtp_delete(url: UrlOption = None) -> None:
    """Forget the SMTP settings; email deliveries then fail until new ones are set."""
    with remote.connect(url) as client:
        client.delete(SMTP)
    remote.done("SMTP settings deleted.")
