"""OpenAPI descriptions of deployment jobs, runs and approvals, triggers and notifications under
`/api/modelcatalog/`.

A job definition, a trigger's one action and its events, a destination's address for its kind
and SMTP credentials in pairs are described field by field, with `oneOf` variants where one field
decides what another may be. Fields that must name what exists or that a pattern cannot spell (a
webhook URL the server resolves, an email address, an existing destination) carry a `format`
naming what they must be. What JSON Schema cannot say at all is listed at `JOB_DEFINITION`."""

from __future__ import annotations

from modelcatalog.api.openapi import (
    ALIAS_WORDS,
    EMPTY,
    MILLIS,
    MODEL_FULL_NAME,
    NAME,
    PAGED,
    PRINCIPAL,
    SCHEMA_FULL_NAME,
    VERSION_DIGITS,
    Operation,
    alias_pattern,
    anycase,
    array,
    boolean,
    integer,
    nullable,
    number_pattern,
    obj,
    string,
    stripped,
)
from modelcatalog.api.openapi_text import BLANK, NOT_BLANK
from modelcatalog.channels import email
from modelcatalog.domain import events as ev
from modelcatalog.domain import privileges as pv
from modelcatalog.service import notifications, triggers
from modelcatalog.service.deployments import definition as spec

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

# A job definition -----------------------------------------------------------------------------

NULL = {"type": "null"}
EMPTY_TEXT = string("Empty: as if absent.", maxLength=0)
DESTINATION_NAME = string(
    "The name of an existing notification destination.", format="notification-destination"
)
JOB_PART_NAME = string("1 to 255 letters, digits, '_' or '-'.", pattern=spec.NAME.pattern)
NAMES = {"anyOf": [JOB_PART_NAME, array(JOB_PART_NAME)], "description": "A name or a list."}
NOTIFY = nullable(
    obj(
        {
            when: {
                "anyOf": [DESTINATION_NAME, array(DESTINATION_NAME)],
                "description": "Destinations, by name.",
            }
            for when in spec.NOTIFY_ON
        },
        description="Who is told when: destinations by name for each moment.",
        extra=False,
    )
)


# `command` as one string is split as a POSIX shell would (shlex): words of plain characters,
# backslash escapes and quoted runs, separated by spaces, tabs and line breaks.
_SPACE = r"[ \t\r\n]"
_WORD = r"""(?:[^ \t\r\n'"\\]|\\[\s\S]|'[^']*'|"(?:[^"\\]|\\[\s\S])*")+"""
COMMAND = {
    "anyOf": [
        string(
            "A command line, split into arguments as a POSIX shell would.",
            pattern=f"^{_SPACE}*{_WORD}(?:{_SPACE}+{_WORD})*{_SPACE}*$",
        ),
        array(
            {"anyOf": [string(), {"type": "number"}]},
            "The arguments (numbers are written as text).",
            minItems=1,
        ),
    ],
    "description": "What the task runs; `{{model_name}}`, `{{model_version}}` and the job's "
    "parameters are filled in.",
}
SCALAR = {"type": ["string", "number", "boolean"]}
TASK_COMMON = {
    "name": JOB_PART_NAME,
    "depends_on": {**NAMES, "description": "The tasks that must succeed first."},
    "retries": integer(minimum=0, maximum=spec.MAX_RETRIES),
    "retry_delay_seconds": integer(minimum=0, maximum=86_400),
    "timeout_seconds": integer(minimum=1, maximum=spec.MAX_TIMEOUT),
    "env": nullable(
        {
            "type": "object",
            "propertyNames": string(pattern=spec.ENV_NAME.pattern),
            "additionalProperties": SCALAR,
            "description": "Environment variables for the task.",
        }
    ),
    "notifications": NOTIFY,
}
APPROVAL = {
    "anyOf": [
        NULL,
        {"const": True},
        obj(
            {"group": {**JOB_PART_NAME, "description": "Only members of this group approve."}},
            extra=False,
        ),
    ],
    "description": "Waits for an authorised person's approval (of `group` only, if given).",
}
JOB_TASK = {
    **obj(
        {
            **TASK_COMMON,
            "command": COMMAND,
            "entry_point": string(
                "`package.module:function`, called with model_name and model_version.",
                pattern=spec.ENTRY_POINT.pattern,
            ),
            "approval": APPROVAL,
        },
        ("name",),
        "One task: exactly one of `command`, `entry_point` and `approval`.",
        extra=False,
    ),
    "oneOf": [
        {"required": ["command"], "properties": {"entry_point": False, "approval": False}},
        {"required": ["entry_point"], "properties": {"command": False, "approval": False}},
        {
            "required": ["approval"],
            # An approval runs nothing: no retries, time limit or environment.
            "properties": {
                "command": False,
                "entry_point": False,
                "retries": False,
                "timeout_seconds": False,
                "env": False,
            },
        },
    ],
}
PARAMETER_NAME = string(
    "1 to 255 letters, digits, '_' or '-'; model_name and model_version are given to every run.",
    pattern=f"^(?!(?:{'|'.join(spec.GIVEN_PARAMETERS)})$){spec.NAME.pattern[1:]}",
)
JOB_DEFINITION = obj(
    {
        "name": JOB_PART_NAME,
        "description": nullable(string()),
        "parameters": nullable(
            {
                "type": "object",
                "propertyNames": PARAMETER_NAME,
                "additionalProperties": {**SCALAR, "type": [*SCALAR["type"], "null"]},
                "description": "Parameters and their defaults; null: one the job needs and a "
                "trigger cannot give.",
            }
        ),
        "notifications": NOTIFY,
        "tasks": array(JOB_TASK, minItems=1, maxItems=spec.MAX_TASKS),
    },
    ("name", "tasks"),
    "A job definition, as its YAML reads. Beyond this shape, and beyond what JSON Schema can "
    "say: task names are unique; `depends_on` names other tasks of the job, without a cycle; "
    "`{{name}}` in a command names model_name, model_version or one of the parameters.",
    extra=False,
)
EXAMPLE_YAML = """name: nightly
tasks:
  - name: approve
    approval: {}
"""
DEFINITION = obj(
    {
        "definition": {
            "anyOf": [
                string(
                    "The job's YAML text: a JSON definition's fields, as YAML.",
                    format="job-definition-yaml",
                    examples=[EXAMPLE_YAML],
                ),
                JOB_DEFINITION,
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
EVIDENCE = obj(
    {
        "task_name": string(),
        "state": string(),
        "exit_code": nullable(integer()),
        "output": nullable(string()),
    },
    ("task_name", "state", "exit_code", "output"),
)
WAITING_APPROVAL = obj(
    {
        "run_id": string(),
        "job_name": string(),
        "model_name": string(),
        "version": integer(),
        "task_name": string(),
        "approval_group": nullable(string()),
        "waiting_since": MILLIS,
        "evidence": array(EVIDENCE),
    },
    (
        "run_id",
        "job_name",
        "model_name",
        "version",
        "task_name",
        "approval_group",
        "waiting_since",
        "evidence",
    ),
)
LIST_APPROVALS = Operation(obj({"approvals": array(WAITING_APPROVAL)}, ("approvals",)))
LIST_APPROVERS = Operation(obj({"approvers": array(string())}, ("approvers",)), path=MODEL_PATH)
APPROVER_PATH = {**MODEL_PATH, "principal": PRINCIPAL}
ADD_APPROVER = Operation(EMPTY, path=APPROVER_PATH)
REMOVE_APPROVER = Operation(EMPTY, path=APPROVER_PATH)

# Triggers -------------------------------------------------------------------------------------

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
SECONDS = nullable(
    {
        "anyOf": [
            integer(minimum=0, maximum=triggers.MAX_SECONDS),
            string(
                "The same in decimal digits (empty: the default).",
                pattern=f"^(?:{BLANK}*{number_pattern(triggers.MAX_SECONDS, low=0)}{BLANK}*)?$",
            ),
        ],
        "description": f"Whole seconds from 0 to {triggers.MAX_SECONDS}.",
    }
)


def _events(kinds: tuple[str, ...]) -> dict:
    one = string(
        f"One of {', '.join(kinds)}, any case.",
        pattern=stripped("|".join(anycase(kind) for kind in kinds)),
    )
    return {"anyOf": [one, array(one, minItems=1)], "description": "The events to fire on."}


ALIAS_SET = string(pattern=stripped(anycase(ev.MODEL_ALIAS_SET)))
PADDED_ALIAS = string(ALIAS_WORDS, pattern=stripped(alias_pattern(f"{BLANK}*$")))
TRIGGER_SCOPES = [
    {
        "required": ["scope_type"],
        "properties": {"scope_type": {"const": pv.CATALOG}, "scope": NAME},
    },
    {
        "required": ["scope_type"],
        "properties": {"scope_type": {"const": pv.SCHEMA}, "scope": SCHEMA_FULL_NAME},
    },
    {
        "properties": {
            "scope_type": {"anyOf": [{"const": pv.MODEL}, NULL]},
            "scope": MODEL_FULL_NAME,
        }
    },
]
NO_LIST = {"anyOf": [NULL, array({}, maxItems=0)]}
TRIGGER_ACTIONS = [
    {
        "required": ["job"],
        "properties": {
            "job": string("A deployment job's name or id.", minLength=1),
            "destinations": NO_LIST,
            "events": _events(ev.TRIGGER_EVENTS),
        },
    },
    {
        "required": ["destinations"],
        "properties": {
            "job": {"anyOf": [NULL, EMPTY_TEXT]},
            "destinations": {"anyOf": [DESTINATION_NAME, array(DESTINATION_NAME, minItems=1)]},
            "events": _events(triggers.NOTIFY_EVENTS),
        },
    },
]
# Aliases narrow MODEL_ALIAS_SET, so they need it among the events.
TRIGGER_ALIASES = [
    {
        "required": ["events"],
        "properties": {"events": {"anyOf": [ALIAS_SET, {"type": "array", "contains": ALIAS_SET}]}},
    },
    {"properties": {"aliases": NO_LIST}},
]
CREATE_TRIGGER = Operation(
    TRIGGER,
    body={
        **obj(
            {
                "name": string(
                    f"1 to {triggers.MAX_NAME} letters, digits, '_' or '-'.",
                    pattern=f"^[A-Za-z0-9_-]{{1,{triggers.MAX_NAME}}}$",
                ),
                "scope_type": nullable(
                    string(
                        "What `scope` names (default: a model).", enum=list(triggers.SCOPE_TYPES)
                    )
                ),
                "scope": string("The catalog, `catalog.schema` or `catalog.schema.model` watched."),
                "events": {
                    "anyOf": [string(), array(string())],
                    "description": "One event or a list.",
                },
                "aliases": nullable(
                    {
                        "anyOf": [PADDED_ALIAS, array(PADDED_ALIAS)],
                        "description": f"Only these aliases, with {ev.MODEL_ALIAS_SET}.",
                    }
                ),
                "min_time_between_triggers_seconds": SECONDS,
                "wait_after_last_change_seconds": SECONDS,
                "job": nullable(string("A deployment job's name or id.")),
                "destinations": nullable(
                    {"anyOf": [string(), array(string())], "description": "Destination names."}
                ),
            },
            ("name", "scope", "events"),
            "Exactly one action: `job` (deployment runs, on MODEL_CREATED, MODEL_VERSION_READY "
            "or MODEL_ALIAS_SET) or `destinations` (notifications, on any model or run event).",
        ),
        "allOf": [
            {"oneOf": TRIGGER_SCOPES},
            {"oneOf": TRIGGER_ACTIONS},
            {"anyOf": TRIGGER_ALIASES},
        ],
    },
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
EMAIL_ADDRESS = string(
    "One email address such as ops@example.com: no display name, no list; the domain has a dot.",
    format="email-address",
)
WEBHOOK_URL = string(
    "An https URL; http, and hosts on private networks, only where the server allows them.",
    format="webhook-url",
)
SECRET = {
    **string(
        f"1 to {notifications.MAX_SECRET} characters, no blank at either end.",
        minLength=1,
        maxLength=notifications.MAX_SECRET,
    ),
    "not": {"pattern": f"^{BLANK}|{BLANK}$"},
}
CREATE_DESTINATION = Operation(
    DESTINATION,
    body={
        **obj(
            {
                "name": NAME,
                "kind": string(enum=list(notifications.KINDS)),
                "address": string("An email address or a webhook URL, as `kind` says."),
                "secret": nullable(string("A webhook's signing secret.")),
            },
            ("name", "kind", "address"),
        ),
        "oneOf": [
            {
                "properties": {
                    "kind": {"const": notifications.EMAIL},
                    "address": EMAIL_ADDRESS,
                    "secret": {"anyOf": [NULL, EMPTY_TEXT], "description": "Webhooks only."},
                }
            },
            {
                "properties": {
                    "kind": {"const": notifications.WEBHOOK},
                    "address": WEBHOOK_URL,
                    "secret": {"anyOf": [NULL, EMPTY_TEXT, SECRET]},
                }
            },
        ],
    },
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
    body={
        **obj(
            {
                "host": string("The SMTP server's host name or IP address.", format="smtp-host"),
                "port": nullable(
                    {
                        "anyOf": [
                            integer(minimum=1, maximum=65535),
                            string(
                                "The same in decimal digits (empty: the default).",
                                pattern=f"^(?:{BLANK}*{number_pattern(65535)}{BLANK}*)?$",
                            ),
                        ],
                        "description": "Default: 587 with starttls, 465 with ssl, 25 with none.",
                    }
                ),
                "security": nullable(
                    string(
                        "starttls (the default), ssl or none, any case.",
                        pattern=f"^{BLANK}*(?:"
                        + "|".join(anycase(mode) for mode in email.SECURITY)
                        + f")?{BLANK}*$",
                    )
                ),
                "from_address": {**EMAIL_ADDRESS, "description": "The sender's address."},
                "username": nullable(string()),
                "password": nullable(string()),
            },
            ("host", "from_address"),
            "SMTP authentication takes both `username` and `password`, or neither.",
        ),
        "oneOf": [
            {
                "properties": {
                    "username": {"anyOf": [NULL, string("Blank: none.", pattern=f"^{BLANK}*$")]},
                    "password": {"anyOf": [NULL, EMPTY_TEXT]},
                }
            },
            {
                "required": ["username", "password"],
                "properties": {
                    "username": {**string(), **NOT_BLANK},
                    "password": string(minLength=1),
                },
            },
        ],
    },
    body_required=True,
)
DELETE_SMTP = Operation(EMPTY)
