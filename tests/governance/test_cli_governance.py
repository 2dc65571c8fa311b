"""The governance commands of `modelcatalog` (users, service principals, groups, tokens for
others, grants, audit), run as a user runs them against a real server on each backend.

Needs the `server` fixture (tests/conftest.py): `.url`, `.admin_token`, `.env(**extra)`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.cli import run_cli
from support.http import unique

NATIVE = "/api/modelcatalog"
# Wide enough that no table cell or error panel wraps in the middle of what a test looks for.
WIDE = "250"


def flat(text: str) -> str:
    """Text with Rich's panel borders and line breaks folded into single spaces."""
    return " ".join(text.replace("│", " ").split())


class Cli:
    """Runs `modelcatalog` against one server, as the admin unless told otherwise."""

    def __init__(self, server: Any, config_dir: Path) -> None:
        self.server = server
        self.config_dir = config_dir

    def __call__(self, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        environment = self.server.env(MODELCATALOG_CONFIG_DIR=str(self.config_dir), COLUMNS=WIDE)
        if token is not None:
            environment["MODELCATALOG_TOKEN"] = token
        return run_cli(*args, env=environment)

    def ok(self, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        result = self(*args, token=token)
        assert result.returncode == 0, result.stderr
        return result

    def json(self, *args: str, token: str | None = None) -> Any:
        return json.loads(self.ok(*args, "--output", "json", token=token).stdout)


@pytest.fixture
def cli(server: Any, tmp_path: Path) -> Cli:
    return Cli(server, tmp_path / "config")


@pytest.fixture
def catalog(cli: Cli) -> str:
    """A fresh catalog, owned by the admin."""
    name = unique("cat")
    cli.ok("catalogs", "create", name)
    return name


@pytest.fixture
def model(cli: Cli, catalog: str) -> str:
    """A fresh registered model `catalog.sch.churn`, owned by the admin."""
    cli.ok("schemas", "create", f"{catalog}.sch")
    cli.ok("models", "create", f"{catalog}.sch.churn")
    return f"{catalog}.sch.churn"


def user_with_token(cli: Cli, kind: str = "users") -> tuple[str, str]:
    """A new principal of that kind and a token for it, made by the admin."""
    name = unique("u" if kind == "users" else "sp")
    cli.ok(kind, "create", name)
    token = cli.json("tokens", "create", "--principal", name, "--lifetime", "1h")["token"]
    return name, token


def table_rows(stdout: str) -> list[list[str]]:
    """The cells of a Rich table printed by the CLI, one list per row (header included)."""
    rows = []
    for line in stdout.splitlines():
        if not line.strip() or set(line.strip()) <= set("━╇─┼"):
            continue
        rows.append([cell.strip() for cell in line.replace("┃", "│").split("│")])
    return rows


def object_fields(stdout: str) -> dict[str, str]:
    """The fields of one object printed by the CLI as two columns."""
    pairs = (re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in stdout.splitlines())
    return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs if pair[0]}


# Principals ---------------------------------------------------------------------------------


def test_nested_groups_show_members_and_parent_groups(cli: Cli) -> None:
    user, inner, outer = unique("u"), unique("g"), unique("g")
    cli.ok("users", "create", user)
    cli.ok("groups", "create", inner)
    cli.ok("groups", "create", outer)
    added = cli.ok("groups", "add-member", inner, user)
    assert f"Added {user} to group {inner}." in added.stderr
    cli.ok("groups", "add-member", outer, inner)

    shown = cli.json("groups", "show", inner)
    assert (shown["kind"], shown["members"], shown["groups"]) == ("group", [user], [outer])
    assert cli.json("users", "show", user)["groups"] == [inner]
    text = object_fields(cli.ok("groups", "show", inner).stdout)
    assert (text["members"], text["member of"]) == (user, outer)

    listed = cli.json("groups", "list", "--name-contains", inner)["principals"]
    assert [(g["name"], g["members"]) for g in listed] == [(inner, [user])]
    assert [
        u["name"] for u in cli.json("users", "list", "--name-contains", user)["principals"]
    ] == [user]

    cli.ok("groups", "remove-member", outer, inner)
    assert cli.json("groups", "show", inner)["groups"] == []
    cli.ok("groups", "delete", outer)
    gone = cli("groups", "show", outer)
    assert gone.returncode == 1
    assert f"Principal '{outer}' does not exist." in gone.stderr


def test_commands_of_one_kind_refuse_a_principal_of_another(cli: Cli) -> None:
    group = unique("g")
    cli.ok("groups", "create", group)
    for command in ("show", "delete"):
        refused = cli("users", command, group)
        assert refused.returncode == 1
        assert (
            f"error: '{group}' is a group, not a user; use `modelcatalog groups`." in refused.stderr
        )
    assert cli.json("groups", "show", group)["name"] == group


def test_deleting_a_user_removes_it(cli: Cli) -> None:
    user = unique("u")
    cli.ok("users", "create", user)
    assert f"Deleted user {user}." in cli.ok("users", "delete", user).stderr
    assert cli.json("users", "list", "--name-contains", user)["principals"] == []


def test_set_admin_gives_and_takes_metastore_admin_rights(cli: Cli) -> None:
    user, token = user_with_token(cli)
    assert cli("users", "create", unique("u"), token=token).returncode == 1

    made = cli.ok("users", "set-admin", user, "--admin")
    assert f"{user} is now a metastore admin." in made.stderr
    assert cli.json("users", "show", user)["is_admin"] is True
    cli.ok("users", "create", unique("u"), token=token)

    cli.ok("users", "set-admin", user, "--no-admin")
    refused = cli("users", "create", unique("u"), token=token)
    assert refused.returncode == 1
    assert "only metastore admins create principals" in refused.stderr


# Tokens for other principals -----------------------------------------------------------------


def test_admin_creates_a_token_for_a_service_principal_that_works(cli: Cli) -> None:
    name = unique("sp")
    created = cli.json("service-principals", "create", name)
    assert (created["name"], created["kind"]) == (name, "service_principal")

    issued = cli.json(
        "tokens", "create", "--principal", name, "--comment", "nightly job", "--lifetime", "1d"
    )
    assert issued["principal"] == name
    assert issued["comment"] == "nightly job"
    assert issued["token"].startswith("mc_") and issued["token_id"]
    assert issued["expires_at"] - issued["created_at"] == 86_400_000

    cli.ok("tokens", "list", token=issued["token"])
    listed = cli.json("tokens", "list", "--principal", name)["tokens"]
    assert [(t["token_id"], t["principal"]) for t in listed] == [(issued["token_id"], name)]
    assert issued["token"] not in json.dumps(listed)
    assert name in {
        p["name"]
        for p in cli.json("service-principals", "list", "--name-contains", name)["principals"]
    }


def test_an_oauth_secret_is_shown_once_listed_without_it_and_deleted(cli: Cli) -> None:
    name = unique("sp")
    cli.ok("service-principals", "create", name)
    made = cli("service-principals", "secrets", "create", name, "--lifetime", "30d")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("mcsp_") and "Client id:" in made.stderr
    listed = cli.json("service-principals", "secrets", "list", name)["secrets"]
    assert len(listed) == 1 and secret not in json.dumps(listed)
    assert listed[0]["expires_at"] - listed[0]["created_at"] == 30 * 86_400_000
    text = cli.ok("service-principals", "secrets", "list", name).stdout
    assert listed[0]["client_id"] in text and "never" in text
    cli.ok("service-principals", "secrets", "delete", name, listed[0]["secret_id"])
    assert cli.json("service-principals", "secrets", "list", name)["secrets"] == []
    bad = cli("service-principals", "secrets", "create", name, "--lifetime", "soon")
    assert bad.returncode == 2 and "--lifetime" in bad.stderr


def test_only_admins_create_tokens_for_others(cli: Cli) -> None:
    _, token = user_with_token(cli)
    refused = cli("tokens", "create", "--principal", "admin", token=token)
    assert refused.returncode == 1
    assert "only metastore admins manage other principals' tokens" in refused.stderr


def test_tokens_belong_to_users_and_service_principals_not_groups(cli: Cli) -> None:
    group = unique("g")
    cli.ok("groups", "create", group)
    refused = cli("tokens", "create", "--principal", group)
    assert refused.returncode == 1
    assert "a group; tokens belong to users and service principals" in refused.stderr


# Grants -------------------------------------------------------------------------------------


def test_grant_and_revoke_print_the_statement_and_take_effect(cli: Cli, model: str) -> None:
    catalog, schema = model.split(".")[0], model.rsplit(".", 1)[0]
    user, token = user_with_token(cli)
    assert cli("models", "get", model, token=token).returncode == 1

    steps = [
        (("catalog", catalog, "USE", "CATALOG"), f"GRANT USE CATALOG ON CATALOG {catalog}"),
        (("schema", schema, "use_schema"), f"GRANT USE SCHEMA ON SCHEMA {schema}"),
        (("model", model, "EXECUTE", "apply tag"), f"GRANT EXECUTE, APPLY TAG ON MODEL {model}"),
    ]
    for (securable_type, name, *privileges), statement in steps:
        done = cli.ok("grants", "grant", securable_type, name, user, *privileges)
        assert done.stderr.strip() == f"{statement} TO {user}"
    assert cli.ok("models", "get", model, token=token).returncode == 0

    shown = cli.json("grants", "show", "registered_model", model)["privilege_assignments"]
    assert shown == [{"principal": user, "privileges": ["APPLY TAG", "EXECUTE"]}]
    assert [user, "APPLY TAG, EXECUTE"] in table_rows(
        cli.ok("grants", "show", "model", model).stdout
    )

    revoked = cli.ok("grants", "revoke", "model", model, user, "EXECUTE")
    assert revoked.stderr.strip() == f"REVOKE EXECUTE ON MODEL {model} FROM {user}"
    after = cli.json("grants", "show", "model", model, "--principal", user)
    assert after["privilege_assignments"] == [{"principal": user, "privileges": ["APPLY TAG"]}]
    assert cli("models", "get", model, token=token).returncode == 1


@pytest.mark.parametrize(
    "spelling",
    [("USE CATALOG",), ("USE", "CATALOG"), ("USE_CATALOG",), ("use_catalog",), ("Use", "Catalog")],
    ids=["quoted", "two-words", "underscore", "lower-case", "mixed-case-words"],
)
def test_privilege_spellings_all_mean_the_same(cli: Cli, catalog: str, spelling: tuple) -> None:
    group = unique("g")
    cli.ok("groups", "create", group)
    done = cli.ok("grants", "grant", "catalog", catalog, group, *spelling)
    assert done.stderr.strip() == f"GRANT USE CATALOG ON CATALOG {catalog} TO {group}"
    shown = cli.json("grants", "show", "catalog", catalog, "--principal", group)
    assert shown["privilege_assignments"] == [{"principal": group, "privileges": ["USE CATALOG"]}]


def test_longest_privilege_wins_when_words_run_together(cli: Cli, model: str) -> None:
    group = unique("g")
    cli.ok("groups", "create", group)
    done = cli.ok("grants", "grant", "model", model, group, "create", "model", "version", "MANAGE")
    assert done.stderr.strip() == f"GRANT CREATE MODEL VERSION, MANAGE ON MODEL {model} TO {group}"


def test_metastore_grants(cli: Cli) -> None:
    user, token = user_with_token(cli)
    done = cli.ok("grants", "grant", "metastore", "metastore", user, "CREATE_CATALOG")
    assert done.stderr.strip() == f"GRANT CREATE CATALOG ON METASTORE TO {user}"
    cli.ok("catalogs", "create", unique("cat"), token=token)
    shown = cli.json("grants", "show", "metastore", "metastore", "--principal", user)
    assert shown["privilege_assignments"] == [{"principal": user, "privileges": ["CREATE CATALOG"]}]
    cli.ok("grants", "revoke", "metastore", "metastore", user, "CREATE CATALOG")


def test_effective_view_prints_where_each_privilege_comes_from(cli: Cli, model: str) -> None:
    catalog, schema = model.split(".")[0], model.rsplit(".", 1)[0]
    user, inner, outer = unique("u"), unique("g"), unique("g")
    cli.ok("users", "create", user)
    cli.ok("groups", "create", inner)
    cli.ok("groups", "create", outer)
    cli.ok("groups", "add-member", inner, user)
    cli.ok("groups", "add-member", outer, inner)
    cli.ok("grants", "grant", "schema", schema, outer, "EXECUTE")
    cli.ok("grants", "grant", "catalog", catalog, inner, "APPLY_TAG")
    cli.ok("grants", "grant", "model", model, user, "MANAGE")

    text = cli.ok("grants", "show", "model", model, "--effective", "--principal", user).stdout
    rows = table_rows(text)
    assert rows[0] == ["principal", "privilege", "source", "through groups"]
    assert sorted(rows[1:]) == sorted(
        [
            [user, "APPLY TAG", f"inherited from catalog {catalog}", inner],
            [user, "EXECUTE", f"inherited from schema {schema}", f"{inner} → {outer}"],
            [user, "MANAGE", "direct", ""],
        ]
    )

    owner = table_rows(
        cli.ok("grants", "show", "model", model, "--effective", "--principal", "admin").stdout
    )
    assert owner[1:] == [["admin", "OWNER", f"owner of catalog {catalog}", ""]]

    answer = cli.json("grants", "show", "model", model, "--effective", "--principal", user)
    (assignment,) = answer["privilege_assignments"]
    assert {
        "privilege": "EXECUTE",
        "inherited_from_type": "schema",
        "inherited_from_name": schema,
        "via_groups": [inner, outer],
    } in assignment["privileges"]


def test_grant_to_an_unknown_principal_is_refused_by_the_server(cli: Cli, model: str) -> None:
    refused = cli("grants", "grant", "model", model, unique("nobody"), "EXECUTE")
    assert refused.returncode == 1
    assert "which does not exist; create it first" in refused.stderr


# Audit --------------------------------------------------------------------------------------


def test_audit_filters_by_principal_securable_action_and_time(cli: Cli) -> None:
    user, token = user_with_token(cli)
    victim = unique("u")
    assert cli("users", "create", victim, token=token).returncode == 1

    by_user = cli.json("audit", "--principal", user)["records"]
    assert by_user and {r["principal"] for r in by_user} == {user}
    denied = [r for r in by_user if r["action"] == "createPrincipal"]
    assert [(r["securable"], r["outcome"], r["error_code"]) for r in denied] == [
        (victim, "denied", "PERMISSION_DENIED")
    ]

    created = cli.json("audit", "--securable", user, "--action", "createPrincipal")["records"]
    assert [(r["principal"], r["outcome"], r["parameters"]) for r in created] == [
        ("admin", "ok", {"kind": "user", "name": user})
    ]

    assert cli.json("audit", "--principal", user, "--since", "1h")["records"] == by_user
    assert cli.json("audit", "--principal", user, "--until", "1h")["records"] == []
    first = by_user[0]["time"]
    assert cli.json("audit", "--principal", user, "--since", str(first + 1))["records"] == [
        r for r in by_user if r["time"] > first
    ]
    assert cli.json("audit", "--principal", user, "--since", "2000-01-01")["records"] == by_user
    future = cli.ok("audit", "--principal", user, "--since", "2999-01-01T00:00Z")
    assert (future.stdout, future.stderr.strip()) == ("", "no audit records")

    table = table_rows(cli.ok("audit", "--principal", user, "--action", "createPrincipal").stdout)
    assert table[0] == ["seq", "time", "principal", "action", "securable", "outcome"]
    assert table[1][2:] == [user, "createPrincipal", victim, "denied (PERMISSION_DENIED)"]


def test_audit_jsonl_export_streams_every_page(cli: Cli, server: Any) -> None:
    user = unique("u")
    cli.ok("users", "create", user)
    # More reads than one page holds (1000), made over REST: 1,050 CLI processes take minutes.
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
        for _ in range(1050):
            api.get(f"{NATIVE}/principals/{user}").raise_for_status()

    exported = cli.ok("audit", "--securable", user, "--output", "jsonl")
    lines = exported.stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 1051
    assert [r["action"] for r in records] == ["createPrincipal"] + ["getPrincipal"] * 1050
    seqs = [r["seq"] for r in records]
    assert seqs == sorted(set(seqs))
    assert exported.stderr == ""

    limited = cli.ok("audit", "--securable", user, "--limit", "1020", "--output", "jsonl")
    assert [json.loads(line)["seq"] for line in limited.stdout.splitlines()] == seqs[:1020]
    assert "stopped after 1020 records; more match" in limited.stderr


def test_audit_verify_reports_an_intact_log(cli: Cli) -> None:
    result = cli.ok("audit", "verify")
    count = int(result.stdout.split()[1])
    assert result.stdout.strip() == f"intact: {count} records, every hash and link checked."
    assert count > 0
    report = cli.json("audit", "verify")
    assert (report["intact"], report["problems"]) == (True, [])


def test_audit_is_for_metastore_admins(cli: Cli) -> None:
    _, token = user_with_token(cli)
    for command in (("audit",), ("audit", "verify")):
        refused = cli(*command, token=token)
        assert refused.returncode == 1
        assert "error: PERMISSION_DENIED" in refused.stderr


# Usage errors: exit 2 before any request ------------------------------------------------------

# Nothing listens on port 1: a command that sent a request would exit 1 with "cannot reach".
NOWHERE = "http://127.0.0.1:1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("grants", "grant", "catalog", "main", "alice", "USE", "CATALOGUE"),
            "'USE CATALOGUE' is not a privilege; on a catalog you can grant USE CATALOG,",
        ),
        (
            ("grants", "grant", "model", "main.default.churn", "alice", "SELECT"),
            "'SELECT' is not a privilege; on a registered_model you can grant EXECUTE,",
        ),
        (
            ("grants", "grant", "schema", "main.default", "alice", "USE CATALOG"),
            "USE CATALOG cannot be granted on a schema; on a schema you can grant USE SCHEMA,",
        ),
        (
            ("grants", "revoke", "metastore", "metastore", "alice", "EXECUTE"),
            "EXECUTE cannot be granted on a metastore; on a metastore you can grant "
            "CREATE CATALOG, ALL PRIVILEGES.",
        ),
        (
            ("grants", "show", "table", "main.default.t"),
            "'table' is not a securable type; expected metastore, catalog, schema or "
            "registered_model (or model).",
        ),
        (
            ("grants", "grant", "volume", "main.default.v", "alice", "EXECUTE"),
            "'volume' is not a securable type",
        ),
        (
            ("grants", "show", "model", "main.default"),
            "expected a 3-level name 'catalog.schema.model' (got 2 parts)",
        ),
        (
            ("grants", "grant", "metastore", "main", "alice", "CREATE CATALOG"),
            "'main' is not the metastore: there is one, named 'metastore'.",
        ),
        (("audit", "--since", "yesterday"), "'yesterday' is not a time: give a date (2026-11-01)"),
        (("audit", "--since", "30"), "add its unit, e.g. 30d or 30h."),
        (("audit", "--until", "5y"), "'5y' has the unknown unit 'y'"),
        (("audit", "--since", "2026-13-01"), "'2026-13-01' is not a time"),
        (("audit", "--since", "1d", "--until", "2d"), "is not before --until 2d"),
        (
            ("audit", "--limit", "0"),
            "Invalid value for '--limit': 0 is not in the range x>=1.",
        ),
    ],
    ids=[
        "unknown-privilege",
        "sql-privilege",
        "privilege-of-another-level",
        "privilege-not-on-metastore",
        "unknown-securable-type",
        "volume-securable-type",
        "model-name-with-two-parts",
        "metastore-under-another-name",
        "since-a-word",
        "since-a-number-without-unit",
        "until-unknown-unit",
        "since-no-such-month",
        "since-after-until",
        "limit-zero",
    ],
)
def test_bad_input_exits_2_before_any_request(
    args: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    environment = dict(os.environ, MODELCATALOG_CONFIG_DIR=str(tmp_path), COLUMNS=WIDE)
    environment["MODELCATALOG_TOKEN"] = "mc_unused"
    result = run_cli(*args, "--url", NOWHERE, env=environment)
    assert result.returncode == 2, result.stderr
    assert message in flat(result.stderr)
    assert "cannot reach" not in result.stderr


def test_every_governance_command_has_help(tmp_path: Path) -> None:
    commands = [
        ("users",),
        ("users", "set-admin"),
        ("service-principals", "create"),
        ("groups",),
        ("groups", "add-member"),
        ("grants", "show"),
        ("grants", "grant"),
        ("grants", "revoke"),
        ("audit",),
        ("audit", "verify"),
        ("tokens", "create"),
    ]
    for command in commands:
        result = run_cli(
            *command,
            "--help",
            env=dict(os.environ, MODELCATALOG_CONFIG_DIR=str(tmp_path), COLUMNS=WIDE),
        )
        assert result.returncode == 0 and "Usage" in result.stdout, (command, result.stderr)
