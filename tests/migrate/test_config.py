"""migration.yaml: every field checked, each mistake named with what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelcatalog.migrate.config import MigrationConfig
from modelcatalog.migrate.mapping import MappingError


def _load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> MigrationConfig:
    path = tmp_path / "migration.yaml"
    path.write_text(text)
    return MigrationConfig.load(path, env=env or {})


def test_defaults_follow_the_design_stage_policy() -> None:
    config = MigrationConfig.load(None, env={})
    assert config.stage_aliases == {"Production": "Production", "Staging": "Staging"}
    assert config.stage_tag == "migrated_stage"
    assert (config.signature_policy, config.tag_overflow) == ("require", "tag")


def test_full_config_is_read(tmp_path: Path) -> None:
    (tmp_path / "people.yaml").write_text("bob@corp.com: bob\n")
    config = _load(
        tmp_path,
        "models: {Churn: ml.prod.churn}\n"
        "include: ['c*']\nexclude: ['tmp_*']\n"
        "stage_policy: {aliases: {Production: champion, Staging: null}, stage_tag: old_stage}\n"
        "signatures:\n  policy: infer\n  waiver: legacy models\n  supplied:\n"
        '    churn: {inputs: \'[{"type": "double", "name": "x"}]\','
        " outputs: [{type: long}], versions: [2, 1]}\n"
        "tags: {overflow: description, overflow_tag: extra_tags}\n"
        "principals: {alice@corp.com: alice}\nprincipals_file: people.yaml\n"
        "permissions: [{model: churn, principal: carol, level: CAN_EDIT, kind: group}]\n",
    )
    assert config.models == {"Churn": "ml.prod.churn"}
    assert config.stage_aliases == {"Production": "champion"}
    assert config.stage_tag == "old_stage"
    assert config.signature_policy == "infer"
    supplied = config.supplied_signatures["churn"]
    assert supplied.versions == (1, 2) and supplied.applies_to(2) and not supplied.applies_to(3)
    assert supplied.outputs == '[{"type": "long"}]'
    assert config.tag_overflow == "description" and config.overflow_tag == "extra_tags"
    assert config.principals == {"bob@corp.com": "bob", "alice@corp.com": "alice"}
    assert config.permissions[0].level == "CAN_EDIT" and config.permissions[0].kind == "group"


@pytest.mark.parametrize("value", ["true", "TRUE", "1"])
def test_skip_signature_variable_means_waive(tmp_path: Path, value: str) -> None:
    config = _load(
        tmp_path,
        "signatures: {policy: require}\n",
        env={"MLFLOW_SKIP_SIGNATURE_CHECK_FOR_UC_REGISTRY_MIGRATION": value},
    )
    assert config.signature_policy == "waive"


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        pytest.param("colour: red\n", "colour", "allowed: exclude", id="unknown-top"),
        pytest.param("models: [a]\n", "models", "mapping", id="models-list"),
        pytest.param("models: {a: b.c}\n", "models.a", "three-level", id="short-target"),
        pytest.param(
            "stage_policy: {aliases: {Archived: old}}\n",
            "stage_policy.aliases.Archived",
            "Archived",
            id="archived-alias",
        ),
        pytest.param(
            "stage_policy: {aliases: {Production: latest}}\n",
            "stage_policy.aliases.Production",
            "reserved",
            id="reserved-alias",
        ),
        pytest.param(
            "stage_policy: {aliases: {Production: x, Staging: X}}\n",
            "stage_policy.aliases",
            "same alias",
            id="same-alias",
        ),
        pytest.param(
            "stage_policy: {aliasses: {}}\n", "stage_policy.aliasses", "allowed", id="typo"
        ),
        pytest.param(
            "signatures: {policy: skip}\n",
            "signatures.policy",
            "allowed: require, infer, waive",
            id="policy",
        ),
        pytest.param("signatures: {waiver: ' '}\n", "signatures.waiver", "empty", id="waiver"),
        pytest.param(
            "signatures: {supplied: {m: {inputs: '[]'}}}\n",
            "signatures.supplied.m.outputs",
            "missing",
            id="supplied-no-outputs",
        ),
        pytest.param(
            "signatures: {supplied: {m: {inputs: 'nope', outputs: 'nope'}}}\n",
            "signatures.supplied.m.inputs",
            "not an MLflow signature",
            id="supplied-garbage",
        ),
        pytest.param(
            'signatures: {supplied: {m: {inputs: \'[{"type": "long"}]\', '
            'outputs: \'[{"type": "long"}]\', versions: [0]}}}\n',
            "signatures.supplied.m.versions",
            "version numbers",
            id="supplied-version-0",
        ),
        pytest.param("tags: {overflow: drop}\n", "tags.overflow", "tag, description", id="drop"),
        pytest.param(
            "tags: {overflow_tag: 'a.b'}\n", "tags.overflow_tag", "may not contain", id="tag-key"
        ),
        pytest.param("principals: {a: ' '}\n", "principals.a", "principal", id="principal"),
        # A pattern's `$` also matches before a final newline: names are matched whole.
        pytest.param(
            'principals: {a: "alice\\n"}\n', "principals.a", "principal", id="principal-newline"
        ),
        pytest.param(
            'stage_policy: {aliases: {Production: "champion\\n"}}\n',
            "stage_policy.aliases.Production",
            "alias",
            id="alias-newline",
        ),
        pytest.param('models: {a: "c.s.m\\n"}\n', "models.a", "three-level", id="name-newline"),
        pytest.param(
            "permissions: [{model: m, principal: p, level: OWNER}]\n",
            "permissions[0].level",
            "CAN_READ",
            id="level",
        ),
        pytest.param(
            "permissions: [{model: m, principal: p, level: CAN_READ, kind: robot}]\n",
            "permissions[0].kind",
            "user, group, service_principal",
            id="kind",
        ),
        pytest.param(
            "permissions: [{principal: p, level: CAN_READ}]\n",
            "permissions[0].model",
            "missing",
            id="no-model",
        ),
        pytest.param("principals_file: absent.yaml\n", "", "cannot be read", id="no-file"),
    ],
)
def test_bad_config_names_the_field_and_what_is_allowed(
    tmp_path: Path, text: str, field: str, words: str
) -> None:
    with pytest.raises(MappingError) as caught:
        _load(tmp_path, text)
    assert caught.value.field_path == field
    assert words in str(caught.value)
