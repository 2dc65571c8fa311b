"""`modelcatalog audit`: read, export and verify the audit log (metastore admins).

Every mutation, denial and artifact read leaves one record; records are chained by SHA-256, so
`audit verify` finds any record that was edited, deleted or inserted.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import time
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Any

import typer

from modelcatalog.cli import remote
from modelcatalog.cli.remote import OutputFormat, OutputOption, UrlOption
from modelcatalog.client import CatalogClient
from modelcatalog.client.http import CATALOG_API
from modelcatalog.client.lifetimes import parse_lifetime

AUDIT = f"{CATALOG_API}/audit"
PAGE_SIZE = 1000
#: Below this a number of milliseconds would be a moment in 1973: it can only be a typo (or
#: seconds, or a duration without its unit).
_PLAUSIBLE_MS = 10**11
_DURATION = re.compile(r"^\d+[A-Za-z]+$")
_TIME_SHAPES = (
    "a date (2026-11-01), a date and time (2026-11-01T14:30, UTC unless it names an offset), "
    "a duration back from now (1d, 12h, 90m, 30s) or milliseconds since the epoch"
)

# `modelcatalog audit` alone lists records; `verify` is its one subcommand.
app = typer.Typer(invoke_without_command=True, subcommand_metavar="[COMMAND]")


class AuditOutput(StrEnum):
    """How `modelcatalog audit` prints records."""

    text = "text"
    json = "json"
    jsonl = "jsonl"


def moment(value: str, option: str, now_ms: int) -> int:
    """A point in time as milliseconds since the epoch, from a date, a date and time, a
    duration back from now or milliseconds."""
    text = value.strip()
    hint = f"'{option}'"
    if text.isdigit():
        number = int(text)
        if number < _PLAUSIBLE_MS:
            raise typer.BadParameter(
                f"'{value}' as milliseconds since the epoch is in 1973 or before; for a "
                f"duration back from now add its unit, e.g. {text}d or {text}h.",
                param_hint=hint,
            )
        return number
    if _DURATION.fullmatch(text):
        try:
            return now_ms - parse_lifetime(text) * 1000
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=hint) from exc
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"'{value}' is not a time: give {_TIME_SHAPES}.", param_hint=hint
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp() * 1000)


def read_records(
    client: CatalogClient, filters: dict[str, Any], limit: int | None
) -> Iterator[dict[str, Any]]:
    """Matching records, oldest first, page after page; at most `limit` (saying on stderr when
    more match)."""
    page_token: str | None = None
    count = 0
    while True:
        size = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - count)
        page = client.get(AUDIT, max_results=size, page_token=page_token, **filters)
        for record in page.get("records") or []:
            count += 1
            yield record
        page_token = page.get("next_page_token") or None
        if not page_token:
            return
        if limit is not None and count >= limit:
            remote.stderr.print(
                f"stopped after {limit} records; more match (raise --limit or narrow the filters).",
                highlight=False,
            )
            return


def _outcome(record: dict[str, Any]) -> str:
    code = record.get("error_code")
    return f"{record.get('outcome', '')} ({code})" if code else str(record.get("outcome", ""))


#: The table leaves out parameters, request ids and hashes; json and jsonl carry every field.
COLUMNS: list[remote.Column] = [
    ("seq", "seq"),
    ("time", lambda r: remote.timestamp(r.get("time"))),
    ("principal", "principal"),
    ("action", "action"),
    ("securable", "securable"),
    ("outcome", _outcome),
]


def _filter(name: str, help_text: str) -> Any:
    return typer.Option(name, help=help_text, show_default=False)


SecurableOption = Annotated[
    str | None,
    _filter(
        "--securable",
        "Only records about this securable: a catalog, catalog.schema, catalog.schema.model "
        "or a principal's name.",
    ),
]
PrincipalOption = Annotated[str | None, _filter("--principal", "Only what this principal did.")]
ActionOption = Annotated[
    str | None,
    _filter("--action", "Only this action, e.g. createRegisteredModel or updatePermissions."),
]
RequestIdOption = Annotated[str | None, _filter("--request-id", "Only one request's records.")]
SinceOption = Annotated[
    str | None,
    _filter(
        "--since",
        "Only records from this time on: 2026-11-01, 2026-11-01T14:30 (UTC unless an offset "
        "is given), a duration back from now (1d, 12h, 90m) or milliseconds since the epoch.",
    ),
]
UntilOption = Annotated[
    str | None, _filter("--until", "Only records before this time (same forms as --since).")
]
LimitOption = Annotated[
    int | None,
    typer.Option(
        "--limit", min=1, help="Stop after this many records. Default: all.", show_default=False
    ),
]
AuditOutputOption = Annotated[
    AuditOutput,
    typer.Option(
        "--output",
        "-o",
        help='A table (text), {"records": [...]} (json), or one JSON object per line, '
        "streamed page by page (jsonl, for exports).",
    ),
]


@app.callback()
def query(
    ctx: typer.Context,
    securable: SecurableOption = None,
    principal: PrincipalOption = None,
    action: ActionOption = None,
    request_id: RequestIdOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: LimitOption = None,
    url: UrlOption = None,
    output: AuditOutputOption = AuditOutput.text,
) -> None:
    """The audit log: who did what to which securable, and when (metastore admins).

    Without a command: the records, oldest first; each option narrows them.

    audit verify: check that no record was edited, deleted or inserted.
    """
    if ctx.invoked_subcommand is not None:
        return
    now = int(time.time() * 1000)
    start = moment(since, "--since", now) if since is not None else None
    end = moment(until, "--until", now) if until is not None else None
    if start is not None and end is not None and start >= end:
        raise typer.BadParameter(
            f"--since {since} ({remote.timestamp(start)}) is not before --until {until} "
            f"({remote.timestamp(end)}).",
            param_hint="'--since'",
        )
    filters = {
        "securable": securable,
        "principal": principal,
        "action": action,
        "request_id": request_id,
        "since": start,
        "until": end,
    }
    with remote.connect(url) as client:
        records = read_records(client, filters, limit)
        if output is AuditOutput.jsonl:
            for record in records:
                sys.stdout.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
            return
        found = list(records)
    if output is AuditOutput.json:
        remote.print_json({"records": found})
    else:
        remote.print_list(found, COLUMNS, OutputFormat.text, "audit records")


@app.command("verify")
def verify(url: UrlOption = None, output: OutputOption = OutputFormat.text) -> None:
    """Check the hash chain: exit 0 if intact, 1 listing each record edited, deleted or inserted."""
    with remote.connect(url) as client:
        report = client.get(f"{AUDIT}/verify")
    problems = [str(p) for p in report.get("problems") or []]
    count = report.get("records", 0)
    intact = report.get("intact") is True and not problems
    if output is OutputFormat.json:
        remote.print_json(report)
    elif intact:
        remote.stdout.print(
            f"intact: {count} records, every hash and link checked.", highlight=False
        )
    else:
        for problem in problems:
            remote.stdout.print(problem, markup=False, highlight=False)
    if not intact:
        raise remote.fail(
            f"the audit log is not intact: {len(problems)} problem"
            f"{'' if len(problems) == 1 else 's'} in {count} records."
        )
