"""A converted hook's definition as the plan holds it, the trigger and destination it becomes,
and how those found on the target differ from it (for `migrate run` and `migrate verify`)."""

from __future__ import annotations

from typing import Any

from modelcatalog.migrate.targets.protocol import Target


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


def hook_differences(target: Target, definition: dict[str, Any]) -> list[tuple[str, str, str]]:
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
