"""plan → run → verify into a Unity Catalog through stock MLflow's `databricks-uc` client.

The Unity Catalog is our running server reached the vendor's way (DATABRICKS_HOST and
DATABRICKS_TOKEN, the model-registry dialect), so every call is the one a real workspace gets.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pytest
import yaml
from mlflow import MlflowClient
from mlflow.utils.file_utils import local_file_uri_to_path

from modelcatalog.migrate.plan_file import read_plan
from modelcatalog.migrate.plan_model import target_url_problem
from modelcatalog.migrate.runlog import read_events
from modelcatalog.migrate.targets.unity_catalog import ORIGIN_TAGS, DatabricksUcTarget
from support.migrate import LONG_DESCRIPTION, SourceFixture, migrate, write_migration_config
from support.mlflow_stores import mlflow_database


@dataclass
class UcMigration:
    """The reference source migrated once into a fresh catalog through databricks-uc."""

    server: Any
    source: SourceFixture
    folder: Path
    catalog: str
    env: dict[str, str]
    first_run: Any
    started_seq: int

    def name(self, model: str) -> str:
        return f"{self.catalog}.ml.{model}"

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, headers=self.server.headers(), timeout=60)

    def run(self, plan: str, *, check: int = 0) -> Any:
        return migrate("run", plan, "--workers", "4", env=self.env, cwd=self.folder, check=check)

    def plan_with(self, name: str, edit: Any) -> str:
        """A copy of the plan changed by `edit(plan_dict)`, written next to it."""
        plan = yaml.safe_load((self.folder / "plan.yaml").read_text())
        edit(plan)
        (self.folder / name).write_text(yaml.safe_dump(plan, sort_keys=False))
        return name


def _uc_env(server: Any, folder: Path) -> dict[str, str]:
    env = server.env(
        DATABRICKS_HOST=server.url,
        DATABRICKS_TOKEN=server.admin_token,
        MODELCATALOG_CONFIG_DIR=str(folder / "config"),
        HOME=str(folder),  # no ~/.databrickscfg of the machine takes part
        COLUMNS="200",  # verify's table of differences unabridged
    )
    for key in ("MLFLOW_ENABLE_UC_NATIVE_MODEL_REGISTRY", "DATABRICKS_CONFIG_PROFILE"):
        env.pop(key, None)
    return env


def _audit_seq(api: httpx.Client) -> int:
    records = api.get("/api/modelcatalog/audit", params={"max_results": 1000}).json()["records"]
    return max((r["seq"] for r in records), default=0)


@pytest.fixture(scope="module")
def uc(
    server: Any, source_registry: SourceFixture, tmp_path_factory: pytest.TempPathFactory
) -> UcMigration:
    folder = tmp_path_factory.mktemp("uc-migration")
    catalog = f"uc_{uuid.uuid4().hex[:8]}"
    write_migration_config(folder)
    env = _uc_env(server, folder)
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
        # Unity Catalog's principals come from the workspace's identity provider, not from a
        # migration: they exist before it runs.
        for name, kind in (("alice", "user"), ("data-team", "group")):
            answer = api.post("/api/modelcatalog/principals", json={"name": name, "kind": kind})
            assert answer.status_code in (200, 201, 409), answer.text
        started = _audit_seq(api)
    migrate(
        "plan",
        "--source",
        source_registry.uri,
        "--target",
        "databricks-uc",
        "--catalog",
        catalog,
        "--schema",
        "ml",
        "--config",
        "migration.yaml",
        "--out",
        "plan.yaml",
        env=env,
        cwd=folder,
    )
    first = migrate("run", "plan.yaml", "--workers", "4", env=env, cwd=folder)
    return UcMigration(server, source_registry, folder, catalog, env, first, started)


@pytest.fixture
def databricks_uc(
    uc: UcMigration, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MlflowClient]:
    """Stock MLflow with `databricks-uc` as its registry, pointed at the server."""
    for key in ("DATABRICKS_HOST", "DATABRICKS_TOKEN"):
        monkeypatch.setenv(key, uc.env[key])
    for key in ("MLFLOW_ENABLE_UC_NATIVE_MODEL_REGISTRY", "DATABRICKS_CONFIG_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    mlflow.set_tracking_uri(mlflow_database(tmp_path / "tracking.db"))
    mlflow.set_registry_uri("databricks-uc")
    try:
        yield MlflowClient()
    finally:
        mlflow.set_registry_uri("")
        mlflow.set_tracking_uri("")


def _numbers(client: MlflowClient, name: str) -> list[int]:
    return sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))


def test_version_numbers_are_kept_and_a_gap_stays_a_gap(
    uc: UcMigration, databricks_uc: MlflowClient
) -> None:
    assert _numbers(databricks_uc, uc.name("churn_model")) == [1, 2, 3, 4, 5]
    assert _numbers(databricks_uc, uc.name("fraud")) == [1, 3, 4, 5]
    statuses = {
        databricks_uc.get_model_version(uc.name(m), str(n)).status
        for m, numbers in (("churn_model", range(1, 6)), ("fraud", (1, 3, 4, 5)))
        for n in numbers
    }
    assert statuses == {"READY"}


def test_the_gap_was_filled_by_a_placeholder_created_and_deleted(uc: UcMigration) -> None:
    with uc.api() as api:
        records = api.get(
            "/api/modelcatalog/audit",
            params={"securable": uc.name("fraud"), "max_results": 1000},
        ).json()["records"]
    ours = [r for r in records if r["seq"] > uc.started_seq and r["outcome"] == "ok"]
    created = [r["parameters"] for r in ours if r["action"] == "createModelVersion"]
    deleted = [r["parameters"] for r in ours if r["action"] == "deleteModelVersion"]
    assert [int(p["version"]) for p in created] == [1, 2, 3, 4, 5]
    assert [int(p["version"]) for p in deleted] == [2]
    # The placeholder was the attempt at version 3 that landed on 2.
    assert created[1]["tags"]["migrated_from_version"] == "3"


def test_aliases_follow_the_stage_policy(uc: UcMigration, databricks_uc: MlflowClient) -> None:
    churn = databricks_uc.get_registered_model(uc.name("churn_model"))
    fraud = databricks_uc.get_registered_model(uc.name("fraud"))
    assert churn.aliases == {"Production": "3", "Staging": "4", "champion": "3"}
    assert fraud.aliases == {"Production": "5", "Staging": "3"}
    assert churn.description == "Predicts churn.\n\nOwned by CX."


def test_tags_descriptions_and_lineage_in_origin_tags(
    uc: UcMigration, databricks_uc: MlflowClient
) -> None:
    v3 = databricks_uc.get_model_version(uc.name("churn_model"), "3")
    assert v3.description == LONG_DESCRIPTION
    run_id = v3.tags[ORIGIN_TAGS["run_id"]]
    assert run_id and run_id == v3.run_id
    assert v3.tags == {
        "migrated_stage": "Production",
        "ok_key": "fine",
        "mlflow_note": "value of mlflow.note",
        "team_owner": "value of team-owner",
        "x_y_z": "value of x/y:z",
        "a b": "value of a b",
        "migrated_from_registry": uc.source.uri,
        "migrated_from_model": "Churn Model",
        "migrated_from_version": "3",
        "migrated_from_run_id": run_id,
    }
    v1 = databricks_uc.get_model_version(uc.name("churn_model"), "1")
    assert v1.tags["migrated_stage"] == "Archived"


def test_stock_mlflow_loads_the_production_alias(
    uc: UcMigration, databricks_uc: MlflowClient
) -> None:
    loaded = mlflow.pyfunc.load_model(f"models:/{uc.name('churn_model')}@Production")
    predicted = loaded.predict(uc.source.features)
    np.testing.assert_array_equal(predicted, uc.source.predictions[("Churn Model", 3)])
    inferred = mlflow.pyfunc.load_model(f"models:/{uc.name('fraud')}/3")
    assert inferred.metadata.signature is not None
    assert inferred.metadata.signature.outputs is not None


def test_grants_reach_unity_catalog(uc: UcMigration) -> None:
    with uc.api() as api:
        on_model = api.get(
            f"/api/2.1/unity-catalog/permissions/registered_model/{uc.name('fraud')}"
        ).json()
    held = {a["principal"]: sorted(a["privileges"]) for a in on_model["privilege_assignments"]}
    assert held == {
        "alice": ["EXECUTE"],
        "data-team": ["APPLY TAG", "CREATE MODEL VERSION", "EXECUTE"],
    }


def test_rerun_copies_nothing_and_verify_matches(uc: UcMigration) -> None:
    log = uc.folder / "plan.run.jsonl"
    before = len(read_events(log))
    uc.run("plan.yaml")
    second = read_events(log)[before:]
    assert not [e for e in second if e["event"] in ("file_uploaded", "version_started")]
    assert second[-1]["event"] == "run_finished"
    assert second[-1]["present"] == second[-1]["versions_planned"] == 9
    result = migrate("verify", "plan.yaml", env=uc.env, cwd=uc.folder)
    assert "Source and target match" in result.stderr


def test_verify_reports_a_changed_lineage_tag(uc: UcMigration, databricks_uc: MlflowClient) -> None:
    name = uc.name("fraud")
    databricks_uc.set_model_version_tag(name, "5", "migrated_from_version", "4")
    try:
        result = migrate("verify", "plan.yaml", env=uc.env, cwd=uc.folder, check=1)
    finally:
        databricks_uc.set_model_version_tag(name, "5", "migrated_from_version", "5")
    assert f"{name} v5" in result.stderr and "origin" in result.stderr
    assert "1 difference" in result.stderr


def _only_fraud(numbers: list[int], target: str) -> Any:
    """A plan edit: just the fraud versions `numbers`, into `target`, with no aliases or grants."""

    def edit(plan: dict[str, Any]) -> None:
        fraud = next(m for m in plan["models"] if m["source"] == "fraud")
        fraud["target"] = f"{plan['target']['catalog']}.ml.{target}"
        fraud["versions"] = [v for v in fraud["versions"] if v["version"] in numbers]
        fraud["aliases"], fraud["grants"] = {}, []
        plan["models"], plan["grants"] = [fraud], []

    return edit


def test_a_number_the_target_has_passed_is_refused_with_the_reason(uc: UcMigration) -> None:
    uc.run(uc.plan_with("late-3.yaml", _only_fraud([3], "fraud_late")))
    refused = uc.run(uc.plan_with("late-1.yaml", _only_fraud([1], "fraud_late")), check=1)
    assert (
        f"{uc.name('fraud_late')} already has version 3 and Unity Catalog numbers versions in "
        "order, never reusing one, so version 1 cannot be created with its number"
    ) in " ".join(refused.stderr.split())


def test_a_waived_signature_goes_as_far_as_the_target_allows(uc: UcMigration) -> None:
    def waive(plan: dict[str, Any]) -> None:
        fraud = next(m for m in plan["models"] if m["source"] == "fraud")
        fraud["target"] = uc.name("fraud_waived")
        version = next(v for v in fraud["versions"] if v["version"] == 4)
        version["signature"] = {"action": "waived", "waiver": "legacy, inputs only"}
        fraud["versions"], fraud["aliases"], fraud["grants"] = [version], {}, []
        plan["models"], plan["grants"] = [fraud], []

    refused = uc.run(uc.plan_with("waived.yaml", waive), check=1)
    # The client-side check is skipped as for MLflow's migration branch; this server checks
    # signatures itself at finalize (a waiver reaches it only through its migration endpoint).
    assert "contained a signature that includes only inputs" in " ".join(refused.stderr.split())
    with uc.api() as api:
        found = api.get(f"/api/2.1/unity-catalog/models/{uc.name('fraud_waived')}/versions/4")
    assert found.json()["status"] == "FAILED_REGISTRATION"
    tags = {t["key"]: t["value"] for t in found.json()["tags"]}
    assert tags["migrated_signature_waiver"] == "legacy, inputs only"


def test_an_interrupted_version_is_finished_by_the_next_run(
    uc: UcMigration, databricks_uc: MlflowClient
) -> None:
    plan_file = uc.plan_with("resume.yaml", _only_fraud([1], "fraud_resumed"))
    plan = read_plan(uc.folder / plan_file)
    model, version = plan.models[0], plan.models[0].versions[0]
    # What a run killed after its first upload leaves: a PENDING version with part of its files.
    target = DatabricksUcTarget("databricks-uc", plan)
    target.ensure_model(model.target, model.comment, model.tags)
    body = {"source": version.source, "run_id": version.run_id, "comment": version.comment}
    body.update(tags=version.tags, origin=version.origin.to_dict())
    assert target.create_version(model.target, 1, body)["status"] == "PENDING_REGISTRATION"
    complete = (Path(local_file_uri_to_path(version.artifact_uri)) / "python_env.yaml").read_bytes()
    target.upload(model.target, 1, "python_env.yaml", io.BytesIO(complete), len(complete))
    target.upload(model.target, 1, "requirements.txt", io.BytesIO(b"partial"), 7)

    uc.run(plan_file)
    events = read_events(uc.folder / "resume.run.jsonl")
    # The target's listing says what is there: the complete file stays, the torn one is sent.
    sent = {e["path"] for e in events if e["event"] == "file_uploaded"}
    assert "requirements.txt" in sent and "python_env.yaml" not in sent
    assert [
        (e["event"], e.get("resumed")) for e in events if e["event"].startswith("version_")
    ] == [
        ("version_started", True),
        ("version_copied", True),
    ]
    assert databricks_uc.get_model_version(model.target, "1").status == "READY"
    assert _numbers(databricks_uc, model.target) == [1]
    migrate("verify", plan_file, env=uc.env, cwd=uc.folder)


def test_run_with_a_bad_token_is_refused_before_any_write(uc: UcMigration) -> None:
    plan_file = uc.plan_with("bad-token.yaml", _only_fraud([1], "fraud_never"))
    env = {**uc.env, "DATABRICKS_TOKEN": "not-a-token"}
    refused = migrate("run", plan_file, env=env, cwd=uc.folder, check=2)
    assert "target databricks-uc: UNAUTHENTICATED" in refused.stderr
    with uc.api() as api:
        found = api.get(f"/api/2.1/unity-catalog/models/{uc.name('fraud_never')}")
    assert found.status_code == 404


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("databricks-uc", None),
        ("databricks-uc://prod-ws", None),
        ("databricks-uc://team.eu_1", None),
        ("http://catalog:8080", None),
        ("databricks-uc:", "is 'databricks-uc:'"),
        ("databricks-ucx", "is 'databricks-ucx'"),
        ("databricks-uc://", "is 'databricks-uc://': a profile name is"),
        ("databricks-uc://scope:prefix", "is 'databricks-uc://scope:prefix': a profile name is"),
        ("databricks", "is 'databricks'"),
    ],
)
def test_target_url_forms(url: str, problem: str | None) -> None:
    found = target_url_problem(url)
    assert (found is None) if problem is None else (found or "").startswith(problem)


def test_plan_refuses_a_malformed_databricks_uc_target(tmp_path: Path) -> None:
    result = migrate(
        "plan",
        "--source",
        f"sqlite:///{tmp_path}/none.db",
        "--target",
        "databricks-uc://two words",
        "--catalog",
        "c",
        "--schema",
        "s",
        "--out",
        "plan.yaml",
        env={**_uc_env_minimal(), "HOME": str(tmp_path)},
        cwd=tmp_path,
        check=2,
    )
    assert "databricks-uc://PROFILE" in result.stderr
    assert not (tmp_path / "plan.yaml").exists()


def _uc_env_minimal() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "MODELCAT"))}
