"""OpenAPI descriptions of Unity Catalog REST (`/api/2.1/unity-catalog`): catalogs, schemas,
models, versions, aliases, tags, credentials and grants, named as the Unity Catalog OSS
specification names them. GET fields are query parameters; other methods' fields a JSON body
(clients may repeat path fields in either, which the server ignores)."""

from __future__ import annotations

from modelcatalog.api.openapi import (
    ALIAS,
    AWS_TEMP_CREDENTIALS,
    COMMENT,
    EMPTY,
    EXISTING_PRINCIPAL,
    FLAG,
    MILLIS,
    MODEL_FULL_NAME,
    NAME,
    PAGED,
    SCHEMA_FULL_NAME,
    TAG_KEY,
    TAG_OUT,
    TAGS,
    TEXT,
    VERSION,
    VERSION_DIGITS,
    Operation,
    anycase,
    array,
    boolean,
    component,
    integer,
    nullable,
    obj,
    string,
)
from modelcatalog.domain import privileges as pv
from modelcatalog.domain.statuses import VersionStatus

STAMPS = {
    "owner": string(),
    "created_at": MILLIS,
    "created_by": string(),
    "updated_at": MILLIS,
    "updated_by": string(),
}
STAMPED = ("owner", "created_at", "created_by", "updated_at", "updated_by")
TAG_LIST = array(TAG_OUT)

CATALOG = component(
    "CatalogInfo",
    obj(
        {
            "name": string(),
            "comment": nullable(string()),
            "properties": obj({}),
            **STAMPS,
            "id": string(),
            "tags": TAG_LIST,
        },
        ("name", "comment", "properties", *STAMPED, "id", "tags"),
    ),
)
SCHEMA = component(
    "SchemaInfo",
    obj(
        {
            "name": string(),
            "catalog_name": string(),
            "full_name": string(),
            "comment": nullable(string()),
            "properties": obj({}),
            **STAMPS,
            "schema_id": string(),
            "tags": TAG_LIST,
        },
        ("name", "catalog_name", "full_name", "comment", "properties", *STAMPED, "schema_id"),
    ),
)
DEPLOYMENT_JOB_STATE = string(
    "How the model's link to its deployment job stands.",
    enum=["NOT_SET_UP", "CONNECTED", "NOT_FOUND", "REQUIRED_PARAMETERS_CHANGED"],
)
MODEL = component(
    "RegisteredModelInfo",
    obj(
        {
            "name": string(),
            "catalog_name": string(),
            "schema_name": string(),
            "full_name": string(),
            "comment": nullable(string()),
            "storage_location": string(),
            **STAMPS,
            "id": string(),
            "browse_only": boolean(),
            "aliases": array(
                obj(
                    {
                        "alias_name": string(),
                        "version_num": integer(),
                        "catalog_name": string(),
                        "schema_name": string(),
                        "model_name": string(),
                    },
                    ("alias_name", "version_num"),
                )
            ),
            "tags": TAG_LIST,
            "deployment_job_id": string(),
            "deployment_job_state": DEPLOYMENT_JOB_STATE,
        },
        ("name", "catalog_name", "schema_name", "full_name", "comment", "storage_location"),
    ),
)
VERSION_STATUS = string(
    "PENDING_REGISTRATION until finalized; only READY versions can be loaded or aliased.",
    enum=[status.value for status in VersionStatus],
)
VERSION_JOB_STATE = obj(
    {k: string() for k in ("job_id", "run_id", "job_state", "run_state", "current_task_name")},
    description="The version's deployment run, when its model has a deployment job.",
)
LINEAGE_ENTITY = obj(
    {
        "kind": string("table, notebook, job, pipeline"),
        "id": string(),
        "name": string("A table's full name, a job's task."),
        "run_id": string("The notebook's or job's run."),
        "update_id": string("The pipeline's update."),
    },
    ("kind", "id"),
)
VERSION_LINEAGE = obj(
    {
        "run_id": string(),
        "run_link": string("The run in the MLflow tracking UI (with --tracking-ui-url)."),
        "model_id": string("The MLflow logged model the version came from."),
        "copied_from": obj(
            {"name": string(), "version": string(), "id": string()},
            description="The catalog version this one is a copy of.",
        ),
        "upstream": array(LINEAGE_ENTITY, "Tables, notebooks, jobs the version came from."),
        "readers": array(LINEAGE_ENTITY, "Notebooks and jobs that read it, newest first."),
    },
    description="Where the version came from and what read it (on a read of one version).",
)
MODEL_VERSION = component(
    "ModelVersionInfo",
    obj(
        {
            "model_name": string(),
            "catalog_name": string(),
            "schema_name": string(),
            "version": integer(),
            "source": string(),
            "run_id": nullable(string()),
            "comment": nullable(string()),
            "status": VERSION_STATUS,
            "storage_location": string(),
            "created_at": MILLIS,
            "created_by": string(),
            "updated_at": MILLIS,
            "updated_by": string(),
            "id": string(),
            "aliases": array(
                obj({"alias_name": string(), "version_num": integer()}, ("alias_name",))
            ),
            "tags": TAG_LIST,
            "model_id": string(),
            "status_message": string(),
            "signature_waiver": string("Why this version was let through without a signature."),
            "origin": obj({}, description="Where a migrated version came from."),
            "deployment_job_state": VERSION_JOB_STATE,
            "lineage": VERSION_LINEAGE,
        },
        ("model_name", "catalog_name", "schema_name", "version", "status", "storage_location"),
    ),
)


def listing(key: str, item: dict) -> dict:
    return obj({key: array(item), "next_page_token": string()}, (key,))


OWNER = {**EXISTING_PRINCIPAL, "description": "The new owner: an existing principal."}
UPDATE = {
    "new_name": nullable(string(pattern=f"^(|{NAME['pattern'][1:-1]})$")),
    "comment": COMMENT,
    "owner": nullable(OWNER),
}
CONFLICT = (400, 401, 403, 404, 409, 429, 503)

CREATE_CATALOG = Operation(
    CATALOG,
    body=obj({"name": NAME, "comment": COMMENT}, ("name",)),
    body_required=True,
    errors=CONFLICT,
)
LIST_CATALOGS = Operation(listing("catalogs", CATALOG), query=PAGED)
GET_CATALOG = Operation(CATALOG, path={"name": NAME})
UPDATE_CATALOG = Operation(CATALOG, path={"name": NAME}, body=obj(UPDATE), errors=CONFLICT)
DELETE_CATALOG = Operation(
    EMPTY,
    path={"name": NAME},
    query={"force": FLAG},
)

CREATE_SCHEMA = Operation(
    SCHEMA,
    body=obj({"catalog_name": NAME, "name": NAME, "comment": COMMENT}, ("catalog_name", "name")),
    body_required=True,
    errors=CONFLICT,
)
LIST_SCHEMAS = Operation(
    listing("schemas", SCHEMA),
    query={"catalog_name": NAME, **PAGED},
    required_query=("catalog_name",),
)
GET_SCHEMA = Operation(SCHEMA, path={"full_name": SCHEMA_FULL_NAME})
UPDATE_SCHEMA = Operation(
    SCHEMA, path={"full_name": SCHEMA_FULL_NAME}, body=obj(UPDATE), errors=CONFLICT
)
DELETE_SCHEMA = Operation(EMPTY, path={"full_name": SCHEMA_FULL_NAME}, query={"force": FLAG})

DEPLOYMENT_JOB_ID = nullable(
    {
        "anyOf": [
            string(
                "A deployment job's id or name to link (empty unlinks).", format="deployment-job"
            ),
            {
                "type": "integer",
                "description": "A job id given as a number, as some clients send it.",
            },
        ]
    }
)
CREATE_MODEL = Operation(
    MODEL,
    body=obj(
        {
            "catalog_name": NAME,
            "schema_name": NAME,
            "name": NAME,
            "comment": COMMENT,
            "tags": TAGS,
            "deployment_job_id": DEPLOYMENT_JOB_ID,
        },
        ("catalog_name", "schema_name", "name"),
    ),
    body_required=True,
    errors=CONFLICT,
)
LIST_MODELS = Operation(
    listing("registered_models", MODEL),
    query={"catalog_name": NAME, "schema_name": NAME, **PAGED},
)
MODEL_PATH = {"full_name": MODEL_FULL_NAME}
GET_MODEL = Operation(
    MODEL, path=MODEL_PATH, query={"include_aliases": FLAG, "include_browse": FLAG}
)
UPDATE_MODEL = Operation(
    MODEL,
    path=MODEL_PATH,
    body=obj({**UPDATE, "deployment_job_id": DEPLOYMENT_JOB_ID}),
    errors=CONFLICT,
)
DELETE_MODEL = Operation(EMPTY, path=MODEL_PATH)

CREATE_VERSION = Operation(
    MODEL_VERSION,
    body=obj(
        {
            "catalog_name": NAME,
            "schema_name": NAME,
            "model_name": NAME,
            "source": TEXT,
            "run_id": TEXT,
            "comment": COMMENT,
            "tags": TAGS,
            "run_tracking_server_id": TEXT,
            "model_id": TEXT,
        },
        ("catalog_name", "schema_name", "model_name"),
    ),
    body_required=True,
)
VERSION_PATH = {"full_name": MODEL_FULL_NAME, "version": VERSION_DIGITS}
LIST_VERSIONS = Operation(listing("model_versions", MODEL_VERSION), path=MODEL_PATH, query=PAGED)
GET_VERSION = Operation(MODEL_VERSION, path=VERSION_PATH)
UPDATE_VERSION = Operation(MODEL_VERSION, path=VERSION_PATH, body=obj({"comment": COMMENT}))
DELETE_VERSION = Operation(EMPTY, path=VERSION_PATH)
FINALIZE_VERSION = Operation(MODEL_VERSION, path=VERSION_PATH, body=obj({}))
CREDENTIALS = obj(
    {
        "storage_mode": string(
            "Files move through the Files API's presigned URLs (no credentials).",
            enum=["DEFAULT_STORAGE"],
        ),
        "aws_temp_credentials": AWS_TEMP_CREDENTIALS,
        "expiration_time": MILLIS,
    },
    ("expiration_time",),
)
VERSION_CREDENTIALS = Operation(
    CREDENTIALS,
    body=obj(
        {
            "catalog_name": NAME,
            "schema_name": NAME,
            "model_name": NAME,
            "version": VERSION,
            "operation": string(enum=["READ_MODEL_VERSION", "READ_WRITE_MODEL_VERSION"]),
        },
        ("catalog_name", "schema_name", "model_name", "version", "operation"),
    ),
    body_required=True,
)

ALIAS_PATH = {"full_name": MODEL_FULL_NAME, "alias": ALIAS}
SET_ALIAS = Operation(
    obj(
        {
            "alias_name": string(),
            "version_num": integer(),
            "id": string(),
            "model_name": string(),
            "catalog_name": string(),
            "schema_name": string(),
        },
        ("alias_name", "version_num", "id", "model_name", "catalog_name", "schema_name"),
    ),
    path=ALIAS_PATH,
    body=obj(
        {"version_num": VERSION},
        ("version_num",),
        "The READY version the alias names (`version` is read when `version_num` is absent).",
    ),
    body_required=True,
)
GET_ALIAS = Operation(MODEL_VERSION, path=ALIAS_PATH)
DELETE_ALIAS = Operation(EMPTY, path=ALIAS_PATH)

TAG_CHANGES = obj(
    {
        "changes": obj(
            {"add_tags": TAGS, "remove": nullable(array(TAG_KEY))},
            description="Tags to set and tag keys to remove.",
        )
    },
    ("changes",),
)
SECURABLE_NAMES = {"catalog": NAME, "schema": SCHEMA_FULL_NAME, "registered_model": MODEL_FULL_NAME}
# Documented once per securable type (the type decides the name's shape); any case is accepted,
# and MLflow's databricks-uc store calls a model FUNCTION.
SECURABLE_TAGS = {
    kind: Operation(EMPTY, path={"full_name": name}, body=TAG_CHANGES, body_required=True)
    for kind, name in {**SECURABLE_NAMES, "FUNCTION": MODEL_FULL_NAME}.items()
}
VERSION_TAGS = {
    kind: Operation(
        EMPTY,
        path={"full_name": MODEL_FULL_NAME, "subentity": VERSION_DIGITS},
        body=TAG_CHANGES,
        body_required=True,
    )
    for kind in ("registered_model", "FUNCTION")
}

# Grants -------------------------------------------------------------------------------------


def _privilege(kind: str) -> dict:
    words = [p.value for p in (*pv.GRANTABLE[kind], pv.Privilege.ALL_PRIVILEGES)]
    spelled = "|".join(anycase(w).replace(" ", "[ _]") for w in words)
    return string(
        f"One of {', '.join(words)}; spaces may be underscores, any case.",
        pattern=f"^\\s*(?:{spelled})\\s*$",
    )


def _changes(kind: str) -> dict:
    privileges = nullable(array(_privilege(kind)))
    change = obj(
        {"principal": EXISTING_PRINCIPAL, "add": privileges, "remove": privileges}, ("principal",)
    )
    return obj({"changes": array(change, minItems=1)}, ("changes",))


ASSIGNMENTS = component(
    "PermissionsList",
    obj(
        {
            "privilege_assignments": array(
                obj(
                    {"principal": string(), "privileges": array(string())},
                    ("principal", "privileges"),
                )
            )
        },
        ("privilege_assignments",),
    ),
)
EFFECTIVE = obj(
    {
        "privilege_assignments": array(
            obj(
                {
                    "principal": string(),
                    "owner_of": string("The securable this principal owns, if any."),
                    "metastore_admin": boolean(),
                    "privileges": array(
                        obj(
                            {
                                "privilege": string(),
                                "inherited_from_type": string(),
                                "inherited_from_name": string(),
                                "via_groups": array(string()),
                            },
                            ("privilege",),
                        )
                    ),
                },
                ("principal", "privileges"),
            )
        )
    },
    ("privilege_assignments",),
)
# The metastore is one securable; the name in its path is not read.
GRANT_NAMES = {**SECURABLE_NAMES, "metastore": string("Not read: there is one metastore.")}
GET_PERMISSIONS = {
    kind: Operation(
        ASSIGNMENTS, path={"full_name": name}, query={"principal": string("Only this principal.")}
    )
    for kind, name in GRANT_NAMES.items()
}
UPDATE_PERMISSIONS = {
    kind: Operation(ASSIGNMENTS, path={"full_name": name}, body=_changes(kind), body_required=True)
    for kind, name in GRANT_NAMES.items()
}
EFFECTIVE_PERMISSIONS = {
    kind: Operation(EFFECTIVE, path={"full_name": name}, query={"principal": EXISTING_PRINCIPAL})
    for kind, name in GRANT_NAMES.items()
}
