"""Deployment runs through the real server: the graph, approvals, failures, retries, cancel,
repair, and the states the model and its versions show."""

from __future__ import annotations

import sys

import httpx
import pytest

from support.governance import add_member, add_principal, grant, token_for
from support.http import ok, unique, wait_for
from support.jobs import (
    NATIVE,
    create_job,
    linked_model,
    new_ready_version,
    run,
    runs_of,
    task,
    wait_for_run,
)

PY = sys.executable


def _job(name: str) -> str:
    """evaluate → approval → deploy, with quick commands."""
    model_args = '"{{model_name}}", "{{model_version}}"'
    return f"""
    name: {name}
    tasks:
      - name: evaluate
        command: [{PY!r}, "-c", "print('evaluated')", {model_args}]
      - name: approval
        depends_on: [evaluate]
        approval: {{}}
      - name: deploy
        depends_on: [approval]
        command: [{PY!r}, "-c", "print('deployed')"]
    """


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


def _waiting_run(api: httpx.Client, schema: str) -> tuple[str, int, dict]:
    job = create_job(api, _job(unique("deploy")))
    model = linked_model(api, schema, job["id"])
    version = new_ready_version(api, model)
    return model, version, wait_for_run(api, model, version, ("APPROVAL",))


def _tag(api: httpx.Client, model: str, version: int, key: str, value: str) -> httpx.Response:
    return api.post(
        "/api/2.0/mlflow/unity-catalog/model-versions/set-tag",
        json={"name": model, "version": str(version), "key": key, "value": value},
    )


def test_a_rejected_approval_fails_the_run_and_skips_what_follows(
    jobs_api: httpx.Client, job_schema: str
) -> None:
    model, version, waiting = _waiting_run(jobs_api, job_schema)
    ok(_tag(jobs_api, model, version, "approval", "REJECTED"))
    done = wait_for_run(jobs_api, model, version, ("FAILED",))
    assert task(done, "approval")["state"] == "REJECTED"
    assert task(done, "deploy")["state"] == "UPSTREAM_FAILED"
    assert done["state_message"] == "task 'approval' was rejected by admin (via tag)"
    shown = ok(jobs_api.get(f"/api/2.1/unity-catalog/models/{model}/versions/{version}"))
    assert shown["deployment_job_state"]["run_state"] == "FAILED"


def test_an_approver_decides_through_rest_and_others_are_refused(
    jobs_api: httpx.Client, job_schema: str
) -> None:
    model, version, waiting = _waiting_run(jobs_api, job_schema)
    catalog = model.split(".")[0]
    reader, approver = unique("reader"), unique("approver")
    for who in (reader, approver):
        add_principal(jobs_api, who)
        grant(jobs_api, "catalog", catalog, who, "USE CATALOG", "USE SCHEMA", "EXECUTE")
    ok(jobs_api.put(f"{NATIVE}/models/{model}/deployment-approvers/{approver}"))
    approve = f"{NATIVE}/deployment-runs/{waiting['run_id']}/tasks/approval/approve"
    as_reader = {"Authorization": f"Bearer {token_for(jobs_api, reader)}"}
    refused = jobs_api.post(approve, headers=as_reader)
    assert refused.status_code == 403, refused.text
    assert "approvers" in refused.json()["message"]
    # The tag is refused too, and not set: the decision cannot be slipped in through APPLY TAG.
    grant(jobs_api, "registered_model", model, reader, "APPLY TAG")
    tagged = _tag(
        jobs_api.__class__(base_url=str(jobs_api.base_url), headers=as_reader),
        model,
        version,
        "approval",
        "approved",
    )
    assert tagged.status_code == 403, tagged.text
    tags = ok(jobs_api.get(f"/api/2.1/unity-catalog/models/{model}/versions/{version}"))["tags"]
    assert "approval" not in {t["key"] for t in tags}
    as_approver = {"Authorization": f"Bearer {token_for(jobs_api, approver)}"}
    ok(jobs_api.post(approve, headers=as_approver))
    done = wait_for_run(jobs_api, model, version, ("SUCCEEDED",))
    assert task(done, "approval")["decided_by"] == approver
    assert task(done, "approval")["decided_via"] == "api"


def test_an_approval_task_restricted_to_a_group_takes_only_its_members(
    jobs_api: httpx.Client, job_schema: str
) -> None:
    legal, lawyer = unique("legal"), unique("lawyer")
    add_principal(jobs_api, legal, "group")
    add_principal(jobs_api, lawyer)
    add_member(jobs_api, legal, lawyer)
    job = create_job(
        jobs_api,
        f"""
        name: {unique("legal-review")}
        tasks:
          - name: legal_review
            approval: {{group: {legal}}}
        """,
    )
    model = linked_model(jobs_api, job_schema, job["id"])
    grant(jobs_api, "catalog", model.split(".")[0], lawyer, "USE CATALOG", "USE SCHEMA", "EXECUTE")
    owner_of_model = unique("owner")
    add_principal(jobs_api, owner_of_model)
    version = new_ready_version(jobs_api, model)
    waiting = wait_for_run(jobs_api, model, version, ("APPROVAL",))
    approve = f"{NATIVE}/deployment-runs/{waiting['run_id']}/tasks/legal_review/approve"
    # The model's owner (admin here) is not the group; a lawyer is.
    headers = {"Authorization": f"Bearer {token_for(jobs_api, lawyer)}"}
    ok(jobs_api.post(approve, headers=headers))
    assert (
        wait_for_run(jobs_api, model, version, ("SUCCEEDED",))["tasks"][0]["decided_by"] == lawyer
    )


def test_a_failing_task_is_retried_then_fails_and_repair_runs_it_again(
    jobs_api: httpx.Client, job_schema: str, tmp_path
) -> None:
    flag = tmp_path / "fixed"
    script = (
        f"import os, sys; print('checking'); sys.exit(0 if os.path.exists({str(flag)!r}) else 3)"
    )
    job = create_job(
        jobs_api,
        f"""
        name: {unique("flaky")}
        tasks:
          - name: evaluate
            command: [{PY!r}, "-c", {script!r}]
            retries: 1
            retry_delay_seconds: 0
          - name: deploy
            depends_on: [evaluate]
            command: [{PY!r}, "-c", "print('deployed')"]
        """,
    )
    model = linked_model(jobs_api, job_schema, job["id"])
    version = new_ready_version(jobs_api, model)
    failed = wait_for_run(jobs_api, model, version, ("FAILED",))
    evaluate = task(failed, "evaluate")
    assert (evaluate["state"], evaluate["attempt"], evaluate["exit_code"]) == ("FAILED", 2, 3)
    assert [a["exit_code"] for a in evaluate["attempts"]] == [3, 3]
    assert "checking" in evaluate["attempts"][0]["output"]
    assert task(failed, "deploy")["state"] == "UPSTREAM_FAILED"
    assert (
        failed["state_message"] == "task 'evaluate' failed: exited with status 3 (attempt 2 of 2)"
    )
    flag.write_text("yes")
    repaired = ok(jobs_api.post(f"{NATIVE}/deployment-runs/{failed['run_id']}/repair"))
    assert repaired["run_id"] == failed["run_id"]
    done = wait_for_run(jobs_api, model, version, ("SUCCEEDED",))
    assert task(done, "evaluate")["attempt"] == 3
    assert task(done, "deploy")["attempt"] == 1
    assert len(runs_of(jobs_api, model, version)) == 1


def test_cancel_stops_the_running_task_and_ends_the_run(
    jobs_api: httpx.Client, job_schema: str
) -> None:
    job = create_job(
        jobs_api,
        f"""
        name: {unique("slow")}
        tasks:
          - name: train
            command: [{PY!r}, "-c", "import time; print('started', flush=True); time.sleep(60)"]
        """,
    )
    model = linked_model(jobs_api, job_schema, job["id"])
    version = new_ready_version(jobs_api, model)
    running = wait_for_run(jobs_api, model, version, ("RUNNING",))
    wait_for(lambda: task(run(jobs_api, running["run_id"]), "train")["state"] == "RUNNING", "train")
    cancelled = ok(jobs_api.post(f"{NATIVE}/deployment-runs/{running['run_id']}/cancel"))
    assert cancelled["state"] == "CANCELLED"
    # The worker sees the cancellation at its next heartbeat and stops the process.
    attempt = wait_for(
        lambda: (
            (task(run(jobs_api, running["run_id"]), "train")["attempts"] or [{}])[0].get("ended_at")
            and task(run(jobs_api, running["run_id"]), "train")["attempts"][0]
        ),
        "the attempt to end",
        timeout=20,
    )
    assert attempt["message"] == "stopped: the run was cancelled"
    assert task(run(jobs_api, running["run_id"]), "train")["state"] == "CANCELLED"
    shown = ok(jobs_api.get(f"/api/2.1/unity-catalog/models/{model}/versions/{version}"))
    assert shown["deployment_job_state"]["run_state"] == "FAILED"


def test_a_version_has_at_most_one_run_in_progress(jobs_api: httpx.Client, job_schema: str) -> None:
    model, version, waiting = _waiting_run(jobs_api, job_schema)
    again = jobs_api.post(f"{NATIVE}/models/{model}/versions/{version}/deployment-runs")
    assert again.status_code == 400, again.text
    assert "in progress" in again.json()["message"]
    ok(jobs_api.post(f"{NATIVE}/deployment-runs/{waiting['run_id']}/cancel"))
    started = ok(jobs_api.post(f"{NATIVE}/models/{model}/versions/{version}/deployment-runs"))
    assert started["cause"] == "manual"
    assert len(runs_of(jobs_api, model, version)) == 2


def test_a_task_token_acts_on_its_model_only(jobs_api: httpx.Client, job_schema: str) -> None:
    other = linked_model(jobs_api, job_schema, None)
    probe = (
        "import os, httpx\n"
        "h = {'Authorization': 'Bearer ' + os.environ['MODELCATALOG_TOKEN']}\n"
        "u = os.environ['MODELCATALOG_URL'] + '/api/2.1/unity-catalog/models/'\n"
        "print('own', httpx.get(u + os.environ['MODEL_NAME'], headers=h).status_code)\n"
        f"print('other', httpx.get(u + '{other}', headers=h).status_code)\n"
        "tokens = os.environ['MODELCATALOG_URL'] + '/api/modelcatalog/tokens'\n"
        "print('token', httpx.post(tokens, json={}, headers=h).status_code)\n"
        "print('tokens', httpx.get(tokens, headers=h).status_code)\n"
        "print('admin', 'MODELCATALOG_ADMIN_TOKEN' in os.environ)\n"
    )
    job = create_job(
        jobs_api,
        f"""
        name: {unique("probe")}
        tasks:
          - name: probe
            command: [{PY!r}, "-c", {probe!r}]
        """,
    )
    model = linked_model(jobs_api, job_schema, job["id"])
    version = new_ready_version(jobs_api, model)
    done = wait_for_run(jobs_api, model, version, ("SUCCEEDED", "FAILED"))
    assert done["state"] == "SUCCEEDED", done
    lines = task(run(jobs_api, done["run_id"]), "probe")["output"].split()
    assert lines == [
        "own",
        "200",
        "other",
        "404",
        "token",
        "403",
        "tokens",
        "403",
        "admin",
        "False",
    ]


@pytest.mark.parametrize(
    ("definition", "field", "words"),
    [
        ("name: x\ntasks: []", "tasks", "non-empty list"),
        (
            "name: x\ntasks: [{name: a, command: 'true', depends_on: [b]}]",
            "tasks (a).depends_on",
            "not a task",
        ),
        (
            "name: x\ntasks: [{name: a, command: 'true', depends_on: [b]}, "
            "{name: b, command: 'true', depends_on: [a]}]",
            "tasks",
            "cycle",
        ),
        ("name: x\ntasks: [{name: a}]", "tasks[0] (a)", "exactly one of"),
        (
            "name: x\ntasks: [{name: a, command: 'echo {{nope}}'}]",
            "tasks[0] (a).command",
            "{{nope}}",
        ),
        (
            "name: x\ntasks: [{name: a, command: 'true', retries: -1}]",
            "tasks[0] (a).retries",
            "0 to 10",
        ),
        ("name: 'bad name'\ntasks: [{name: a, command: 'true'}]", "name", "letters, digits"),
        (
            "name: x\ntasks: [{name: a, approval: {group: g}, retries: 2}]",
            "tasks[0] (a).retries",
            "approval",
        ),
        (
            "name: x\nnotifications: {on_failure: [nobody]}\ntasks: [{name: a, command: 'true'}]",
            "notifications",
            "nobody",
        ),
        ("name: [unclosed", "definition", "not valid YAML"),
        (
            'name: x\ndescription: "nul\\0here"\ntasks: [{name: a, command: "true"}]',
            "definition.description",
            "NUL",
        ),
        ("name: x\nparameters: []\ntasks: [{name: a, command: 'true'}]", "parameters", "map"),
        ("name: x\ntasks: [{name: a, command: 'true', env: 0}]", "tasks[0] (a).env", "map"),
        (
            "name: x\ntasks: [{name: a, entry_point: 'pkg.mod\u00e9:main'}]",
            "tasks[0] (a).entry_point",
            "package.module:function",
        ),
    ],
    ids=[
        "no-tasks",
        "unknown-dependency",
        "cycle",
        "no-kind",
        "unknown-template",
        "negative-retries",
        "bad-name",
        "approval-with-retries",
        "unknown-destination",
        "not-yaml",
        "nul-by-a-yaml-escape",
        "parameters-not-a-mapping",
        "env-not-a-mapping",
        "entry-point-not-ascii",
    ],
)
def test_a_bad_job_definition_is_refused_with_the_field(
    jobs_api: httpx.Client, definition: str, field: str, words: str
) -> None:
    answer = jobs_api.post(f"{NATIVE}/jobs", json={"definition": definition})
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error_code"] == "INVALID_ARGUMENT"
    assert f"'{field}'" in body["message"] or field == "definition", body["message"]
    assert words in body["message"], body["message"]


def test_a_json_definition_reads_whole_numbers_and_any_parameter_or_variable_name(
    jobs_api: httpx.Client,
) -> None:
    name = unique("json-job")
    definition = {
        "name": name,
        # Names the text rules read as fields elsewhere (`key` may not be blank, `path` is at
        # most 1,024 characters) are free names here, held to the single-line rule only.
        "parameters": {"key": "", "path": "p" * 2000},
        "tasks": [
            {
                "name": "evaluate",
                "command": ["echo", "{{key}}", 1.5, "a program\n\tof lines"],
                "retries": 2.0,
                "env": {"key": "", "path": "p" * 2000},
            }
        ],
    }
    created = ok(jobs_api.post(f"{NATIVE}/jobs", json={"definition": definition}))
    task = created["definition"]["tasks"][0]
    assert task["retries"] == 2
    assert task["command"] == ["echo", "{{key}}", "1.5", "a program\n\tof lines"]
    assert task["env"] == {"key": "", "path": "p" * 2000}
    ok(jobs_api.delete(f"{NATIVE}/jobs/{name}"))


def test_only_metastore_admins_define_jobs(jobs_api: httpx.Client) -> None:
    someone = unique("user")
    add_principal(jobs_api, someone)
    answer = jobs_api.post(
        f"{NATIVE}/jobs",
        json={"definition": "name: x\ntasks: [{name: a, command: 'true'}]"},
        headers={"Authorization": f"Bearer {token_for(jobs_api, someone)}"},
    )
    assert answer.status_code == 403
    assert "run commands" in answer.json()["message"]


def test_link_states_follow_the_job(jobs_api: httpx.Client, job_schema: str) -> None:
    unknown = jobs_api.patch(
        f"/api/2.1/unity-catalog/models/{linked_model(jobs_api, job_schema, None)}",
        json={"deployment_job_id": "no-such-job"},
    )
    assert unknown.status_code == 400 and "no deployment job" in unknown.json()["message"]
    name = unique("param")
    job = create_job(jobs_api, f"name: {name}\ntasks: [{{name: a, command: 'true'}}]")
    model = linked_model(jobs_api, job_schema, job["id"])

    def state() -> str:
        return ok(jobs_api.get(f"/api/2.1/unity-catalog/models/{model}"))["deployment_job_state"]

    assert state() == "CONNECTED"
    ok(
        jobs_api.put(
            f"{NATIVE}/jobs/{name}",
            json={
                "definition": f"name: {name}\nparameters: {{region: null}}\n"
                "tasks: [{name: a, command: 'true'}]"
            },
        )
    )
    assert state() == "REQUIRED_PARAMETERS_CHANGED"
    version = new_ready_version(jobs_api, model)
    shown = ok(jobs_api.get(f"/api/2.1/unity-catalog/models/{model}/versions/{version}"))
    assert shown["deployment_job_state"]["run_state"] == "NO_VALID_DEPLOYMENT_JOB_FOUND"
    assert runs_of(jobs_api, model) == []
    ok(jobs_api.delete(f"{NATIVE}/jobs/{name}"))
    assert state() == "NOT_FOUND"
    ok(jobs_api.patch(f"/api/2.1/unity-catalog/models/{model}", json={"deployment_job_id": ""}))
    assert "deployment_job_state" not in ok(jobs_api.get(f"/api/2.1/unity-catalog/models/{model}"))
