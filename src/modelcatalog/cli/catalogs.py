"""`modelcatalog catalogs`: create, list, read, update and delete catalogs."""

from __future__ import annotations

from typing import Annotated

import typer

from modelcatalog.cli import remote
from modelcatalog.cli.remote import OutputFormat, OutputOption, UrlOption
from modelcatalog.client.http import UC_API, segment

app = typer.Typer(
    help="Catalogs: the top level of catalog.schema.model names.", no_args_is_help=True
)

NameArgument = Annotated[
    str, typer.Argument(metavar="NAME", help="Catalog name.", show_default=False)
]
CommentOption = Annotated[
    str | None, typer.Option("--comment", help="Description (Markdown).", show_default=False)
]

COLUMNS: list[remote.Column] = [
    ("name", "name"),
    ("owner", "owner"),
    ("comment", "comment"),
    ("created", remote.created),
]
FIELDS: list[remote.Column] = [
    ("name", "name"),
    ("owner", "owner"),
    ("comment", "comment"),
    ("id", "id"),
    ("created", remote.created),
    ("created by", "created_by"),
    ("updated", remote.updated),
    ("updated by", "updated_by"),
]


@app.command("create")
def create(
    name: NameArgument,
    comment: CommentOption = None,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Create a catalog."""
    catalog = remote.catalog_name(name)
    with remote.connect(url) as client:
        created = client.post(f"{UC_API}/catalogs", {"name": catalog, "comment": comment})
    remote.print_object(created, FIELDS, output)


@app.command("list")
def list_(url: UrlOption = None, output: OutputOption = OutputFormat.text) -> None:
    """List the catalogs you can see."""
    with remote.connect(url) as client:
        catalogs = list(client.paginate(f"{UC_API}/catalogs", "catalogs"))
    remote.print_list(catalogs, COLUMNS, output, "catalogs")


@app.command("get")
def get(
    name: NameArgument, url: UrlOption = None, output: OutputOption = OutputFormat.text
) -> None:
    """Show one catalog."""
    catalog = remote.catalog_name(name)
    with remote.connect(url) as client:
        found = client.get(f"{UC_API}/catalogs/{segment(catalog)}")
    remote.print_object(found, FIELDS, output)


@app.command("update")
def update(
    name: NameArgument,
    comment: CommentOption = None,
    new_name: Annotated[
        str | None, typer.Option("--new-name", help="Rename the catalog.", show_default=False)
    ] = None,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Change a catalog's comment or name."""
    catalog = remote.catalog_name(name)
    if comment is None and new_name is None:
        raise typer.BadParameter("give --comment, --new-name or both.", param_hint="options")
    body: dict[str, str] = {}
    if comment is not None:
        body["comment"] = comment
    if new_name is not None:
        body["new_name"] = remote.catalog_name(new_name, "'--new-name'")
    with remote.connect(url) as client:
        updated = client.patch(f"{UC_API}/catalogs/{segment(catalog)}", body)
    remote.print_object(updated, FIELDS, output)


@app.command("delete")
def delete(
    name: NameArgument,
    force: Annotated[
        bool, typer.Option("--force", help="Delete even if the catalog still has schemas.")
    ] = False,
    url: UrlOption = None,
) -> None:
    """Delete a catalog."""
    catalog = remote.catalog_name(name)
    with remote.connect(url) as client:
        client.delete(f"{UC_API}/catalogs/{segment(catalog)}", force=force or None)
    remote.done(f"Deleted catalog {catalog}.")
