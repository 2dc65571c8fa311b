"""The whole story with stock MLflow: register a version → the linked job evaluates it → waits
for approval → approved through the version tag → the deployment task sets `champion` with the
owner's scoped token → MLflow loads `@champion`."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import mlflow
import numpy as np
import pytest

from support.http import unique
from support.jobs import create_job, task, wait_for_run
from support.models import fit_tiny_model, log_tiny_model, mlflow_registry

EVALUATE = """\
import sys
import mlflow
import numpy as np

name, version = sys.argv[1], sys.argv[2]
model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
rows = np.random.default_rng(0).normal(size=(8, 3))
print(f"evaluated {name} v{version}: {len(model.predict(rows))} predictions")
"""

DEPLOY = """\
from mlflow import MlflowClient


def main(model_name, model_version):
    MlflowClient().set_registered_model_alias(model_name, "champion", model_version)
    print(f"{model_name}@champion -> {model_version}")
"""


@pytest.fixture
def task_code(tmp_path: Path) -> Path:
    """The evaluation script and the deployment module a job's tasks run."""
    folder = tmp_path / "tasks"
    folder.mkdir()
    (folder / "evaluate.py").write_text(EVALUATE)
    (folder / "deploy_champion.py").write_text(DEPLOY)
    return folder


def _job(name: str, code: Path) -> str:
    return textwrap.dedent(
        f"""
        name: {name}
        tasks:
          - name: evaluation
            command: ["{sys.executable}", "{code / "evaluate.py"}", "{{{{model_name}}}}",
                      "{{{{model_version}}}}"]
            timeout_seconds: 300
          - name: approval
            depends_on: [evaluation]
            approval: {{}}
          - name: deployment
            depends_on: [approval]
            entry_point: deploy_champion:main
            env: {{PYTHONPATH: "{code}"}}
        """
    )


def test_an_approved_version_becomes_champion_and_mlflow_loads_it(
    job_server, jobs_api: httpx.Client, tmp_path: Path, task_code: Path, monkeypatch
) -> None:
    catalog = unique("c")
    jobs_api.post("/api/2.1/unity-catalog/catalogs", json={"name": catalog}).raise_for_status()
    jobs_api.post(
        "/api/2.1/unity-catalog/schemas", json={"name": "ml", "catalog_name": catalog}
    ).raise_for_status()
    name = f"{catalog}.ml.churn"
    job = create_job(jobs_api, _job(unique("churn-deploy"), task_code))
    tiny = fit_tiny_model()
    registry = f"modelcatalog://{urlsplit(job_server.url).netloc}"
    with mlflow_registry(
        registry, tmp_path, monkeypatch, MODELCATALOG_TOKEN=job_server.admin_token
    ) as client:
        client.create_registered_model(name)
        client.update_registered_model(name, deployment_job_id=job["id"])
        assert client.get_registered_model(name).deployment_job_id == job["id"]
        log_tiny_model(tiny, name)

        waiting = wait_for_run(jobs_api, name, 1, ("APPROVAL",), timeout=120)
        assert "evaluated" in task(waiting, "evaluation")["output"]
        state = client.get_model_version(name, "1").deployment_job_state
        assert (state.run_state, state.current_task_name) == ("APPROVAL", "approval")

        client.set_model_version_tag(name, "1", "approval", "Approved")
        done = wait_for_run(jobs_api, name, 1, ("SUCCEEDED", "FAILED"), timeout=120)
        assert done["state"] == "SUCCEEDED", done
        approval = task(done, "approval")
        assert (approval["decided_by"], approval["decided_via"]) == ("admin", "tag")
        assert client.get_model_version_by_alias(name, "champion").version == "1"
        loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
        np.testing.assert_array_equal(loaded.predict(tiny.features), tiny.expected)
        assert client.get_model_version(name, "1").deployment_job_state.run_state == "SUCCEEDED"
