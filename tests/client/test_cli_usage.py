"""Command-line mistakes end with exit 2 before any request; unreachable servers with exit 1."""

import socket
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from modelcatalog.cli import aliases, catalogs, models, schemas, tags, tokens, versions


@pytest.fixture
def closed_port_url() -> str:
    # A port that was just free: nothing listens there, so a request would fail to connect.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, closed_port_url: str) -> None:
    monkeypatch.setenv("MODELCATALOG_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("MODELCATALOG_URL", closed_port_url)
    monkeypatch.setenv("MODELCATALOG_TOKEN", "t0ken")


def run(app: typer.Typer, *args: str) -> tuple[int, str]:
    """Exit code and output with Rich's box drawing and line wrapping undone."""
    result = CliRunner().invoke(app, list(args))
    text = result.output.replace("│", " ").replace("╭", " ").replace("╰", " ").replace("─", "")
    return result.exit_code, " ".join(text.split())


@pytest.mark.parametrize(
    ("app", "args", "message"),
    [
        (catalogs.app, ["create", "bad.name"], "no dots"),
        (catalogs.app, ["update", "main"], "--comment, --new-name"),
        (schemas.app, ["create", "main"], "2-level name"),
        (schemas.app, ["update", "main.s", "--new-name", "other.x"], "another parent"),
        (models.app, ["get", "main.default"], "3-level name"),
        (models.app, ["create", "main.default.bad name"], "letters, digits"),
        (models.app, ["list", "--schema", "default"], "--schema needs --catalog"),
        (versions.app, ["get", "main.default.m", "Production"], "stages and 'latest'"),
        (versions.app, ["delete", "main.default.m", "0"], "a version number from 1"),
        (aliases.app, ["set", "main.default.m", "latest", "1"], "reserved"),
        (aliases.app, ["set", "main.default.m", "champion", "one"], "a version number from 1"),
        (tags.app, ["set", "main.default.m", "a.b", "v"], "may not contain"),
        (tags.app, ["set", "main.default.m", "k", "v" * 1001], "at most 1000"),
        (tags.app, ["delete", "main.default.m", "k", "--version", "x"], "version number"),
        (tokens.app, ["create", "--lifetime", "30"], "has no unit"),
        (tokens.app, ["create", "--lifetime", "2w"], "unknown unit"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_usage_error_exits_2_without_a_request(
    app: typer.Typer, args: list[str], message: str
) -> None:
    code, output = run(app, *args)
    assert code == 2, output
    assert message in output
    assert "cannot reach" not in output


def test_unreachable_server_exits_1_with_hint(closed_port_url: str) -> None:
    code, output = run(catalogs.app, "list")
    assert code == 1
    assert f"error: cannot reach the catalog server at {closed_port_url}" in output


def test_missing_token_exits_1_with_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELCATALOG_TOKEN")
    code, output = run(models.app, "list")
    assert code == 1
    assert "no token for" in output and "modelcatalog login" in output
