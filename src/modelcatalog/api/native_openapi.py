"""OpenAPI descriptions of the catalog's own additions under `/api/modelcatalog/`: identity,
principals, tokens, manifests, the migration path (its bulk tar upload included) and the audit
log."""

from __future__ import annotations

from modelcatalog.api.openapi import (
    COMMENT,
    EMPTY,
    EXISTING_PRINCIPAL,
    MILLIS,
    MODEL_FULL_NAME,
    PAGE_TOKEN,
    PRINCIPAL,
    TAG_KEY,
    TAG_VALUE,
    TEXT,
    VERSION,
    VERSION_DIGITS,
    Operation,
    array,
    boolean,
    integer,
    nullable,
    obj,
    string,
)
from modelcatalog.api.openapi_text import BLANK
from modelcatalog.api.uc_openapi import MODEL, MODEL_VERSION
from modelcatalog.domain import rules
from modelcatalog.service import client_credentials, directory, principals

ME = Operation(
    obj({"name": string(), "is_admin": boolean()}, ("name", "is_admin")), errors=(401, 429, 503)
)
TOKEN = obj(
    {
        "token_id": string(),
        "principal": string(),
        "comment": nullable(string()),
        "created_at": MILLIS,
        "expires_at": nullable(MILLIS),
        "revoked": boolean(),
    },
    ("token_id", "principal", "comment", "created_at", "expires_at", "revoked"),
)
CREATE_TOKEN = Operation(
    obj(
        {"token": string("The secret, shown only in this answer."), **TOKEN["properties"]},
        ("token", *TOKEN["required"]),
    ),
    body=obj(
        {
            "comment": TEXT,
            "lifetime_seconds": nullable(
                integer(
                    "Seconds until the token expires (0 or absent: never).",
                    minimum=0,
                    maximum=principals.MAX_LIFETIME_SECONDS,
                )
            ),
            "principal": nullable(
                {**EXISTING_PRINCIPAL, "description": "Whose token (metastore admins only)."}
            ),
        }
    ),
)
LIST_TOKENS = Operation(
    obj({"tokens": array(TOKEN)}, ("tokens",)), query={"principal": EXISTING_PRINCIPAL}
)
REVOKE_TOKEN = Operation(EMPTY, path={"token_id": string()})
SECRET = obj(
    {
        "secret_id": string(),
        "service_principal": string(),
        "client_id": string("The service principal's OAuth client id (its application id)."),
        "created_at": MILLIS,
        "created_by": string(),
        "expires_at": MILLIS,
        "last_used_at": nullable(MILLIS),
        "expired": boolean(),
    },
    (
        "secret_id",
        "service_principal",
        "client_id",
        "created_at",
        "created_by",
        "expires_at",
        "last_used_at",
        "expired",
    ),
)
SERVICE_PRINCIPAL_PATH = {"name": EXISTING_PRINCIPAL}
CREATE_SECRET = Operation(
    obj(
        {"secret": string("The secret, shown only in this answer."), **SECRET["properties"]},
        ("secret", *SECRET["required"]),
    ),
    path=SERVICE_PRINCIPAL_PATH,
    body=obj(
        {
            "lifetime_seconds": nullable(
                integer(
                    "Seconds until the secret expires (absent: 730 days).",
                    minimum=1,
                    maximum=client_credentials.MAX_SECRET_LIFETIME_SECONDS,
                )
            )
        }
    ),
)
LIST_SECRETS = Operation(obj({"secrets": array(SECRET)}, ("secrets",)), path=SERVICE_PRINCIPAL_PATH)
DELETE_SECRET = Operation(EMPTY, path={**SERVICE_PRINCIPAL_PATH, "secret_id": string()})
MANIFEST_ENTRY = obj(
    {"path": string(), "size": integer(minimum=0), "sha256": string(pattern="^[0-9a-f]{64}$")},
    ("path", "size", "sha256"),
)
VERSION_PATH = {"full_name": MODEL_FULL_NAME, "version": VERSION_DIGITS}
MANIFEST = Operation(
    obj(
        {"full_name": string(), "version": integer(), "files": array(MANIFEST_ENTRY)},
        ("full_name", "version", "files"),
    ),
    path=VERSION_PATH,
)

SIGNATURE_FIELD = obj(
    {
        "name": {"type": ["string", "null"]},
        "type": string(),
        "required": {"type": "boolean"},
        "detail": {"type": ["string", "null"]},
    },
    ("name", "type", "required"),
)
SIGNATURE = Operation(
    obj(
        {
            "full_name": string(),
            "version": integer(),
            "signature": {
                "anyOf": [
                    obj(
                        {
                            "inputs": array(SIGNATURE_FIELD),
                            "outputs": array(SIGNATURE_FIELD),
                            "params": array(SIGNATURE_FIELD),
                        },
                        ("inputs", "outputs", "params"),
                    ),
                    {"type": "null"},
                ]
            },
        },
        ("full_name", "version", "signature"),
    ),
    path=VERSION_PATH,
)

# Principals ---------------------------------------------------------------------------------

KIND = string(enum=list(directory.KINDS))
PRINCIPAL_OUT = obj(
    {
        "name": string(),
        "kind": KIND,
        "is_admin": boolean(),
        "created_at": MILLIS,
        "groups": array(string()),
        "members": array(string(), "A group's direct members."),
        "active": boolean("False once the identity provider deactivated it."),
        "managed_by": string("For a group the identity provider manages: 'scim'.", enum=["scim"]),
    },
    ("name", "kind", "is_admin", "created_at", "groups", "active"),
)
NAMED = {"name": PRINCIPAL}
CREATE_PRINCIPAL = Operation(
    PRINCIPAL_OUT,
    body=obj({"name": PRINCIPAL, "kind": KIND}, ("name",)),
    body_required=True,
    errors=(400, 401, 403, 404, 409, 429, 503),
)
LIST_PRINCIPALS = Operation(
    obj({"principals": array(PRINCIPAL_OUT)}, ("principals",)),
    query={"kind": KIND, "name_contains": string()},
)
GET_PRINCIPAL = Operation(PRINCIPAL_OUT, path=NAMED)
UPDATE_PRINCIPAL = Operation(
    PRINCIPAL_OUT, path=NAMED, body=obj({"is_admin": boolean()}, ("is_admin",)), body_required=True
)
DELETE_PRINCIPAL = Operation(EMPTY, path=NAMED)
ADD_MEMBER = Operation(
    PRINCIPAL_OUT,
    path={"group": PRINCIPAL},
    body=obj({"member": PRINCIPAL}, ("member",)),
    body_required=True,
)
REMOVE_MEMBER = Operation(PRINCIPAL_OUT, path={"group": PRINCIPAL, "member": PRINCIPAL})

# The migration path -------------------------------------------------------------------------

NON_EMPTY = string(minLength=1)
IMPORT_VERSION = Operation(
    MODEL_VERSION,
    body=obj(
        {
            "name": MODEL_FULL_NAME,
            "version": VERSION,
            "origin": obj(
                {
                    "registry": NON_EMPTY,
                    "model": NON_EMPTY,
                    "version": NON_EMPTY,
                    "run_id": TEXT,
                    "run_link": TEXT,
                },
                ("registry", "model", "version"),
                "Where the version comes from.",
                extra=False,
            ),
            "source": TEXT,
            "run_id": TEXT,
            "comment": COMMENT,
            "tags": nullable(
                {
                    "type": "object",
                    "propertyNames": TAG_KEY,
                    "additionalProperties": TAG_VALUE,
                    "maxProperties": rules.MAX_TAGS,
                    "description": "The version's tags, key to value.",
                }
            ),
            "signature_waiver": nullable(
                {
                    **string("Why the version may be READY without a signature (not blank)."),
                    "not": {"pattern": f"^[\\t\\n\\r{BLANK[1:-1]}]*$"},
                }
            ),
        },
        ("name", "version", "origin"),
    ),
    body_required=True,
    errors=(400, 401, 403, 404, 409, 429, 503),
)
UPLOAD_FILES = Operation(
    obj(
        {
            "full_name": string(),
            "version": integer(),
            "files": array(MANIFEST_ENTRY),
            "model_version": MODEL_VERSION,
            "manifest": array(MANIFEST_ENTRY),
        },
        ("full_name", "version", "files"),
    ),
    path=VERSION_PATH,
    query={"finalize": string("`true` (any case) finalizes the version afterwards.")},
    body=string(format="binary", description="An uncompressed tar stream of the files."),
    body_required=True,
    body_media="application/x-tar",
)
IMPORT_VERSIONS = Operation(
    obj(
        {
            "full_name": string(),
            "versions": array(
                obj(
                    {
                        "outcome": string(
                            "`created`; `resumed` (a PENDING version of the same origin, "
                            "finished); `present` (READY or FAILED_REGISTRATION before the "
                            "call, left as it was).",
                            enum=["created", "resumed", "present"],
                        ),
                        "model_version": MODEL_VERSION,
                        "manifest": array(MANIFEST_ENTRY),
                    },
                    ("outcome", "model_version", "manifest"),
                )
            ),
        },
        ("full_name", "versions"),
    ),
    path={"full_name": MODEL_FULL_NAME},
    body=string(
        format="binary",
        description=(
            'An uncompressed tar stream: first `versions.json` (`{"versions": [...]}`, each '
            "with the fields of `POST /api/modelcatalog/migration/versions` but `name`), then "
            'each version\'s files as `<version>/<path>`, last `sha256.json` (`{"<version>": '
            '{"<path>": "<sha256>"}}`, the digest of every file sent).'
        ),
    ),
    body_required=True,
    body_media="application/x-tar",
    errors=(400, 401, 403, 404, 409, 429, 503),
)

# The audit log ------------------------------------------------------------------------------

AUDIT_RECORD = obj(
    {
        "seq": integer(),
        "time": MILLIS,
        "principal": nullable(string()),
        "action": string(),
        "securable_type": nullable(string()),
        "securable": nullable(string()),
        "parameters": nullable(obj({})),
        "outcome": string(),
        "error_code": nullable(string()),
        "request_id": nullable(string()),
        "client_address": nullable(string()),
        "hash": string(),
    },
    ("seq", "time", "principal", "action", "outcome", "hash"),
)
SINCE = integer("Milliseconds since the epoch.", minimum=0)
AUDIT = Operation(
    obj({"records": array(AUDIT_RECORD), "next_page_token": string()}, ("records",)),
    query={
        "securable": string(),
        "principal": string(),
        "action": string(),
        "request_id": string(),
        "outcome": string("Only records with this outcome.", enum=["ok", "denied", "failed"]),
        "since": SINCE,
        "until": SINCE,
        "max_results": integer("Page size (default 1000, at most 10,000).", minimum=0),
        "page_token": PAGE_TOKEN,
        "order": string("Default oldest_first.", enum=["oldest_first", "newest_first"]),
    },
)
VERIFY_AUDIT = Operation(
    obj(
        {"records": integer(), "intact": boolean(), "problems": array(string())},
        ("records", "intact", "problems"),
    )
)

SEARCH = Operation(
    obj(
        {
            "results": array(
                obj(
                    {
                        "model": MODEL,
                        "matched": array(
                            string(
                                "Where the words were found.",
                                enum=["name", "tag key", "tag value", "owner", "description"],
                            )
                        ),
                    },
                    ("model", "matched"),
                )
            ),
            "next_page_token": string(),
        },
        ("results",),
    ),
    query={
        "q": string("Words found in names, tag keys or values, owners, descriptions."),
        "catalog": string(),
        "schema": string(),
        "owner": string(),
        "tag": string("A tag key, or key=value."),
        "has_alias": string("true: only models with an alias.", enum=["true", "false"]),
        "deployment_state": string("Only models with a deployment run in this state."),
        "max_results": integer("Page size (default 50).", minimum=0),
        "page_token": PAGE_TOKEN,
    },
)
