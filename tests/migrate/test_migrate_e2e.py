"""plan → run → verify against a real catalog server, then stock MLflow loads what moved."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import mlflow
import numpy as np
import pytest
import yaml

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.migrate.runlog import read_events
from support.migrate import (
    BAD_TAG_KEYS,
    FRAUD_OUTPUTS,
    LONG_DESCRIPTION,
    SourceFixture,
    migrate,
    write_migration_config,
)
from support.mlflow_stores import mlflow_database

UC = "/api/2.1/unity-catalog"


@dataclass
class Migrated:
    """One migration of the reference source into a fresh catalog."""

    server: Any
    source: SourceFixture
    folder: Path
    catalog: str
    env: dict[str, str]
    first_run: Any
    planned: Any

    @property
    def plan(self) -> Path:
        return self.folder / "plan.yaml"

    @property
    def log(self) -> Path:
        return self.folder / "plan.run.jsonl"

    def name(self, model: str) -> str:
        return f"{self.catalog}.ml.{model}"

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, headers=self.server.headers(), timeout=60)


@pytest.fixture(scope="module")
def migrated(
    server: Any, source_registry: SourceFixture, tmp_path_factory: pytest.TempPathFactory
) -> Migrated:
    folder = tmp_path_factory.mktemp("migration")
    catalog = f"mig_{uuid.uuid4().hex[:8]}"
    write_migration_config(folder)
    env = server.env(MODELCATALOG_CONFIG_DIR=str(folder / "config"))
    common = ["--source", source_registry.uri, "--target", server.url]
    planned = migrate(
        "plan",
        *common,
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
    return Migrated(server, source_registry, folder, catalog, env, first, planned)


def _versions(api: httpx.Client, full_name: str) -> dict[int, dict[str, Any]]:
    body = api.get(f"{UC}/models/{full_name}/versions", params={"max_results": 100}).json()
    return {int(v["version"]): v for v in body["model_versions"]}


def _model(api: httpx.Client, full_name: str) -> dict[str, Any]:
    response = api.get(f"{UC}/models/{full_name}")
    assert response.status_code == 200, response.text
    return response.json()


def _tags(item: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in item.get("tags") or []}


def test_version_numbers_and_gaps_are_kept(migrated: Migrated) -> None:
    with migrated.api() as api:
        churn = _versions(api, migrated.name("churn_model"))
        fraud = _versions(api, migrated.name("fraud"))
    assert sorted(churn) == [1, 2, 3, 4, 5]
    assert sorted(fraud) == [1, 3, 4, 5]  # 2 was deleted in the source: the gap stays
    assert {v["status"] for v in [*churn.values(), *fraud.values()]} == {"READY"}


def test_aliases_follow_the_stage_policy_and_source_aliases_carry_over(
    migrated: Migrated,
) -> None:
    with migrated.api() as api:
        churn = _model(api, migrated.name("churn_model"))
        fraud = _model(api, migrated.name("fraud"))
    aliases = {a["alias_name"]: a["version_num"] for a in churn["aliases"]}
    # Two versions were in Production: the newest gets the alias.
    assert aliases == {"Production": 3, "Staging": 4, "champion": 3}
    assert {a["alias_name"]: a["version_num"] for a in fraud["aliases"]} == {
        "Production": 5,
        "Staging": 3,
    }


def test_stage_tags_renamed_tag_keys_descriptions_and_lineage(migrated: Migrated) -> None:
    with migrated.api() as api:
        churn = _versions(api, migrated.name("churn_model"))
        model = _model(api, migrated.name("churn_model"))
        fraud_model = _model(api, migrated.name("fraud"))
    assert model["comment"] == "Predicts churn.\n\nOwned by CX."
    assert _tags(churn[1])["migrated_stage"] == "Archived"
    assert "migrated_stage" not in _tags(churn[5])  # stage None: no stage tag
    v3 = churn[3]
    assert v3["comment"] == LONG_DESCRIPTION  # long and non-ASCII, unchanged
    assert _tags(v3) == {
        "migrated_stage": "Production",
        "ok_key": "fine",
        "mlflow_note": "value of mlflow.note",
        "team_owner": "value of team-owner",
        "x_y_z": "value of x/y:z",
        "a b": "value of a b",
    }
    assert v3["origin"]["registry"] == migrated.source.uri
    assert (v3["origin"]["model"], v3["origin"]["version"]) == ("Churn Model", "3")
    assert v3["origin"]["run_id"] == v3["run_id"] and v3["run_id"]
    fraud_tags = _tags(fraud_model)
    assert len(fraud_tags) == 50
    spilled = json.loads(fraud_tags["migrated_tags"])
    kept = {k: v for k, v in fraud_tags.items() if k != "migrated_tags"}
    assert {**kept, **spilled} == {f"feature_{i:02d}": f"v{i}" for i in range(60)}
    plan = migrated.plan.read_text()
    for key in BAD_TAG_KEYS[:3]:
        assert f"from: {key}" in plan  # each rename recorded in the plan


def test_plan_is_deterministic_and_gives_the_rewriter_its_map(migrated: Migrated) -> None:
    again = migrated.folder / "again.yaml"
    migrate(
        "plan",
        "--source",
        migrated.source.uri,
        "--target",
        migrated.server.url,
        "--catalog",
        migrated.catalog,
        "--schema",
        "ml",
        "--config",
        "migration.yaml",
        "--out",
        str(again),
        env=migrated.env,
        cwd=migrated.folder,
    )
    assert again.read_bytes() == migrated.plan.read_bytes()
    model_map = ModelMap.from_plan_file(migrated.plan)
    assert model_map.target_name("Churn Model") == migrated.name("churn_model")
    assert model_map.alias_for_stage("Production") == "Production"


@pytest.fixture
def stock_mlflow(
    migrated: Migrated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Stock MLflow with the catalog as its registry (`modelcatalog://`), as a user has it."""
    for key in ("MODELCATALOG_TOKEN", "MODELCATALOG_CONFIG_DIR"):
        monkeypatch.setenv(key, migrated.env[key])
    mlflow.set_tracking_uri(mlflow_database(tmp_path / "tracking.db"))
    mlflow.set_registry_uri(f"modelcatalog://{urlsplit(migrated.server.url).netloc}")
    try:
        yield
    finally:
        mlflow.set_registry_uri("")
        mlflow.set_tracking_uri("")


def test_signatures_inferred_and_supplied_reach_the_target(
    migrated: Migrated, stock_mlflow: None
) -> None:
    plan = yaml.safe_load(migrated.plan.read_text())
    fraud = next(m for m in plan["models"] if m["source"] == "fraud")
    actions = {v["version"]: v["signature"]["action"] for v in fraud["versions"]}
    assert actions == {1: "present", 3: "inferred", 4: "supplied", 5: "present"}
    for version in (3, 4):
        loaded = mlflow.pyfunc.load_model(f"models:/{migrated.name('fraud')}/{version}")
        signature = loaded.metadata.signature
        assert signature is not None and signature.outputs is not None
        expected = migrated.source.predictions[("fraud", version)]
        np.testing.assert_array_equal(loaded.predict(migrated.source.features), expected)
    assert signature.to_dict()["outputs"] == FRAUD_OUTPUTS


def test_stock_mlflow_loads_the_production_alias(migrated: Migrated, stock_mlflow: None) -> None:
    loaded = mlflow.pyfunc.load_model(f"models:/{migrated.name('churn_model')}@Production")
    predicted = loaded.predict(migrated.source.features)
    np.testing.assert_array_equal(predicted, migrated.source.predictions[("Churn Model", 3)])


def test_rerun_copies_nothing_and_verify_matches(migrated: Migrated) -> None:
    before = len(read_events(migrated.log))
    migrate("run", "plan.yaml", env=migrated.env, cwd=migrated.folder)
    second = read_events(migrated.log)[before:]
    assert not [e for e in second if e["event"] in ("file_uploaded", "version_started")]
    finished = second[-1]
    assert finished["event"] == "run_finished"
    assert finished["present"] == finished["versions_planned"] == 9
    result = migrate("verify", "plan.yaml", env=migrated.env, cwd=migrated.folder)
    assert "Source and target match" in result.stderr


def test_verify_reports_a_changed_description_and_exits_non_zero(migrated: Migrated) -> None:
    target = f"{UC}/models/{migrated.name('fraud')}/versions/5"
    with migrated.api() as api:
        original = api.get(target).json()["comment"] or ""
        api.patch(target, json={"comment": "edited by hand"}).raise_for_status()
        try:
            result = migrate("verify", "plan.yaml", env=migrated.env, cwd=migrated.folder, check=1)
        finally:
            api.patch(target, json={"comment": original}).raise_for_status()
    assert "edited by hand" in result.stderr
    assert f"{migrated.name('fraud')} v5" in result.stderr
    assert "1 difference" in result.stderr


def test_permissions_are_granted_with_their_parents(migrated: Migrated) -> None:
    assert f"GRANT EXECUTE ON MODEL {migrated.name('fraud')} TO `alice`;" in migrated.planned.stderr
    with migrated.api() as api:
        on_model = api.get(f"{UC}/permissions/registered_model/{migrated.name('fraud')}").json()
        on_catalog = api.get(f"{UC}/permissions/catalog/{migrated.catalog}").json()
        on_schema = api.get(f"{UC}/permissions/schema/{migrated.catalog}.ml").json()
    held = {a["principal"]: sorted(a["privileges"]) for a in on_model["privilege_assignments"]}
    assert held == {
        "alice": ["EXECUTE"],
        "data-team": ["APPLY TAG", "CREATE MODEL VERSION", "EXECUTE"],
    }
    for listing, privilege in ((on_catalog, "USE CATALOG"), (on_schema, "USE SCHEMA")):
        by_principal = {a["principal"]: a["privileges"] for a in listing["privilege_assignments"]}
        assert by_principal == {"alice": [privilege], "data-team": [privilege]}


def test_first_run_printed_a_summary_and_wrote_a_run_log(migrated: Migrated) -> None:
    assert "versions planned" in migrated.first_run.stderr
    events = read_events(migrated.log)
    finished = next(e for e in events if e["event"] == "run_finished")
    assert finished["copied"] == 9 and finished["failed"] == 0
    uploads = [
        (e["model"], e["version"], e["path"]) for e in events if e["event"] == "file_uploaded"
    ]
    assert len(uploads) == len(set(uploads))


@pytest.fixture
def fresh_folder(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
