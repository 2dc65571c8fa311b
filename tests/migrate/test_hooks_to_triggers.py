"""Source webhooks become the catalog's destinations and triggers, stage managers its deployment
approvers: plan → run → verify against a real catalog server, with a real MLflow registry (its own
webhooks) as the source, then a change in the catalog fires the migrated webhook at a real local
receiver, signed with the new secret."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from mlflow import MlflowClient

from fakes.mlflow_sources import EXPERIMENT, log_tiny_model
from modelcatalog.migrate.runlog import read_events
from support.migrate import migrate
from support.mlflow_stores import mlflow_database
from support.receivers import ReceivedRequest, WebhookReceiver, mlflow_signature_valid
from support.servers import RunningServer, free_port, run_server

UC = "/api/2.1/unity-catalog"
API = "/api/modelcatalog"
NEW_SECRET = "new-signing-secret-for-the-catalog"
SECRET_VARIABLE = "SCORING_HOOK_SECRET"
#: A name that never resolves (RFC 2606), so the catalog refuses the URL at creation.
UNRESOLVABLE = "https://hooks.example.invalid/notify"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A catalog that may call local http receivers, with a fast engine."""
    env = {
        "MODELCATALOG_JOB_POLL_SECONDS": "0.1",
        "MODELCATALOG_ALLOW_HTTP_WEBHOOKS": "1",
        "MODELCATALOG_ALLOW_PRIVATE_WEBHOOKS": "1",
        "MODELCATALOG_DELIVERY_BACKOFF_SECONDS": "0.05",
    }
    with run_server(tmp_path_factory.mktemp("hooks-catalog"), extra_env=env) as server:
        yield server


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as hook:
        yield hook


@dataclass
class Source:
    uri: str
    hook_ids: dict[str, str]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, receiver: WebhookReceiver) -> Iterator[Source]:
    """An MLflow registry with one model and three webhooks made through MlflowClient: one to
    the local receiver, one the catalog will refuse, one on tag events only."""
    folder = tmp_path_factory.mktemp("hooks-source")
    uri = mlflow_database(folder / "mlflow.db")
    # MLflow checks webhook URLs at creation: allow the local http receiver and skip DNS.
    names = ("MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS", "MLFLOW_WEBHOOK_ALLOWED_SCHEMES")
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update(
        MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS="true", MLFLOW_WEBHOOK_ALLOWED_SCHEMES="http,https"
    )
    import mlflow

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        mlflow.create_experiment(EXPERIMENT, str(folder / "artifacts"))
        logged = log_tiny_model(uri, "full")
        client = MlflowClient(uri, uri)
        client.create_registered_model("scoring")
        for _ in range(2):
            logged.register(client, "scoring")
        client.transition_model_version_stage("scoring", "2", "Production")
        hooks = {
            "deploy": client.create_webhook(
                name="deploy",
                url=receiver.url,
                # No secret in the source: a SQL registry seals secrets with a key that is random
                # per process unless configured, and the plan is made in another process.
                events=["model_version.created", "model_version_tag.set"],
            ),
            "refused": client.create_webhook(
                name="refused", url=UNRESOLVABLE, events=["model_version_alias.created"]
            ),
            "tags-only": client.create_webhook(
                name="tags-only", url=receiver.url, events=["model_version_tag.set"]
            ),
        }
        yield Source(uri, {name: hook.webhook_id for name, hook in hooks.items()})
    finally:
        mlflow.set_tracking_uri(previous)
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


@dataclass
class Migration:
    folder: Path
    env: dict[str, str]
    catalog: str
    plan: dict[str, Any]
    first_run: Any

    @property
    def model(self) -> str:
        return f"{self.catalog}.ml.scoring"

    def hook(self, name: str) -> dict[str, Any]:
        return next(h for h in self.plan["webhooks"] if h["name"] == name)


def _write_plan(folder: Path, plan: dict[str, Any]) -> None:
    (folder / "plan.yaml").write_text(yaml.safe_dump(plan, sort_keys=False, allow_unicode=True))


@pytest.fixture(scope="module")
def migration(
    catalog: RunningServer, source: Source, tmp_path_factory: pytest.TempPathFactory
) -> Migration:
    folder = tmp_path_factory.mktemp("hooks-migration")
    name = f"hooks_{uuid.uuid4().hex[:8]}"
    (folder / "migration.yaml").write_text(
        "stage_policy: {aliases: {Production: champion}}\n"
        "permissions:\n"
        "  - {model: scoring, principal: bob, level: CAN_MANAGE_PRODUCTION_VERSIONS}\n"
        "  - {model: scoring, principal: carol, level: CAN_READ}\n"
    )
    env = catalog.env(MODELCATALOG_CONFIG_DIR=str(folder / "config"))
    migrate(
        "plan", "--source", source.uri, "--target", catalog.url, "--catalog", name,
        "--schema", "ml", "--config", "migration.yaml", "--out", "plan.yaml", env=env, cwd=folder,
    )  # fmt: skip
    plan = yaml.safe_load((folder / "plan.yaml").read_text())
    # The reviewer names the variable that holds the deploy hook's new secret.
    next(h for h in plan["webhooks"] if h["name"] == "deploy")["secret_env"] = SECRET_VARIABLE
    _write_plan(folder, plan)
    env[SECRET_VARIABLE] = NEW_SECRET
    first = migrate("run", "plan.yaml", env=env, cwd=folder, check=1)
    return Migration(folder, env, name, plan, first)


def _api(server: RunningServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=server.headers(), timeout=30)


def _delivery_for(receiver: WebhookReceiver, model: str, version: str) -> ReceivedRequest:
    """The first request whose notification is about `version` of `model` (other tests' and
    the migration's own changes may have been notified before)."""
    count = 1
    while True:
        arrived = receiver.wait_for(count)
        for request in arrived:
            changes = json.loads(request.body)["data"]["changes"]
            if any((c.get("model_name"), c.get("version")) == (model, version) for c in changes):
                return request
        count = len(arrived) + 1


def test_the_plan_carries_catalog_events_names_and_no_secret(
    migration: Migration, source: Source
) -> None:
    deploy = migration.hook("deploy")
    assert deploy["source_id"] == source.hook_ids["deploy"]
    assert deploy["events"] == ["MODEL_VERSION_CREATED"]
    assert "tag changes" in deploy["unmapped_events"]["model_version_tag.set"]
    assert (deploy["scope_type"], deploy["scope"]) == ("schema", f"{migration.catalog}.ml")
    assert migration.hook("tags-only")["convert"] is False
    text = (migration.folder / "plan.yaml").read_text()
    assert NEW_SECRET not in text and deploy["needs_secret"] is True


def test_run_creates_the_destination_and_trigger_of_a_webhook(
    migration: Migration, catalog: RunningServer, receiver: WebhookReceiver
) -> None:
    deploy = migration.hook("deploy")
    with _api(catalog) as api:
        destination = api.get(f"{API}/notification-destinations/{deploy['destination']}").json()
        trigger = api.get(f"{API}/triggers/{deploy['trigger']}").json()
    assert (destination["kind"], destination["address"]) == ("webhook", receiver.url)
    assert destination["has_secret"] is True
    assert trigger["scope"] == f"{migration.catalog}.ml"
    assert trigger["events"] == ["MODEL_VERSION_CREATED"]
    assert trigger["destinations"] == [deploy["destination"]]
    assert (
        trigger["min_time_between_triggers_seconds"],
        trigger["wait_after_last_change_seconds"],
    ) == (0, 0)


def test_a_manage_production_holder_becomes_a_deployment_approver(
    migration: Migration, catalog: RunningServer
) -> None:
    with _api(catalog) as api:
        found = api.get(f"{API}/models/{migration.model}/deployment-approvers").json()
    assert found["approvers"] == ["bob"]


def test_a_refused_url_is_a_failed_conversion_with_the_servers_reason_and_the_run_goes_on(
    migration: Migration, catalog: RunningServer
) -> None:
    refused = migration.hook("refused")
    assert "hooks.example.invalid" in migration.first_run.stderr
    assert "cannot be resolved" in migration.first_run.stderr
    events = read_events(migration.folder / "plan.run.jsonl")
    [failed] = [e for e in events if e["event"] == "hook_failed"]
    assert failed["trigger"] == refused["trigger"] and "cannot be resolved" in failed["error"]
    finished = [e for e in events if e["event"] == "run_finished"][-1]
    assert finished["copied"] == 2 and finished["hooks_converted"] == 1
    assert finished["approvers_set"] == 1
    with _api(catalog) as api:
        assert api.get(f"{API}/triggers/{refused['trigger']}").status_code == 404
        aliases = api.get(f"{UC}/models/{migration.model}").json()["aliases"]
    assert {a["alias_name"]: a["version_num"] for a in aliases} == {"champion": 2}


def test_a_hook_without_an_equivalent_event_is_reported_not_converted(
    migration: Migration,
) -> None:
    events = read_events(migration.folder / "plan.run.jsonl")
    [skipped] = [e for e in events if e["event"] == "hook_not_converted"]
    assert "tags-only" in skipped["source"] and "none of its events" in skipped["reason"]
    finished = [e for e in events if e["event"] == "run_finished"][-1]
    assert any("tags-only" in note for note in finished["hook_notes"])


def test_a_new_version_in_the_catalog_fires_the_migrated_webhook_signed_with_the_new_secret(
    migration: Migration, catalog: RunningServer, receiver: WebhookReceiver
) -> None:
    with _api(catalog) as api:
        created = api.post(
            f"{UC}/models/versions",
            json={
                "catalog_name": migration.catalog,
                "schema_name": "ml",
                "model_name": "scoring",
                "source": "file:///tmp/nowhere",
            },
        )
        assert created.status_code == 200, created.text
    version = str(created.json()["version"])
    request = _delivery_for(receiver, migration.model, version)
    body = json.loads(request.body)
    assert (body["entity"], body["action"]) == ("model_version", "created")
    [change] = [c for c in body["data"]["changes"] if c["version"] == version]
    assert (change["event"], change["model_name"]) == ("MODEL_VERSION_CREATED", migration.model)
    assert mlflow_signature_valid(NEW_SECRET, request.headers, request.body)


def test_a_rerun_finds_what_exists_and_verify_passes_once_the_refused_hook_is_left_out(
    migration: Migration, catalog: RunningServer
) -> None:
    plan = yaml.safe_load((migration.folder / "plan.yaml").read_text())
    next(h for h in plan["webhooks"] if h["name"] == "refused")["convert"] = False
    _write_plan(migration.folder, plan)
    before = len(read_events(migration.folder / "plan.run.jsonl"))
    migrate("run", "plan.yaml", env=migration.env, cwd=migration.folder)
    events = read_events(migration.folder / "plan.run.jsonl")[before:]
    [converted] = [e for e in events if e["event"] == "hook_converted"]
    assert converted["outcome"] == "present"
    # The alias already named its version: setting it again would fire alias triggers.
    assert not [e for e in events if e["event"] == "alias_set"]
    with _api(catalog) as api:
        triggers = api.get(f"{API}/triggers").json()["triggers"]
    assert [t["name"] for t in triggers] == [migration.hook("deploy")["trigger"]]
    migrate("verify", "plan.yaml", env=migration.env, cwd=migration.folder)


def test_verify_reports_a_deleted_trigger_and_a_removed_approver(
    migration: Migration, catalog: RunningServer
) -> None:
    trigger = migration.hook("deploy")["trigger"]
    with _api(catalog) as api:
        assert api.delete(f"{API}/triggers/{trigger}").status_code == 200
        removed = api.delete(f"{API}/models/{migration.model}/deployment-approvers/bob")
        assert removed.status_code == 200
    wide = {**migration.env, "COLUMNS": "300"}  # one table row per line
    result = migrate("verify", "plan.yaml", env=wide, cwd=migration.folder, check=1)
    assert "2 difference(s)" in result.stderr
    assert f"trigger {trigger}" in result.stderr and "approver bob" in result.stderr
    migrate("run", "plan.yaml", env=migration.env, cwd=migration.folder)
    migrate("verify", "plan.yaml", env=migration.env, cwd=migration.folder)


def test_into_databricks_unity_catalog_hooks_and_approvers_are_reported_not_applied(
    catalog: RunningServer, source: Source, tmp_path: Path
) -> None:
    name = f"uc_{uuid.uuid4().hex[:8]}"
    (tmp_path / "migration.yaml").write_text(
        "permissions:\n"
        "  - {model: scoring, principal: bob, level: CAN_MANAGE_PRODUCTION_VERSIONS}\n"
    )
    env = catalog.env(
        DATABRICKS_HOST=catalog.url,
        DATABRICKS_TOKEN=catalog.admin_token,
        MODELCATALOG_CONFIG_DIR=str(tmp_path / "config"),
        HOME=str(tmp_path),  # no ~/.databrickscfg of the machine takes part
    )
    for key in ("MLFLOW_ENABLE_UC_NATIVE_MODEL_REGISTRY", "DATABRICKS_CONFIG_PROFILE"):
        env.pop(key, None)
    with _api(catalog) as api:
        # Unity Catalog's principals exist before a migration runs.
        answer = api.post(f"{API}/principals", json={"name": "bob", "kind": "user"})
        assert answer.status_code in (200, 201, 409), answer.text
    migrate(
        "plan", "--source", source.uri, "--target", "databricks-uc", "--catalog", name,
        "--schema", "ml", "--config", "migration.yaml", "--out", "plan.yaml", env=env, cwd=tmp_path,
    )  # fmt: skip
    migrate("run", "plan.yaml", env=env, cwd=tmp_path)
    events = read_events(tmp_path / "plan.run.jsonl")
    skipped = {e["source"]: e["reason"] for e in events if e["event"] == "hook_not_converted"}
    assert len(skipped) == 3
    unsupported = [r for s, r in skipped.items() if "tags-only" not in s]
    assert len(unsupported) == 2
    assert all("Databricks Unity Catalog has no API" in r for r in unsupported)
    [approvers] = [e for e in events if e["event"] == "approvers_not_applied"]
    assert approvers["count"] == 1
    with _api(catalog) as api:
        triggers = api.get(f"{API}/triggers").json()["triggers"]
        held = api.get(f"{API}/models/{name}.ml.scoring/deployment-approvers").json()
    assert not [t for t in triggers if t["scope"].startswith(f"{name}.")]
    assert held["approvers"] == []
    migrate("verify", "plan.yaml", env=env, cwd=tmp_path)


# The Databricks workspace registry as the source ---------------------------------------------


@pytest.fixture(scope="module")
def workspace_migration(
    catalog: RunningServer, receiver: WebhookReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, dict[str, Any], str]]:
    """A workspace registry (the local stand-in over a real `mlflow server`) with a stage
    webhook, a job webhook and a CAN_MANAGE_PRODUCTION_VERSIONS holder, migrated by the CLI."""
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service.ml import (
        HttpUrlSpec,
        JobSpec,
        RegisteredModelAccessControlRequest,
        RegisteredModelPermissionLevel,
        RegistryWebhookEvent,
    )

    from fakes.databricks_workspace import run_workspace
    from fakes.mlflow_sources import run_mlflow_server

    folder = tmp_path_factory.mktemp("workspace-hooks")
    with run_mlflow_server(folder / "upstream") as upstream:
        registry = MlflowClient(upstream.url, upstream.url)
        registry.create_registered_model("churn")
        logged = log_tiny_model(upstream.url, "full")
        for stage in ("Production", "Staging"):
            version = logged.register(registry, "churn")
            registry.transition_model_version_stage("churn", version.version, stage)  # type: ignore[attr-defined]
        port = free_port()
        with run_workspace(upstream.url, {"dapi-hooks": "alice@example.com"}, port):
            host = f"http://127.0.0.1:{port}"
            w = WorkspaceClient(host=host, token="dapi-hooks").model_registry
            model_id = w.get_model("churn").registered_model_databricks.id  # type: ignore[union-attr]
            manage_production = RegisteredModelPermissionLevel.CAN_MANAGE_PRODUCTION_VERSIONS
            w.set_permissions(
                model_id,  # type: ignore[arg-type]
                access_control_list=[
                    RegisteredModelAccessControlRequest(
                        user_name="bob@example.com", permission_level=manage_production
                    )
                ],
            )
            w.create_webhook(
                events=[RegistryWebhookEvent.MODEL_VERSION_TRANSITIONED_TO_PRODUCTION],
                model_name="churn",
                http_url_spec=HttpUrlSpec(url=receiver.url),
            )
            w.create_webhook(
                events=[RegistryWebhookEvent.MODEL_VERSION_CREATED],
                model_name="churn",
                job_spec=JobSpec(job_id="42", access_token="dapi-job-token"),
            )
            name = f"dbx_{uuid.uuid4().hex[:8]}"
            (folder / "migration.yaml").write_text(
                "stage_policy: {aliases: {Production: champion}}\n"
            )
            env = catalog.env(
                DATABRICKS_HOST=host,
                DATABRICKS_TOKEN="dapi-hooks",
                HOME=str(folder),
                MODELCATALOG_CONFIG_DIR=str(folder / "config"),
            )
            migrate(
                "plan", "--source", "databricks", "--target", catalog.url, "--catalog", name,
                "--schema", "ml", "--config", "migration.yaml", "--out", "plan.yaml", env=env,
                cwd=folder,
            )  # fmt: skip
            migrate("run", "plan.yaml", env=env, cwd=folder)
            yield folder, yaml.safe_load((folder / "plan.yaml").read_text()), name


def test_a_databricks_stage_webhook_fires_when_the_stage_alias_moves_in_the_catalog(
    workspace_migration: tuple[Path, dict[str, Any], str],
    catalog: RunningServer,
    receiver: WebhookReceiver,
) -> None:
    folder, plan, name = workspace_migration
    [stage_hook] = [h for h in plan["webhooks"] if h["kind"] == "webhook"]
    assert (stage_hook["events"], stage_hook["aliases"]) == (["MODEL_ALIAS_SET"], ["champion"])
    with _api(catalog) as api:
        trigger = api.get(f"{API}/triggers/{stage_hook['trigger']}").json()
        approvers = api.get(f"{API}/models/{name}.ml.churn/deployment-approvers").json()
        assert (trigger["scope"], trigger["aliases"]) == (f"{name}.ml.churn", ["champion"])
        assert "bob@example.com" in approvers["approvers"]
        # Staging's alias moving is not the Production transition the hook watched.
        moved = api.put(f"{UC}/models/{name}.ml.churn/aliases/Staging", json={"version_num": 1})
        assert moved.status_code == 200, moved.text
        moved = api.put(f"{UC}/models/{name}.ml.churn/aliases/champion", json={"version_num": 2})
        assert moved.status_code == 200, moved.text
    request = _delivery_for(receiver, f"{name}.ml.churn", "2")
    [change] = [c for c in json.loads(request.body)["data"]["changes"] if c["version"] == "2"]
    assert (change["event"], change["alias"], change["model_name"]) == (
        "MODEL_ALIAS_SET",
        "champion",
        f"{name}.ml.churn",
    )
    assert not any(
        c.get("alias") == "Staging"
        for r in receiver.requests
        for c in json.loads(r.body)["data"]["changes"]
    )


def test_a_databricks_job_webhook_is_reported_with_how_to_define_a_deployment_job(
    workspace_migration: tuple[Path, dict[str, Any], str],
) -> None:
    folder, _, _ = workspace_migration
    events = read_events(folder / "plan.run.jsonl")
    [skipped] = [e for e in events if e["event"] == "hook_not_converted"]
    assert "job 42" in skipped["reason"] and "modelcatalog jobs create" in skipped["reason"]
    assert "dapi-job-token" not in (folder / "plan.yaml").read_text()
