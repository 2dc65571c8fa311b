"""The catalog's domain rules, enforced by the server itself on both wire dialects (raw REST).

/api/2.0/mlflow/unity-catalog is the model-registry dialect (string versions, wrapped answers);
/api/2.1/unity-catalog is Unity Catalog REST (integer versions, bare answers).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pytest
from mlflow.exceptions import MlflowException

from support.http import error_of, ok, unique
from support.models import SIGNED_MLMODEL, TinyModel, log_tiny_model, mlflow_registry
from support.versions import (
    REGISTRY_2_0,
    UC_2_1,
    create_model,
    create_version,
    files_path,
    put_file,
    ready_version,
)

# The rules are kept by constraints and transactions, which each database keeps its own way.
pytestmark = pytest.mark.both_databases


@dataclass(frozen=True)
class Dialect:
    """How one wire dialect spells the calls these rules are checked through."""

    name: str
    invalid: str
    not_found: str

    def create_version(self, api: httpx.Client, full_name: str) -> httpx.Response:
        if self.name == "2.0":
            return api.post(
                f"{REGISTRY_2_0}/model-versions/create", json={"name": full_name, "source": "x"}
            )
        catalog, schema, model = full_name.split(".")
        return api.post(
            f"{UC_2_1}/models/versions",
            json={
                "catalog_name": catalog,
                "schema_name": schema,
                "model_name": model,
                "source": "x",
            },
        )

    def finalize(self, api: httpx.Client, full_name: str, version: str) -> httpx.Response:
        if self.name == "2.0":
            return api.post(
                f"{REGISTRY_2_0}/model-versions/finalize",
                json={"name": full_name, "version": version},
            )
        return api.patch(
            f"{UC_2_1}/models/{full_name}/versions/{version}/finalize",
            json={"full_name": full_name, "version": int(version)},
        )

    def get_version(self, api: httpx.Client, full_name: str, version: str) -> httpx.Response:
        if self.name == "2.0":
            return api.get(
                f"{REGISTRY_2_0}/model-versions/get", params={"name": full_name, "version": version}
            )
        return api.get(f"{UC_2_1}/models/{full_name}/versions/{version}")

    def status(self, api: httpx.Client, full_name: str, version: str) -> str:
        body = ok(self.get_version(api, full_name, version))
        return (body["model_version"] if self.name == "2.0" else body)["status"]

    def set_alias(
        self, api: httpx.Client, full_name: str, alias: str, version: str
    ) -> httpx.Response:
        if self.name == "2.0":
            return api.post(
                f"{REGISTRY_2_0}/registered-models/alias",
                json={"name": full_name, "alias": alias, "version": version},
            )
        return api.put(
            f"{UC_2_1}/models/{full_name}/aliases/{alias}",
            json={"full_name": full_name, "alias": alias, "version_num": int(version)},
        )

    def alias_version(self, api: httpx.Client, full_name: str, alias: str) -> httpx.Response:
        if self.name == "2.0":
            return api.get(
                f"{REGISTRY_2_0}/registered-models/alias",
                params={"name": full_name, "alias": alias},
            )
        return api.get(f"{UC_2_1}/models/{full_name}/aliases/{alias}")

    def version_of(self, body: dict) -> str:
        return str((body["model_version"] if self.name == "2.0" else body)["version"])

    def delete_version(self, api: httpx.Client, full_name: str, version: str) -> httpx.Response:
        if self.name == "2.0":
            return api.request(
                "DELETE",
                f"{REGISTRY_2_0}/model-versions/delete",
                json={"name": full_name, "version": version},
            )
        return api.delete(f"{UC_2_1}/models/{full_name}/versions/{version}")

    def create_model(self, api: httpx.Client, full_name: str, **extra: Any) -> httpx.Response:
        if self.name == "2.0":
            return api.post(
                f"{REGISTRY_2_0}/registered-models/create", json={"name": full_name, **extra}
            )
        catalog, schema, model = full_name.split(".", 2)
        if "description" in extra:
            extra["comment"] = extra.pop("description")
        return api.post(
            f"{UC_2_1}/models",
            json={"catalog_name": catalog, "schema_name": schema, "name": model, **extra},
        )

    def get_model(self, api: httpx.Client, full_name: str) -> httpx.Response:
        if self.name == "2.0":
            return api.get(f"{REGISTRY_2_0}/registered-models/get", params={"name": full_name})
        return api.get(f"{UC_2_1}/models/{full_name}")

    def model_name_of(self, body: dict) -> str:
        return body["registered_model"]["name"] if self.name == "2.0" else body["full_name"]

    def set_model_tag(
        self, api: httpx.Client, full_name: str, key: str, value: str
    ) -> httpx.Response:
        if self.name == "2.0":
            return api.post(
                f"{REGISTRY_2_0}/registered-models/set-tag",
                json={"name": full_name, "key": key, "value": value},
            )
        return api.patch(
            f"{UC_2_1}/securable-tags/registered_model/{full_name}",
            json={"changes": {"add_tags": [{"key": key, "value": value}]}},
        )


DIALECTS = [
    Dialect("2.0", "INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"),
    Dialect("2.1", "INVALID_ARGUMENT", "NOT_FOUND"),
]


@pytest.fixture(params=DIALECTS, ids=lambda d: f"api{d.name}")
def dialect(request: pytest.FixtureRequest) -> Dialect:
    return request.param


@pytest.fixture
def model(api: httpx.Client, schema: str) -> str:
    name = f"{schema}.{unique()}"
    create_model(api, name)
    return name


UNSIGNED = SIGNED_MLMODEL.split("signature:")[0]
INPUTS_ONLY = UNSIGNED + 'signature:\n  inputs: \'[{"type": "double", "name": "x"}]\'\n'


@pytest.mark.parametrize(
    ("mlmodel", "wording"),
    [
        (UNSIGNED, "did not contain any signature metadata"),
        (INPUTS_ONLY, "includes only inputs"),
    ],
    ids=["no-signature", "inputs-only"],
)
def test_version_without_full_signature_never_becomes_ready(
    api: httpx.Client, dialect: Dialect, model: str, mlmodel: str, wording: str
) -> None:
    version = dialect.version_of(ok(dialect.create_version(api, model)))
    put_file(api, model, version, "MLmodel", mlmodel)
    put_file(api, model, version, "model.pkl", b"\x80\x04N.")

    refused = error_of(dialect.finalize(api, model, version), 400)
    assert refused["error_code"] == dialect.invalid
    assert wording in refused["message"]
    assert "signature containing both input and output" in refused["message"]
    assert dialect.status(api, model, version) == "FAILED_REGISTRATION"

    again = dialect.finalize(api, model, version)
    assert again.status_code == 400
    assert dialect.status(api, model, version) == "FAILED_REGISTRATION"
    for relative in ("MLmodel", "model.pkl"):
        download = api.post(
            "/api/2.0/fs/create-download-url", json={"path": files_path(model, version, relative)}
        )
        assert error_of(download, 400)["error_code"] == "INVALID_STATE"
        assert "FAILED_REGISTRATION" in download.json()["message"]
    assert dialect.set_alias(api, model, "champion", version).status_code == 400


def test_alias_only_on_ready_versions(api: httpx.Client, dialect: Dialect, model: str) -> None:
    pending = create_version(api, model)
    refused = error_of(dialect.set_alias(api, model, "champion", pending), 400)
    assert "PENDING_REGISTRATION" in refused["message"]
    assert "READY" in refused["message"]
    error_of(dialect.alias_version(api, model, "champion"), 404)


def test_setting_an_alias_again_moves_it(api: httpx.Client, dialect: Dialect, model: str) -> None:
    first, second = ready_version(api, model), ready_version(api, model)
    ok(dialect.set_alias(api, model, "champion", first))
    assert dialect.version_of(ok(dialect.alias_version(api, model, "champion"))) == first
    ok(dialect.set_alias(api, model, "champion", second))
    assert dialect.version_of(ok(dialect.alias_version(api, model, "champion"))) == second
    aliases = ok(api.get(f"{UC_2_1}/models/{model}"))["aliases"]
    assert [(a["alias_name"], a["version_num"]) for a in aliases] == [("champion", int(second))]


def test_deleting_a_version_deletes_its_aliases(
    api: httpx.Client, dialect: Dialect, model: str
) -> None:
    version = ready_version(api, model)
    ok(dialect.set_alias(api, model, "champion", version))
    ok(dialect.set_alias(api, model, "challenger", version))
    ok(dialect.delete_version(api, model, version))
    for alias in ("champion", "challenger"):
        assert error_of(dialect.alias_version(api, model, alias), 404)["error_code"] == (
            dialect.not_found
        )
    assert ok(api.get(f"{UC_2_1}/models/{model}"))["aliases"] == []
    # The alias names are free again for a later version.
    later = ready_version(api, model)
    ok(dialect.set_alias(api, model, "champion", later))


@pytest.mark.parametrize("alias", ["latest", "Latest", "v3", "V12"])
def test_reserved_alias_names_are_refused(
    api: httpx.Client, dialect: Dialect, model: str, alias: str
) -> None:
    version = ready_version(api, model)
    refused = error_of(dialect.set_alias(api, model, alias, version), 400)
    assert refused["error_code"] == dialect.invalid
    assert "reserved" in refused["message"]


def test_version_numbers_are_never_reused_after_delete(
    api: httpx.Client, dialect: Dialect, model: str
) -> None:
    numbers = [dialect.version_of(ok(dialect.create_version(api, model))) for _ in range(3)]
    assert numbers == ["1", "2", "3"]
    ok(dialect.delete_version(api, model, "3"))
    assert dialect.version_of(ok(dialect.create_version(api, model))) == "4"


@pytest.mark.parametrize("stage", ["Production", "Staging", "latest"])
def test_stage_as_version_points_to_aliases(
    api: httpx.Client, dialect: Dialect, model: str, stage: str
) -> None:
    ready_version(api, model)
    refused = error_of(dialect.get_version(api, model, stage), 400)
    assert refused["error_code"] == dialect.invalid
    assert "alias" in refused["message"]
    assert "'version'" in refused["message"]


@pytest.fixture
def databricks_uc(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    with mlflow_registry(
        "databricks-uc",
        tmp_path,
        monkeypatch,
        DATABRICKS_HOST=server.url,
        DATABRICKS_TOKEN=server.admin_token,
        MLFLOW_ENABLE_UC_NATIVE_MODEL_REGISTRY=None,
    ) as client:
        yield client


def test_stage_apis_through_mlflow_point_to_aliases(
    databricks_uc: mlflow.MlflowClient, schema: str, tiny_model: TinyModel
) -> None:
    name = f"{schema}.staged"
    log_tiny_model(tiny_model, name)
    with pytest.raises(MlflowException, match="alias"):
        databricks_uc.transition_model_version_stage(name, "1", "Production")
    with pytest.raises(MlflowException, match="alias"):
        databricks_uc.get_latest_versions(name)
    with pytest.raises(MlflowException, match="alias"):
        mlflow.pyfunc.load_model(f"models:/{name}/Production")


@pytest.mark.parametrize(
    "bad",
    ["has.dot", "has space", "x" * 256, "bang!", ""],
    ids=["dot", "space", "256-chars", "punctuation", "empty"],
)
def test_model_name_rules(api: httpx.Client, dialect: Dialect, schema: str, bad: str) -> None:
    refused = error_of(dialect.create_model(api, f"{schema}.{bad}"), 400)
    assert refused["error_code"] == dialect.invalid
    assert "name" in refused["message"]


def test_names_are_case_insensitive_and_stored_lower_case(
    api: httpx.Client, dialect: Dialect, schema: str
) -> None:
    name = f"{schema}.{unique('Churn_Model')}"
    mixed = name.split(".")
    mixed = ".".join([mixed[0].upper(), mixed[1].upper(), mixed[2]])
    created = ok(dialect.create_model(api, mixed))
    assert dialect.model_name_of(created) == name.lower()
    assert dialect.model_name_of(ok(dialect.get_model(api, name.upper()))) == name.lower()
    duplicate = error_of(dialect.create_model(api, name.lower()), 409)
    assert duplicate["error_code"] in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS")
    longest = f"{schema}.{'m' * 255}"
    assert dialect.model_name_of(ok(dialect.create_model(api, longest))) == longest


def test_fifty_first_tag_is_refused(api: httpx.Client, dialect: Dialect, model: str) -> None:
    for i in range(50):
        ok(dialect.set_model_tag(api, model, f"k{i:02d}", "v"))
    refused = error_of(dialect.set_model_tag(api, model, "k50", "v"), 400)
    assert refused["error_code"] == dialect.invalid
    assert "50" in refused["message"]
    ok(dialect.set_model_tag(api, model, "k00", "changed"))  # replacing a tag is not adding one
    assert len(ok(api.get(f"{UC_2_1}/models/{model}"))["tags"]) == 50


@pytest.mark.parametrize("character", [".", "-", ":", ",", "=", "/"])
def test_tag_key_with_forbidden_character_is_refused_naming_it(
    api: httpx.Client, dialect: Dialect, model: str, character: str
) -> None:
    refused = error_of(dialect.set_model_tag(api, model, f"team{character}name", "v"), 400)
    assert refused["error_code"] == dialect.invalid
    assert f"may not contain {character}" in refused["message"]


def test_tag_value_longer_than_1000_characters_is_refused(
    api: httpx.Client, dialect: Dialect, model: str
) -> None:
    ok(dialect.set_model_tag(api, model, "fits", "v" * 1000))
    refused = error_of(dialect.set_model_tag(api, model, "long", "v" * 1001), 400)
    assert refused["error_code"] == dialect.invalid
    assert "1000" in refused["message"] and "'value'" in refused["message"]


def test_description_longer_than_65536_characters_is_refused(
    api: httpx.Client, dialect: Dialect, schema: str
) -> None:
    name = f"{schema}.{unique()}"
    ok(dialect.create_model(api, name, description="d" * 65_536))
    refused = error_of(dialect.create_model(api, f"{name}x", description="d" * 65_537), 400)
    assert refused["error_code"] == dialect.invalid
    assert "65,536" in refused["message"]
