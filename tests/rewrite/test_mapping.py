"""The model-name and alias map shared by the planner and the rewriter."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from modelcatalog.migrate.mapping import MappingError, ModelMap, is_full_name


def test_default_map_uses_main_default_and_stage_named_aliases() -> None:
    m = ModelMap.default()
    assert (m.catalog, m.schema, m.stage_tag) == ("main", "default", "migrated_stage")
    assert m.alias_for_stage("Production") == "Production"
    assert m.alias_for_stage("staging") == "Staging"
    assert m.alias_for_stage("Archived") is None
    assert m.alias_for_stage("None") is None
    assert m.alias_for_stage("Prod") is None


@pytest.mark.parametrize(
    ("source", "target"),
    [
        pytest.param("churn", "main.default.churn", id="plain"),
        pytest.param("Churn", "main.default.churn", id="lower-cased"),
        pytest.param("Churn Model", "main.default.churn_model", id="space"),
        pytest.param("team.churn", "main.default.team_churn", id="two-parts-dot-replaced"),
        pytest.param("fraud-v2", "main.default.fraud-v2", id="hyphen-kept"),
        pytest.param("Prod.ML.Churn", "prod.ml.churn", id="three-parts-kept"),
        pytest.param("a" * 300, "main.default." + "a" * 255, id="truncated-to-255"),
    ],
)
def test_target_name_normalises_names_without_catalog_and_schema(source: str, target: str) -> None:
    assert ModelMap.default().target_name(source) == target
    assert is_full_name(target)


def test_explicit_entries_win_and_match_case_insensitively(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(
        "catalog: ml\nschema: prod\nmodels:\n  Churn: risk.models.churn_v2\n"
        "aliases:\n  Production: champion\n  Staging: challenger\nstage_tag: old_stage\n"
    )
    m = ModelMap.from_map_file(path)
    assert m.target_name("Churn") == "risk.models.churn_v2"
    assert m.target_name("churn") == "risk.models.churn_v2"
    assert m.target_name("fraud") == "ml.prod.fraud"
    assert m.alias_for_stage("Production") == "champion"
    assert m.stage_tag == "old_stage"
    assert not m.default_namespace
    assert m.origin == str(path)


def test_map_file_with_null_alias_and_null_stage_tag(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text("aliases:\n  Staging: null\nstage_tag: null\n")
    m = ModelMap.from_map_file(path)
    assert m.alias_for_stage("Staging") is None
    assert m.alias_for_stage("Production") == "Production"
    assert m.stage_tag is None
    assert m.default_namespace


def test_plan_file_supplies_target_aliases_and_models(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(
        "version: 1\n"
        "target: {catalog: ml, schema: migrated}\n"
        "stage_policy: {aliases: {Production: prod, Staging: stage}, stage_tag: registry_stage}\n"
        "models:\n"
        "  - {source: churn, target: ml.migrated.churn_model, grants: []}\n"
        "grants: []\n"
    )
    m = ModelMap.from_plan_file(path)
    assert m.target_name("churn") == "ml.migrated.churn_model"
    assert m.target_name("other") == "ml.migrated.other"
    assert m.alias_for_stage("Staging") == "stage"
    assert m.stage_tag == "registry_stage"


def test_model_map_survives_pickling_for_worker_processes() -> None:
    m = ModelMap.default()
    assert pickle.loads(pickle.dumps(m)) == m


@pytest.mark.parametrize(
    ("content", "field", "words"),
    [
        pytest.param("- a\n", "", "mapping at the top level", id="not-a-mapping"),
        pytest.param("catalog: [\n", "", "not valid YAML", id="bad-yaml"),
        pytest.param("catalgo: x\n", "catalgo", "allowed: aliases", id="unknown-field"),
        pytest.param("catalog: 'a b'\n", "catalog", "not a valid name", id="bad-catalog"),
        pytest.param("models: {a: b.c}\n", "models.a", "three-level", id="short-target"),
        pytest.param("models: [a]\n", "models", "mapping", id="models-not-mapping"),
        pytest.param("aliases: {Archived: old}\n", "aliases.Archived", "Archived", id="archived"),
        pytest.param(
            "aliases: {Production: latest}\n",
            "aliases.Production",
            "reserved",
            id="reserved-latest",
        ),
        pytest.param(
            "aliases: {Production: v3}\n", "aliases.Production", "reserved", id="reserved-version"
        ),
        pytest.param(
            "aliases: {Production: 'a.b'}\n", "aliases.Production", "letters", id="bad-alias"
        ),
        pytest.param("stage_tag: mlflow.stage\n", "stage_tag", "may not contain", id="dotted-tag"),
    ],
)
def test_bad_map_files_name_the_field_and_what_is_allowed(
    tmp_path: Path, content: str, field: str, words: str
) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(content)
    with pytest.raises(MappingError) as caught:
        ModelMap.from_map_file(path)
    assert caught.value.field_path == field
    assert words in str(caught.value)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("content", "field"),
    [
        pytest.param("target: {catalog: a, schema: b}\n", "version", id="no-version"),
        pytest.param("version: 2\ntarget: {catalog: a, schema: b}\n", "version", id="version-2"),
        pytest.param("version: 1\n", "target", id="no-target"),
        pytest.param("version: 1\ntarget: {catalog: a}\n", "target.schema", id="no-schema"),
        pytest.param(
            "version: 1\ntarget: {catalog: a, schema: b}\nmodels: [{target: a.b.c}]\n",
            "models[0].source",
            id="no-source",
        ),
        pytest.param(
            "version: 1\ntarget: {catalog: a, schema: b}\nmodels: [{source: m, target: m}]\n",
            "models[0].target",
            id="short-target",
        ),
        pytest.param(
            "version: 1\ntarget: {catalog: a, schema: b}\n"
            "models: [{source: m, target: a.b.m}, {source: m, target: a.b.n}]\n",
            "models[1].source",
            id="duplicate-source",
        ),
        pytest.param(
            "version: 1\ntarget: {catalog: a, schema: b}\nstage_policy: {stage_tag: 'a=b'}\n",
            "stage_policy.stage_tag",
            id="bad-stage-tag",
        ),
    ],
)
def test_bad_plan_files_name_the_field(tmp_path: Path, content: str, field: str) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(content)
    with pytest.raises(MappingError) as caught:
        ModelMap.from_plan_file(path)
    assert caught.value.field_path == field


def test_missing_file_is_a_mapping_error(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot be read"):
        ModelMap.from_map_file(tmp_path / "absent.yaml")
