"""The migration path: versions keep their source numbers, reruns are answered with what was
made, a signature waiver is honoured and visible, and the origin is recorded."""

from __future__ import annotations

import httpx

from support.http import error_of, ok, unique
from support.versions import REGISTRY_2_0, UC_2_1, create_model, put_file

ROUTE = "/api/modelcatalog/migration/versions"
UNSIGNED_MLMODEL = "artifact_path: model\nflavors:\n  python_function: {}\n"


def _origin(version: str) -> dict:
    return {
        "registry": "sqlite:///old-registry.db",
        "model": "churn",
        "version": version,
        "run_id": "abc123",
        "run_link": "http://mlflow.example/#/runs/abc123",
    }


def test_numbers_gaps_reruns_and_origin(api: httpx.Client, schema: str) -> None:
    name = f"{schema}.{unique()}"
    create_model(api, name)
    seven = ok(api.post(ROUTE, json={"name": name, "version": 7, "origin": _origin("7")}))
    assert seven["version"] == 7
    assert seven["status"] == "PENDING_REGISTRATION"
    assert seven["origin"] == _origin("7")
    again = ok(api.post(ROUTE, json={"name": name, "version": 7, "origin": _origin("7")}))
    assert again["id"] == seven["id"]
    clash = api.post(ROUTE, json={"name": name, "version": 7, "origin": _origin("8")})
    assert error_of(clash, 409)["error_code"] == "ALREADY_EXISTS"
    ok(api.post(ROUTE, json={"name": name, "version": 3, "origin": _origin("3")}))
    created = ok(
        api.post(f"{REGISTRY_2_0}/model-versions/create", json={"name": name, "source": "x"})
    )
    assert created["model_version"]["version"] == "8"  # after the highest number, never reused
    listed = ok(api.get(f"{UC_2_1}/models/{name}/versions"))["model_versions"]
    assert sorted(v["version"] for v in listed) == [3, 7, 8]  # the gaps stay gaps


def test_a_waiver_lets_a_version_without_signature_become_ready(
    api: httpx.Client, schema: str
) -> None:
    name = f"{schema}.{unique()}"
    create_model(api, name)
    made = ok(
        api.post(
            ROUTE,
            json={
                "name": name,
                "version": 2,
                "origin": _origin("2"),
                "signature_waiver": "legacy model; input example lost",
            },
        )
    )
    put_file(api, name, str(made["version"]), "MLmodel", UNSIGNED_MLMODEL)
    ready = ok(api.patch(f"{UC_2_1}/models/{name}/versions/2/finalize", json={}))
    assert ready["status"] == "READY"
    assert ready["signature_waiver"] == "legacy model; input example lost"
    # Without a waiver the same files are refused.
    plain = ok(api.post(ROUTE, json={"name": name, "version": 3, "origin": _origin("3")}))
    put_file(api, name, str(plain["version"]), "MLmodel", UNSIGNED_MLMODEL)
    refused = api.patch(f"{UC_2_1}/models/{name}/versions/3/finalize", json={})
    assert refused.status_code == 400
    assert "signature" in refused.json()["message"]


def test_bad_requests_name_the_field(api: httpx.Client, schema: str) -> None:
    name = f"{schema}.{unique()}"
    create_model(api, name)
    for body, field in [
        ({"name": name, "version": 1}, "origin"),
        ({"name": name, "version": 1, "origin": {"registry": "x"}}, "origin"),
        ({"name": name, "version": 0, "origin": _origin("0")}, "version"),
        ({"name": name, "version": 1, "origin": {**_origin("1"), "extra": 1}}, "origin"),
        (
            {"name": name, "version": 1, "origin": _origin("1"), "signature_waiver": " "},
            "signature_waiver",
        ),
    ]:
        response = api.post(ROUTE, json=body)
        assert response.status_code == 400, (body, response.text)
        assert field in response.json()["message"], (body, response.text)


def test_migrated_tags_keep_prose_values_whatever_their_keys(
    api: httpx.Client, schema: str
) -> None:
    # A tag's key is data, not a field name: `run_id` and `source` here are tags, whose values
    # are prose, as set-tag takes them.
    name = f"{schema}.{unique()}"
    create_model(api, name)
    tags = {"note": "first line\n\tsecond", "run_id": "r" * 100, "source": "a\r\nb", "key": ""}
    ok(api.post(ROUTE, json={"name": name, "version": 1, "origin": _origin("1"), "tags": tags}))
    kept = ok(api.get(f"{REGISTRY_2_0}/model-versions/get", params={"name": name, "version": "1"}))
    assert {t["key"]: t["value"] for t in kept["model_version"]["tags"]} == tags
    refused = api.post(
        ROUTE,
        json={"name": name, "version": 2, "origin": _origin("2"), "tags": {"note": "nul\x00"}},
    )
    assert "'tags.note' contains a NUL character" in error_of(refused, 400)["message"]
