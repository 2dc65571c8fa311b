"""The `modelcatalog` command: a thin layer over the server, the client API and the toolkits.

Imports that start slowly (the server application, SQLAlchemy, uvicorn, Celery, boto3, MLflow,
the migration toolkit) are made inside the command that needs them, each marked `# Deferred:`,
so that `modelcatalog --help` and the light commands start fast. Everything else is imported at
the top of its module.
"""

import os
from typing import Annotated

import typer

from modelcatalog.cli import (
    aliases,
    audit,
    backup,
    catalogs,
    code,
    grants,
    jobs,
    login,
    migrate,
    models,
    notifications,
    principals,
    schemas,
    server,
    tags,
    tokens,
    triggers,
    versions,
    worker,
)
from modelcatalog.client import credentials

app = typer.Typer(
    name="modelcatalog",
    help="A governed model catalog with Unity Catalog semantics, and the toolkit that moves "
    "stage-based MLflow registries onto it.\n\nSaved logins and profiles live in "
    "$MODELCATALOG_CONFIG_DIR/credentials.json (default ~/.config/modelcatalog/), readable "
    "only by you; $MODELCATALOG_TOKEN, when set, is used instead.",
    no_args_is_help=True,
)


@app.callback()
def main_options(
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Catalog server URL for the command that follows (its own --url wins).",
            show_default=False,
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="A server saved with `modelcatalog login --profile NAME` "
            "(default: $MODELCATALOG_PROFILE).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Options for every command that talks to a server."""
    # The commands resolve their server from the environment (see client/credentials.py):
    # these options set it for this process only.
    if profile is not None:
        if not profile.strip():
            raise typer.BadParameter("a profile name is required.", param_hint="'--profile'")
        try:
            os.environ[credentials.URL_ENV] = credentials.profile_url(profile.strip())
        except (ValueError, credentials.CredentialsFileError) as exc:
            raise typer.BadParameter(str(exc), param_hint="'--profile'") from exc
    if url is not None:
        try:
            os.environ[credentials.URL_ENV] = credentials.normalize_url(url)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--url'") from exc


app.command("server")(server.server)
app.command("worker")(worker.worker)
app.command("backup")(backup.backup)
app.command("restore")(backup.restore)
app.add_typer(code.app, name="code")
app.add_typer(migrate.app, name="migrate")
app.command("login")(login.login)
app.command("logout")(login.logout)
app.add_typer(catalogs.app, name="catalogs")
app.add_typer(schemas.app, name="schemas")
app.add_typer(models.app, name="models")
app.add_typer(versions.app, name="versions")
app.add_typer(aliases.app, name="aliases")
app.add_typer(tags.app, name="tags")
app.add_typer(tokens.app, name="tokens")
app.add_typer(principals.users, name="users")
app.add_typer(principals.service_principals, name="service-principals")
app.add_typer(principals.groups, name="groups")
app.add_typer(grants.app, name="grants")
app.add_typer(audit.app, name="audit")
app.add_typer(jobs.app, name="jobs")
app.add_typer(triggers.app, name="triggers")
app.add_typer(notifications.app, name="notifications")


def main() -> None:
    """Entry point of the `modelcatalog` console script."""
    app()
