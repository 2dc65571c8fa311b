"""`modelcatalog triggers` run as a user runs it, against a real server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

# The server, its admin client, a webhook destination and a fresh schema come from there.
from test_triggers import admin, destination, new_model, receiver, schema  # noqa: E402, F401

from support.cli import run_cli
from support.http import unique

WIDE = "250"


class Cli:
    """Runs `modelcatalog` against the server as its admin."""

    def __init__(self, server: Any, config_dir: Path) -> None:
        self.server = server
        self.config_dir = config_dir

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        environment = self.server.env(MODELCATALOG_CONFIG_DIR=str(self.config_dir), COLUMNS=WIDE)
        return run_cli("triggers", *args, env=environment)

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self(*args)
        assert result.returncode == 0, result.stderr
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--output", "json").stdout)


@pytest.fixture
def cli(job_server: Any, tmp_path: Path) -> Cli:
    return Cli(job_server, tmp_path / "config")


def flat(text: str) -> str:
    """Text with Rich's panel borders and line breaks folded into single spaces."""
    return " ".join(text.replace("│", " ").split())


def test_create_show_list_and_delete_a_notification_trigger(
    cli: Cli,
    admin: httpx.Client,  # noqa: F811
    destination: str,  # noqa: F811
    schema: str,  # noqa: F811
) -> None:
    model = new_model(admin, schema)
    name = unique("trg")
    created = cli.ok(
        "create", name, "--scope", model, "--on", "MODEL_ALIAS_SET", "--on", "model_version_ready",
        "--alias", "champion", "--min-time-between", "30", "--wait-after-last-change", "5",
        "--notify", destination,
    )  # fmt: skip
    assert f"Created trigger {name} on registered_model {model}." in flat(created.stderr)

    shown = cli.json("show", name)
    assert shown["scope_type"] == "registered_model" and shown["scope"] == model
    assert shown["events"] == ["MODEL_ALIAS_SET", "MODEL_VERSION_READY"]
    assert shown["aliases"] == ["champion"]
    assert shown["min_time_between_triggers_seconds"] == 30
    assert shown["wait_after_last_change_seconds"] == 5
    assert shown["destinations"] == [destination] and shown["job"] is None
    assert shown["pending_changes"] == 0 and shown["last_fired_at"] is None
    text = cli.ok("show", name).stdout
    assert "wait after last change  5 s" in text

    listed = cli.ok("list").stdout
    row = next(line for line in listed.splitlines() if name in line)
    assert f"notify {destination}" in row and "MODEL_ALIAS_SET, MODEL_VERSION_READY" in row

    cli.ok("delete", name)
    gone = cli("show", name)
    assert gone.returncode == 1
    assert f"Trigger '{name}' does not exist." in flat(gone.stderr)


def test_the_scope_type_follows_the_number_of_name_parts(
    cli: Cli,
    destination: str,  # noqa: F811
    schema: str,  # noqa: F811
) -> None:
    catalog = schema.split(".")[0]
    for scope, kind in ((catalog, "catalog"), (schema, "schema")):
        created = cli.json(
            "create", unique("trg"), "--scope", scope, "--on", "MODEL_CREATED",
            "--notify", destination,
        )  # fmt: skip
        assert (created["scope_type"], created["scope"]) == (kind, scope)


USAGE_ERRORS = [
    pytest.param(
        ["--on", "MODEL_CREATED", "--job", "j", "--notify", "d"],
        "give exactly one action: --job JOB or --notify DESTINATION",
        id="two-actions",
    ),
    pytest.param(["--on", "MODEL_CREATED"], "give exactly one action", id="no-action"),
    pytest.param(
        ["--on", "MODEL_DELETED", "--notify", "d"],
        "'MODEL_DELETED' is not an event; expected one of MODEL_CREATED",
        id="unknown-event",
    ),
    pytest.param(
        ["--on", "MODEL_CREATED", "--notify", "d", "--wait-after-last-change", "86401"],
        "Invalid value for '--wait-after-last-change'",
        id="wait-too-long",
    ),
    pytest.param(
        ["--on", "MODEL_ALIAS_SET", "--alias", "v2", "--notify", "d"],
        "'latest' and 'v<number>' are reserved",
        id="reserved-alias",
    ),
]


@pytest.mark.parametrize(("extra", "message"), USAGE_ERRORS)
def test_a_wrong_command_line_is_a_usage_error(
    cli: Cli,
    extra: list[str],
    message: str,
) -> None:
    result = cli("create", unique("trg"), "--scope", "c.s.m", *extra)
    assert result.returncode == 2, result.stderr
    assert message in flat(result.stderr)


def test_a_four_part_scope_is_a_usage_error(cli: Cli) -> None:
    result = cli("create", "t", "--scope", "a.b.c.d", "--on", "MODEL_CREATED", "--notify", "d")
    assert result.returncode == 2
    assert "'a.b.c.d' has 4 dotted parts; expected CATALOG, CATALOG.SCHEMA or" in flat(
        result.stderr
    )


def test_the_servers_refusal_is_printed_with_exit_1(
    cli: Cli,
    admin: httpx.Client,  # noqa: F811
    destination: str,  # noqa: F811
    schema: str,  # noqa: F811
) -> None:
    model = new_model(admin, schema)
    result = cli(
        "create", unique("trg"), "--scope", model, "--on", "MODEL_VERSION_READY",
        "--alias", "champion", "--notify", destination,
    )  # fmt: skip
    assert result.returncode == 1
    assert "'aliases' is only allowed with the MODEL_ALIAS_SET event" in flat(result.stderr)
