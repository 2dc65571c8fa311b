"""Webhooks and e-mail subscriptions of the source as the catalog's notification destinations and
triggers: the plan's definitions (deterministic and secret-free), their creation by `migrate run`
and their comparison by `migrate verify`.

A source webhook becomes a webhook destination (its URL, without credentials or query string)
and a notification trigger on the migrated model, or on each target schema for a registry-wide
hook, throttled 0/0 so that each event gives one notification, as the source's hooks did. An
e-mail subscription becomes an e-mail destination and a trigger on its model. Source events map
to the catalog's (`EVENTS`); an event without an equivalent is listed with the reason. A hook that
starts a job is not converted: the catalog runs deployment jobs that are defined in YAML.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelcatalog.client import AlreadyExists, CatalogClientError
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


# Running ------------------------------------------------------------------------------------


def describe(definition: dict[str, Any]) -> str:
    """How the run summary and log name a definition."""
    if definition.get("kind") == "email":
        return f"e-mail subscription of {definition.get('subscriber')} to {definition.get('model')}"
    name = definition.get("name") or definition.get("source_id")
    return f"{definition.get('origin', 'source')} webhook {name} ({definition.get('target')})"


def address_of(definition: dict[str, Any]) -> str:
    return str(definition.get("subscriber") or definition.get("target") or "")


def definition_problem(definition: dict[str, Any]) -> str | None:
    """What an edited plan's definition lacks to be converted, or None."""
    for key in ("destination", "trigger", "scope_type", "scope"):
        if not isinstance(definition.get(key), str) or not definition[key]:
            return f"the plan's definition has no {key}; make a new plan"
    events = definition.get("events")
    if not isinstance(events, list) or not events:
        return "the plan's definition has no events; make a new plan"
    return None


def trigger_body(definition: dict[str, Any]) -> dict[str, Any]:
    """The trigger a definition becomes: one notification per event, as the source sent them."""
    return {
        "name": definition["trigger"],
        "scope_type": definition["scope_type"],
        "scope": definition["scope"],
        "events": list(definition["events"]),
        "aliases": list(definition.get("aliases") or []) or None,
        "min_time_between_triggers_seconds": 0,
        "wait_after_last_change_seconds": 0,
        "destinations": [definition["destination"]],
    }


def trigger_problem(expected: dict[str, Any], found: dict[str, Any]) -> str | None:
    """How an existing trigger differs from the one planned, or None when it matches."""
    checks = {
        "scope": (f"{expected['scope_type']} {expected['scope']}".lower(),
                  f"{found.get('scope_type')} {found.get('scope')}".lower()),
        "events": (sorted(expected["events"]), sorted(found.get("events") or [])),
        "aliases": (sorted(a.lower() for a in expected["aliases"] or []),
                    sorted(str(a).lower() for a in found.get("aliases") or [])),
        "destinations": ([expected["destinations"][0].lower()], found.get("destinations") or []),
        "throttling": ((0, 0), (found.get("min_time_between_triggers_seconds"),
                                found.get("wait_after_last_change_seconds"))),
    }  # fmt: skip
    for what, (want, have) in checks.items():
        if want != have:
            return f"its {what} is {have}, planned {want}"
    return None


def destination_problem(kind: str, address: str, secret: bool, found: dict[str, Any]) -> str | None:
    """How an existing destination differs from the one planned, or None when it matches."""
    if (found.get("kind"), found.get("address")) != (kind, address):
        return f"it is the {found.get('kind')} destination {found.get('address')}"
    if secret and not found.get("has_secret"):
        return "it has no signing secret"
    return None


@dataclass
class HookOutcome:
    """What the run did with the plan's webhook and subscription definitions."""

    converted: int = 0
    not_converted: int = 0
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


class HookConverter:
    """Creates the destination and trigger of each definition, idempotently: what exists with
    the planned definition counts as done; what exists otherwise is a failure with the reason."""

    def __init__(self, target: Any, log_event: Callable[..., None]) -> None:
        self.target = target
        self.log_event = log_event
        self.outcome = HookOutcome()

    def skip(self, definition: dict[str, Any], reason: str) -> None:
        self.outcome.not_converted += 1
        self.outcome.notes.append(f"{describe(definition)}: not converted: {reason}")
        self.log_event(
            "hook_not_converted",
            source=describe(definition),
            trigger=definition.get("trigger"),
            reason=reason,
        )

    def convert(self, definition: dict[str, Any]) -> None:
        """Create (or find) the definition's destination, then its trigger."""
        if "trigger" not in definition:
            self.skip(definition, "the plan predates converted webhooks; make a new plan")
            return
        if not definition.get("convert", True):
            self.skip(definition, str(definition.get("reason") or "the plan says convert: false"))
            return
        problem = definition_problem(definition)
        if problem:
            self._failed(definition, problem)
            return
        kind = "email" if definition.get("kind") == "email" else "webhook"
        address = address_of(definition)
        try:
            secret = self._secret(definition)
            made = self._destination(definition["destination"], kind, address, secret)
            body = trigger_body(definition)
            made += self._trigger(body)
        except CatalogClientError as exc:
            self._failed(definition, exc.message)
            return
        except HookError as exc:
            self._failed(definition, str(exc))
            return
        self.outcome.converted += 1
        self.log_event(
            "hook_converted",
            source=describe(definition),
            destination=definition["destination"],
            trigger=definition["trigger"],
            outcome="created" if made else "present",
        )

    def _failed(self, definition: dict[str, Any], message: str) -> None:
        self.outcome.failures.append(f"{describe(definition)}: not converted: {message}")
        self.log_event(
            "hook_failed",
            source=describe(definition),
            destination=definition.get("destination"),
            trigger=definition.get("trigger"),
            error=message,
        )

    @staticmethod
    def _secret(definition: dict[str, Any]) -> str | None:
        variable = definition.get("secret_env")
        if not variable:
            return None
        value = os.environ.get(str(variable))
        if not value:
            raise HookError(
                f"secret_env names the environment variable {variable}, which is not set; set it "
                "to the new signing secret (or remove secret_env from the plan) and run again"
            )
        return value

    def _destination(self, name: str, kind: str, address: str, secret: str | None) -> int:
        body = {"name": name, "kind": kind, "address": address}
        if secret:
            body["secret"] = secret
        try:
            self.target.create_destination(body)
            return 1
        except AlreadyExists:
            found = self.target.get_destination(name) or {}
        problem = destination_problem(kind, address, secret is not None, found)
        if problem:
            raise HookError(
                f"notification destination {name} exists and differs ({problem}); delete it "
                f"(`modelcatalog notifications delete {name}`) and run again"
            )
        return 0

    def _trigger(self, body: dict[str, Any]) -> int:
        try:
            self.target.create_trigger(body)
            return 1
        except AlreadyExists:
            found = self.target.get_trigger(body["name"])
        problem = "it belongs to someone else" if found is None else trigger_problem(body, found)
        if problem:
            raise HookError(
                f"trigger {body['name']} exists and differs ({problem}); delete it "
                f"(`modelcatalog triggers delete {body['name']}`) and run again"
            )
        return 0


class HookError(Exception):
    """A definition cannot be converted as planned; the message says why and what to do."""


# Verifying ----------------------------------------------------------------------------------


def hook_differences(target: Any, definition: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(what, expected, found) for each way the target lacks a converted definition."""
    if "trigger" not in definition or not definition.get("convert", True):
        return []
    problem = definition_problem(definition)
    if problem:
        return [(f"webhook {definition.get('source_id')}", "a complete definition", problem)]
    kind = "email" if definition.get("kind") == "email" else "webhook"
    address = address_of(definition)
    found: list[tuple[str, str, str]] = []
    destination = target.get_destination(definition["destination"])
    name = f"destination {definition['destination']}"
    if destination is None:
        found.append((name, f"{kind} {address}", "missing"))
    elif destination_problem(kind, address, bool(definition.get("secret_env")), destination):
        found.append((name, f"{kind} {address}", f"{destination.get('kind')} "
                      f"{destination.get('address')}"))  # fmt: skip
    body = trigger_body(definition)
    trigger = target.get_trigger(body["name"])
    if trigger is None:
        found.append((f"trigger {body['name']}", ", ".join(body["events"]), "missing"))
    else:
        problem = trigger_problem(body, trigger)
        if problem:
            found.append((f"trigger {body['name']}", "as planned", problem))
    return found
