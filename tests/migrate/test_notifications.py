"""Source webhooks as the plan carries them: events, targets and whether a secret is needed."""

from __future__ import annotations

import pytest

from modelcatalog.migrate.extras.model import SourceExtras, SourceWebhook
from modelcatalog.migrate.notifications import plan_webhooks
from modelcatalog.migrate.plan_model import ModelPlan, Plan


def _plan() -> Plan:
    plan = Plan(
        source_registry="sqlite:///mlflow.db",
        source_tracking="sqlite:///mlflow.db",
        target_url="http://127.0.0.1:1",
        catalog="main",
        schema="ml",
        stage_aliases={"Production": "Production"},
        stage_tag="stage",
        signature_policy="require",
        tag_overflow="tag",
        overflow_tag="migrated_tags",
    )
    plan.models.append(ModelPlan(source="churn", target="main.ml.churn", comment="", tags={}))
    return plan


def _hook(has_secret: bool | None, target_kind: str = "http") -> SourceWebhook:
    return SourceWebhook(
        id="hook-1",
        events=("model_version.created",),
        model_name="churn",
        target_kind=target_kind,
        target="https://hooks.example.com/deploy" if target_kind == "http" else "job 7",
        status="ACTIVE",
        has_secret=has_secret,
    )


def _definition(hook: SourceWebhook) -> dict:
    [definition] = plan_webhooks(_plan(), SourceExtras(source_kind="mlflow", webhooks=[hook]))
    return definition


def test_a_webhook_with_a_secret_needs_a_new_one() -> None:
    definition = _definition(_hook(True))
    assert definition["needs_secret"] is True
    assert "secret_note" not in definition


def test_a_webhook_known_to_have_no_secret_needs_none() -> None:
    definition = _definition(_hook(False))
    assert definition["needs_secret"] is False
    assert "secret_note" not in definition


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
