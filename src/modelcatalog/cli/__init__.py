"""The `modelcatalog` command: a thin layer over the server, the client API and the toolkits.

Imports that start slowly (the server application, SQLAlchemy, uvicorn, Celery, boto3, MLflow,
the migration toolkit) are made inside the command that needs them, each marked `# Deferred:`,
so that `modelcatalog --help` and the light commands start fast. Everything else is imported at
the top of its module.
"""

import importlib
import os
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from modelcatalog.client import credentials

#: Every command and command group, in the order help lists them: the module under
#: modelcatalog.cli that holds it, and the name there of its function or Typer. A module is
#: imported when its command runs (or when help or completion lists them all), so that a
#: command starts without loading the others.
COMMANDS: dict[str, tuple[str, str]] = {
    "server": ("server", "server"),
    "worker": ("worker", "worker"),
    "backup": ("backup", "backup"),
    "restore": ("backup", "restore"),
    "code": ("code", "app"),
    "migrate": ("migrate", "app"),
    "login": ("login", "login"),
    "logout": ("login", "logout"),
    "catalogs": ("catalogs", "app"),
    "schemas": ("schemas", "app"),
    "models": ("models", "app"),
    "versions": ("versions", "app"),
    "aliases": ("aliases", "app"),
    "tags": ("tags", "app"),
    "tokens": ("tokens", "app"),
    "users": ("principals", "users"),
    "service-principals": ("principals", "service_principals"),
    "groups": ("principals", "groups"),
    "grants": ("grants", "app"),
    "audit": ("audit", "app"),
    "jobs": ("jobs", "app"),
    "triggers": ("triggers", "app"),
    "notifications": ("notifications", "app"),
}


class Commands(TyperGroup):
    """The root group, loading each command from `COMMANDS` when it is first asked for.

    The context and command are typer's click types (vendored by recent typer releases, so
    spelled `Any` here)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Typer suggests the nearest command to a typo from these names: every command is
        # listed here, and loaded (replacing None) when first asked for.
        self.commands.update(dict.fromkeys(COMMANDS))  # type: ignore[arg-type]

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if self.commands.get(cmd_name) is None and cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name]
            found = getattr(importlib.import_module(f"modelcatalog.cli.{module}"), attribute)
            if not isinstance(found, typer.Typer):
                # A single command: Typer builds it from its function, as app.command would.
                single = typer.Typer()
                single.command(cmd_name)(found)
                found = single
            command = typer.main.get_command(found)
            command.name = cmd_name
            self.commands[cmd_name] = command
        return self.commands.get(cmd_name)


app = typer.Typer(
    name="modelcatalog",
    help="A governed model catalog with Unity Catalog semantics, and the toolkit that moves "
    "stage-based MLflow registries onto it.\n\nSaved logins and profiles live in "
    "$MODELCATALOG_CONFIG_DIR/credentials.json (default ~/.config/modelcatalog/), readable "
    "only by you; $MODELCATALOG_TOKEN, when set, is used instead.",
    no_args_is_help=True,
    cls=Commands,
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


def main() -> None:
    """Entry point of the `modelcatalog` console script."""
    app()
