"""The whole story in a browser: a version waits for approval → the approver approves it in the
inbox → the deployment task sets `champion` → the owner grants a reader EXECUTE on the model's
page → the reader's stock MLflow loads `@champion`."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import mlflow
import numpy as np
import pytest
from playwright.sync_api import Browser, expect

from support.browser import Cast, sign_in
from support.governance import add_principal, audit_records, grant, token_for
from support.http import unique
from support.jobs import NATIVE, create_job, task, wait_for_run
from support.models import fit_tiny_model, log_tiny_model, mlflow_registry
from support.servers import RunningServer

DEPLOY = """\
from mlflow import MlflowClient


def main(model_name, model_version):
    MlflowClient().set_registered_model_alias(model_name, "champion", model_version)
"""


def _job(name: str, code: Path) -> str:
    return textwrap.dedent(
        f"""
        name: {name}
        tasks:
          - name: evaluation
            command: ["{sys.executable}", "-c", "print('auc 0.91 on holdout')"]
          - name: approval
            depends_on: [evaluation]
            approval: {{}}
          - name: deployment
            depends_on: [approval]
            entry_point: deploy_champion:main
            env: {{PYTHONPATH: "{code}"}}
        """
    )


def test_an_approval_in_the_browser_makes_champion_and_a_grant_there_lets_mlflow_load_it(
    browser: Browser,
    web_server: RunningServer,
    admin_api: httpx.Client,
    cast: Cast,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code = tmp_path / "tasks"
    code.mkdir()
    (code / "deploy_champion.py").write_text(DEPLOY)
    job = create_job(admin_api, _job(unique("deploy"), code))
    catalog = cast.model.split(".")[0]
    name = f"{catalog}.ml.scored"
    tiny = fit_tiny_model()
    registry = f"modelcatalog://{urlsplit(web_server.url).netloc}"
    with mlflow_registry(
        registry, tmp_path, monkeypatch, MODELCATALOG_TOKEN=cast.owner.token
    ) as client:
        grant(admin_api, "schema", f"{catalog}.ml", cast.owner.name, "CREATE MODEL")
        client.create_registered_model(name)
        client.update_registered_model(name, deployment_job_id=job["id"])
        # The approver may decide: listed as one of the model's approvers.
        grant(admin_api, "registered_model", name, cast.approver.name, "EXECUTE")
        admin_api.put(
            f"{NATIVE}/models/{name}/deployment-approvers/{cast.approver.name}"
        ).raise_for_status()
        log_tiny_model(tiny, name)
    wait_for_run(admin_api, name, 1, ("APPROVAL",), timeout=120)

    approver = sign_in(browser, web_server, cast.approver)
    expect(approver.locator("header .count")).to_have_text("1")
    approver.goto("/search?deployment=APPROVAL")
    expect(approver.locator("table.listing tbody tr")).to_have_count(1)
    expect(approver.locator("table.listing tbody")).to_contain_text(name)
    approver.click("header >> text=Approvals")
    card = approver.locator("article.approval", has_text=name)
    expect(card.locator("pre.output")).to_contain_text("auc 0.91 on holdout")
    card.locator("input[name=comment]").fill("holdout AUC is fine")
    card.get_by_role("button", name="Approve").click()
    expect(approver.locator(".notice")).to_have_text("Approved: the deployment run goes on.")

    done = wait_for_run(admin_api, name, 1, ("SUCCEEDED", "FAILED"), timeout=120)
    assert done["state"] == "SUCCEEDED", done
    decided = task(done, "approval")
    assert (decided["decided_by"], decided["decided_via"]) == (cast.approver.name, "ui")
    record = next(
        r
        for r in audit_records(admin_api, principal=cast.approver.name, action="decideApprovalTask")
        if r["outcome"] == "ok"
    )
    assert record["parameters"]["comment"] == "holdout AUC is fine"
    approver.goto(f"/m/{name}/v/1")
    approval_task = approver.locator("li.task").filter(
        has=approver.locator("strong", has_text=re.compile("^approval$"))
    )
    expect(approval_task).to_contain_text(f"decided by {cast.approver.name} via ui")

    # The owner grants a newcomer EXECUTE on the model's Permissions tab.
    newcomer = f"newcomer-{unique('u')}@example.com"
    add_principal(admin_api, newcomer)
    grant(admin_api, "catalog", catalog, newcomer, "USE CATALOG", "USE SCHEMA")
    owner = sign_in(browser, web_server, cast.owner)
    owner.goto(f"/m/{name}?tab=permissions")
    owner.get_by_label("Privilege").select_option("EXECUTE")
    owner.get_by_label("Principal").fill(newcomer)
    owner.get_by_role("button", name="Grant").click()
    expect(owner.locator(".notice")).to_have_text("Privileges granted.")
    expect(owner.locator("main")).to_contain_text(newcomer)

    with mlflow_registry(
        registry,
        tmp_path / "newcomer",
        monkeypatch,
        MODELCATALOG_TOKEN=token_for(admin_api, newcomer),
    ) as client:
        assert client.get_model_version_by_alias(name, "champion").version == "1"
        loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
        np.testing.assert_array_equal(loaded.predict(tiny.features), tiny.expected)
