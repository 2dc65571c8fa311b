"""Malformed requests get a 400 that names the field, never a 500."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

REGISTRY = "/api/2.0/mlflow/unity-catalog"
UC = "/api/2.1/unity-catalog"


def token(value: object) -> str:
    """A page token of the server's encoding but with content it never issued."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.fixture
def model(api: httpx.Client, schema: str) -> str:
    name = f"{schema}.m"
    api.post(f"{REGISTRY}/registered-models/create", json={"name": name}).raise_for_status()
    api.post(
        f"{REGISTRY}/model-versions/create", json={"name": name, "source": "runs:/r/model"}
    ).raise_for_status()
    return name


CASES = [
    ("GET", UC + "/models/{model}/versions", {"page_token": token(["x"])}, None, "page_token"),
    ("GET", UC + "/models/{model}/versions", {"page_token": token([{}])}, None, "page_token"),
    ("GET", UC + "/models", {"page_token": token([1, 2, 3])}, None, "page_token"),
    ("GET", UC + "/catalogs", {"page_token": token([{"x": 1}])}, None, "page_token"),
    ("GET", UC + "/models", {"page_token": "not base64 !"}, None, "page_token"),
    ("GET", UC + "/models/{model}/versions/99999999999999999999", None, None, "'version'"),
    (
        "POST",
        REGISTRY + "/registered-models/alias",
        None,
        {"name": "{model}", "alias": "a", "version": 99999999999999999999},
        "'version'",
    ),
    ("PATCH", UC + "/models/{model}", None, {"owner": ["x"]}, "'owner'"),
    ("PATCH", UC + "/models/{model}", None, {"owner": "nobody-by-that-name"}, "'owner'"),
    ("PATCH", UC + "/models/{model}", None, {"new_name": 5}, "'new_name' must be a string"),
    (
        "POST",
        UC + "/models",
        None,
        {"catalog_name": 1, "schema_name": "s", "name": "z"},
        "'catalog_name' must be a string",
    ),
    ("POST", UC + "/catalogs", None, [1, 2], "JSON object"),
]


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "names"),
    CASES,
    ids=[
        "version-token-string",
        "version-token-object",
        "model-token-ints",
        "catalog-token-object",
        "token-garbage",
        "version-too-large-in-path",
        "alias-version-too-large",
        "owner-not-a-string",
        "owner-unknown",
        "new-name-not-a-string",
        "catalog-name-not-a-string",
        "body-not-an-object",
    ],
)
def test_malformed_request_is_a_400_naming_the_field(
    api: httpx.Client,
    model: str,
    method: str,
    path: str,
    params: dict | None,
    body: object,
    names: str,
) -> None:
    if isinstance(body, dict):
        body = {k: (v.format(model=model) if isinstance(v, str) else v) for k, v in body.items()}
    response = api.request(method, path.format(model=model), params=params, json=body)
    assert response.status_code == 400, response.text
    assert names in response.json()["message"]
