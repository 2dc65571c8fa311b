"""`modelcatalog tags`: key/value tags on a registered model or on one of its versions."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from modelcatalog.cli import remote
from modelcatalog.cli.remote import OutputFormat, OutputOption, UrlOption
from modelcatalog.client.http import UC_API, segment

app = typer.Typer(
    help="Tags on a model (CATALOG.SCHEMA.MODEL) or, with --version, on one of its versions.",
    no_args_is_help=True,
)

FullNameArgument = Annotated[
    str,
    typer.Argument(metavar="CATALOG.SCHEMA.MODEL", help="Model full name.", show_default=False),
]
KeyArgument = Annotated[
    str, typer.Argument(metavar="KEY", help="Tag key (none of . , - = / :).", show_default=False)
]
VersionOption = Annotated[
    str | None,
    typer.Option("--version", help="Tag this version instead of the model.", show_default=False),
]


def _target(full_name: str, version: str | None) -> tuple[str, str, str]:
    """(tag PATCH path, GET path of the tagged object, its display name)."""
    name = ".".join(remote.model_full_name(full_name))
    if version is None:
        return (
            f"{UC_API}/securable-tags/registered_model/{segment(name)}",
            f"{UC_API}/models/{segment(name)}",
            name,
        )
    number = remote.version_number(version, "'--version'")
    return (
        f"{UC_API}/subentity-tags/registered_model/{segment(name)}/{number}",
        f"{UC_API}/models/{segment(name)}/versions/{number}",
        f"{name} version {number}",
    )


@app.command("set")
def set_(
    full_name: FullNameArgument,
    key: KeyArgument,
    value: Annotated[
        str, typer.Argument(metavar="VALUE", help="Tag value (up to 1000 characters).")
    ],
    version: VersionOption = None,
    url: UrlOption = None,
) -> None:
    """Set a tag, replacing its value if the key is already there."""
    patch_path, _, shown = _target(full_name, version)
    tag = {"key": remote.tag_key(key), "value": remote.tag_value(value)}
    with remote.connect(url) as client:
        client.patch(patch_path, {"changes": {"add_tags": [tag]}})
    remote.done(f"Set tag {tag['key']} on {shown}.")


@app.command("delete")
def delete(
    full_name: FullNameArgument,
    key: KeyArgument,
    version: VersionOption = None,
    url: UrlOption = None,
) -> None:
    """Delete a tag."""
    patch_path, _, shown = _target(full_name, version)
    checked = remote.tag_key(key)
    with remote.connect(url) as client:
        client.patch(patch_path, {"changes": {"remove": [checked]}})
    remote.done(f"Deleted tag {checked} from {shown}.")


def _tag_rows(item: dict[str, Any]) -> list[dict[str, Any]]:
    tags = item.get("tags") or []
    if isinstance(tags, dict):
        rows = [{"key": k, "value": v} for k, v in tags.items()]
    else:
        rows = [{"key": t.get("key"), "value": t.get("value")} for t in tags if isinstance(t, dict)]
    return sorted(rows, key=lambda row: str(row["key"]))


@app.command("list")
def list_(
    full_name: FullNameArgument,
    version: Annotated[
        str | None,
        typer.Option("--version", help="List this version's tags.", show_default=False),
    ] = None,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """List the tags of a model or of one version."""
    _, get_path, _ = _target(full_name, version)
    with remote.connect(url) as client:
        item = client.get(get_path)
    remote.print_list(_tag_rows(item), [("key", "key"), ("value", "value")], output, "tags")
