"""Creating the notification destination and trigger of each of the plan's hook definitions
(`migrate run`), idempotently: what exists as planned counts as done; what exists otherwise is
a failure with the reason and what to do."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelcatalog.client import AlreadyExists, CatalogClientError
from modelcatalog.migrate.hook_definitions import (
    address_of,
    definition_problem,
    describe,
    destination_problem,
    trigger_body,
    trigger_problem,
)
from modelcatalog.migrate.targets.protocol import Target


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

    def __init__(self, target: Target, log_event: Callable[..., None]) -> None:
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
