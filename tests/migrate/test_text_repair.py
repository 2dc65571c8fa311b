"""Source text the catalog's text rules refuse (NUL, control characters, line breaks in keys):
`assess` reports each value, `plan` says how it is repaired, and `run` never stops on one."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import httpx
import mlflow
import pytest
import yaml
from mlflow import MlflowClient

from fakes.mlflow_sources import EXPERIMENT, log_tiny_model
from modelcatalog.migrate.assess import run_assessment
from support.migrate import migrate
from support.mlflow_stores import mlflow_database

UC = "/api/2.1/unity-catalog"
MODEL_DESCRIPTION = "Scores risk.\x00 Owned by\x07 the risk team.\n\nSecond paragraph."
VERSION_DESCRIPTION = "Trained on May data\x1b[1m (bold)\x1b[0m."


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("noisy-source")
    uri = mlflow_database(folder / "mlflow.db")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        mlflow.create_experiment(EXPERIMENT, str(folder / "art"))
        logged = log_tiny_model(uri, "full")
        client = MlflowClient(uri, uri)
        client.create_registered_model(
            "noisy",
            description=MODEL_DESCRIPTION,
            tags={"bad_key": "fine", "good_key": "line\x00value", " ": "blank key"},
        )
        # MLflow's client refuses a control character in a key; older registries hold them.
        with sqlite3.connect(folder / "mlflow.db") as db:
            db.execute(
                "UPDATE registered_model_tags SET key = 'bad' || char(1) || 'key' "
                "WHERE key = 'bad_key'"
            )
        version = logged.register(client, "noisy")
        client.update_model_version("noisy", version.version, description=VERSION_DESCRIPTION)
        client.transition_model_version_stage("noisy", version.version, "Production")
    finally:
        mlflow.set_tracking_uri(previous)
    return uri


def test_assess_reports_every_value_the_text_rules_refuse(source: str) -> None:
    findings = [f for f in run_assessment(source).findings if f.code == "MA105"]
    messages = sorted(f.message for f in findings)
    assert len(findings) == 5, messages
    assert any("description contains a NUL character" in m and "model" in m for m in messages)
    assert any(
        "Version 1's description contains a control character (U+001B)" in m for m in messages
    )
    assert any("tag key 'bad\\x01key' contains a control character (U+0001)" in m for m in messages)
    assert any("tag key ' ' is blank" in m for m in messages)
    assert any("value of tag 'good_key' contains a NUL character" in m for m in messages)
    assert all(f.severity == "warning" and "repaired by the plan" in f.action for f in findings)


def test_plan_says_how_each_is_repaired_and_run_completes(
    server, source: str, tmp_path: Path
) -> None:
    catalog = f"txt_{uuid.uuid4().hex[:8]}"
    env = server.env(MODELCATALOG_CONFIG_DIR=str(tmp_path / "config"))
    common = ["--source", source, "--target", server.url]
    migrate(
        "plan",
        *common,
        "--catalog",
        catalog,
        "--schema",
        "ml",
        "--out",
        "plan.yaml",
        env=env,
        cwd=tmp_path,
    )
    plan = yaml.safe_load((tmp_path / "plan.yaml").read_text())
    (model,) = plan["models"]
    notes = "\n".join(model["notes"])
    assert "model description: characters the catalog refuses removed" in notes
    assert "version 1 description: characters the catalog refuses removed" in notes
    assert "value of 'good_key': characters the catalog refuses removed" in notes
    renamed = {r["from"]: r["to"] for r in model["tag_renames"]}
    assert renamed["bad\x01key"] == "badkey" and renamed[" "] == "_"
    migrate("run", "plan.yaml", env=env, cwd=tmp_path)
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
        target = api.get(f"{UC}/models/{catalog}.ml.noisy").json()
        assert target["comment"] == "Scores risk. Owned by the risk team.\n\nSecond paragraph."
        version = api.get(f"{UC}/models/{catalog}.ml.noisy/versions/1").json()
        assert version["comment"].startswith("Trained on May data[1m (bold)[0m.")
    migrate("verify", "plan.yaml", env=env, cwd=tmp_path)
