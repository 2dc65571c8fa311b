"""The Databricks workspace registry as a source: MLflow and databricks-sdk against a local
workspace stand-in whose models and versions live in a real `mlflow server`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.ml import (
    HttpUrlSpec,
    JobSpec,
    RegisteredModelAccessControlRequest,
    RegisteredModelPermissionLevel,
    RegistryWebhookEvent,
)
from mlflow import MlflowClient

from fakes.databricks_workspace import WorkspaceState, run_workspace
from fakes.mlflow_sources import log_tiny_model, run_mlflow_server
from modelcatalog.migrate.assess import run_assessment
from modelcatalog.migrate.assess_report import render_html, render_json
from modelcatalog.migrate.extras import Capability, Level, PrincipalKind, read_extras
from support.servers import free_port

TOKEN = "dapi-test-token-do-not-leak"
WEBHOOK_SECRET = "dbx-webhook-secret-do-not-leak"
USER = "alice@example.com"


@dataclass
class Workspace:
    host: str
    state: WorkspaceState
    client: WorkspaceClient


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    folder = tmp_path_factory.mktemp("databricks")
    saved = {k: os.environ.get(k) for k in ("DATABRICKS_HOST", "DATABRICKS_TOKEN")}
    with run_mlflow_server(folder / "upstream") as upstream:
        # Models are logged straight into the upstream server, as a workspace would hold them.
        registry = MlflowClient(upstream.url, upstream.url)
        registry.create_registered_model("churn")
        logged = log_tiny_model(upstream.url, "full")
        for stage in ("Production", "Staging"):
            version = logged.register(registry, "churn")
            registry.transition_model_version_stage("churn", version.version, stage)
        port = free_port()
        with run_workspace(upstream.url, {TOKEN: USER}, port) as state:
            host = f"http://127.0.0.1:{port}"
            os.environ.update(DATABRICKS_HOST=host, DATABRICKS_TOKEN=TOKEN)
            client = WorkspaceClient(host=host, token=TOKEN)
            try:
                yield Workspace(host, state, client)
            finally:
                for key, value in saved.items():
                    os.environ.pop(key, None) if value is None else os.environ.__setitem__(
                        key, value
                    )


@pytest.fixture(scope="module")
def populated(workspace: Workspace) -> Workspace:
    """Permissions, a transition request, a comment and webhooks, made through databricks-sdk."""
    registry = workspace.client.model_registry
    model_id = registry.get_model("churn").registered_model_databricks.id
    registry.set_permissions(
        model_id,
        access_control_list=[
            RegisteredModelAccessControlRequest(
                user_name="bob@example.com",
                permission_level=RegisteredModelPermissionLevel.CAN_MANAGE_PRODUCTION_VERSIONS,
            ),
            RegisteredModelAccessControlRequest(
                group_name="data-scientists",
                permission_level=RegisteredModelPermissionLevel.CAN_EDIT,
            ),
            RegisteredModelAccessControlRequest(
                service_principal_name="deployer",
                permission_level=RegisteredModelPermissionLevel.CAN_READ,
            ),
        ],
    )
    registry.create_transition_request(
        "churn", "2", "Production", comment="Ready: AUC 0.91 — déployer"
    )
    registry.create_comment("churn", "1", "Looks good")
    registry.create_webhook(
        events=[RegistryWebhookEvent.MODEL_VERSION_TRANSITIONED_TO_PRODUCTION],
        model_name="churn",
        http_url_spec=HttpUrlSpec(
            url="https://hooks.example.com/deploy?key=abc", secret=WEBHOOK_SECRET
        ),
    )
    registry.create_webhook(
        events=[RegistryWebhookEvent.REGISTERED_MODEL_CREATED],
        job_spec=JobSpec(job_id="42", access_token="dapi-job-token-do-not-leak"),
    )
    return workspace


def test_extras_are_read_through_the_documented_endpoints(populated: Workspace) -> None:
    populated.state.served.clear()
    extras = read_extras("databricks", "databricks", [("churn", ["1", "2"])])
    assert set(populated.state.served) == {
        "/api/2.0/mlflow/databricks/registered-models/get",
        "/api/2.0/permissions/registered-models/{id}",
        "/api/2.0/mlflow/transition-requests/list",
        "/api/2.0/mlflow/registry-webhooks/list",
    }
    assert {(g.principal, g.kind, g.level, g.inherited) for g in extras.permissions["churn"]} == {
        ("bob@example.com", PrincipalKind.USER, Level.CAN_MANAGE_PRODUCTION_VERSIONS, False),
        ("data-scientists", PrincipalKind.GROUP, Level.CAN_EDIT, False),
        ("deployer", PrincipalKind.SERVICE_PRINCIPAL, Level.CAN_READ, False),
        ("admins", PrincipalKind.GROUP, Level.CAN_MANAGE, True),
    }
    [request] = extras.activity_of("churn", "2").transition_requests
    assert (request.from_stage, request.to_stage, request.requester, request.status) == (
        "Staging",
        "Production",
        USER,
        "PENDING",
    )
    assert request.comment == "Ready: AUC 0.91 — déployer" and request.time is not None
    assert extras.activity_of("churn", "1").is_empty
    hooks = {h.target_kind: h for h in extras.webhooks}
    assert hooks["http"].target == "https://hooks.example.com/deploy"
    assert hooks["http"].model_name == "churn"
    assert hooks["http"].events == ("MODEL_VERSION_TRANSITIONED_TO_PRODUCTION",)
    assert hooks["job"].target.startswith("job 42") and hooks["job"].model_name is None
    # Comments exist in the workspace, but no public endpoint lists them: said, not guessed.
    assert {u.capability for u in extras.unavailable} == {
        Capability.COMMENTS,
        Capability.STAGE_HISTORY,
        Capability.EMAIL_SUBSCRIPTIONS,
    }


def test_assess_reads_a_workspace_registry_end_to_end(populated: Workspace) -> None:
    assessment = run_assessment("databricks")
    churn = next(m for m in assessment.models if m.name == "churn")
    assert [(v.source.version, v.source.stage) for v in churn.versions] == [
        (1, "Production"),
        (2, "Staging"),
    ]
    assert all(v.has_files and v.signature_inputs and v.signature_outputs for v in churn.versions)
    by_code = {}
    for finding in assessment.findings:
        by_code.setdefault(finding.code, []).append(finding)
    assert [f.version for f in by_code["MA302"]] == [2]
    assert by_code["MA302"][0].severity == "warning"
    assert {f.message for f in by_code["MA321"]} >= {
        "user bob@example.com has CAN_MANAGE_PRODUCTION_VERSIONS.",
        "group admins has CAN_MANAGE (inherited).",
    }
    manage_production = next(f for f in by_code["MA321"] if "bob@example.com" in f.message)
    assert "APPLY TAG" in manage_production.action and "may approve" in manage_production.action
    assert "groups and service principals" in by_code["MA323"][0].message
    as_json, as_html = render_json(assessment), render_html(assessment)
    for secret in (TOKEN, WEBHOOK_SECRET, "dapi-job-token-do-not-leak", "key=abc"):
        assert secret not in as_json and secret not in as_html
    data = json.loads(as_json)
    assert data["source"]["kind"] == "databricks"
    [version_2] = [v for v in data["models"][0]["versions"] if v["version"] == 2]
    assert version_2["transition_requests"][0]["requester"] == USER


def test_a_wrong_token_is_reported_without_the_token(populated: Workspace) -> None:
    os.environ["DATABRICKS_TOKEN"] = "dapi-wrong-token"
    try:
        with pytest.raises(Exception) as error:
            read_extras("databricks", "databricks", [("churn", ["1"])])
    finally:
        os.environ["DATABRICKS_TOKEN"] = TOKEN
    assert "dapi-wrong-token" not in str(error.value)
    assert "model churn" in str(error.value)
