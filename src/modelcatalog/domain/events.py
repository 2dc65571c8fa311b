"""The names of model events, as triggers, notifications, webhooks and the migration spell them.

Plain strings with nothing behind them, so the CLI and the migration client read them without
loading the server. The events themselves (the outbox) are written by `service.events`."""

from __future__ import annotations

from typing import Final

#: A registered model was created.
MODEL_CREATED: Final = "MODEL_CREATED"
#: A version was created (PENDING_REGISTRATION, files still to come).
MODEL_VERSION_CREATED: Final = "MODEL_VERSION_CREATED"
#: A version became READY.
MODEL_VERSION_READY: Final = "MODEL_VERSION_READY"
#: An alias was set or moved; `alias` names it.
MODEL_ALIAS_SET: Final = "MODEL_ALIAS_SET"
#: A deployment run started (its first task was queued).
RUN_STARTED: Final = "RUN_STARTED"
#: A deployment run finished with every task done.
RUN_SUCCEEDED: Final = "RUN_SUCCEEDED"
#: A deployment run failed (a task failed for good, or an approval was rejected).
RUN_FAILED: Final = "RUN_FAILED"
#: An approval task is waiting for a decision.
APPROVAL_REQUESTED: Final = "APPROVAL_REQUESTED"
#: An approval task was approved.
APPROVED: Final = "APPROVED"
#: An approval task was rejected.
REJECTED: Final = "REJECTED"

#: The kind of a trigger's notification whose batch mixes several kinds of event.
MODEL_EVENTS: Final = "MODEL_EVENTS"
#: The kind of the notification that tests a destination.
TEST: Final = "TEST"

#: What a trigger may listen to.
TRIGGER_EVENTS = (MODEL_CREATED, MODEL_VERSION_READY, MODEL_ALIAS_SET)
#: What a notification may be sent on.
NOTIFIABLE = (
    MODEL_VERSION_CREATED,
    MODEL_VERSION_READY,
    MODEL_ALIAS_SET,
    RUN_STARTED,
    RUN_SUCCEEDED,
    RUN_FAILED,
    APPROVAL_REQUESTED,
    APPROVED,
    REJECTED,
)
