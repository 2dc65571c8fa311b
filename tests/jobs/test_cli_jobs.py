"""`modelcatalog jobs` run as a user runs it, against a real server: define, link, watch a run,
approve it, read its output; bad input exits 2 before any request, a refused one exits 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.cli import run_cli
from support.http import unique
from support.jobs import linked_model, new_ready_version, wait_for_run

PY = sys.executable


def _cli(server: Any, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "jobs", *args, env=server.env(MODELCATALOG_CONFIG_DIR=str(config), COLUMNS="250")
    )


@pytest.fixture
def jobs_cli(job_server: Any, tmp_path: Path):  # type: ignore[no-untyped-def]
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return _cli(job_server, tmp_path / "config", *args)

    return run


def test_a_job_defined_linked_and_approved_from_the_command_line(
    jobs_cli, jobs_api: httpx.Client, job_schema: str, tmp_path: Path
) -> None:
    name = unique("deploy")
    definition = tmp_path / "job.yaml"
    definition.write_text(
        f"""
name: {name}
tasks:
  - name: evaluation
    command: [{PY!r}, "-c", "print('auc 0.91')"]
  - name: approval
    depends_on: [evaluation]
    approval: {{}}
"""
    )
    created = jobs_cli("create", str(definition))
    assert created.returncode == 0, created.stderr
    job_id = created.stdout.strip()
    model = linked_model(jobs_api, job_schema, None)
    linked = jobs_cli("link", name, model)
    assert linked.returncode == 0, linked.stderr
    assert f"Linked deployment job {name} to {model} (CONNECTED)" in linked.stderr
    listed = json.loads(jobs_cli("list", "-o", "json").stdout)["jobs"]
    assert next(j for j in listed if j["id"] == job_id)["linked_models"] == [model]

    version = new_ready_version(jobs_api, model)
    waiting = wait_for_run(jobs_api, model, version, ("APPROVAL",))
    runs = json.loads(jobs_cli("runs", model, "--version", str(version), "-o", "json").stdout)
    assert [r["run_id"] for r in runs["runs"]] == [waiting["run_id"]]
    # The inbox lists it, with the evaluation it rests on, without knowing the run id first.
    inbox = json.loads(jobs_cli("approvals", "-o", "json").stdout)["approvals"]
    mine = [a for a in inbox if a["run_id"] == waiting["run_id"]]
    assert [(a["model_name"], a["version"], a["task_name"]) for a in mine] == [
        (model, version, "approval")
    ]
    assert "auc 0.91" in mine[0]["evidence"][0]["output"]
    table = jobs_cli("approvals")
    assert table.returncode == 0 and waiting["run_id"] in table.stdout
    assert "evaluation succeeded (exit 0)" in table.stdout
    approved = jobs_cli("approve", waiting["run_id"], "approval")
    assert approved.returncode == 0, approved.stderr
    assert "approved by admin (via cli)" in approved.stdout
    done = wait_for_run(jobs_api, model, version, ("SUCCEEDED",))
    after = json.loads(jobs_cli("approvals", "-o", "json").stdout)["approvals"]
    assert waiting["run_id"] not in {a["run_id"] for a in after}
    shown = jobs_cli("run", done["run_id"], "--output-log")
    assert shown.returncode == 0, shown.stderr
    assert "is SUCCEEDED" in shown.stdout and "auc 0.91" in shown.stdout

    unlinked = jobs_cli("unlink", model)
    assert unlinked.returncode == 0, unlinked.stderr
    assert "deployment_job_id" not in jobs_api.get(f"/api/2.1/unity-catalog/models/{model}").json()


def test_command_line_mistakes_exit_2_and_refusals_exit_1(jobs_cli, tmp_path: Path) -> None:
    missing = jobs_cli("create", str(tmp_path / "nowhere.yaml"))
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr
    bad_model = jobs_cli("link", "some-job", "not-a-full-name")
    assert bad_model.returncode == 2
    cyclic = tmp_path / "cyclic.yaml"
    cyclic.write_text(
        "name: cyclic\ntasks:\n  - {name: a, command: 'true', depends_on: [b]}\n"
        "  - {name: b, command: 'true', depends_on: [a]}\n"
    )
    refused = jobs_cli("create", str(cyclic))
    assert refused.returncode == 1
    assert "'tasks' depend on each other in a cycle" in refused.stderr
    unknown = jobs_cli("approve", "no-such-run", "approval")
    assert unknown.returncode == 1
    assert "Deployment run 'no-such-run' does not exist" in unknown.stderr
