"""What the deployment job tests share: creating jobs and models, waiting for run states."""

from __future__ import annotations

import textwrap

import httpx

from support.http import ok, unique, wait_for
from support.versions import ready_version

NATIVE = "/api/modelcatalog"

#: The engine of a test server: quick to notice work, quick to take a silent task for lost.
QUICK_ENGINE = {
    "MODELCATALOG_JOB_POLL_SECONDS": "0.1",
    "MODELCATALOG_JOB_LEASE_SECONDS": "3",
    "MODELCATALOG_ALLOW_HTTP_WEBHOOKS": "1",
    "MODELCATALOG_ALLOW_PRIVATE_WEBHOOKS": "1",
    "MODELCATALOG_DELIVERY_BACKOFF_SECONDS": "0.05",
}


def create_job(api: httpx.Client, yaml_text: str) -> dict:
    """Create a deployment job from YAML (dedented) and return it."""
    return ok(api.post(f"{NATIVE}/jobs", json={"definition": textwrap.dedent(yaml_text)}))


def linked_model(api: httpx.Client, schema: str, job_id: str | None) -> str:
    """A new model in `schema`, linked to a job through the UC model update."""
    full_name = f"{schema}.{unique('m')}"
    catalog, schema_name, model = full_name.split(".")
    ok(
        api.post(
            "/api/2.1/unity-catalog/models",
            json={"catalog_name": catalog, "schema_name": schema_name, "name": model},
        )
    )
    if job_id:
        ok(
            api.patch(
                f"/api/2.1/unity-catalog/models/{full_name}", json={"deployment_job_id": job_id}
            )
        )
    return full_name


def new_ready_version(api: httpx.Client, full_name: str) -> int:
    """A READY version (signed MLmodel, no real model files): starts the linked job's run."""
    return int(ready_version(api, full_name))


def runs_of(api: httpx.Client, full_name: str, version: int | None = None) -> list[dict]:
    params = {"version": version} if version is not None else {}
    return ok(api.get(f"{NATIVE}/models/{full_name}/deployment-runs", params=params))["runs"]


def run(api: httpx.Client, run_id: str) -> dict:
    return ok(api.get(f"{NATIVE}/deployment-runs/{run_id}"))


def task(run_view: dict, name: str) -> dict:
    return next(t for t in run_view["tasks"] if t["name"] == name)


def wait_for_run(
    api: httpx.Client, full_name: str, version: int, states: tuple[str, ...], timeout: float = 60
) -> dict:
    """The version's newest run once it is in one of `states`."""

    def probe() -> dict | None:
        found = runs_of(api, full_name, version)
        if found and found[0]["state"] in states:
            return run(api, found[0]["run_id"])
        return None

    return wait_for(probe, f"a run of {full_name} v{version} in {states}", timeout)
