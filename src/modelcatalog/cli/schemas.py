"""`modelcatalog schemas`: create, list, read, update and delete schemas."""

from __future__ import annotations

from typing import Annotated

import typer

from modelcatalog.cli import remote
from modelcatalog.cli.remote import OutputFormat, OutputOption, UrlOption
from modelcatalog.client.http import UC_API, segment

app = typer.Typer(
    help="Schemas: catalog.schema, the folders that hold models.", no_args_is_help=True
)

FullNameArgument = Annotated[
    str, typer.Argument(metavar="CATALOG.SCHEMA", help="Schema full name.", show_default=False)
]
CommentOption = Annotated[
    str | None, typer.Option("--comment", help="Description (Markdown).", show_default=False)
]

COLUMNS: list[remote.Column] = [
    ("full name", "full_name"),
    ("owner", "owner"),
    ("comment", "comment"),
    ("created", remote.created),
]
FIELDS: list[remote.Column] = [
    ("full name", "full_name"),
    ("catalog", "catalog_name"),
    ("name", "name"),
    ("owner", "owner"),
    ("comment", "comment"),
    ("id", "schema_id"),
    ("created", remote.created),
    ("created by", "created_by"),
    ("updated", remote.updated),
    ("updated by", "updated_by"),
]


@app.command("create")
def create(
    full_name: FullNameArgument,
    comment: CommentOption = None,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Create a schema in an existing catalog."""
    catalog, schema = remote.schema_full_name(full_name)
    with remote.connect(url) as client:
        created = client.post(
            f"{UC_API}/schemas", {"name": schema, "catalog_name": catalog, "comment": comment}
        )
    remote.print_object(created, FIELDS, output)


@app.command("list")
def list_(
    catalog: Annotated[
        str, typer.Argument(metavar="CATALOG", help="Catalog whose schemas to list.")
    ],
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """List the schemas of a catalog."""
    catalog_name = remote.catalog_name(catalog, "'CATALOG'")
    with remote.connect(url) as client:
        schemas = list(client.paginate(f"{UC_API}/schemas", "schemas", catalog_name=catalog_name))
    remote.print_list(schemas, COLUMNS, output, "schemas")


@app.command("get")
def get(
    full_name: FullNameArgument, url: UrlOption = None, output: OutputOption = OutputFormat.text
) -> None:
    """Show one schema."""
    name = ".".join(remote.schema_full_name(full_name))
    with remote.connect(url) as client:
        found = client.get(f"{UC_API}/schemas/{segment(name)}")
    remote.print_object(found, FIELDS, output)


@app.command("update")
def update(
    full_name: FullNameArgument,
    comment: CommentOption = None,
    new_name: Annotated[
        str | None,
        typer.Option(
            "--new-name", help="Rename the schema (it stays in its catalog).", show_default=False
        ),
    ] = None,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Change a schema's comment or name."""
    parts = remote.schema_full_name(full_name)
    if comment is None and new_name is None:
        raise typer.BadParameter("give --comment, --new-name or both.", param_hint="options")
    body: dict[str, str] = {}
    if comment is not None:
        body["comment"] = comment
    if new_name is not None:
        body["new_name"] = remote.new_leaf_name(new_name, parts[:1])
    with remote.connect(url) as client:
        updated = client.patch(f"{UC_API}/schemas/{segment('.'.join(parts))}", body)
    remote.print_object(updated, FIELDS, output)


@app.command("delete")
def delete(
    full_name: FullNameArgument,
    force: Annotated[
        bool, typer.Option("--force", help="Delete even if the schema still has models.")
    ] = False,
    url: UrlOption = None,
) -> None:
    """Delete a schema."""
    name = ".".join(remote.schema_full_name(full_name))
    with remote.connect(url) as client:
        client.delete(f"{UC_API}/schemas/{segment(name)}", force=force or None)
    remote.done(f"Deleted schema {name}.")
