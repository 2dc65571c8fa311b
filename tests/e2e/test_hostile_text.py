"""Hostile text in every text field of every dialect: refused with a 400 naming the field, or
stored as sent, and answered the same way on SQLite and on PostgreSQL; never a 5xx.

One table lists the fields (where the value goes, and what kind of text the field holds); one
table lists what each kind accepts. Every field meets every hostile value."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest

from support.http import error_of, ok
from support.servers import RunningServer

# Each database has its own limits on text (PostgreSQL refuses NUL, for one).
pytestmark = pytest.mark.both_databases

REG = "/api/2.0/mlflow/unity-catalog"
UC = "/api/2.1/unity-catalog"
MC = "/api/modelcatalog"

VALUES = {
    "nul": "a\x00b",
    "surrogate": "a\udfffb",
    "control": "a\x07b",
    "newline": "line one\nline two\r\n\tindented",
    "blank": " ",
    "long": None,  # one character over the field's limit, or long where it has none
    "non_ascii": "modèle_模型_ü",
}

OK, BAD, REFUSED, ANY = "ok", "bad", "refused", "any"
"""2xx; 400 naming the field; any 4xx; anything but a 5xx."""

EXPECTED = {
    # kind:      nul  surrogate control newline blank long non_ascii
    "prose": (BAD, BAD, BAD, OK, OK, BAD, OK),
    "tag_key": (BAD, BAD, BAD, BAD, BAD, BAD, OK),
    "name": (BAD, BAD, BAD, BAD, BAD, BAD, BAD),
    "line": (BAD, BAD, BAD, BAD, OK, BAD, OK),
    "ref": (BAD, BAD, BAD, BAD, REFUSED, REFUSED, REFUSED),
    "free": (BAD, BAD, BAD, ANY, ANY, ANY, ANY),
}


@dataclass(frozen=True)
class Field:
    """One text field: the request that carries it, where the value goes, and its kind."""

    id: str
    method: str
    path: str  # {model}, {schema}, {catalog}, {uniq} and {value} (path placement) are filled in
    body: dict | None
    field: str  # as the error message names it
    kind: str
    limit: int | None = None
    query: dict | None = None


V = "{value}"
FIELDS = [
    # Unity Catalog REST ------------------------------------------------------------------
    Field("uc-catalog-name", "POST", UC + "/catalogs", {"name": V}, "name", "name", 255),
    Field(
        "uc-catalog-comment",
        "POST",
        UC + "/catalogs",
        {"name": "{uniq}", "comment": V},
        "comment",
        "prose",
        65_536,
    ),
    Field(
        "uc-catalog-update-comment",
        "PATCH",
        UC + "/catalogs/{catalog}",
        {"comment": V},
        "comment",
        "prose",
        65_536,
    ),
    Field(
        "uc-schema-name",
        "POST",
        UC + "/schemas",
        {"catalog_name": "{catalog}", "name": V},
        "name",
        "name",
        255,
    ),
    Field(
        "uc-model-name",
        "POST",
        UC + "/models",
        {"catalog_name": "{catalog}", "schema_name": "s", "name": V},
        "name",
        "name",
        255,
    ),
    Field(
        "uc-model-comment",
        "PATCH",
        UC + "/models/{model}",
        {"comment": V},
        "comment",
        "prose",
        65_536,
    ),
    Field(
        "uc-model-new-name", "PATCH", UC + "/models/{model}", {"new_name": V}, "new_name", "name"
    ),
    Field("uc-model-owner", "PATCH", UC + "/models/{model}", {"owner": V}, "owner", "ref"),
    Field(
        "uc-version-run-id",
        "POST",
        UC + "/models/versions",
        {
            "catalog_name": "{catalog}",
            "schema_name": "s",
            "model_name": "{model_part}",
            "source": "s3://bucket/run/model",
            "run_id": V,
        },
        "run_id",
        "line",
        64,
    ),
    Field(
        "uc-version-source",
        "POST",
        UC + "/models/versions",
        {
            "catalog_name": "{catalog}",
            "schema_name": "s",
            "model_name": "{model_part}",
            "source": V,
        },
        "source",
        "free",
    ),
    Field(
        "uc-version-comment",
        "PATCH",
        UC + "/models/{model}/versions/1",
        {"comment": V},
        "comment",
        "prose",
        65_536,
    ),
    Field(
        "uc-alias-in-path",
        "PUT",
        UC + "/models/{model}/aliases/{value}",
        {"version_num": 1},
        "alias",
        "name",
        255,
    ),
    Field(
        "uc-tag-key",
        "PATCH",
        UC + "/securable-tags/registered_model/{model}",
        {"changes": {"add_tags": [{"key": V, "value": "x"}]}},
        "key",
        "tag_key",
        255,
    ),
    Field(
        "uc-tag-value",
        "PATCH",
        UC + "/securable-tags/registered_model/{model}",
        {"changes": {"add_tags": [{"key": "k", "value": V}]}},
        "value",
        "prose",
        1000,
    ),
    Field(
        "uc-grant-principal",
        "PATCH",
        UC + "/permissions/registered_model/{model}",
        {"changes": [{"principal": V, "add": ["EXECUTE"]}]},
        "principal",
        "ref",
    ),
    Field(
        "uc-list-models-query",
        "GET",
        UC + "/models",
        None,
        "catalog_name",
        "ref",
        query={"catalog_name": V, "schema_name": "s"},
    ),
    # The model-registry dialect (MLflow's databricks-uc client) --------------------------
    Field(
        "registry-create-name",
        "POST",
        REG + "/registered-models/create",
        {"name": "{catalog}.s." + V},
        "name",
        "name",
        255,
    ),
    Field(
        "registry-update-description",
        "PATCH",
        REG + "/registered-models/update",
        {"name": "{model}", "description": V},
        "description",
        "prose",
        65_536,
    ),
    Field(
        "registry-set-tag-key",
        "POST",
        REG + "/registered-models/set-tag",
        {"name": "{model}", "key": V, "value": "x"},
        "key",
        "tag_key",
        255,
    ),
    Field(
        "registry-set-tag-value",
        "POST",
        REG + "/registered-models/set-tag",
        {"name": "{model}", "key": "k2", "value": V},
        "value",
        "prose",
        1000,
    ),
    Field(
        "registry-version-run-id",
        "POST",
        REG + "/model-versions/create",
        {"name": "{model}", "source": "s3://bucket/run/model", "run_id": V},
        "run_id",
        "line",
        64,
    ),
    Field(
        "registry-version-description",
        "POST",
        REG + "/model-versions/create",
        {"name": "{model}", "source": "s3://bucket/run/model", "description": V},
        "description",
        "prose",
        65_536,
    ),
    Field(
        "registry-version-tag-key",
        "POST",
        REG + "/model-versions/create",
        {"name": "{model}", "source": "s3://b/m", "tags": [{"key": V, "value": "x"}]},
        "key",
        "tag_key",
        255,
    ),
    Field(
        "registry-version-set-tag-value",
        "POST",
        REG + "/model-versions/set-tag",
        {"name": "{model}", "version": "1", "key": "k3", "value": V},
        "value",
        "prose",
        1000,
    ),
    Field(
        "registry-alias",
        "POST",
        REG + "/registered-models/alias",
        {"name": "{model}", "alias": V, "version": "1"},
        "alias",
        "name",
        255,
    ),
    Field(
        "registry-get-query",
        "GET",
        REG + "/registered-models/get",
        None,
        "name",
        "ref",
        query={"name": "{catalog}.s." + V},
    ),
    Field(
        "registry-search-filter",
        "GET",
        REG + "/model-versions/search",
        None,
        "filter",
        "free",
        query={"filter": "name='" + V + "'"},
    ),
    Field(
        "files-upload-path",
        "POST",
        "/api/2.0/fs/create-upload-url",
        {"path": "/Models/{catalog}/s/{model_part}/1/" + V},
        "path",
        "free",
    ),
    # modelcatalog's own API ------------------------------------------------------------
    Field(
        "token-comment",
        "POST",
        MC + "/tokens",
        {"comment": V, "lifetime_seconds": 3600},
        "comment",
        "prose",
        65_536,
    ),
    Field("principal-name", "POST", MC + "/principals", {"name": V}, "name", "name", 255),
    Field(
        "audit-filter-principal",
        "GET",
        MC + "/audit",
        None,
        "principal",
        "free",
        query={"principal": V},
    ),
    Field("job-id-in-path", "GET", MC + "/jobs/{value}", None, "name", "ref"),
    Field("run-id-in-path", "GET", MC + "/deployment-runs/{value}", None, "run_id", "ref"),
    Field("trigger-id-in-path", "GET", MC + "/triggers/{value}", None, "name", "ref"),
    Field(
        "approver-in-path",
        "PUT",
        MC + "/models/{model}/deployment-approvers/{value}",
        None,
        "principal",
        "ref",
    ),
    Field(
        "destination-name",
        "POST",
        MC + "/notification-destinations",
        {"name": V, "kind": "email", "address": "ml@example.com"},
        "name",
        "name",
        255,
    ),
    Field(
        "destination-address",
        "POST",
        MC + "/notification-destinations",
        {"name": "{uniq}", "kind": "email", "address": V},
        "address",
        "ref",
    ),
    Field("job-definition", "POST", MC + "/jobs", {"definition": V}, "definition", "free"),
]


@pytest.fixture(scope="module")
def target(server: RunningServer) -> dict[str, str]:
    """A catalog, schema and model with one version, shared by every case of this module."""
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
        catalog = f"c_{uuid.uuid4().hex[:10]}"
        ok(api.post(UC + "/catalogs", json={"name": catalog}))
        ok(api.post(UC + "/schemas", json={"name": "s", "catalog_name": catalog}))
        ok(api.post(REG + "/registered-models/create", json={"name": f"{catalog}.s.m"}))
        ok(api.post(REG + "/model-versions/create", json={"name": f"{catalog}.s.m", "source": "x"}))
    return {"catalog": catalog, "model": f"{catalog}.s.m", "model_part": "m"}


def _value(name: str, spec: Field) -> str:
    if name == "long":
        in_url = spec.query is not None or "{value}" in spec.path
        # 8,000 characters in a URL (as much as common proxies pass), 70,000 in a body.
        return "x" * ((spec.limit or (7_999 if in_url else 69_999)) + 1)
    return VALUES[name]


def _fill(template: object, value: str, names: dict[str, str], in_path: bool = False) -> object:
    if isinstance(template, dict):
        return {k: _fill(v, value, names) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, value, names) for v in template]
    if not isinstance(template, str):
        return template
    filled = template
    for key, replacement in {**names, "uniq": f"u_{uuid.uuid4().hex[:10]}"}.items():
        filled = filled.replace("{" + key + "}", replacement)
    if "{value}" not in filled:
        return filled
    return filled.replace("{value}", quote(value, safe="") if in_path else value)


CASES = [
    pytest.param(spec, name, EXPECTED[spec.kind][i], id=f"{spec.id}-{name}")
    for spec in FIELDS
    for i, name in enumerate(VALUES)
    # An unpaired surrogate cannot be written in a URL (it has no UTF-8 form): JSON only.
    if not (name == "surrogate" and (spec.query or "{value}" in spec.path))
]


@pytest.mark.parametrize(("spec", "value_name", "expected"), CASES)
def test_hostile_text_is_refused_naming_the_field_or_stored_as_sent(
    server: RunningServer, target: dict[str, str], spec: Field, value_name: str, expected: str
) -> None:
    value = _value(value_name, spec)
    path = str(_fill(spec.path, value, target, in_path=True))
    body = _fill(spec.body, value, target)
    params = _fill(spec.query, value, target) if spec.query else None
    # JSON with \\u escapes, as clients send it (an unpaired surrogate has no UTF-8 form).
    content = json.dumps(body).encode() if body is not None else None
    response = httpx.request(
        spec.method,
        server.url + path,
        params=params,  # type: ignore[arg-type]
        content=content,
        headers={**server.headers(), "Content-Type": "application/json"},
        timeout=60,
    )
    described = f"{spec.method} {spec.path} {value_name}: {response.status_code} {response.text}"
    assert response.status_code < 500, described
    if expected == OK:
        assert response.is_success, described
    elif expected == BAD:
        message = error_of(response, 400)["message"]
        assert spec.field in message, described
    elif expected == REFUSED:
        assert 400 <= response.status_code < 500, described


PROSE = "Line one\n\tindented, with a carriage return\r\nand modèle 模型 ü"


def test_prose_keeps_tabs_newlines_and_non_ascii_as_sent(
    server: RunningServer, target: dict[str, str]
) -> None:
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
        model = target["model"]
        ok(api.patch(f"{UC}/models/{model}", json={"comment": PROSE}))
        ok(
            api.post(
                f"{REG}/registered-models/set-tag",
                json={"name": model, "key": "note", "value": PROSE},
            )
        )
        ok(
            api.post(
                f"{REG}/registered-models/set-tag",
                json={"name": model, "key": "ключ", "value": "v"},
            )
        )
        assert ok(api.get(f"{UC}/models/{model}"))["comment"] == PROSE
        tags = ok(api.get(f"{REG}/registered-models/get", params={"name": model}))[
            "registered_model"
        ]["tags"]
        assert {"key": "note", "value": PROSE} in tags
        assert {"key": "ключ", "value": "v"} in tags
