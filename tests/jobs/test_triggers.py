"""Model event triggers against a real server: batching and throttling measured by a real webhook
receiver, alias filters, scopes, who may create a trigger, bad input, and a trigger that starts a
deployment run."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support.governance import add_principal, grant, token_for
from support.http import error_of, ok, unique, wait_for
from support.jobs import NATIVE, create_job, runs_of
from support.receivers import ReceivedRequest, WebhookReceiver
from support.servers import RunningServer
from support.versions import create_version, finalize, put_file, ready_version

UC = "/api/2.1/unity-catalog"
TRIGGERS = f"{NATIVE}/triggers"
DESTINATIONS = f"{NATIVE}/notification-destinations"
SIGNED_MLMODEL = """\
artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
signature:
  inputs: '[{"type": "double", "name": "x", "required": true}]'
  outputs: '[{"type": "long", "required": true}]'
"""


class _ArrivalLog(list):
    """The receiver's request list, noting the moment each request arrived (epoch ms)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived_at: list[float] = []

    def append(self, request: ReceivedRequest) -> None:
        self.arrived_at.append(time.time() * 1000)
        super().append(request)


class TimedReceiver(WebhookReceiver):
    """A webhook receiver that also records when each request arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = _ArrivalLog()


@pytest.fixture(scope="module")
def admin(job_server: RunningServer) -> Iterator[httpx.Client]:
    """The job server's admin (module-wide, for the module's receiver and destination)."""
    with httpx.Client(base_url=job_server.url, headers=job_server.headers(), timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def receiver() -> Iterator[TimedReceiver]:
    with TimedReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def destination(admin: httpx.Client, receiver: TimedReceiver) -> str:
    """A webhook destination pointing at the local receiver."""
    name = unique("hook")
    ok(admin.post(DESTINATIONS, json={"name": name, "kind": "webhook", "address": receiver.url}))
    return name


@pytest.fixture
def schema(job_schema: str) -> str:
    """A fresh `catalog.schema`, so tests never see each other's models."""
    return job_schema


def new_model(admin: httpx.Client, schema: str, name: str = "churn") -> str:
    catalog, schema_name = schema.split(".")
    ok(
        admin.post(
            f"{UC}/models", json={"catalog_name": catalog, "schema_name": schema_name, "name": name}
        )
    )
    return f"{schema}.{name}"


def create_trigger(admin: httpx.Client, **body: Any) -> dict:
    body.setdefault("name", unique("trg"))
    return ok(admin.post(TRIGGERS, json=body))


def batches_of(receiver: TimedReceiver, trigger: str) -> list[tuple[float, dict]]:
    """(arrival time in ms, notification data) of every delivery the trigger caused."""
    return [(arrived, body["data"]) for arrived, body in deliveries_of(receiver, trigger)]


def deliveries_of(receiver: TimedReceiver, trigger: str) -> list[tuple[float, dict]]:
    """(arrival time in ms, whole webhook body) of every delivery the trigger caused."""
    found = []
    requests = list(receiver.requests)
    times = receiver.requests.arrived_at[: len(requests)]
    for arrived, request in zip(times, requests, strict=True):
        body = json.loads(request.body)
        if (body.get("data") or {}).get("trigger") == trigger:
            found.append((arrived, body))
    return found


def pending_version(admin: httpx.Client, full_name: str) -> str:
    """A version with its files uploaded, waiting only for its finalize."""
    version = create_version(admin, full_name)
    put_file(admin, full_name, version, "MLmodel", SIGNED_MLMODEL)
    return version


# Batching and throttling ------------------------------------------------------------------


def test_versions_ready_within_the_wait_fire_as_one_batch_after_the_last_change(
    admin: httpx.Client, receiver: TimedReceiver, destination: str, schema: str
) -> None:
    model = new_model(admin, schema)
    trigger = create_trigger(
        admin,
        scope_type="registered_model",
        scope=model,
        events=["MODEL_VERSION_READY"],
        wait_after_last_change_seconds=2,
        destinations=[destination],
    )["name"]
    # Uploads first, so that the three READY events come from three quick finalizes.
    versions = [pending_version(admin, model) for _ in range(3)]
    for version in versions:
        assert ok(finalize(admin, model, version))["model_version"]["status"] == "READY"

    arrived, data = wait_for(lambda: batches_of(receiver, trigger), "the batch")[0]
    changes = data["changes"]
    assert [c["version"] for c in changes] == versions
    assert {c["event"] for c in changes} == {"MODEL_VERSION_READY"}
    assert arrived >= max(c["timestamp"] for c in changes) + 2000
    shown = ok(admin.get(f"{TRIGGERS}/{trigger}"))
    assert shown["pending_changes"] == 0 and shown["last_fired_at"] is not None
    assert len(batches_of(receiver, trigger)) == 1


def test_a_change_after_a_firing_waits_for_the_min_time_between_triggers(
    admin: httpx.Client, receiver: TimedReceiver, destination: str, schema: str
) -> None:
    model = new_model(admin, schema)
    trigger = create_trigger(
        admin,
        scope_type="registered_model",
        scope=model,
        events=["MODEL_VERSION_READY"],
        wait_after_last_change_seconds=0,
        min_time_between_triggers_seconds=3,
        destinations=[destination],
    )["name"]
    ready_version(admin, model, SIGNED_MLMODEL)
    wait_for(lambda: batches_of(receiver, trigger), "the first batch")
    first_fired = ok(admin.get(f"{TRIGGERS}/{trigger}"))["last_fired_at"]

    second = ready_version(admin, model, SIGNED_MLMODEL)
    waiting = wait_for(
        lambda: (view := ok(admin.get(f"{TRIGGERS}/{trigger}")))["pending_changes"] and view,
        "the change to wait in the batch",
    )
    arrived, data = wait_for(
        lambda: batches_of(receiver, trigger)[1:], "the second batch", timeout=30
    )[0]
    assert [c["version"] for c in data["changes"]] == [second]
    assert arrived >= first_fired + 3000
    assert waiting["pending_changes"] == 1 and waiting["last_fired_at"] == first_fired


def test_only_the_named_alias_fires_an_alias_trigger(
    admin: httpx.Client, receiver: TimedReceiver, destination: str, schema: str
) -> None:
    model = new_model(admin, schema)
    trigger = create_trigger(
        admin,
        scope_type="registered_model",
        scope=model,
        events=["MODEL_ALIAS_SET"],
        aliases=["CHAMPION"],  # aliases compare case-insensitively
        wait_after_last_change_seconds=0,
        destinations=[destination],
    )["name"]
    version = ready_version(admin, model, SIGNED_MLMODEL)
    ok(admin.put(f"{UC}/models/{model}/aliases/challenger", json={"version_num": int(version)}))
    ok(admin.put(f"{UC}/models/{model}/aliases/champion", json={"version_num": int(version)}))

    wait_for(lambda: batches_of(receiver, trigger), "the champion batch")
    # Events are handled in order: the challenger's came first, so by now it was decided on.
    changes = [c for _, data in batches_of(receiver, trigger) for c in data["changes"]]
    assert [(c["event"], c["alias"]) for c in changes] == [("MODEL_ALIAS_SET", "champion")]


def test_a_schema_trigger_sees_the_models_of_its_schema_only(
    admin: httpx.Client, receiver: TimedReceiver, destination: str, schema: str
) -> None:
    catalog = schema.split(".")[0]
    ok(admin.post(f"{UC}/schemas", json={"name": "elsewhere", "catalog_name": catalog}))
    trigger = create_trigger(
        admin,
        scope_type="schema",
        scope=schema,
        events=["MODEL_CREATED", "MODEL_VERSION_READY"],
        wait_after_last_change_seconds=2,
        destinations=[destination],
    )["name"]
    outside = new_model(admin, f"{catalog}.elsewhere", "outside")
    ready_version(admin, outside, SIGNED_MLMODEL)
    inside = new_model(admin, schema, "inside")
    version = ready_version(admin, inside, SIGNED_MLMODEL)

    _, data = wait_for(lambda: batches_of(receiver, trigger), "the schema's batch")[0]
    seen = [(c["event"], c["model_name"], c.get("version")) for c in data["changes"]]
    assert seen == [("MODEL_CREATED", inside, None), ("MODEL_VERSION_READY", inside, version)]
    assert data["trigger"] == trigger
    # Two kinds of change in one batch: sent as MODEL_EVENTS, "changed" in MLflow's envelope.
    assert deliveries_of(receiver, trigger)[0][1]["action"] == "changed"


# Who may create a trigger -------------------------------------------------------------------


@pytest.fixture
def user(admin: httpx.Client) -> Iterator[tuple[str, httpx.Client]]:
    """A new user without any grant, and a client acting as them."""
    name = unique("user")
    add_principal(admin, name)
    with httpx.Client(
        base_url=admin.base_url,
        headers={"Authorization": f"Bearer {token_for(admin, name)}"},
        timeout=60,
    ) as client:
        yield name, client


def _watch(client: httpx.Client, scope_type: str, scope: str, destination: str) -> httpx.Response:
    return client.post(
        TRIGGERS,
        json={
            "name": unique("trg"),
            "scope_type": scope_type,
            "scope": scope,
            "events": ["MODEL_VERSION_READY"],
            "destinations": [destination],
        },
    )


def test_a_model_trigger_needs_execute_on_the_model(
    admin: httpx.Client, user: tuple[str, httpx.Client], destination: str, schema: str
) -> None:
    name, client = user
    model = new_model(admin, schema)
    catalog = schema.split(".")[0]
    assert (
        error_of(_watch(client, "registered_model", model, destination), 404)["error_code"]
        == "NOT_FOUND"
    )
    grant(admin, "catalog", catalog, name, "USE CATALOG", "USE SCHEMA")
    grant(admin, "registered_model", model, name, "APPLY TAG")  # sees it, may not read it
    refused = error_of(_watch(client, "registered_model", model, destination), 403)
    assert refused["error_code"] == "PERMISSION_DENIED"
    assert f"EXECUTE on registered_model '{model}'" in refused["message"]

    grant(admin, "registered_model", model, name, "EXECUTE")
    created = ok(_watch(client, "registered_model", model, destination))
    assert created["owner"] == name and created["scope"] == model


def test_a_schema_or_catalog_trigger_needs_execute_there(
    admin: httpx.Client, user: tuple[str, httpx.Client], destination: str, schema: str
) -> None:
    name, client = user
    catalog = schema.split(".")[0]
    grant(admin, "catalog", catalog, name, "USE CATALOG", "USE SCHEMA")
    for scope_type, scope in (("schema", schema), ("catalog", catalog)):
        refused = error_of(_watch(client, scope_type, scope, destination), 403)
        assert f"EXECUTE on {scope_type} '{scope}'" in refused["message"], refused
    grant(admin, "schema", schema, name, "EXECUTE")
    assert ok(_watch(client, "schema", schema, destination))["scope_type"] == "schema"
    assert error_of(_watch(client, "catalog", catalog, destination), 403)
    grant(admin, "catalog", catalog, name, "EXECUTE")
    assert ok(_watch(client, "catalog", catalog, destination))["scope"] == catalog


def test_only_its_owner_or_an_admin_sees_and_deletes_a_trigger(
    admin: httpx.Client, user: tuple[str, httpx.Client], destination: str, schema: str
) -> None:
    _, client = user
    model = new_model(admin, schema)
    trigger = create_trigger(
        admin,
        scope_type="registered_model",
        scope=model,
        events=["MODEL_VERSION_READY"],
        destinations=[destination],
    )["name"]
    assert error_of(client.get(f"{TRIGGERS}/{trigger}"), 404)["error_code"] == "NOT_FOUND"
    assert error_of(client.delete(f"{TRIGGERS}/{trigger}"), 404)["error_code"] == "NOT_FOUND"
    assert trigger not in [t["name"] for t in ok(client.get(TRIGGERS))["triggers"]]
    assert trigger in [t["name"] for t in ok(admin.get(TRIGGERS))["triggers"]]
    ok(admin.delete(f"{TRIGGERS}/{trigger}"))
    assert error_of(admin.get(f"{TRIGGERS}/{trigger}"), 404)["message"] == (
        f"Trigger '{trigger}' does not exist."
    )


# Bad input ---------------------------------------------------------------------------------

BAD_INPUT = [
    pytest.param({"events": []}, "events", "'events' is required", id="no-events"),
    pytest.param(
        {"events": ["MODEL_DELETED"]},
        "events",
        "'events' has 'MODEL_DELETED'",
        id="unknown-event",
    ),
    pytest.param(
        {"events": ["MODEL_VERSION_READY"], "aliases": ["champion"]},
        "aliases",
        "'aliases' is only allowed with the MODEL_ALIAS_SET event",
        id="aliases-without-alias-event",
    ),
    pytest.param(
        {"events": ["MODEL_ALIAS_SET"], "aliases": ["latest"]},
        "aliases",
        "'latest' and 'v<number>' are reserved",
        id="reserved-alias",
    ),
    pytest.param(
        {"wait_after_last_change_seconds": 86401},
        "wait_after_last_change_seconds",
        "'wait_after_last_change_seconds' is 86401: expected whole seconds from 0 to 86400.",
        id="wait-too-long",
    ),
    pytest.param(
        {"min_time_between_triggers_seconds": 1.5},
        "min_time_between_triggers_seconds",
        "'min_time_between_triggers_seconds' is 1.5: expected whole seconds from 0 to 86400.",
        id="fractional-seconds",
    ),
    pytest.param(
        {"min_time_between_triggers_seconds": "\u00b2"},
        "min_time_between_triggers_seconds",
        "expected whole seconds from 0 to 86400",
        id="superscript-digit",
    ),
    pytest.param(
        # "ı".upper() is "I": only the event names themselves, in any ASCII case, are read.
        {"events": ["model_version_\u0131ready"]},
        "events",
        "'events' has 'model_version_\u0131ready'",
        id="event-in-another-script",
    ),
    pytest.param(
        {"min_time_between_triggers_seconds": -1},
        "min_time_between_triggers_seconds",
        "expected whole seconds from 0 to 86400",
        id="negative-seconds",
    ),
    pytest.param(
        {"scope_type": "table"},
        "scope_type",
        "'scope_type' is 'table'; allowed: catalog, schema, registered_model.",
        id="unknown-scope-type",
    ),
    pytest.param(
        {"scope_type": "schema"},
        "scope",
        "expected a 2-level name 'catalog.schema'",
        id="scope-of-the-wrong-shape",
    ),
    pytest.param(
        {"destinations": None},
        "job",
        "A trigger has exactly one action: 'job' (a deployment job's name or id) or "
        "'destinations' (notification destination names); neither was given.",
        id="no-action",
    ),
    pytest.param(
        {"job": "some-job"},
        "destinations",
        "both were given",
        id="two-actions",
    ),
    pytest.param(
        {"name": "x" * 57},
        "name",
        "'name' is 57 characters long; a trigger's name has at most 56.",
        id="name-too-long",
    ),
    pytest.param({"name": "a.b"}, "name", "'name' is 'a.b'", id="name-with-a-dot"),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_INPUT)
def test_bad_input_is_refused_naming_the_field_and_what_is_allowed(
    admin: httpx.Client, destination: str, schema: str, change: dict, field: str, message: str
) -> None:
    model = new_model(admin, schema)
    body = {
        "name": unique("trg"),
        "scope_type": "registered_model",
        "scope": model,
        "events": ["MODEL_VERSION_READY"],
        "destinations": [destination],
        **change,
    }
    refused = error_of(admin.post(TRIGGERS, json=body), 400)
    assert refused["error_code"] == "INVALID_ARGUMENT"
    assert message in refused["message"], refused["message"]
    assert field in refused["message"]


def test_seconds_are_read_as_numbers_whole_floats_or_digits(
    admin: httpx.Client, destination: str, schema: str
) -> None:
    model = new_model(admin, schema)
    body = {"scope": model, "events": [" model_version_ready "], "destinations": destination}
    created = create_trigger(
        admin,
        **body,
        min_time_between_triggers_seconds=30.0,
        wait_after_last_change_seconds=" 0045 ",
    )
    assert created["events"] == ["MODEL_VERSION_READY"]
    assert created["min_time_between_triggers_seconds"] == 30
    assert created["wait_after_last_change_seconds"] == 45


def test_a_job_trigger_may_not_listen_to_run_events(admin: httpx.Client, schema: str) -> None:
    model = new_model(admin, schema)
    refused = error_of(
        admin.post(
            TRIGGERS,
            json={
                "name": unique("trg"),
                "scope": model,
                "events": ["RUN_FAILED"],
                "job": "any-job",
            },
        ),
        400,
    )
    assert refused["message"] == (
        "'events' has 'RUN_FAILED', which a trigger that starts deployment runs cannot listen "
        "to; allowed: MODEL_CREATED, MODEL_VERSION_READY, MODEL_ALIAS_SET."
    )


def test_unknown_scope_job_and_destination_are_not_found(
    admin: httpx.Client, destination: str, schema: str
) -> None:
    model = new_model(admin, schema)
    base = {"scope": model, "events": ["MODEL_VERSION_READY"]}
    cases = [
        ({"scope": f"{schema}.nothing", "destinations": [destination]}, "NOT_FOUND", 404),
        ({"job": "no-such-job"}, "NOT_FOUND", 404),
        ({"destinations": ["no-such-destination"]}, "INVALID_ARGUMENT", 400),
    ]
    for change, code, status in cases:
        body = {"name": unique("trg"), **base, **change}
        refused = error_of(admin.post(TRIGGERS, json=body), status)
        assert refused["error_code"] == code, refused
    missing = error_of(
        admin.post(TRIGGERS, json={"name": unique("trg"), **base, **cases[0][0]}), 404
    )
    assert missing["message"] == f"Registered model '{schema}.nothing' does not exist."


def test_a_trigger_name_is_unique(admin: httpx.Client, destination: str, schema: str) -> None:
    model = new_model(admin, schema)
    body = {"scope": model, "events": ["MODEL_VERSION_READY"], "destinations": [destination]}
    name = create_trigger(admin, **body)["name"]
    refused = error_of(admin.post(TRIGGERS, json={"name": name.upper(), **body}), 409)
    assert refused["message"] == f"Trigger '{name}' already exists."


# Starting deployment runs --------------------------------------------------------------------

APPROVAL_JOB = """\
name: {name}
tasks:
  - name: approval
    approval: {{}}
"""


@pytest.fixture(scope="module")
def job(admin: httpx.Client) -> str:
    """A deployment job of one approval task (nothing runs on a worker)."""
    name = unique("job")
    create_job(admin, APPROVAL_JOB.format(name=name))
    return name


def test_a_job_trigger_starts_one_run_of_the_newest_ready_version_per_model(
    admin: httpx.Client, schema: str, job: str
) -> None:
    model = new_model(admin, schema)
    trigger = create_trigger(
        admin,
        scope_type="schema",
        scope=schema,
        events=["MODEL_VERSION_READY"],
        wait_after_last_change_seconds=1,
        job=job,
    )
    assert trigger["job"] == job and trigger["destinations"] == []
    versions = [pending_version(admin, model) for _ in range(2)]
    for version in versions:
        ok(finalize(admin, model, version))

    run = wait_for(lambda: runs_of(admin, model), "the trigger's run")[0]
    assert run["version"] == int(versions[-1])
    assert run["cause"] == f"trigger:{trigger['name']}"
    assert run["job_name"] == job
    assert len(runs_of(admin, model)) == 1


def test_a_job_trigger_needs_ownership_or_manage_of_its_scope(
    admin: httpx.Client, user: tuple[str, httpx.Client], schema: str, job: str
) -> None:
    name, client = user
    model = new_model(admin, schema)
    grant(admin, "catalog", schema.split(".")[0], name, "USE CATALOG", "USE SCHEMA", "EXECUTE")
    body = {"name": unique("trg"), "scope": model, "events": ["MODEL_VERSION_READY"], "job": job}
    refused = error_of(client.post(TRIGGERS, json=body), 403)
    assert "ownership of or MANAGE on registered_model" in refused["message"]
    grant(admin, "registered_model", model, name, "MANAGE")
    assert ok(client.post(TRIGGERS, json=body))["job"] == job
