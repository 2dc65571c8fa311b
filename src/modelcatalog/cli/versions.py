"""`modelcatalog versions`: list, read, describe and delete model versions, and read manifests."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from modelcatalog.cli import remote
from modelcatalog.cli.remote import OutputFormat, OutputOption, UrlOption
from modelcatalog.client.http import CATALOG_API, UC_API, segment

app = typer.Typer(
    help="Model versions: the numbered, immutable files of a model.", no_args_is_help=True
)

FullNameArgument = Annotated[
    str,
    typer.Argument(metavar="CATALOG.SCHEMA.MODEL", help="Model full name.", show_default=False),
]
VersionArgument = Annotated[
    str, typer.Argument(metavar="VERSION", help="Version number.", show_default=False)
]


def _version_text(item: dict[str, Any]) -> str:
    return str(item.get("version", ""))


COLUMNS: list[remote.Column] = [
    ("version", _version_text),
    ("status", "status"),
    ("aliases", remote.aliases_text),
    ("run id", "run_id"),
    ("created", remote.created),
    ("created by", "created_by"),
    ("comment", "comment"),
]


def _copied_from_text(version: dict[str, Any]) -> str:
    copied = (version.get("lineage") or {}).get("copied_from") or {}
    return f"{copied['name']} version {copied['version']}" if copied.get("name") else ""


def _entities_text(entities: list[dict[str, str]] | None) -> str:
    """Lineage entities, one a line: `table main.sales.orders`, `job 12 (run 345)`."""
    lines = []
    for e in entities or []:
        text = f"{e.get('kind', '')} {e.get('name') or e.get('id', '')}"
        run = e.get("run_id") or e.get("update_id")
        lines.append(f"{text} (run {run})" if run else text)
    return "\n".join(lines)


FIELDS: list[remote.Column] = [
    (
        "model",
        lambda v: ".".join(
            str(v.get(k, "")) for k in ("catalog_name", "schema_name", "model_name")
        ),
    ),
    ("version", _version_text),
    ("status", "status"),
    ("comment", "comment"),
    ("aliases", remote.aliases_text),
    ("tags", remote.tags_text),
    ("source", "source"),
    ("run id", "run_id"),
    ("run link", lambda v: (v.get("lineage") or {}).get("run_link", "")),
    ("model id", "model_id"),
    ("copied from", _copied_from_text),
    ("came from", lambda v: _entities_text((v.get("lineage") or {}).get("upstream"))),
    ("read by", lambda v: _entities_text((v.get("lineage") or {}).get("readers"))),
    ("storage location", "storage_location"),
    ("id", "id"),
    ("created", remote.created),
    ("created by", "created_by"),
    ("updated", remote.updated),
    ("updated by", "updated_by"),
]
MANIFEST_COLUMNS: list[remote.Column] = [("path", "path"), ("size", "size"), ("sha256", "sha256")]


def _version_path(full_name: str, version: str) -> tuple[str, int]:
    name = ".".join(remote.model_full_name(full_name))
    number = remote.version_number(version)
    return f"{UC_API}/models/{segment(name)}/versions/{number}", number


@app.command("list")
def list_(
    full_name: FullNameArgument, url: UrlOption = None, output: OutputOption = OutputFormat.text
) -> None:
    """List the versions of a model, oldest first."""
    name = ".".join(remote.model_full_name(full_name))
    with remote.connect(url) as client:
        versions = list(
            client.paginate(f"{UC_API}/models/{segment(name)}/versions", "model_versions")
        )
    versions.sort(key=lambda v: int(v.get("version") or 0))
    remote.print_list(versions, COLUMNS, output, "model_versions")


@app.command("get")
def get(
    full_name: FullNameArgument,
    version: VersionArgument,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Show one model version."""
    path, _ = _version_path(full_name, version)
    with remote.connect(url) as client:
        found = client.get(path)
    remote.print_object(found, FIELDS, output)


@app.command("update")
def update(
    full_name: FullNameArgument,
    version: VersionArgument,
    comment: Annotated[
        str, typer.Option("--comment", help="New description (Markdown).", show_default=False)
    ],
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Change a model version's description."""
    path, _ = _version_path(full_name, version)
    with remote.connect(url) as client:
        updated = client.patch(path, {"comment": comment})
    remote.print_object(updated, FIELDS, output)


@app.command("delete")
def delete(full_name: FullNameArgument, version: VersionArgument, url: UrlOption = None) -> None:
    """Delete a model version and its aliases; its number is never reused."""
    path, number = _version_path(full_name, version)
    with remote.connect(url) as client:
        client.delete(path)
    remote.done(f"Deleted version {number} of {full_name.lower()}.")


@app.command("manifest")
def manifest(
    full_name: FullNameArgument,
    version: VersionArgument,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """List a version's files with the size and SHA-256 recorded when it was registered."""
    name = ".".join(remote.model_full_name(full_name))
    number = remote.version_number(version)
    with remote.connect(url) as client:
        found = client.get(f"{CATALOG_API}/models/{segment(name)}/versions/{number}/manifest")
    if output is OutputFormat.json:
        remote.print_json(found)
        return
    remote.print_list(found.get("files") or [], MANIFEST_COLUMNS, output, "files")
