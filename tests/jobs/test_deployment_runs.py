"""Deployment runs through the real server: the graph, approvals, failures, retries, cancel,
repair, and the states the model and its versions show."""

from __future__ import annotations

import sys

import httpx
import pytest
from jobs_support import (
    NATIVE,
    create_job,
    linked_model,
    new_ready_version,
    ok,
    run,
    runs_of,
    task,
    unique,
    wait_for,
    wait_for_run,
)

PY = sys.executable


def _job(name: str, *, approval: bool = True, evaluate: str = "print('evaluated')") -> str:
    tasks = f"""
    name: {name}
    tasks:
      - name: evaluate
        command: [{PY!r}, "-c", {evaluate!r}, "{{{{model_name}}}}", "{{{{model_version}}}}"]
    """
    if approval:
        tasks += (
            """
      - name: approval
        depends_on: [evaluate]
        approval: {}
      - name: deploy
        depends_on: [approval]
        command: ["%s", "-c", "print('deployed')"]
    """
            % PY
        )
    return tasks


def test_a_ready_version_starts_one_run_that_waits_for_approval(
    jobs_api: httpx.Client, job_schema: str
) -> None:
    job = create_job(jobs_api, _job(unique("deploy")))
    model = linked_model(jobs_api, job_schema, job["id"])
    version = new_ready_version(jobs_api, model)
    waiting = wait_for_run(jobs_api, model, version, ("APPROVAL",))
    assert task(waiting, "evaluate")["state"] == "SUCCEEDED"
    assert task(waiting, "approval")["state"] == "WAITING_APPROVAL"
    assert task(waiting, "deploy")["state"] == "BLOCKED"
    assert "evaluated" in task(waiting, "evaluate")["output"]
    assert len(runs_of(jobs_api, model, version)) == 1
    shown = ok(jobs_api.get(f"/api/2.1/unity-catalog/models/{model}/versions/{version}"))
    assert shown["deployment_job_state"] == {
        "job_id": job["id"],
        "run_id": waiting["run_id"],
        "job_state": "CONNECTED",
        "run_state": "APPROVAL",
        "current_task_name": "approval",
    }
    assert ok(jobs_api.get(f"/api/2.1/unity-catalog/models/{model}"))["deployment_job_state"] == (
        "CONNECTED"
    )
