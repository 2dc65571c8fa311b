"""The `modelcatalog` command: a thin layer over the server, the client API and the toolkits."""

import typer

app = typer.Typer(
    name="modelcatalog",
    help="A governed model catalog with Unity Catalog semantics, and the toolkit that moves "
    "stage-based MLflow registries onto it.",
    no_args_is_help=True,
    add_completion=False,
)


def _register_commands() -> None:
    from modelcatalog.cli import code, server

    app.command("server")(server.server)
    from modelcatalog.cli import worker

    app.command("worker")(worker.worker)
    app.add_typer(code.app, name="code")
    from modelcatalog.cli import migrate

    app.add_typer(migrate.app, name="migrate")
    from modelcatalog.cli import aliases, catalogs, login, models, schemas, tags, tokens, versions

    app.command("login")(login.login)
    app.command("logout")(login.logout)
    app.add_typer(catalogs.app, name="catalogs")
    app.add_typer(schemas.app, name="schemas")
    app.add_typer(models.app, name="models")
    app.add_typer(versions.app, name="versions")
    app.add_typer(aliases.app, name="aliases")
    app.add_typer(tags.app, name="tags")
    app.add_typer(tokens.app, name="tokens")
    from modelcatalog.cli import audit, grants, principals

    app.add_typer(principals.users, name="users")
    app.add_typer(principals.service_principals, name="service-principals")
    app.add_typer(principals.groups, name="groups")
    app.add_typer(grants.app, name="grants")
    app.add_typer(audit.app, name="audit")
    from modelcatalog.cli import jobs, notifications, triggers

    app.add_typer(jobs.app, name="jobs")
    app.add_typer(triggers.app, name="triggers")
    app.add_typer(notifications.app, name="notifications")


def main() -> None:
    """Entry point of the `modelcatalog` console script."""
    _register_commands()
    app()
