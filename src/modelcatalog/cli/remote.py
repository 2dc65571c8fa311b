"""What every command that talks to a catalog server shares.

The server comes from `--url`, else `$MODELCATALOG_URL`, else the last `modelcatalog login`, else
http://127.0.0.1:8080; the token from `$MODELCATALOG_TOKEN`, else the login file. Exit codes:
0 done, 1 the server (or the network) said no, 2 the command line itself is wrong, which is
caught before any request is sent.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from modelcatalog.client import CatalogClient, CatalogClientError, credentials
from modelcatalog.client.credentials import CredentialsFileError
from modelcatalog.domain import rules
from modelcatalog.errors import InvalidParameter


class OutputFormat(StrEnum):
    """How a command prints what it read."""

    text = "text"
    json = "json"


UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="Catalog server URL. Default: $MODELCATALOG_URL, else the server of the last "
        "`modelcatalog login`, else http://127.0.0.1:8080.",
        show_default=False,
    ),
]
OutputOption = Annotated[
    OutputFormat,
    typer.Option("--output", "-o", help="Print a table (text) or the server's JSON (json)."),
]

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)

Column = tuple[str, str | Callable[[dict[str, Any]], Any]]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `error: <message>` on stderr and return the exit to raise."""
    stderr.print(f"error: {message}", markup=False, highlight=False)
    return typer.Exit(code)


def server_url(url: str | None) -> str:
    """The server a command talks to (see the module docstring for the order)."""
    try:
        return credentials.resolve_url(url)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--url'") from exc


@contextmanager
def connect(url: str | None) -> Iterator[CatalogClient]:
    """Open a client for the resolved server; any client error ends the command with exit 1."""
    resolved = server_url(url)
    try:
        token = credentials.resolve_token(resolved)
    except CredentialsFileError as exc:
        raise fail(str(exc)) from exc
    try:
        with CatalogClient(resolved, token) as client:
            yield client
    except CatalogClientError as exc:
        raise fail(exc.message) from exc


# Names are checked with the catalog's own rules, so a typo is a usage error (exit 2) that never
# reaches the server.


def _checked(parse: Callable[[], Any], hint: str) -> Any:
    try:
        return parse()
    except InvalidParameter as exc:
        raise typer.BadParameter(exc.message, param_hint=hint) from exc


def catalog_name(value: str, hint: str = "'NAME'") -> str:
    """A catalog name."""
    return _checked(lambda: rules.name_part(value, "catalog name"), hint)


def schema_full_name(value: str, hint: str = "'CATALOG.SCHEMA'") -> tuple[str, str]:
    """`catalog.schema`."""
    return _checked(lambda: rules.split_full_name(value, "schema name", 2), hint)


def model_full_name(value: str, hint: str = "'CATALOG.SCHEMA.MODEL'") -> tuple[str, str, str]:
    """`catalog.schema.model`."""
    return _checked(lambda: rules.split_full_name(value, "model name", 3), hint)


def version_number(value: str, hint: str = "'VERSION'") -> int:
    """A model version number."""
    return _checked(lambda: rules.version_number(value, "version"), hint)


def alias_name(value: str, hint: str = "'ALIAS'") -> str:
    """An alias name."""
    return _checked(lambda: rules.alias_name(value, "alias"), hint)


def tag_key(value: str, hint: str = "'KEY'") -> str:
    """A tag key."""
    return _checked(lambda: rules.tag_key(value, "key"), hint)


def tag_value(value: str, hint: str = "'VALUE'") -> str:
    """A tag value."""
    return _checked(lambda: rules.tag_value(value, "value"), hint)


def new_leaf_name(value: str, parent: Sequence[str], hint: str = "'--new-name'") -> str:
    """A rename target: the last name part, or the full name under the same parent."""
    pieces = value.split(".")
    if len(pieces) > 1:
        if [p.lower() for p in pieces[:-1]] != list(parent):
            raise typer.BadParameter(
                f"'{value}' would move the object to another parent; a rename keeps it in "
                f"'{'.'.join(parent)}'. Give the new last name part only.",
                param_hint=hint,
            )
        value = pieces[-1]
    return _checked(lambda: rules.name_part(value, "new name"), hint)


# Output


def timestamp(value: Any) -> str:
    """An epoch time as UTC text; anything else unchanged."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        # UC fields are milliseconds; a number below 1e11 can only be seconds (as ms it would
        # be 1973), which lets fields of either unit print right.
        seconds = value if value < 1e11 else value / 1000
        moment = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%SZ")
    return "" if value is None else str(value)


def _cell(item: dict[str, Any], column: Column) -> Text:
    """A table cell printed exactly as stored: a Text, so that brackets in a description or a
    tag value are never read as Rich markup."""
    getter = column[1]
    value = getter(item) if callable(getter) else item.get(getter)
    if value is None:
        return Text("")
    if isinstance(value, dict | list):
        return Text(json.dumps(value, sort_keys=True))
    return Text(str(value))


def print_json(data: Any) -> None:
    """Print JSON as is, without colour or wrapping, so it pipes into other tools."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def print_list(
    items: Iterable[dict[str, Any]], columns: Sequence[Column], output: OutputFormat, key: str
) -> None:
    """Print a list as a table, or as `{"<key>": [...]}` JSON."""
    rows = list(items)
    if output is OutputFormat.json:
        print_json({key: rows})
        return
    if not rows:
        stderr.print(f"no {key.replace('_', ' ')}", highlight=False)
        return
    table = Table(show_edge=False, header_style="bold")
    for header, _ in columns:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row, column) for column in columns))
    stdout.print(table)


def print_object(item: dict[str, Any], fields: Sequence[Column], output: OutputFormat) -> None:
    """Print one object as a two-column table of its fields, or as JSON."""
    if output is OutputFormat.json:
        print_json(item)
        return
    table = Table(show_header=False, show_edge=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for field in fields:
        table.add_row(field[0], _cell(item, field))
    stdout.print(table)


def renamed(old: str, new: str) -> None:
    """Warn that an option has a new spelling; the old one still works for this release."""
    stderr.print(
        f"warning: {old} is now {new}; {old} will stop working in the next release.",
        markup=False,
        highlight=False,
    )


def done(message: str) -> None:
    """Confirm a change on stderr, keeping stdout for data."""
    stderr.print(message, markup=False, highlight=False)


def tags_text(item: dict[str, Any]) -> str:
    """Tags as `key=value` pairs, whichever shape the server used (list or mapping)."""
    tags = item.get("tags") or []
    if isinstance(tags, dict):
        pairs = sorted(tags.items())
    else:
        pairs = [(t.get("key"), t.get("value")) for t in tags if isinstance(t, dict)]
    return ", ".join(f"{k}={v}" for k, v in pairs)


def aliases_text(item: dict[str, Any]) -> str:
    """Aliases as `alias→version` (model) or alias names (version)."""
    shown = []
    for alias in item.get("aliases") or []:
        if isinstance(alias, dict):
            name = alias.get("alias_name") or alias.get("alias")
            number = alias.get("version_num") or alias.get("version")
            shown.append(f"{name}={number}" if number is not None else str(name))
        else:
            shown.append(str(alias))
    return ", ".join(shown)


def created(item: dict[str, Any]) -> str:
    return timestamp(item.get("created_at"))


def updated(item: dict[str, Any]) -> str:
    return timestamp(item.get("updated_at"))
