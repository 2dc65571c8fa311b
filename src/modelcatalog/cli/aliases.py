"""`modelcatalog aliases`: point a named alias at a model version, read it, list, delete it."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from modelcatalog.cli import remote
from modelcatalog.cli.remote import OutputFormat, OutputOption, UrlOption
from modelcatalog.cli.versions import FIELDS as VERSION_FIELDS
from modelcatalog.client.http import UC_API, segment

app = typer.Typer(
    help="Aliases: stable names (champion, Production…) for one READY version of a model. "
    "Load them in MLflow with models:/catalog.schema.model@alias.",
    no_args_is_help=True,
)

FullNameArgument = Annotated[
    str,
    typer.Argument(metavar="CATALOG.SCHEMA.MODEL", help="Model full name.", show_default=False),
]
AliasArgument = Annotated[
    str,
    typer.Argument(
        metavar="ALIAS",
        help="Alias name: letters, digits, '_' or '-' ('latest' and 'v<number>' are reserved).",
        show_default=False,
    ),
]


def _alias_path(full_name: str, alias: str) -> tuple[str, str, str]:
    name = ".".join(remote.model_full_name(full_name))
    checked = remote.alias_name(alias)
    return f"{UC_API}/models/{segment(name)}/aliases/{segment(checked)}", name, checked


@app.command("set")
def set_(
    full_name: FullNameArgument,
    alias: AliasArgument,
    version: Annotated[
        str, typer.Argument(metavar="VERSION", help="Version number the alias will name.")
    ],
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Point an alias at a version, creating it or moving it from another version."""
    path, name, checked = _alias_path(full_name, alias)
    number = remote.version_number(version)
    with remote.connect(url) as client:
        answer = client.put(path, {"full_name": name, "alias": checked, "version_num": number})
    if output is OutputFormat.json:
        remote.print_json(answer)
    else:
        remote.done(f"{name}@{checked} now names version {number}.")


@app.command("get")
def get(
    full_name: FullNameArgument,
    alias: AliasArgument,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Show the version an alias names."""
    path, _, _ = _alias_path(full_name, alias)
    with remote.connect(url) as client:
        found = client.get(path)
    remote.print_object(found, VERSION_FIELDS, output)


def _alias_rows(model: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for alias in model.get("aliases") or []:
        if isinstance(alias, dict):
            rows.append(
                {
                    "alias_name": alias.get("alias_name") or alias.get("alias"),
                    "version_num": alias.get("version_num") or alias.get("version"),
                }
            )
    return sorted(rows, key=lambda row: str(row["alias_name"]).lower())


@app.command("list")
def list_(
    full_name: FullNameArgument, url: UrlOption = None, output: OutputOption = OutputFormat.text
) -> None:
    """List a model's aliases and the versions they name."""
    name = ".".join(remote.model_full_name(full_name))
    with remote.connect(url) as client:
        model = client.get(f"{UC_API}/models/{segment(name)}", include_aliases=True)
    remote.print_list(
        _alias_rows(model), [("alias", "alias_name"), ("version", "version_num")], output, "aliases"
    )


@app.command("delete")
def delete(full_name: FullNameArgument, alias: AliasArgument, url: UrlOption = None) -> None:
    """Delete an alias (the version it named stays)."""
    path, name, checked = _alias_path(full_name, alias)
    with remote.connect(url) as client:
        client.delete(path)
    remote.done(f"Deleted alias {name}@{checked}.")
