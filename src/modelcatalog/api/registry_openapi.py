"""OpenAPI descriptions of the model-registry dialect (`/api/2.0/mlflow/unity-catalog`) and the
Files API with its presigned URLs, as MLflow's `databricks-uc` store speaks them: GET fields are
query parameters, other methods' fields a JSON body; version numbers are strings."""

from __future__ import annotations

from modelcatalog.api.openapi import (
    ALIAS,
    AWS_TEMP_CREDENTIALS,
    COMMENT,
    EMPTY,
    MILLIS,
    MODEL_FULL_NAME,
    PAGED,
    TAG_KEY,
    TAG_OUT,
    TAG_VALUE,
    TAGS,
    TEXT,
    VERSION,
    VERSION_DIGITS,
    Operation,
    array,
    boolean,
    component,
    integer,
    nullable,
    obj,
    string,
)
from modelcatalog.api.uc_openapi import DEPLOYMENT_JOB_ID, DEPLOYMENT_JOB_STATE, VERSION_STATUS

ALIAS_OUT = obj({"alias": string(), "version": string()}, ("alias", "version"))
STAMPS = {
    "creation_timestamp": MILLIS,
    "last_updated_timestamp": MILLIS,
    "user_id": string(),
    "description": string(),
    "aliases": array(ALIAS_OUT),
    "tags": array(TAG_OUT),
}
MODEL = component(
    "RegisteredModel",
    obj(
        {
            "name": string("`catalog.schema.model`."),
            **STAMPS,
            "deployment_job_id": string(),
            "deployment_job_state": DEPLOYMENT_JOB_STATE,
        },
        ("name", *STAMPS),
    ),
)
MODEL_VERSION = component(
    "ModelVersion",
    obj(
        {
            "name": string("The model's full name."),
            "version": string("The version number, as digits."),
            **STAMPS,
            "source": string(),
            "run_id": string(),
            "status": VERSION_STATUS,
            "storage_location": string(),
            "status_message": string(),
            "run_tracking_server_id": string(),
            "model_id": string(),
            "deployment_job_state": obj({}),
        },
        ("name", "version", *STAMPS, "source", "run_id", "status", "storage_location"),
    ),
)
WRAPPED_MODEL = obj({"registered_model": MODEL}, ("registered_model",))
WRAPPED_VERSION = obj({"model_version": MODEL_VERSION}, ("model_version",))
NAMED = {"name": MODEL_FULL_NAME}
NAMED_VERSION = {"name": MODEL_FULL_NAME, "version": VERSION}
CONFLICT = (400, 401, 403, 404, 409, 429, 503)


def body(fields: dict, *required: str) -> dict:
    return {"body": obj(fields, required), "body_required": bool(required)}


def query(fields: dict, *required: str) -> dict:
    return {"query": fields, "required_query": required}


CREATE_MODEL = Operation(
    WRAPPED_MODEL,
    **body(
        {
            **NAMED,
            "description": COMMENT,
            "tags": TAGS,
            "deployment_job_id": DEPLOYMENT_JOB_ID,
        },
        "name",
    ),
    errors=CONFLICT,
)
UPDATE_MODEL = Operation(
    WRAPPED_MODEL,
    **body(
        {
            **NAMED,
            "new_name": nullable(
                string(
                    "A new name: the model's own part, or a full name in the same schema.",
                    pattern=f"^(|{MODEL_FULL_NAME['pattern'][1:-1].split('.', 2)[-1]})$",
                )
            ),
            "description": COMMENT,
            "deployment_job_id": DEPLOYMENT_JOB_ID,
        },
        "name",
    ),
    errors=CONFLICT,
)
DELETE_MODEL = Operation(EMPTY, **body(NAMED, "name"))
GET_MODEL = Operation(WRAPPED_MODEL, **query(NAMED, "name"))
SEARCH_MODELS = Operation(
    obj({"registered_models": array(MODEL), "next_page_token": string()}, ("registered_models",)),
    **query({**PAGED, "filter": string("Not read: every model the caller may see is listed.")}),
)
SDK_PROBE = Operation(
    obj(
        {"is_databricks_sdk_models_artifact_repository_enabled": boolean()},
        ("is_databricks_sdk_models_artifact_repository_enabled",),
    )
)
SET_MODEL_TAG = Operation(
    EMPTY, **body({**NAMED, "key": TAG_KEY, "value": TAG_VALUE}, "name", "key")
)
DELETE_MODEL_TAG = Operation(EMPTY, **body({**NAMED, "key": TAG_KEY}, "name", "key"))
SET_ALIAS = Operation(EMPTY, **body({**NAMED_VERSION, "alias": ALIAS}, "name", "alias", "version"))
DELETE_ALIAS = Operation(EMPTY, **body({**NAMED, "alias": ALIAS}, "name", "alias"))
VERSION_BY_ALIAS = Operation(WRAPPED_VERSION, **query({**NAMED, "alias": ALIAS}, "name", "alias"))

CREATE_VERSION = Operation(
    WRAPPED_VERSION,
    **body(
        {
            **NAMED,
            "source": TEXT,
            "run_id": TEXT,
            "description": COMMENT,
            "tags": TAGS,
            "run_tracking_server_id": TEXT,
            "model_id": TEXT,
        },
        "name",
    ),
)
UPDATE_VERSION = Operation(
    WRAPPED_VERSION, **body({**NAMED_VERSION, "description": COMMENT}, "name", "version")
)
DELETE_VERSION = Operation(EMPTY, **body(NAMED_VERSION, "name", "version"))
GET_VERSION = Operation(WRAPPED_VERSION, **query(NAMED_VERSION, "name", "version"))
SEARCH_VERSIONS = Operation(
    obj({"model_versions": array(MODEL_VERSION), "next_page_token": string()}, ("model_versions",)),
    **query(
        {
            "filter": string(
                "`name='catalog.schema.model'` (or double quotes).",
                pattern=r"^\s*name\s*=\s*(?:'[A-Za-z0-9_-]{1,255}\.[A-Za-z0-9_-]{1,255}\."
                r"[A-Za-z0-9_-]{1,255}'|\"[A-Za-z0-9_-]{1,255}\.[A-Za-z0-9_-]{1,255}\."
                r"[A-Za-z0-9_-]{1,255}\")\s*$",
            ),
            **PAGED,
        },
        "filter",
    ),
)
FINALIZE_VERSION = Operation(WRAPPED_VERSION, **body(NAMED_VERSION, "name", "version"))
TEMPORARY_CREDENTIALS = Operation(
    obj(
        {
            "credentials": obj(
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
        },
        ("credentials",),
    ),
    **body(
        {
            **NAMED_VERSION,
            "operation": string(
                enum=["MODEL_VERSION_OPERATION_READ", "MODEL_VERSION_OPERATION_READ_WRITE"]
            ),
        },
        "name",
        "version",
        "operation",
    ),
)
DOWNLOAD_URI = Operation(
    obj({"artifact_uri": string()}, ("artifact_uri",)), **query(NAMED_VERSION, "name", "version")
)
SET_VERSION_TAG = Operation(
    EMPTY, **body({**NAMED_VERSION, "key": TAG_KEY, "value": TAG_VALUE}, "name", "version", "key")
)
DELETE_VERSION_TAG = Operation(
    EMPTY, **body({**NAMED_VERSION, "key": TAG_KEY}, "name", "version", "key")
)
EMIT_LINEAGE = Operation(
    EMPTY,
    **body(
        {**NAMED_VERSION, "model_version_lineage_info": obj({}), "securable": obj({})},
        "name",
        "version",
    ),
)

# Files ----------------------------------------------------------------------------------------

_PART = "[A-Za-z0-9_-]{1,255}"
_VERSION = VERSION_DIGITS["pattern"][1:-1]
# A confined file path: segments of no control character or backslash, none '.' or '..' (also
# percent-encoded) and none starting with the reserved '.modelcatalog-'.
_SEGMENT = r"(?!(?:\.|%2[Ee]){1,2}(?:/|$))(?!\.modelcatalog-)[^/\\\x00-\x1f\x7f-\x9f]{1,255}"
_VERSION_ROOT = f"Models/{_PART}/{_PART}/{_PART}/{_VERSION}"
FILE_PATH = string(
    "`/Models/<catalog>/<schema>/<model>/<version>/<file>`.",
    pattern=f"^/?{_VERSION_ROOT}/{_SEGMENT}(?:/{_SEGMENT})*$",
)
URL = obj(
    {
        "url": string(
            "A URL signed by this server, or by the bucket where clients reach it directly, "
            "valid for a limited time."
        ),
        "headers": array(obj({"name": string(), "value": string()})),
    },
    ("url", "headers"),
)
CREATE_UPLOAD_URL = Operation(URL, **body({"path": FILE_PATH}, "path"))
CREATE_DOWNLOAD_URL = Operation(URL, **body({"path": FILE_PATH}, "path"))
LIST_DIRECTORY = Operation(
    obj(
        {
            "contents": array(
                obj(
                    {
                        "path": string(),
                        "is_directory": boolean(),
                        "file_size": integer(),
                        "last_modified": MILLIS,
                        "name": string(),
                    },
                    ("path", "is_directory", "name"),
                )
            )
        },
        ("contents",),
    ),
    path={
        "path": string(
            "`Models/<catalog>/<schema>/<model>/<version>[/<folder>]`.",
            pattern=f"^{_VERSION_ROOT}(?:/{_SEGMENT})*/?$",
        )
    },
)
SIGNED = {
    "expires": string("Expiry, seconds since the epoch.", pattern="^[0-9]+$"),
    "principal": string("The principal the URL was issued to."),
    "signature": string("The server's signature of method, key, expiry and principal."),
}
PRESIGNED_PATH = {"key": string("The storage key the URL was issued for.")}
PRESIGNED_ERRORS = (400, 403, 404, 503)
PUT_OBJECT = Operation(
    None,
    path=PRESIGNED_PATH,
    **query(SIGNED, *SIGNED),
    body=string(format="binary"),
    body_required=True,
    body_media="application/octet-stream",
    ok_description="The file was stored.",
    errors=PRESIGNED_ERRORS,
    bearer=False,
)
GET_OBJECT = Operation(
    string(format="binary"),
    path=PRESIGNED_PATH,
    **query(SIGNED, *SIGNED),
    ok_media="*/*",
    ok_description="The file's bytes (the content type follows its name).",
    errors=PRESIGNED_ERRORS,
    bearer=False,
)
