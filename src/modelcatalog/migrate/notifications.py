"""Webhooks and e-mail subscriptions as target definitions the plan carries.

The catalog's triggers and notifications do not exist yet, so the run does not create them; the
plan records what each one becomes (events in the catalog's words, target, model), so nothing is
lost and they can be created once triggers exist.
"""

from __future__ import annotations

from typing import Any

from modelcatalog.migrate.plan_model import Plan

#: Source registry events, as MLflow and Databricks spell them, to the catalog's trigger events.
EVENTS = {
    "registered_model.created": "model_created",
    "registered_model_created": "model_created",
    "model_version.created": "version_ready",
    "model_version_created": "version_ready",
    "model_version_alias.created": "alias_set",
    "model_version_transitioned_stage": "alias_set",
    "model_version_transitioned_to_production": "alias_set",
    "model_version_transitioned_to_staging": "alias_set",
    "model_version_transitioned_to_archived": "alias_set",
    "transition_request_to_production_created": "alias_set",
    "transition_request_to_staging_created": "alias_set",
}

#: What the plan says, by kind, of a hook whose source does not tell whether it had a secret.
SECRET_UNKNOWN = {
    "webhook": "the source does not say whether this webhook signed its calls with a secret; "
    "secrets are never copied, so set a new one (and give it to the receiver) if it checks them",
    "job": "the source does not say whether this trigger started its job with an access token; "
    "tokens are never copied, so give it one if the job runs in another workspace",
}


def _events(events: tuple[str, ...]) -> tuple[list[str], list[str]]:
    mapped, unmapped = set(), []
    for event in events:
        target = EVENTS.get(event.lower())
        if target:
            mapped.add(target)
        else:
            unmapped.append(event)
    return sorted(mapped), unmapped


def plan_webhooks(plan: Plan, extras: Any) -> list[dict[str, Any]]:
    """One target definition per source webhook whose model is migrated (or registry-wide)."""
    targets = {m.source: m.target for m in plan.models}
    definitions = []
    for hook in getattr(extras, "webhooks", None) or []:
        if hook.model_name is not None and hook.model_name not in targets:
            continue
        events, unmapped = _events(tuple(hook.events))
        kind = "webhook" if hook.target_kind == "http" else "job"
        definition: dict[str, Any] = {
            "source_id": hook.id,
            "origin": hook.origin,
            "model": targets.get(hook.model_name) if hook.model_name else None,
            "events": events,
            "kind": kind,
            "target": hook.target,
            "status": hook.status,
            # Unknown is not "none": MLflow and Databricks never return secrets, and a receiver
            # that checks signatures refuses every call until it is given a new one.
            "needs_secret": hook.has_secret is not False,
            "applied": False,
        }
        if hook.has_secret is None:
            definition["secret_note"] = SECRET_UNKNOWN[kind]
        if unmapped:
            definition["unmapped_events"] = unmapped
        definitions.append(definition)
    return sorted(definitions, key=lambda d: (str(d["model"]), str(d["source_id"])))


def plan_notifications(plan: Plan, extras: Any) -> list[dict[str, Any]]:
    """One e-mail notification per subscription on a migrated model."""
    targets = {m.source: m.target for m in plan.models}
    found = []
    for sub in getattr(extras, "email_subscriptions", None) or []:
        if sub.model_name not in targets:
            continue
        found.append(
            {
                "kind": "email",
                "subscriber": sub.subscriber,
                "model": targets[sub.model_name],
                "version": sub.version,
                "status": sub.status,
                "applied": False,
            }
        )
    return sorted(found, key=lambda n: (n["model"], n["subscriber"], str(n["version"])))
