"""`modelcatalog notifications ...` run as a user runs it, against the real server, with a real
local webhook receiver and a real SMTP server."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from support.cli import run_cli
from support.http import unique
from support.receivers import SmtpCapture, WebhookReceiver, mlflow_signature_valid
from support.servers import RunningServer

# The local SMTP server authenticates without TLS on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
# Wide enough that no table cell or error panel wraps in the middle of what a test looks for.
WIDE = "250"


class Cli:
    """Runs `modelcatalog` against one server as the admin, with optional stdin."""

    def __init__(self, server: RunningServer, config_dir: Path) -> None:
        self.server = server
        self.config_dir = config_dir

    def __call__(self, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
        environment = self.server.env(
            MODELCATALOG_CONFIG_DIR=str(self.config_dir), COLUMNS=WIDE, **env
        )
        return run_cli("notifications", *args, env=environment, stdin=stdin)

    def ok(self, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
        result = self(*args, stdin=stdin, **env)
        assert result.returncode == 0, result.stderr
        return result

    def json(self, *args: str, stdin: str = "", **env: str) -> Any:
        return json.loads(self.ok(*args, "--output", "json", stdin=stdin, **env).stdout)


@pytest.fixture
def cli(job_server: RunningServer, tmp_path: Path) -> Cli:
    return Cli(job_server, tmp_path / "config")


def delivered(cli: Cli, name: str) -> dict:
    """The destination's newest delivery once it is DELIVERED (polled with a deadline)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = cli.json("deliveries", "--destination", name)["deliveries"]
        if found and found[0]["state"] == "DELIVERED":
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no delivery to {name} was DELIVERED: {found!r}")


def test_a_signed_webhook_round_trip(cli: Cli, job_server: RunningServer) -> None:
    name, secret = unique("hook"), "cli-" + uuid.uuid4().hex
    with WebhookReceiver() as hook:
        created = cli.ok("create", name, "--webhook", hook.url, "--secret-stdin", stdin=secret)
        assert f"Created webhook destination {name} → {hook.url} (signed)." in created.stderr
        listed = cli.json("list")["destinations"]
        assert {"name": name, "kind": "webhook", "has_secret": True}.items() <= next(
            d for d in listed if d["name"] == name
        ).items()
        shown = cli.ok("show", name).stdout
        assert hook.url in shown and "yes" in shown
        queued = cli.json("test", name)
        (received,) = hook.wait_for(1)
        assert received.header("X-MLflow-Delivery-Id") == queued["id"]
        assert mlflow_signature_valid(secret, received.headers, received.body)
        logged = delivered(cli, name)
        table = cli.ok("deliveries", "--destination", name, "--state", "delivered").stdout
        assert queued["id"] in table and "DELIVERED" in table
    assert logged["attempts"] == 1
    outputs = [created.stdout, created.stderr, json.dumps(listed), shown, table]
    assert all(secret not in text for text in outputs)
    assert secret not in job_server.log()
    cli.ok("delete", name)
    gone = cli("show", name)
    assert gone.returncode == 1
    assert f"Notification destination '{name}' does not exist." in gone.stderr


def test_a_secret_can_come_from_an_environment_variable(cli: Cli) -> None:
    name = unique("hook")
    with WebhookReceiver() as hook:
        cli.ok(
            "create", name, "--webhook", hook.url, "--secret-env", "HOOK_SECRET", HOOK_SECRET="e"
        )
        cli.ok("test", name)
        (received,) = hook.wait_for(1)
    assert mlflow_signature_valid("e", received.headers, received.body)


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (("create", "n"), "exactly one of --email or --webhook"),
        (
            ("create", "n", "--email", "a@example.com", "--webhook", "https://x.example"),
            "exactly one of --email or --webhook",
        ),
        (("create", "n", "--webhook", "https://x.example", "--secret", "s"), "No such option"),
        (("create", "n", "--email", "a@example.com", "--secret-stdin"), "--webhook only"),
        (("create", "bad name", "--email", "a@example.com"), "letters, digits"),
        (("create", "n", "--webhook", "https://x.example", "--secret-stdin"), "empty secret"),
        (("deliveries", "--state", "lost"), "PENDING, DELIVERED or FAILED"),
        (("smtp", "set", "--host", "m", "--from", "c@example.com", "--password", "p"), "No such"),
        (("smtp", "set", "--host", "m", "--from", "c@example.com", "--username", "u"), "password"),
    ],
    ids=[
        "no-address",
        "two-addresses",
        "secret-flag",
        "secret-for-email",
        "bad-name",
        "empty-stdin",
        "bad-state",
        "password-flag",
        "user-without-password",
    ],
)
def test_a_bad_command_line_exits_2_before_any_request(
    cli: Cli, args: tuple[str, ...], complaint: str
) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert complaint in " ".join(result.stderr.replace("│", " ").split())


def test_smtp_set_show_and_delete_with_the_password_from_stdin(cli: Cli) -> None:
    password = "pw-" + uuid.uuid4().hex
    with SmtpCapture(username="mailer", password=password) as smtp:
        cli.ok(
            "smtp",
            "set",
            "--host",
            "127.0.0.1",
            "--port",
            str(smtp.port),
            "--security",
            "none",
            "--from",
            "catalog@example.com",
            "--username",
            "mailer",
            "--password-stdin",
            stdin=password + "\n",
        )
        shown = cli.ok("smtp", "show").stdout
        assert "stored (encrypted)" in shown and "catalog@example.com" in shown
        assert password not in shown
        name = unique("ops")
        cli.ok("create", name, "--email", f"{name}@example.com")
        cli.ok("test", name)
        mail = smtp.wait_for_mail_to(f"{name}@example.com")
        assert mail.login == "mailer" and mail.rcpt_tos == [f"{name}@example.com"]
        delivered(cli, name)
    cli.ok("smtp", "delete")
    missing = cli("smtp", "show")
    assert missing.returncode == 1
    assert "no SMTP server is configured" in missing.stderr
