"""`modelcatalog triggers`: start deployment runs or send notifications when models change."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from modelcatalog.cli import remote
from modelcatalog.cli.remote import OutputFormat, OutputOption, UrlOption
from modelcatalog.client.http import CATALOG_API, segment
from modelcatalog.domain import events as ev

app = typer.Typer(
    help="Model event triggers: when a model in a scope is created, gets a READY version or has "
    "an alias set, start a deployment run or send a notification, throttled and batched.",
    no_args_is_help=True,
)

PATH = f"{CATALOG_API}/triggers"
KNOWN_EVENTS = tuple(dict.fromkeys((*ev.TRIGGER_EVENTS, *ev.NOTIFIABLE)))
NOTIFY_ONLY = tuple(e for e in ev.NOTIFIABLE if e not in ev.TRIGGER_EVENTS)


class ScopeType(StrEnum):
    """What a trigger's scope names."""

    catalog = "catalog"
    schema = "schema"
    registered_model = "registered_model"


_BY_PARTS = {1: ScopeType.catalog, 2: ScopeType.schema, 3: ScopeType.registered_model}


def _joined(values: Any) -> str:
    return ", ".join(values or [])


COLUMNS: list[remote.Column] = [
    ("name", "name"),
    ("scope", lambda t: f"{t.get('scope_type')} {t.get('scope')}"),
    ("on", lambda t: _joined(t.get("events"))),
    (
        "action",
        lambda t: f"job {t['job']}" if t.get("job") else f"notify {_joined(t.get('destinations'))}",
    ),
    ("pending", "pending_changes"),
    ("last fired", lambda t: remote.timestamp(t.get("last_fired_at"))),
]
FIELDS: list[remote.Column] = [
    ("name", "name"),
    ("owner", "owner"),
    ("scope type", "scope_type"),
    ("scope", "scope"),
    ("events", lambda t: _joined(t.get("events"))),
    ("aliases", lambda t: _joined(t.get("aliases")) or "any"),
    ("min time between", lambda t: f"{t.get('min_time_between_triggers_seconds')} s"),
    ("wait after last change", lambda t: f"{t.get('wait_after_last_change_seconds')} s"),
    ("job", "job"),
    ("destinations", lambda t: _joined(t.get("destinations"))),
    ("pending changes", "pending_changes"),
    ("pending since", lambda t: remote.timestamp(t.get("first_pending_at"))),
    ("last fired", lambda t: remote.timestamp(t.get("last_fired_at"))),
    ("created", remote.created),
]

NameArgument = Annotated[
    str, typer.Argument(metavar="NAME", help="Trigger name.", show_default=False)
]


def _name(value: str) -> str:
    if not value.strip():
        raise typer.BadParameter("a trigger name is required.", param_hint="'NAME'")
    return value.strip()


def _events(values: list[str]) -> list[str]:
    chosen = []
    for value in values:
        if value.strip().upper() not in KNOWN_EVENTS:
            raise typer.BadParameter(
                f"'{value}' is not an event; expected one of {', '.join(KNOWN_EVENTS)}.",
                param_hint="'--on'",
            )
        chosen.append(value.strip().upper())
    return chosen


@app.command("create")
def create(
    name: NameArgument,
    scope: Annotated[
        str,
        typer.Option(
            "--scope",
            help="What to watch: CATALOG, CATALOG.SCHEMA or CATALOG.SCHEMA.MODEL.",
            show_default=False,
        ),
    ],
    on: Annotated[
        list[str],
        typer.Option(
            "--on",
            help=f"An event to fire on (repeatable): {', '.join(ev.TRIGGER_EVENTS)}; "
            f"with --notify also {', '.join(NOTIFY_ONLY)}.",
            show_default=False,
        ),
    ],
    scope_type: Annotated[
        ScopeType | None,
        typer.Option(
            "--scope-type",
            help="What --scope names. Default: from its number of dotted parts.",
            show_default=False,
        ),
    ] = None,
    alias: Annotated[
        list[str] | None,
        typer.Option(
            "--alias",
            help="With --on MODEL_ALIAS_SET: fire only for these aliases (repeatable). "
            "Default: any alias.",
            show_default=False,
        ),
    ] = None,
    min_time_between: Annotated[
        int,
        typer.Option(
            "--min-time-between",
            min=0,
            max=86_400,
            help="Seconds that must pass between two firings.",
        ),
    ] = 0,
    wait_after_last_change: Annotated[
        int,
        typer.Option(
            "--wait-after-last-change",
            min=0,
            max=86_400,
            help="Seconds without a new change before the batch fires.",
        ),
    ] = 60,
    job: Annotated[
        str | None,
        typer.Option(
            "--job",
            help="Start a run of this deployment job (name or id) for each changed model.",
            show_default=False,
        ),
    ] = None,
    notify: Annotated[
        list[str] | None,
        typer.Option(
            "--notify",
            help="Send one notification per batch to this destination (repeatable).",
            show_default=False,
        ),
    ] = None,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Create a trigger. Needs EXECUTE on the scope; --job also needs ownership or MANAGE.

    Changes are batched: the trigger fires once --wait-after-last-change seconds pass without a
    new change and --min-time-between seconds have passed since it last fired.
    """
    if (job is None) == (not notify):
        raise typer.BadParameter(
            "give exactly one action: --job JOB or --notify DESTINATION (repeatable).",
            param_hint="'--job' / '--notify'",
        )
    parts = scope.split(".")
    if scope_type is None:
        if len(parts) not in _BY_PARTS:
            raise typer.BadParameter(
                f"'{scope}' has {len(parts)} dotted parts; expected CATALOG, CATALOG.SCHEMA or "
                "CATALOG.SCHEMA.MODEL.",
                param_hint="'--scope'",
            )
        scope_type = _BY_PARTS[len(parts)]
    body: dict[str, Any] = {
        "name": _name(name),
        "scope_type": scope_type.value,
        "scope": scope,
        "events": _events(on),
        "aliases": [remote.alias_name(a, "'--alias'") for a in alias or []],
        "min_time_between_triggers_seconds": min_time_between,
        "wait_after_last_change_seconds": wait_after_last_change,
    }
    if job is not None:
        body["job"] = job
    else:
        body["destinations"] = notify
    with remote.connect(url) as client:
        created = client.post(PATH, body)
    if output is OutputFormat.json:
        remote.print_json(created)
    else:
        remote.done(f"Created trigger {created.get('name', name)} on {scope_type.value} {scope}.")


@app.command("list")
def list_(url: UrlOption = None, output: OutputOption = OutputFormat.text) -> None:
    """List your triggers (a metastore admin sees all), with their waiting changes."""
    with remote.connect(url) as client:
        found = client.get(PATH).get("triggers", [])
    remote.print_list(found, COLUMNS, output, "triggers")


@app.command("get")
@app.command("show", hidden=True)  # the earlier name, kept working
def show(
    name: NameArgument, url: UrlOption = None, output: OutputOption = OutputFormat.text
) -> None:
    """Show a trigger: its scope, events, throttling, action and waiting batch."""
    with remote.connect(url) as client:
        found = client.get(f"{PATH}/{segment(_name(name))}")
    remote.print_object(found, FIELDS, output)


@app.command("delete")
def delete(name: NameArgument, url: UrlOption = None) -> None:
    """Delete a trigger; changes waiting in its batch are dropped."""
    with remote.connect(url) as client:
        client.delete(f"{PATH}/{segment(_name(name))}")
    remote.done(f"Deleted trigger {_name(name)}.")
