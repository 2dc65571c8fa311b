"""The service's operations and the privilege each needs, declared on the operation itself
(`@audited(name, ..., needs=...)`) and gathered here in one table, `OPERATIONS`.

A requirement names an action of the privilege table (`domain/privileges.py` ACTIONS), or
None where that table does not decide: operations for metastore admins only, on the caller's
own objects, or listings filtered to what the caller may read. The body of an operation asks
`needed()` for its action rather than spelling one.

Where a branch of an operation needs another action (writing a version's files rather than
reading them, changing the grants of a catalog rather than of a model), the branch is declared
with the operation, by name, and the body asks for it with `needed(branch)`."""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from modelcatalog.domain import privileges as pv


@dataclass(frozen=True)
class Requirement:
    """What an operation needs: its action, and the action of each branch that differs."""

    action: str | None
    branches: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for action in (self.action, *self.branches.values()):
            if action is not None and action not in pv.ACTIONS:
                raise ValueError(f"'{action}' is not an action of the privilege table")
        object.__setattr__(self, "branches", MappingProxyType(dict(self.branches)))


_declared: dict[str, Requirement] = {}
#: Every operation declared so far (its module imported), by the name its audit records carry.
OPERATIONS: Mapping[str, Requirement] = MappingProxyType(_declared)

_running: contextvars.ContextVar[tuple[str, Requirement] | None] = contextvars.ContextVar(
    "operation", default=None
)


def declare(
    operation: str, needs: str | None = None, branches: Mapping[str, str] | None = None
) -> Requirement:
    """Enter an operation in the table (once: two operations never share a name)."""
    requirement = Requirement(needs, branches or {})
    if _declared.setdefault(operation, requirement) != requirement:
        raise ValueError(f"operation '{operation}' is declared twice, needing different actions")
    return requirement


_Token = contextvars.Token[tuple[str, Requirement] | None]


def enter(operation: str, requirement: Requirement) -> _Token:
    """Mark `operation` as running (a nested operation marks itself while it runs)."""
    return _running.set((operation, requirement))


def leave(token: _Token) -> None:
    _running.reset(token)


def needed(branch: str | None = None) -> str:
    """The action the running operation declared (or, with `branch`, that branch's action)."""
    running = _running.get()
    if running is None:
        raise RuntimeError("needed() is asked outside any declared operation")
    return _action(*running, branch)


def needed_by(operation: str, branch: str | None = None) -> str:
    """The action another operation declared: for a rule that holds however it is reached
    (deciding an approval task by tag needs what deciding it directly needs)."""
    return _action(operation, _declared[operation], branch)


def _action(operation: str, requirement: Requirement, branch: str | None) -> str:
    action = requirement.action if branch is None else requirement.branches.get(branch)
    if action is None:
        what = "no action" if branch is None else f"no branch '{branch}'"
        raise RuntimeError(f"operation '{operation}' declares {what}")
    return action
