"""A job's own notifications: a webhook hears the run start, the approval request and the
approval; an email goes out when a task fails for good."""

from __future__ import annotations

import json
import sys
import uuid

import httpx

from support.http import metric_value, ok, unique, wait_for
from support.jobs import NATIVE, create_job, linked_model, new_ready_version, wait_for_run
from support.receivers import SmtpCapture, WebhookReceiver, mlflow_signature_valid

PY = sys.executable
DELIVERIES = "modelcatalog_notification_deliveries_total"
TASK_SECONDS = "modelcatalog_deployment_task_duration_seconds"


def _metric(api: httpx.Client, name: str, **labels: str) -> float:
    return metric_value(api.get("/metrics").text, name, **labels)


def test_a_webhook_hears_the_run_start_the_approval_request_and_the_approval(
    jobs_api: httpx.Client, job_schema: str
) -> None:
    secret = "whsec-" + uuid.uuid4().hex
    delivered_before = _metric(jobs_api, DELIVERIES, channel="webhook", outcome="delivered")
    with WebhookReceiver() as receiver:
        hook = unique("deploy-hook")
        ok(
            jobs_api.post(
                f"{NATIVE}/notification-destinations",
                json={"name": hook, "kind": "webhook", "address": receiver.url, "secret": secret},
            )
        )
        job = create_job(
            jobs_api,
            f"""
            name: {unique("gated")}
            notifications: {{on_start: [{hook}], on_success: [{hook}]}}
            tasks:
              - name: approval
                approval: {{}}
                notifications: {{on_approval_requested: [{hook}], on_approved: [{hook}]}}
            """,
        )
        model = linked_model(jobs_api, job_schema, job["id"])
        version = new_ready_version(jobs_api, model)
        waiting = wait_for_run(jobs_api, model, version, ("APPROVAL",))
        ok(jobs_api.post(f"{NATIVE}/deployment-runs/{waiting['run_id']}/tasks/approval/approve"))
        wait_for_run(jobs_api, model, version, ("SUCCEEDED",))
        heard = receiver.wait_for(4)
    bodies = [json.loads(r.body) for r in heard]
    kinds = sorted(b["data"]["event"] for b in bodies)
    assert kinds == ["APPROVAL_REQUESTED", "APPROVED", "RUN_STARTED", "RUN_SUCCEEDED"]
    assert all(mlflow_signature_valid(secret, r.headers, r.body) for r in heard)
    requested = next(b["data"] for b in bodies if b["data"]["event"] == "APPROVAL_REQUESTED")
    assert requested["model_name"] == model
    assert requested["version"] == str(version)
    assert requested["run_id"] == waiting["run_id"]
    assert requested["task"] == "approval"
    # Counted once the catalog has kept each outcome, just after the receiver heard it.
    wait_for(
        lambda: (
            _metric(jobs_api, DELIVERIES, channel="webhook", outcome="delivered")
            >= delivered_before + 4
        ),
        "four webhook deliveries counted",
    )


def test_an_email_goes_out_when_a_task_fails_for_good(
    jobs_api: httpx.Client, job_schema: str
) -> None:
    failed_before = _metric(jobs_api, f"{TASK_SECONDS}_count", outcome="failed")
    with SmtpCapture(username="mailer", password="smtp-" + uuid.uuid4().hex) as smtp:
        ok(
            jobs_api.put(
                f"{NATIVE}/notifications/smtp",
                json={
                    "host": "127.0.0.1",
                    "port": smtp.port,
                    "security": "none",
                    "from_address": "catalog@example.com",
                    "username": smtp.username,
                    "password": smtp.password,
                },
            )
        )
        oncall = unique("oncall")
        address = f"{oncall}@example.com"
        ok(
            jobs_api.post(
                f"{NATIVE}/notification-destinations",
                json={"name": oncall, "kind": "email", "address": address},
            )
        )
        job = create_job(
            jobs_api,
            f"""
            name: {unique("broken")}
            tasks:
              - name: evaluate
                command: [{PY!r}, "-c", "import sys; sys.exit(4)"]
                notifications: {{on_failure: [{oncall}]}}
            """,
        )
        model = linked_model(jobs_api, job_schema, job["id"])
        version = new_ready_version(jobs_api, model)
        wait_for_run(jobs_api, model, version, ("FAILED",))
        mail = smtp.wait_for_mail_to(address)
    body = mail.message.get_content()
    assert "RUN_FAILED" in mail.message["Subject"] or "RUN_FAILED" in body
    assert model in body
    assert "exited with status 4" in body
    # The failed attempt's duration was observed, and the email counted as delivered.
    assert _metric(jobs_api, f"{TASK_SECONDS}_count", outcome="failed") > failed_before
    wait_for(
        lambda: _metric(jobs_api, DELIVERIES, channel="email", outcome="delivered") >= 1,
        "the email delivery counted",
    )
