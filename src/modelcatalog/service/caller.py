"""Who a service call acts for: the authenticated principal behind a request or a task."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """The authenticated principal a request acts for."""

    name: str
    principal_id: int
    is_admin: bool = False
    # Where the request came from, for the audit log.
    request_id: str | None = None
    client_address: str | None = None
    # A deployment task's token acts only on this registered model (and never as an admin).
    scope_model_id: str | None = None
