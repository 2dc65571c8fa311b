"""Webhooks and e-mail subscriptions of the source as the catalog's notification destinations and
triggers: planning the definitions (deterministic and secret-free). `migrate run` creates them
(`hook_conversion`) and `migrate verify` compares them (`hook_definitions`).

A source webhook becomes a webhook destination (its URL, without credentials or query string)
and a notification trigger on the migrated model, or on each target schema for a registry-wide
hook, throttled 0/0 so that each event gives one notification, as the source's hooks did. An
e-mail subscription becomes an e-mail destination and a trigger on its model. Source events map
to the catalog's (`EVENTS`); an event without an equivalent is listed with the reason. A hook that
starts a job is not converted: the catalog runs deployment jobs that are defined in YAML.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from modelcatalog.domain import events as ev
from modelcatalog.migrate.plan_model import Plan

#: Source registry events, as MLflow and Databricks spell them, to the catalog's event and the
#: stage whose alias it is restricted to ("*": any alias; "stages": every stage the policy aliases).
EVENTS: dict[str, tuple[str, str | None]] = {
    "registered_model.created": (ev.MODEL_CREATED, None),
    "model_version.created": (ev.MODEL_VERSION_CREATED, None),
    "model_version_alias.created": (ev.MODEL_ALIAS_SET, "*"),
    "registered_model_created": (ev.MODEL_CREATED, None),
    "model_version_created": (ev.MODEL_VERSION_CREATED, None),
    "model_version_transitioned_stage": (ev.MODEL_ALIAS_SET, "stages"),
    "model_version_transitioned_to_production": (ev.MODEL_ALIAS_SET, "Production"),
    "model_version_transitioned_to_staging": (ev.MODEL_ALIAS_SET, "Staging"),
    "model_version_transitioned_to_archived": (ev.MODEL_ALIAS_SET, "Archived"),
    "transition_request_created": (ev.APPROVAL_REQUESTED, None),
    "transition_request_to_production_created": (ev.APPROVAL_REQUESTED, None),
    "transition_request_to_staging_created": (ev.APPROVAL_REQUESTED, None),
    "transition_request_to_archived_created": (ev.APPROVAL_REQUESTED, None),
}
#: Why a source event has no catalog equivalent, by the words its name contains.
NO_EQUIVALENT = (
    ("comment", "the catalog has no version comments (they go into the version's description)"),
    ("tag", "the catalog sends no events for tag changes"),
    ("alias.deleted", "the catalog sends no event when an alias is deleted"),
)
APPROVAL_NOTE = (
    "transition requests become approval requests: APPROVAL_REQUESTED fires when an approval "
    "task of the model's deployment job waits, so link a job with an approval task to the model"
)
#: E-mail subscribers heard of new versions, stage changes and transition requests.
SUBSCRIPTION_EVENTS = ("model_version_created", "model_version_transitioned_stage",
                       "transition_request_created")  # fmt: skip

#: What the plan says, by kind, of a hook whose source does not tell whether it had a secret.
SECRET_UNKNOWN = {
    "webhook": "the source does not say whether this webhook signed its calls with a secret; "
    "secrets are never copied, so set a new one (and give it to the receiver) if it checks them",
    "job": "the source does not say whether this trigger started its job with an access token; "
    "tokens are never copied, so give it one if the job runs in another workspace",
}
SECRET_ENV_NOTE = (
    "set secret_env to the name of an environment variable holding a new signing secret; "
    "`migrate run` reads it and the destination signs its calls with it (the plan never holds it)"
)


# Planning -----------------------------------------------------------------------------------


def _slug(text: str, limit: int) -> str:
    clean = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")
    return clean[:limit].strip("-_") or "hook"


def _digest(*parts: object) -> str:
    return hashlib.sha256("\0".join(str(p) for p in parts).encode()).hexdigest()[:10]


def _map_events(
    source_events: tuple[str, ...], stage_aliases: dict[str, str]
) -> tuple[list[str], list[str], dict[str, str]]:
    """(catalog events, alias filter, {source event: why it has no equivalent})."""
    by_stage = {stage.lower(): alias for stage, alias in stage_aliases.items()}
    kinds: set[str] = set()
    aliases: set[str] = set()
    any_alias = False
    unmapped: dict[str, str] = {}
    for event in source_events:
        kind, stage = EVENTS.get(event.lower(), (None, None))
        if kind is None:
            unmapped[event] = next(
                (why for key, why in NO_EQUIVALENT if key in event.lower()),
                "the catalog has no equivalent event",
            )
            continue
        if stage == "*":
            any_alias = True
        elif stage == "stages":
            if not by_stage:
                unmapped[event] = "the stage policy gives no stage an alias"
                continue
            aliases.update(by_stage.values())
        elif stage is not None:
            if stage.lower() not in by_stage:
                unmapped[event] = f"the stage policy gives {stage} versions no alias"
                continue
            aliases.add(by_stage[stage.lower()])
        kinds.add(kind)
    chosen = [] if any_alias or ev.MODEL_ALIAS_SET not in kinds else sorted(aliases)
    return sorted(kinds), chosen, unmapped


def _scopes(plan: Plan, model: str | None) -> list[tuple[str, str]]:
    """The migrated model, or each target schema of the plan for a registry-wide hook."""
    if model is not None:
        return [("registered_model", model)]
    schemas = sorted({m.target.rsplit(".", 1)[0] for m in plan.models})
    return [("schema", s) for s in schemas]


def _not_converted(kind: str, hook: Any, events: list[str], target: str | None) -> str | None:
    if kind == "job":
        where = target or "every model"
        return (
            f"starts {hook.target}, which the catalog cannot do: a deployment job is defined in "
            "YAML (`modelcatalog jobs create job.yaml`) and then linked to the model "
            f"(`modelcatalog jobs link JOB {where}`: each new READY version starts a run), or "
            f"started by a trigger (`modelcatalog triggers create NAME --scope {where} --on "
            "MODEL_ALIAS_SET --job JOB`)"
        )
    if str(hook.status).upper() != "ACTIVE":
        return f"is {hook.status} in the source; create it by hand if it is still wanted"
    if not events:
        return "none of its events has an equivalent in the catalog"
    return None


def plan_webhooks(plan: Plan, extras: Any) -> list[dict[str, Any]]:
    """One definition per source webhook and scope whose model is migrated (or registry-wide)."""
    targets = {m.source: m.target for m in plan.models}
    definitions = []
    for hook in getattr(extras, "webhooks", None) or []:
        if hook.model_name is not None and hook.model_name not in targets:
            continue
        model = targets.get(hook.model_name) if hook.model_name else None
        events, aliases, unmapped = _map_events(tuple(hook.events), plan.stage_aliases)
        kind = "webhook" if hook.target_kind == "http" else "job"
        label = _slug(hook.name or hook.id, 24)
        for scope_type, scope in _scopes(plan, model):
            definition: dict[str, Any] = {
                "source_id": hook.id,
                "origin": hook.origin,
                "name": hook.name,
                "model": model,
                "kind": kind,
                "target": hook.target,
                "status": hook.status,
                "source_events": list(hook.events),
                "events": events,
                "aliases": aliases,
                "scope_type": scope_type,
                "scope": scope,
                "destination": f"migrated-{label}-{_digest(hook.origin, hook.id)}",
                "trigger": f"migrated-{label}-{_digest(hook.origin, hook.id, scope)}",
                # Unknown is not "none": MLflow and Databricks never return secrets, and a
                # receiver that checks signatures refuses every call until it has a new one.
                "needs_secret": hook.has_secret is not False,
                "secret_env": None,
            }
            reason = _not_converted(kind, hook, events, model or scope)
            definition["convert"] = reason is None
            if reason:
                definition["reason"] = reason
            if hook.has_secret is None:
                definition["secret_note"] = SECRET_UNKNOWN[kind]
            if kind == "webhook" and definition["needs_secret"]:
                definition["secret_env_note"] = SECRET_ENV_NOTE
            if unmapped:
                definition["unmapped_events"] = unmapped
            if ev.APPROVAL_REQUESTED in events:
                definition["note"] = APPROVAL_NOTE
            definitions.append(definition)
    return sorted(definitions, key=lambda d: (str(d["model"]), d["source_id"], d["scope"]))


def plan_notifications(plan: Plan, extras: Any) -> list[dict[str, Any]]:
    """One e-mail destination and trigger per subscription on a migrated model."""
    targets = {m.source: m.target for m in plan.models}
    events, aliases, _ = _map_events(SUBSCRIPTION_EVENTS, plan.stage_aliases)
    found = []
    for sub in getattr(extras, "email_subscriptions", None) or []:
        if sub.model_name not in targets:
            continue
        model = targets[sub.model_name]
        label = _slug(sub.subscriber.split("@")[0], 20)
        definition: dict[str, Any] = {
            "kind": "email",
            "subscriber": sub.subscriber,
            "model": model,
            "version": sub.version,
            "status": sub.status,
            "events": events,
            "aliases": aliases,
            "scope_type": "registered_model",
            "scope": model,
            "destination": f"migrated-email-{label}-{_digest(sub.subscriber.lower())}",
            "trigger": f"migrated-email-{label}-{_digest(sub.subscriber.lower(), model)}",
            "convert": str(sub.status).upper() != "UNSUBSCRIBED",
            "note": APPROVAL_NOTE,
        }
        if not definition["convert"]:
            definition["reason"] = "the subscriber had unsubscribed"
        elif sub.version is not None:
            definition["scope_note"] = (
                f"subscribed to version {sub.version} only; the trigger watches the whole model"
            )
        found.append(definition)
    return sorted(found, key=lambda n: (n["model"], n["subscriber"], str(n["version"])))
