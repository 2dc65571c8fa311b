"""`modelcatalog models`: create, list, read, update and delete registered models."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from modelcatalog.cli import remote
from modelcatalog.cli.remote import OutputFormat, OutputOption, UrlOption
from modelcatalog.client.http import CATALOG_API, UC_API, segment

app = typer.Typer(help="Registered models: catalog.schema.model.", no_args_is_help=True)

FullNameArgument = Annotated[
    str,
    typer.Argument(metavar="CATALOG.SCHEMA.MODEL", help="Model full name.", show_default=False),
]
CommentOption = Annotated[
    str | None, typer.Option("--comment", help="Description (Markdown).", show_default=False)
]

COLUMNS: list[remote.Column] = [
    ("full name", "full_name"),
    ("owner", "owner"),
    ("aliases", remote.aliases_text),
    ("comment", "comment"),
    ("updated", remote.updated),
]
FIELDS: list[remote.Column] = [
    ("full name", "full_name"),
    ("owner", "owner"),
    ("comment", "comment"),
    ("aliases", remote.aliases_text),
    ("tags", remote.tags_text),
    ("storage location", "storage_location"),
    ("deployment job", "deployment_job_id"),
    ("id", "id"),
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
    """Create a registered model in an existing schema."""
    catalog, schema, model = remote.model_full_name(full_name)
    body = {"catalog_name": catalog, "schema_name": schema, "name": model, "comment": comment}
    with remote.connect(url) as client:
        created = client.post(f"{UC_API}/models", body)
    remote.print_object(created, FIELDS, output)


@app.command("list")
def list_(
    catalog: Annotated[
        str | None, typer.Option("--catalog", help="Only models in this catalog.")
    ] = None,
    schema: Annotated[
        str | None,
        typer.Option("--schema", help="Only models in this schema (needs --catalog)."),
    ] = None,
    words: Annotated[
        str | None,
        typer.Option(
            "--filter",
            help="Only models whose name, tag keys or values, owner or description contain "
            "this text (any case).",
            show_default=False,
        ),
    ] = None,
    tag: Annotated[
        str | None,
        typer.Option(
            "--tag", help="Only models with this tag: KEY or KEY=VALUE.", show_default=False
        ),
    ] = None,
    owner: Annotated[
        str | None,
        typer.Option("--owner", help="Only models this principal owns.", show_default=False),
    ] = None,
    max_results: Annotated[
        int | None,
        typer.Option(
            "--max-results",
            min=1,
            help="Stop after this many models (default: all), saying so when more match.",
            show_default=False,
        ),
    ] = None,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """List the registered models you can see, optionally only those that match.

    Filters are applied by the server, a page at a time: nothing else is fetched."""
    if schema is not None and catalog is None:
        raise typer.BadParameter("--schema needs --catalog.", param_hint="'--schema'")
    catalog_name = remote.catalog_name(catalog, "'--catalog'") if catalog else None
    schema_name = remote.catalog_name(schema, "'--schema'") if schema else None
    page_size = min(max_results, 100) if max_results else None
    with remote.connect(url) as client:
        found: Iterator[dict[str, Any]]
        if words or tag or owner:
            found = (
                r["model"]
                for r in client.paginate(
                    f"{CATALOG_API}/search",
                    "results",
                    page_size=page_size,
                    q=words,
                    catalog=catalog_name,
                    schema=schema_name,
                    tag=tag,
                    owner=owner,
                )
            )
        else:
            found = client.paginate(
                f"{UC_API}/models",
                "registered_models",
                page_size=page_size,
                catalog_name=catalog_name,
                schema_name=schema_name,
            )
        models = list(itertools.islice(found, max_results + 1 if max_results else None))
    more = max_results is not None and len(models) > max_results
    remote.print_list(models[:max_results], COLUMNS, output, "registered_models")
    if more:
        remote.done(f"showing the first {max_results}; more match (raise --max-results).")


@app.command("get")
def get(
    full_name: FullNameArgument, url: UrlOption = None, output: OutputOption = OutputFormat.text
) -> None:
    """Show one registered model, with its aliases and tags."""
    name = ".".join(remote.model_full_name(full_name))
    with remote.connect(url) as client:
        found = client.get(f"{UC_API}/models/{segment(name)}", include_aliases=True)
    remote.print_object(found, FIELDS, output)


@app.command("update")
def update(
    full_name: FullNameArgument,
    comment: CommentOption = None,
    new_name: Annotated[
        str | None,
        typer.Option(
            "--new-name", help="Rename the model (it stays in its schema).", show_default=False
        ),
    ] = None,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Change a registered model's comment or name."""
    parts = remote.model_full_name(full_name)
    if comment is None and new_name is None:
        raise typer.BadParameter("give --comment, --new-name or both.", param_hint="options")
    name = ".".join(parts)
    body: dict[str, str] = {"full_name": name}
    if comment is not None:
        body["comment"] = comment
    if new_name is not None:
        body["new_name"] = remote.new_leaf_name(new_name, parts[:2])
    with remote.connect(url) as client:
        updated = client.patch(f"{UC_API}/models/{segment(name)}", body)
    remote.print_object(updated, FIELDS, output)


@app.command("delete")
def delete(
    full_name: FullNameArgument,
    force: Annotated[
        bool, typer.Option("--force", help="Delete even if the model still has versions.")
    ] = False,
    url: UrlOption = None,
) -> None:
    """Delete a registered model."""
    name = ".".join(remote.model_full_name(full_name))
    with remote.connect(url) as client:
        client.delete(f"{UC_API}/models/{segment(name)}", force=force or None)
    remote.done(f"Deleted model {name}.")
