"""OpenAPI descriptions of deployment jobs, runs and approvals, triggers and notifications under
`/api/modelcatalog/`. Fields whose validity needs more than a shape (a job definition, a
webhook URL, an email address) carry a `format` naming what they must be."""

from __future__ import annotations

from modelcatalog.api.openapi import (
    ALIAS,
    EMPTY,
    MILLIS,
    MODEL_FULL_NAME,
    NAME,
    PAGED,
    PRINCIPAL,
    VERSION_DIGITS,
    Operation,
    array,
    boolean,
    integer,
    nullable,
    obj,
    string,
)
from modelcatalog.jobs import notifications, triggers

CONFLICT = (400, 401, 403, 404, 409, 429, 503)
ANY = obj({}, description="A JSON object.")

JOB = obj(
    {
        "id": string(),
        "name": string(),
        "owner": string(),
        "definition": ANY,
        "created_at": MILLIS,
        "created_by": string(),
        "updated_at": MILLIS,
        "updated_by": string(),
        "linked_models": array(string()),
    },
    ("id", "name", "owner", "definition", "created_at", "created_by", "updated_at", "updated_by"),
)
DEFINITION = obj(
    {
        "definition": {
            "anyOf": [
                string("The job's YAML text.", format="job-definition-yaml"),
                {**ANY, "format": "job-definition"},
            ]
        }
    },
    ("definition",),
)
CREATE_JOB = Operation(JOB, body=DEFINITION, body_required=True, errors=CONFLICT)
LIST_JOBS = Operation(obj({"jobs": array(JOB)}, ("jobs",)))
JOB_NAME = {"name": string("A job's name or id.")}
GET_JOB = Operation(JOB, path=JOB_NAME)
UPDATE_JOB = Operation(JOB, path=JOB_NAME, body=DEFINITION, body_required=True)
DELETE_JOB = Operation(EMPTY, path=JOB_NAME)

TASK = obj(
    {
        "name": string(),
        "kind": string(),
        "depends_on": array(string()),
        "state": string(),
        "attempt": integer(),
        "started_at": nullable(MILLIS),
        "ended_at": nullable(MILLIS),
        "exit_code": nullable(integer()),
        "message": nullable(string()),
        "decided_by": nullable(string()),
        "decided_via": nullable(string()),
        "approval_group": nullable(string()),
        "output": nullable(string()),
        "attempts": array(ANY),
    },
    ("name", "kind", "depends_on", "state", "attempt"),
)
RUN = obj(
    {
        "run_id": string(),
        "job_id": string(),
        "job_name": string(),
        "model_name": string(),
        "version": integer(),
        "state": string(),
        "state_message": nullable(string()),
        "current_task_name": nullable(string()),
        "cause": string(),
        "created_at": MILLIS,
        "created_by": string(),
        "started_at": nullable(MILLIS),
        "ended_at": nullable(MILLIS),
        "tasks": array(TASK),
    },
    ("run_id", "job_id", "job_name", "model_name", "version", "state", "cause", "tasks"),
)
MODEL_PATH = {"full_name": MODEL_FULL_NAME}
LIST_RUNS = Operation(
    obj({"runs": array(RUN), "next_page_token": string()}, ("runs",)),
    path=MODEL_PATH,
    query={"version": VERSION_DIGITS, **PAGED},
)
START_RUN = Operation(RUN, path={**MODEL_PATH, "version": VERSION_DIGITS})
RUN_PATH = {"run_id": string()}
GET_RUN = Operation(RUN, path=RUN_PATH)
CANCEL_RUN = Operation(RUN, path=RUN_PATH)
REPAIR_RUN = Operation(RUN, path=RUN_PATH)
TASK_PATH = {"run_id": string(), "task": string()}
APPROVE = Operation(RUN, path=TASK_PATH)
REJECT = Operation(EMPTY, path=TASK_PATH)
LIST_APPROVERS = Operation(obj({"approvers": array(string())}, ("approvers",)), path=MODEL_PATH)
APPROVER_PATH = {**MODEL_PATH, "principal": PRINCIPAL}
ADD_APPROVER = Operation(EMPTY, path=APPROVER_PATH)
REMOVE_APPROVER = Operation(EMPTY, path=APPROVER_PATH)

# Triggers -------------------------------------------------------------------------------------

SECONDS = {
    "anyOf": [
        integer(minimum=0, maximum=triggers.MAX_SECONDS),
        string(pattern=r"^\s*[0-9]+\s*$", format="seconds"),
    ],
    "description": f"Whole seconds from 0 to {triggers.MAX_SECONDS}.",
}
STRINGS = {"anyOf": [string(), array(string())], "description": "One name or a list of names."}
TRIGGER = obj(
    {
        "id": string(),
        "name": string(),
        "owner": string(),
        "scope_type": string(),
        "scope": string(),
        "events": array(string()),
        "aliases": array(string()),
        "min_time_between_triggers_seconds": integer(),
        "wait_after_last_change_seconds": integer(),
        "job": nullable(string()),
        "destinations": array(string()),
        "created_at": MILLIS,
        "last_fired_at": nullable(MILLIS),
        "pending_changes": integer(),
        "first_pending_at": nullable(MILLIS),
        "last_pending_at": nullable(MILLIS),
    },
    ("name", "owner", "scope_type", "scope", "events"),
)
CREATE_TRIGGER = Operation(
    TRIGGER,
    body=obj(
        {
            "name": string(
                f"1 to {triggers.MAX_NAME} letters, digits, '_' or '-'.",
                pattern=f"^[A-Za-z0-9_-]{{1,{triggers.MAX_NAME}}}$",
            ),
            "scope_type": string(enum=list(triggers.SCOPE_TYPES)),
            "scope": string("The catalog, schema or model watched.", format="trigger-scope"),
            "events": {**STRINGS, "description": "Events to fire on.", "format": "events"},
            "aliases": nullable({"anyOf": [ALIAS, array(ALIAS)]}),
            "min_time_between_triggers_seconds": nullable(SECONDS),
            "wait_after_last_change_seconds": nullable(SECONDS),
            "job": nullable(string("A deployment job's name or id.", format="deployment-job")),
            "destinations": nullable(STRINGS),
        },
        ("name", "scope", "events"),
        "Exactly one action: `job` or `destinations`.",
    ),
    body_required=True,
    errors=CONFLICT,
)
LIST_TRIGGERS = Operation(obj({"triggers": array(TRIGGER)}, ("triggers",)))
TRIGGER_PATH = {"name": string()}
GET_TRIGGER = Operation(TRIGGER, path=TRIGGER_PATH)
DELETE_TRIGGER = Operation(EMPTY, path=TRIGGER_PATH)

# Notifications --------------------------------------------------------------------------------

DESTINATION = obj(
    {
        "name": string(),
        "kind": string(enum=list(notifications.KINDS)),
        "address": string(),
        "has_secret": boolean(),
        "owner": string(),
        "created_at": MILLIS,
    },
    ("name", "kind", "address", "has_secret", "owner", "created_at"),
)
CREATE_DESTINATION = Operation(
    DESTINATION,
    body=obj(
        {
            "name": NAME,
            "kind": string(enum=list(notifications.KINDS)),
            "address": string(
                "An email address, or an https URL (the server's settings decide whether http "
                "and private addresses are allowed).",
                format="destination-address",
            ),
            "secret": nullable(string("A webhook's signing secret.", format="webhook-secret")),
        },
        ("name", "kind", "address"),
    ),
    body_required=True,
    errors=CONFLICT,
)
LIST_DESTINATIONS = Operation(obj({"destinations": array(DESTINATION)}, ("destinations",)))
DESTINATION_PATH = {"name": NAME}
GET_DESTINATION = Operation(DESTINATION, path=DESTINATION_PATH)
DELETE_DESTINATION = Operation(EMPTY, path=DESTINATION_PATH)
DELIVERY = obj(
    {
        "id": string(),
        "destination": string(),
        "event": string(),
        "state": string(enum=list(notifications.STATES)),
        "attempts": integer(),
        "created_at": MILLIS,
        "next_attempt_at": nullable(MILLIS),
        "delivered_at": nullable(MILLIS),
        "last_status": nullable(integer()),
        "last_error": nullable(string()),
        "payload": ANY,
    },
    ("id", "destination", "event", "state", "attempts", "created_at", "payload"),
)
SEND_TEST = Operation(DELIVERY, path=DESTINATION_PATH)
LIST_DELIVERIES = Operation(
    obj({"deliveries": array(DELIVERY), "next_page_token": string()}, ("deliveries",)),
    query={
        "destination": NAME,
        "state": string(
            "PENDING, DELIVERED or FAILED, any case.",
            pattern="^(?:[Pp][Ee][Nn][Dd][Ii][Nn][Gg]|[Dd][Ee][Ll][Ii][Vv][Ee][Rr][Ee][Dd]"
            "|[Ff][Aa][Ii][Ll][Ee][Dd])$",
        ),
        **PAGED,
    },
)
SMTP = obj(
    {
        "host": string(),
        "port": integer(),
        "security": string(),
        "from_address": string(),
        "username": nullable(string()),
        "has_password": boolean(),
    },
    ("host",),
)
GET_SMTP = Operation(SMTP)
SET_SMTP = Operation(
    SMTP,
    body=obj(
        {
            "host": string("The SMTP server's host name or IP address.", format="smtp-host"),
            "port": nullable(integer(minimum=1, maximum=65535)),
            "security": nullable(string(enum=["starttls", "ssl", "none"])),
            "from_address": string("The sender's address.", format="email"),
            "username": nullable(string()),
            "password": nullable(string()),
        },
        ("host", "from_address"),
    ),
    body_required=True,
)
DELETE_SMTP = Operation(EMPTY)
