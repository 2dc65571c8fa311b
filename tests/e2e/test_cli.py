"""The `modelcatalog` command against a running catalog server, run as a user would run it.

Needs the `server` fixture (tests/conftest.py): `.url`, `.admin_token`, `.env(**extra)`.
"""

from __future__ import annotations

import json
import shlex
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.cli import run_cli
from support.http import ok
from support.mlflow_stores import mlflow_database
from support.models import STATED_REQUIREMENTS
from support.versions import create_model, ready_version


class Cli:
    """Runs `modelcatalog` with a private config folder."""

    def __init__(self, server: Any, config_dir: Path) -> None:
        self.server = server
        self.config_dir = config_dir

    def __call__(
        self, *args: str, token: str | None = "admin", stdin: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        environment = self.server.env(MODELCATALOG_CONFIG_DIR=str(self.config_dir), **env)
        if token is None:
            environment.pop("MODELCATALOG_TOKEN", None)
        elif token != "admin":
            environment["MODELCATALOG_TOKEN"] = token
        return run_cli(*args, env=environment, stdin=stdin if stdin is not None else "")

    def json(self, *args: str, **kwargs: Any) -> Any:
        result = self(*args, "--output", "json", **kwargs)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture
def cli(server: Any, tmp_path: Path) -> Cli:
    return Cli(server, tmp_path / "config")


@pytest.fixture
def catalog(cli: Cli) -> str:
    name = f"cat_{uuid.uuid4().hex[:8]}"
    assert cli("catalogs", "create", name, "--comment", "for tests").returncode == 0
    return name


@pytest.fixture
def schema(cli: Cli, catalog: str) -> str:
    full_name = f"{catalog}.sch"
    assert cli("schemas", "create", full_name).returncode == 0
    return full_name


@pytest.fixture
def registered_version(cli: Cli, schema: str, server: Any, tmp_path: Path) -> str:
    """A model with one READY version, registered through stock MLflow."""
    name = f"{schema}.churn"
    netloc = server.url.split("://", 1)[1]
    script = (
        "import mlflow, numpy as np\n"
        "from mlflow.models import infer_signature\n"
        "from sklearn.linear_model import LogisticRegression\n"
        f"mlflow.set_tracking_uri('{mlflow_database(tmp_path / 'mlflow.db')}')\n"
        f"mlflow.set_registry_uri('modelcatalog://{netloc}')\n"
        "x = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])\n"
        "y = np.array([1, 0, 1, 0])\n"
        "m = LogisticRegression().fit(x, y)\n"
        "with mlflow.start_run():\n"
        "    mlflow.sklearn.log_model(\n"
        "        m, name='model', signature=infer_signature(x, m.predict(x)),\n"
        f"        pip_requirements={STATED_REQUIREMENTS!r},\n"
        f"        registered_model_name='{name}')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=server.env(MODELCATALOG_CONFIG_DIR=str(cli.config_dir)),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return name


def test_login_saves_token_privately_and_commands_use_it(cli: Cli, server: Any) -> None:
    result = cli("login", "--url", server.url, token=None, stdin=server.admin_token + "\n")
    assert result.returncode == 0, result.stderr
    assert server.admin_token not in result.stdout + result.stderr
    path = cli.config_dir / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert cli("catalogs", "list", token=None).returncode == 0

    assert cli("logout", "--url", server.url, token=None).returncode == 0
    after = cli("catalogs", "list", token=None)
    assert after.returncode == 1
    assert "no token for" in after.stderr


def test_login_from_token_file(cli: Cli, server: Any, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(server.admin_token)
    result = cli("login", "--url", server.url, "--token-file", str(token_file), token=None)
    assert result.returncode == 0, result.stderr


def test_login_with_rejected_token_saves_nothing(cli: Cli, server: Any) -> None:
    result = cli("login", "--url", server.url, token=None, stdin="not-a-token\n")
    assert result.returncode == 1
    assert "error: UNAUTHENTICATED" in result.stderr
    assert not (cli.config_dir / "credentials.json").exists()


def test_catalog_lifecycle(cli: Cli) -> None:
    name = f"cat_{uuid.uuid4().hex[:8]}"
    created = cli.json("catalogs", "create", name, "--comment", "first")
    assert (created["name"], created["comment"]) == (name, "first")
    assert name in {c["name"] for c in cli.json("catalogs", "list")["catalogs"]}
    assert cli.json("catalogs", "update", name, "--comment", "second")["comment"] == "second"
    renamed = cli.json("catalogs", "update", name, "--new-name", name + "_b")
    assert renamed["name"] == name + "_b"
    assert cli("catalogs", "delete", name + "_b").returncode == 0
    missing = cli("catalogs", "get", name + "_b")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: ")
    assert "DOES_NOT_EXIST" in missing.stderr or "NOT_FOUND" in missing.stderr


def test_catalog_with_schema_needs_force(cli: Cli, schema: str) -> None:
    catalog = schema.split(".")[0]
    assert cli("catalogs", "delete", catalog).returncode == 1
    assert cli("catalogs", "delete", catalog, "--force").returncode == 0


def test_model_with_versions_needs_force(cli: Cli, api: httpx.Client, schema: str) -> None:
    name = f"{schema}.versioned"
    create_model(api, name)
    ready_version(api, name)
    refused = cli("models", "delete", name)
    assert refused.returncode == 1
    assert "ABORTED" in refused.stderr and "force" in refused.stderr
    assert cli.json("models", "get", name)["full_name"] == name
    assert cli("models", "delete", name, "--force").returncode == 0
    assert cli("models", "get", name).returncode == 1


def test_schema_and_model_lifecycle(cli: Cli, schema: str) -> None:
    catalog = schema.split(".")[0]
    assert schema in {s["full_name"] for s in cli.json("schemas", "list", catalog)["schemas"]}
    assert cli.json("schemas", "get", schema)["catalog_name"] == catalog
    assert cli.json("schemas", "update", schema, "--comment", "c")["comment"] == "c"

    model = f"{schema}.m1"
    created = cli.json("models", "create", model, "--comment", "about m1")
    assert created["full_name"] == model
    listed = cli.json("models", "list", "--catalog", catalog, "--schema", "sch")
    assert [m["full_name"] for m in listed["registered_models"]] == [model]
    renamed = cli.json("models", "update", model, "--new-name", "m2", "--comment", "new")
    assert (renamed["full_name"], renamed["comment"]) == (f"{schema}.m2", "new")
    assert cli("models", "delete", f"{schema}.m2").returncode == 0
    assert cli("models", "get", f"{schema}.m2").returncode == 1


def test_duplicate_model_is_refused(cli: Cli, schema: str) -> None:
    assert cli("models", "create", f"{schema}.dup").returncode == 0
    again = cli("models", "create", f"{schema}.dup")
    assert again.returncode == 1
    assert "ALREADY_EXISTS" in again.stderr


def test_list_follows_pages(cli: Cli, schema: str, server: Any) -> None:
    names = {f"{schema}.m{i:03d}" for i in range(120)}
    # Created over REST: what is under test is the listing, and 120 CLI processes take minutes.
    catalog_name, schema_name = schema.split(".")
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
        for name in sorted(names):
            api.post(
                "/api/2.1/unity-catalog/models",
                json={
                    "catalog_name": catalog_name,
                    "schema_name": schema_name,
                    "name": name.rsplit(".", 1)[1],
                },
            ).raise_for_status()
    catalog = schema.split(".")[0]
    listed = cli.json("models", "list", "--catalog", catalog, "--schema", "sch")
    assert {m["full_name"] for m in listed["registered_models"]} == names
    # The server filters, a page at a time; --max-results stops early and says more match.
    first = cli("models", "list", "--catalog", catalog, "--max-results", "5", "-o", "json")
    assert [m["full_name"] for m in json.loads(first.stdout)["registered_models"]] == sorted(names)[
        :5
    ]
    assert "more match" in first.stderr
    some = cli.json("models", "list", "--catalog", catalog, "--filter", "M11")
    assert {m["full_name"] for m in some["registered_models"]} == {
        n for n in names if n.endswith(tuple(f"m11{i}" for i in range(10)))
    }
    ok(
        httpx.patch(
            f"{server.url}/api/2.1/unity-catalog/securable-tags/registered_model/{schema}.m007",
            json={"changes": {"add_tags": [{"key": "team", "value": "risk"}]}},
            headers=server.headers(),
        )
    )
    tagged = cli.json("models", "list", "--tag", "team=risk", "--catalog", catalog)
    assert [m["full_name"] for m in tagged["registered_models"]] == [f"{schema}.m007"]


def test_versions_aliases_tags_manifest(cli: Cli, registered_version: str) -> None:
    name = registered_version
    versions = cli.json("versions", "list", name)["model_versions"]
    assert [(str(v["version"]), v["status"]) for v in versions] == [("1", "READY")]
    assert cli.json("versions", "update", name, "1", "--comment", "baseline")["comment"] == (
        "baseline"
    )

    assert cli("aliases", "set", name, "champion", "1").returncode == 0
    assert str(cli.json("aliases", "get", name, "champion")["version"]) == "1"
    assert cli.json("aliases", "list", name)["aliases"] == [
        {"alias_name": "champion", "version_num": 1}
    ]

    assert cli("tags", "set", name, "team", "retention").returncode == 0
    assert cli("tags", "set", name, "validated", "yes", "--version", "1").returncode == 0
    assert cli.json("tags", "list", name)["tags"] == [{"key": "team", "value": "retention"}]
    assert cli.json("tags", "list", name, "--version", "1")["tags"] == [
        {"key": "validated", "value": "yes"}
    ]
    assert cli("tags", "delete", name, "team").returncode == 0
    assert cli.json("tags", "list", name)["tags"] == []

    files = cli.json("versions", "manifest", name, "1")["files"]
    assert "MLmodel" in {f["path"] for f in files}
    assert all(len(f["sha256"]) == 64 and f["size"] >= 0 for f in files)

    text = cli("versions", "manifest", name, "1")
    assert text.returncode == 0 and "MLmodel" in text.stdout

    assert cli("aliases", "delete", name, "champion").returncode == 0
    assert cli("aliases", "get", name, "champion").returncode == 1
    assert cli("versions", "delete", name, "1").returncode == 0
    assert cli("versions", "get", name, "1").returncode == 1


def test_alias_on_missing_version_is_refused(cli: Cli, registered_version: str) -> None:
    result = cli("aliases", "set", registered_version, "champion", "9")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")


def test_token_create_use_list_revoke(cli: Cli) -> None:
    created = cli.json("tokens", "create", "--comment", "ci", "--lifetime", "1h")
    token, token_id = created["token"], created["token_id"]
    assert cli("catalogs", "list", token=token).returncode == 0
    listed = cli.json("tokens", "list", token=token)["tokens"]
    assert token_id in {t["token_id"] for t in listed}
    assert token not in json.dumps(listed)
    assert cli("tokens", "revoke", token_id).returncode == 0
    rejected = cli("catalogs", "list", token=token)
    assert rejected.returncode == 1
    assert "UNAUTHENTICATED" in rejected.stderr


def test_text_token_create_prints_only_the_token_on_stdout(cli: Cli) -> None:
    result = cli("tokens", "create", "--lifetime", "10m")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token and "\n" not in token
    assert cli("catalogs", "list", token=token).returncode == 0


def test_bad_lifetime_is_a_usage_error(cli: Cli) -> None:
    result = cli("tokens", "create", "--lifetime", "30")
    assert result.returncode == 2
    assert "has no unit" in result.stderr


def test_bad_name_is_a_usage_error_before_any_request(cli: Cli) -> None:
    result = cli("models", "get", "only.two", "--url", "http://127.0.0.1:1")
    assert result.returncode == 2
    assert "3-level name" in " ".join(result.stderr.replace("│", " ").split())


def test_text_output_prints_user_values_exactly_as_stored(cli: Cli, schema: str) -> None:
    name = f"{schema}.markup"
    description = "See [wiki](http://x). [bold]not bold[/bold]"
    cli.json("models", "create", name, "--comment", description)
    assert cli("tags", "set", name, "risk", "[bold]risk[/bold] [x]").returncode == 0
    shown = cli("models", "get", name, COLUMNS="400")
    assert shown.returncode == 0, shown.stderr
    assert description in shown.stdout
    assert "[bold]risk[/bold] [x]" in shown.stdout
    listed = cli("models", "list", "--catalog", schema.split(".")[0], COLUMNS="400")
    assert description in listed.stdout


def test_shell_completion_can_be_installed(cli: Cli) -> None:
    # Asked from bash, as a person does: the CLI finds its shell among its parent processes
    # (`; exit` keeps bash from replacing itself with the command).
    shown = subprocess.run(
        ["bash", "-c", f"{shlex.quote(sys.executable)} -m modelcatalog --show-completion; exit $?"],
        env=cli.server.env(MODELCATALOG_CONFIG_DIR=str(cli.config_dir)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "complete" in shown.stdout and "modelcatalog" in shown.stdout


def test_every_command_has_help(cli: Cli) -> None:
    for group in ("catalogs", "schemas", "models", "versions", "aliases", "tags", "tokens"):
        result = cli(group, "--help")
        assert result.returncode == 0 and "Usage" in result.stdout
    for command in ("login", "logout"):
        assert cli(command, "--help").returncode == 0


def test_every_group_reads_one_thing_with_get_and_the_old_show_still_works(
    cli: Cli, catalog: str
) -> None:
    groups = [
        ("catalogs",), ("schemas",), ("models",), ("versions",), ("aliases",), ("grants",),
        ("jobs",), ("triggers",), ("notifications",), ("notifications", "smtp"), ("users",),
        ("service-principals",), ("groups",),
    ]  # fmt: skip
    for group in groups:
        shown = cli(*group, "--help", COLUMNS="200")
        assert shown.returncode == 0, group
        commands = {line.split()[1] for line in shown.stdout.splitlines() if line.startswith("│ ")}
        assert "get" in commands and "show" not in commands, (group, commands)
    by_get = cli("grants", "get", "catalog", catalog, "-o", "json")
    by_show = cli("grants", "show", "catalog", catalog, "-o", "json")
    assert by_get.returncode == 0 and by_get.stdout == by_show.stdout


def test_global_url_and_named_profiles(server: Any, tmp_path: Path) -> None:
    env = server.env(MODELCATALOG_CONFIG_DIR=str(tmp_path / "config"))
    for unset in ("MODELCATALOG_URL", "MODELCATALOG_TOKEN", "MODELCATALOG_PROFILE"):
        env.pop(unset, None)
    logged_in = run_cli(
        "login", "--profile", "staging", "--url", server.url, "--token-stdin",
        env=env, stdin=server.admin_token,
    )  # fmt: skip
    assert logged_in.returncode == 0, logged_in.stderr
    assert "as profile 'staging'" in logged_in.stderr
    saved = json.loads((tmp_path / "config" / "credentials.json").read_text())
    assert saved["profiles"] == {"staging": {"url": server.url}}
    assert saved["default_url"] is None  # a named profile does not become the default

    assert run_cli("--profile", "staging", "catalogs", "list", env=env).returncode == 0
    assert run_cli("--url", server.url, "catalogs", "list", env=env).returncode == 0
    by_env = run_cli("catalogs", "list", env={**env, "MODELCATALOG_PROFILE": "staging"})
    assert by_env.returncode == 0, by_env.stderr
    unknown = run_cli("--profile", "prod", "catalogs", "list", env=env)
    assert unknown.returncode == 2
    assert "no profile 'prod'; the profiles are: staging" in " ".join(unknown.stderr.split())
    # A command's own --url wins over the global one.
    wins = run_cli("--url", "http://127.0.0.1:1", "catalogs", "list", "--url", server.url, env=env)
    assert wins.returncode == 0, wins.stderr
