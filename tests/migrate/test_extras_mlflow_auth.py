"""Per-model permissions from MLflow's basic-auth app: the real 3.17 server (roles API) and the
API of MLflow 3.12 and earlier (a faithful fake of its documented endpoints, since that MLflow
cannot be installed next to 3.17)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.server.auth.client import AuthServiceClient

from fakes.mlflow_auth_legacy import LegacyAuthState, run_legacy_auth
from fakes.mlflow_sources import (
    ADMIN,
    ADMIN_PASSWORD,
    MlflowServer,
    credentials,
    log_tiny_model,
    quick_password_checks,
    run_mlflow_server,
)
from modelcatalog.migrate.assess import run_assessment
from modelcatalog.migrate.extras import ExtrasError, Level, ModelPermission, PrincipalKind
from modelcatalog.migrate.extras.mlflow_auth import (
    LEGACY_API,
    ROLES_API,
    detect_api,
    read_permissions,
)
from support.servers import free_port

PASSWORD = "a-long-enough-password-1"
USER, GROUP = PrincipalKind.USER, PrincipalKind.GROUP


def grants(extras, model: str) -> set[tuple[str, PrincipalKind, Level, str, bool]]:
    return {
        (g.principal, g.kind, g.level, g.source_level, g.inherited)
        for g in extras.permissions[model]
    }


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A real `mlflow server --app-name basic-auth` with users, roles and grants."""
    folder = tmp_path_factory.mktemp("basic-auth")
    with run_mlflow_server(folder, basic_auth=True) as server, credentials(ADMIN, ADMIN_PASSWORD):
        auth = AuthServiceClient(server.url)
        for user in ("alice", "bob", "carol"):
            auth.create_user(user, PASSWORD)
        quick_password_checks(folder, dict.fromkeys(("alice", "bob", "carol"), PASSWORD))
        client = MlflowClient(server.url, server.url)
        client.create_registered_model("churn")
        client.create_registered_model("fraud")
        auth.grant_user_permission("alice", "registered_model", "churn", "EDIT")
        auth.grant_user_permission("bob", "registered_model", "fraud", "MANAGE")
        auth.grant_user_permission("carol", "registered_model", "fraud", "DENY")
        readers = auth.create_role("default", "ml-readers")
        auth.add_role_permission(readers.id, "registered_model", "churn", "READ")
        auth.assign_role("carol", readers.id)
        everyone = auth.create_role("default", "all-models")
        auth.add_role_permission(everyone.id, "registered_model", "*", "USE")
        log_tiny_model(server.url, "full").register(client, "churn")
        yield server


def test_the_317_server_speaks_the_roles_api(auth_server: MlflowServer) -> None:
    with credentials(ADMIN, ADMIN_PASSWORD):
        assert detect_api(auth_server.url) == ROLES_API


def test_roles_api_grants_are_read_per_model(auth_server: MlflowServer) -> None:
    with credentials(ADMIN, ADMIN_PASSWORD):
        extras = read_permissions(auth_server.url, ["churn", "fraud"])
    assert "roles API (MLflow 3.13+)" in extras.api and "server reports MLflow 3.17" in extras.api
    churn, fraud = grants(extras, "churn"), grants(extras, "fraud")
    assert ("alice", USER, Level.CAN_EDIT, "EDIT", False) in churn
    assert ("ml-readers", GROUP, Level.CAN_READ, "READ", False) in churn
    assert ("all-models", GROUP, Level.CAN_READ, "USE", True) in churn
    assert ("bob", USER, Level.CAN_MANAGE, "MANAGE", False) in fraud
    assert ("all-models", GROUP, Level.CAN_READ, "USE", True) in fraud
    assert not any(p == "alice" for p, *_ in fraud)
    assert not any(p == "bob" for p, *_ in churn)
    # carol's explicit deny cannot be expressed in the catalog: reported, never granted.
    assert not any(p == "carol" for p, *_ in fraud)
    [deny] = extras.unmapped_permissions["fraud"]
    assert (deny.principal, deny.kind, deny.source_level) == ("carol", USER, "DENY")


def test_wrong_credentials_and_non_admins_are_told_what_is_needed(
    auth_server: MlflowServer,
) -> None:
    with credentials(ADMIN, "not-the-password"), pytest.raises(ExtrasError) as error:
        read_permissions(auth_server.url, ["churn"])
    assert "refused the credentials (401)" in str(error.value)
    assert "not-the-password" not in str(error.value)
    with credentials("alice", PASSWORD), pytest.raises(ExtrasError) as error:
        read_permissions(auth_server.url, ["churn"])
    assert "403" in str(error.value) and "not an admin" in str(error.value)


def test_assess_through_the_auth_server_maps_grants_to_privileges(
    auth_server: MlflowServer,
) -> None:
    with credentials(ADMIN, ADMIN_PASSWORD):
        assessment = run_assessment(auth_server.url)
    mapped = {f.message: f.action for f in assessment.findings if f.code == "MA321"}
    assert mapped["user alice has EDIT."] == (
        "grant EXECUTE, CREATE MODEL VERSION, APPLY TAG on the model, USE CATALOG and USE SCHEMA "
        "on its parents"
    )
    assert mapped["user bob has MANAGE."].startswith("grant MANAGE on the model")
    assert "may approve" in mapped["user bob has MANAGE."]
    assert {f.model for f in assessment.findings if f.code == "MA322"} == {"fraud"}
    assert {f.model for f in assessment.findings if f.code == "MA323"} == {"churn", "fraud"}
    churn = next(m for m in assessment.models if m.name == "churn")
    assert [v.signature_inputs and v.signature_outputs for v in churn.versions] == [True]


def test_a_server_without_the_auth_app_has_no_permissions(tmp_path: Path) -> None:
    with run_mlflow_server(tmp_path / "plain") as server, credentials(None, None):
        assert detect_api(server.url) is None
        extras = read_permissions(server.url, ["anything"])
    assert extras.permissions == {}  # unknown, which is not the same as "no grants"
    [gap] = extras.unavailable
    assert gap.capability.value == "permissions" and "runs no MLflow auth app" in gap.reason


# The API of MLflow 3.12 and earlier -------------------------------------------------------


@pytest.fixture
def legacy_state() -> LegacyAuthState:
    return LegacyAuthState(
        users={ADMIN: (ADMIN_PASSWORD, True), "dave": (PASSWORD, False), "erin": (PASSWORD, False)},
        grants={
            ("dave", "churn"): "EDIT",
            ("erin", "churn"): "READ",
            ("erin", "fraud"): "MANAGE",
            ("dave", "other"): "MANAGE",
            ("dave", "fraud"): "NO_PERMISSIONS",
        },
    )


def test_the_old_api_is_detected_and_read(legacy_state: LegacyAuthState) -> None:
    with run_legacy_auth(legacy_state, free_port()) as url, credentials(ADMIN, ADMIN_PASSWORD):
        assert detect_api(url) == LEGACY_API
        extras = read_permissions(url, ["churn", "fraud"])
    assert "per-user permissions API (MLflow 3.12 and earlier)" in extras.api
    assert "3.12.0" in extras.api
    assert extras.permissions == {
        "churn": [
            ModelPermission("dave", USER, Level.CAN_EDIT, "EDIT"),
            ModelPermission("erin", USER, Level.CAN_READ, "READ"),
        ],
        "fraud": [ModelPermission("erin", USER, Level.CAN_MANAGE, "MANAGE")],
    }
    assert extras.unmapped_permissions == {}


def test_old_servers_without_a_user_list_need_the_user_names(
    legacy_state: LegacyAuthState,
) -> None:
    legacy_state.can_list_users = False
    with run_legacy_auth(legacy_state, free_port()) as url, credentials(ADMIN, ADMIN_PASSWORD):
        unnamed = read_permissions(url, ["churn"])
        named = read_permissions(url, ["churn"], usernames=["erin"])
    assert unnamed.permissions == {"churn": []}
    assert "--source-auth-users" in unnamed.unavailable[0].reason
    assert named.permissions == {"churn": [ModelPermission("erin", USER, Level.CAN_READ, "READ")]}


def test_old_api_refuses_wrong_credentials(legacy_state: LegacyAuthState) -> None:
    with run_legacy_auth(legacy_state, free_port()) as url:
        with credentials("dave", PASSWORD), pytest.raises(ExtrasError, match="403"):
            read_permissions(url, ["churn"])
        with credentials(ADMIN, "wrong"), pytest.raises(ExtrasError, match=r"\(401\)"):
            read_permissions(url, ["churn"])
