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
    from modelcatalog.cli import code

    app.add_typer(code.app, name="code")


def main() -> None:
    """Entry point of the `modelcatalog` console script."""
    _register_commands()
    app()
