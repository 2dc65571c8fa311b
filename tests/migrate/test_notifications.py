"""Source webhooks and subscriptions as the plan carries them: catalog events, alias filters,
scopes, names, what is not converted and why, and whether a secret is needed."""

from __future__ import annotations

import re

import pytest

from modelcatalog.migrate.extras.model import EmailSubscription, SourceExtras, SourceWebhook
from modelcatalog.migrate.hook_definitions import trigger_body
from modelcatalog.migrate.notifications import plan_notifications, plan_webhooks
from modelcatalog.migrate.plan_model import ModelPlan, Plan


def _plan(stage_aliases: dict[str, str] | None = None) -> Plan:
    plan = Plan(
        source_registry="sqlite:///mlflow.db",
        source_tracking="sqlite:///mlflow.db",
        target_url="http://127.0.0.1:1",
        catalog="main",
        schema="ml",
        stage_aliases=stage_aliases or {"Production": "Production", "Staging": "Staging"},
        stage_tag="stage",
        signature_policy="require",
        tag_overflow="tag",
        overflow_tag="migrated_tags",
    )
    plan.models.append(ModelPlan(source="churn", target="main.ml.churn", comment="", tags={}))
    plan.models.append(ModelPlan(source="fraud", target="risk.models.fraud", comment="", tags={}))
    return plan


def _hook(
    has_secret: bool | None = None,
    target_kind: str = "http",
    events: tuple[str, ...] = ("model_version.created",),
    model: str | None = "churn",
    status: str = "ACTIVE",
    origin: str = "mlflow",
) -> SourceWebhook:
    return SourceWebhook(
        id="hook-1",
        events=events,
        model_name=model,
        target_kind=target_kind,
        target="https://hooks.example.com/deploy" if target_kind == "http" else "job 7",
        status=status,
        has_secret=has_secret,
        origin=origin,
    )


def _definition(hook: SourceWebhook, plan: Plan | None = None) -> dict:
    [definition] = plan_webhooks(plan or _plan(), SourceExtras("mlflow", webhooks=[hook]))
    return definition


@pytest.mark.parametrize(
    ("origin", "source_events", "events", "aliases"),
    [
        ("mlflow", ("registered_model.created",), ["MODEL_CREATED"], []),
        ("mlflow", ("model_version.created",), ["MODEL_VERSION_CREATED"], []),
        ("mlflow", ("model_version_alias.created",), ["MODEL_ALIAS_SET"], []),
        ("databricks", ("MODEL_VERSION_CREATED",), ["MODEL_VERSION_CREATED"], []),
        ("databricks", ("REGISTERED_MODEL_CREATED",), ["MODEL_CREATED"], []),
        (
            "databricks",
            ("MODEL_VERSION_TRANSITIONED_TO_PRODUCTION",),
            ["MODEL_ALIAS_SET"],
            ["champion"],
        ),
        (
            "databricks",
            ("MODEL_VERSION_TRANSITIONED_TO_STAGING",),
            ["MODEL_ALIAS_SET"],
            ["Staging"],
        ),
        (
            "databricks",
            ("MODEL_VERSION_TRANSITIONED_STAGE",),
            ["MODEL_ALIAS_SET"],
            ["Staging", "champion"],
        ),
        ("databricks", ("TRANSITION_REQUEST_CREATED",), ["APPROVAL_REQUESTED"], []),
        (
            "databricks",
            ("TRANSITION_REQUEST_TO_PRODUCTION_CREATED", "MODEL_VERSION_CREATED"),
            ["APPROVAL_REQUESTED", "MODEL_VERSION_CREATED"],
            [],
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_source_events_map_to_catalog_events_and_stage_aliases(
    origin: str, source_events: tuple[str, ...], events: list[str], aliases: list[str]
) -> None:
    plan = _plan({"Production": "champion", "Staging": "Staging"})
    definition = _definition(_hook(events=source_events, origin=origin), plan)
    assert (definition["events"], definition["aliases"]) == (events, aliases)
    assert definition["convert"] is True and "unmapped_events" not in definition


@pytest.mark.parametrize(
    ("source_event", "why"),
    [
        ("model_version_tag.set", "tag changes"),
        ("model_version_alias.deleted", "alias is deleted"),
        ("COMMENT_CREATED", "no version comments"),
        ("MODEL_VERSION_TAG_SET", "tag changes"),
        ("MODEL_VERSION_TRANSITIONED_TO_ARCHIVED", "gives Archived versions no alias"),
    ],
)
def test_events_without_an_equivalent_are_listed_with_the_reason(
    source_event: str, why: str
) -> None:
    definition = _definition(_hook(events=("model_version.created", source_event)))
    assert definition["events"] == ["MODEL_VERSION_CREATED"]
    assert why in definition["unmapped_events"][source_event]
    assert definition["convert"] is True


def test_a_hook_with_no_mappable_event_is_not_converted() -> None:
    definition = _definition(_hook(events=("model_version_tag.set",)))
    assert definition["convert"] is False
    assert "none of its events" in definition["reason"]


def test_a_job_hook_is_not_converted_and_the_reason_says_how_to_define_a_job() -> None:
    definition = _definition(_hook(target_kind="job", origin="databricks"))
    assert definition["convert"] is False
    assert "modelcatalog jobs create" in definition["reason"]
    assert "modelcatalog jobs link JOB main.ml.churn" in definition["reason"]


def test_a_disabled_hook_is_not_converted() -> None:
    definition = _definition(_hook(status="DISABLED"))
    assert definition["convert"] is False and "DISABLED" in definition["reason"]


def test_a_registry_wide_hook_gets_one_trigger_per_target_schema_and_one_destination() -> None:
    hooks = plan_webhooks(_plan(), SourceExtras("mlflow", webhooks=[_hook(model=None)]))
    assert [(d["scope_type"], d["scope"]) for d in hooks] == [
        ("schema", "main.ml"),
        ("schema", "risk.models"),
    ]
    assert len({d["trigger"] for d in hooks}) == 2
    assert len({d["destination"] for d in hooks}) == 1


def test_names_are_deterministic_valid_and_fit_a_trigger_name() -> None:
    hook = SourceWebhook(
        id="Ünïcode id / with spaces." * 5,
        events=("model_version.created",),
        model_name="churn",
        target_kind="http",
        target="https://hooks.example.com/x",
        status="ACTIVE",
        has_secret=None,
        name="Notify the on-call team when anything happens, in detail",
    )
    first, again = _definition(hook), _definition(hook)
    assert first == again
    for name in (first["destination"], first["trigger"]):
        assert re.fullmatch(r"[a-z0-9_-]{1,56}", name), name
    body = trigger_body(first)
    assert (body["min_time_between_triggers_seconds"], body["wait_after_last_change_seconds"]) == (
        0,
        0,
    )
    assert body["destinations"] == [first["destination"]] and body["scope"] == "main.ml.churn"


def test_a_webhook_with_a_secret_needs_a_new_one_named_by_an_environment_variable() -> None:
    definition = _definition(_hook(True))
    assert definition["needs_secret"] is True and definition["secret_env"] is None
    assert "environment variable" in definition["secret_env_note"]
    assert "secret_note" not in definition


def test_a_webhook_known_to_have_no_secret_needs_none() -> None:
    definition = _definition(_hook(False))
    assert definition["needs_secret"] is False
    assert "secret_note" not in definition and "secret_env_note" not in definition


@pytest.mark.parametrize(
    ("target_kind", "words"),
    [("http", "signed its calls with a secret"), ("job", "access token")],
    ids=["webhook", "job"],
)
def test_a_hook_whose_source_does_not_say_may_need_a_secret_and_the_plan_says_so(
    target_kind: str, words: str
) -> None:
    definition = _definition(_hook(None, target_kind))
    assert definition["needs_secret"] is True
    assert "does not say" in definition["secret_note"] and words in definition["secret_note"]


def test_an_email_subscription_becomes_an_email_destination_and_a_model_trigger() -> None:
    extras = SourceExtras(
        "databricks",
        email_subscriptions=[
            EmailSubscription("ana@example.com", "churn", None, "SUBSCRIBED"),
            EmailSubscription("bo@example.com", "churn", "3", "SUBSCRIBED"),
            EmailSubscription("cy@example.com", "churn", None, "UNSUBSCRIBED"),
        ],
    )
    ana, bo, cy = plan_notifications(_plan(), extras)
    assert ana["events"] == ["APPROVAL_REQUESTED", "MODEL_ALIAS_SET", "MODEL_VERSION_CREATED"]
    assert ana["aliases"] == ["Production", "Staging"] and ana["scope"] == "main.ml.churn"
    assert ana["convert"] is True and ana["destination"].startswith("migrated-email-ana-")
    assert "version 3 only" in bo["scope_note"]
    assert cy["convert"] is False and "unsubscribed" in cy["reason"]
