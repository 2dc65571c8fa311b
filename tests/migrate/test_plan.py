"""Plans built from an MLflow registry: names, stages, signatures, grants, activity; bad plans."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from modelcatalog.migrate.config import MigrationConfig
from modelcatalog.migrate.extras.model import (
    Comment,
    Level,
    ModelPermission,
    PrincipalKind,
    SourceExtras,
    StageChange,
    VersionActivity,
)
from modelcatalog.migrate.mapping import MappingError
from modelcatalog.migrate.plan import PlanError, build_plan
from modelcatalog.migrate.plan_file import read_plan, write_plan
from modelcatalog.migrate.plan_model import Plan
from modelcatalog.migrate.shard import Shard
from modelcatalog.migrate.source import SourceError, SourceRegistry
from support.migrate import SourceFixture


def _config(tmp_path: Path, text: str) -> MigrationConfig:
    path = tmp_path / "migration.yaml"
    path.write_text(text)
    return MigrationConfig.load(path, env={})


def _plan(source: SourceFixture, config: MigrationConfig, extras: object = None) -> Plan:
    return build_plan(
        SourceRegistry(source.uri),
        config,
        target_url="http://127.0.0.1:1",
        catalog="main",
        schema="ml",
        extras=extras,
    )


def _model(plan: Plan, source_name: str) -> object:
    return next(m for m in plan.models if m.source == source_name)


def test_require_skips_incomplete_signatures_and_says_why(
    source_registry: SourceFixture,
) -> None:
    plan = _plan(source_registry, MigrationConfig.load(None, env={}))
    fraud = _model(plan, "fraud")
    assert [v.version for v in fraud.versions] == [1, 5]
    reasons = {s.version: s.reason for s in fraud.skipped}
    assert "version 3 has no signature; policy 'require'" in reasons[3]
    assert "version 4 has a signature with inputs only" in reasons[4]
    # The newest Staging version is skipped, so no alias points at an older one instead.
    assert fraud.aliases == {"Production": 5}
    assert any("alias 'Staging' not set" in note for note in fraud.notes)


def test_waive_keeps_every_version_and_records_the_reason(
    source_registry: SourceFixture, tmp_path: Path
) -> None:
    plan = _plan(source_registry, _config(tmp_path, "signatures: {policy: waive, waiver: legacy}"))
    fraud = _model(plan, "fraud")
    decisions = {v.version: v.signature for v in fraud.versions}
    assert [decisions[n].action for n in (1, 3, 4, 5)] == ["present", "waived", "waived", "present"]
    assert decisions[4].waiver == "legacy (the version has a signature with inputs only)"


def test_infer_without_an_input_example_is_impossible_and_explained(
    source_registry: SourceFixture, tmp_path: Path
) -> None:
    plan = _plan(source_registry, _config(tmp_path, "signatures: {policy: infer}"))
    fraud = _model(plan, "fraud")
    assert fraud.versions[1].version == 3 and fraud.versions[1].signature.action == "inferred"
    assert '"int64"' in fraud.versions[1].signature.outputs
    (skipped,) = fraud.skipped
    assert skipped.version == 4
    assert "logged without an input example" in skipped.reason


def test_explicit_names_and_configured_aliases(
    source_registry: SourceFixture, tmp_path: Path
) -> None:
    config = _config(
        tmp_path,
        "models: {Churn Model: risk.models.churn}\n"
        "stage_policy: {aliases: {Production: champion, Staging: null}, stage_tag: old_stage}\n",
    )
    plan = _plan(source_registry, config)
    churn = _model(plan, "Churn Model")
    assert churn.target == "risk.models.churn"
    # The source's own alias 'champion' points where the stage alias does: kept once.
    assert churn.aliases == {"champion": 3}
    assert churn.versions[0].tags["old_stage"] == "Archived"
    assert _model(plan, "fraud").target == "main.ml.fraud"


def test_two_models_landing_on_one_name_are_refused(
    source_registry: SourceFixture, tmp_path: Path
) -> None:
    config = _config(tmp_path, "models: {fraud: main.ml.churn_model}\n")
    with pytest.raises(PlanError, match="'Churn Model' and 'fraud' would both become"):
        _plan(source_registry, config)


def test_a_configured_model_missing_from_the_source_is_refused(
    source_registry: SourceFixture, tmp_path: Path
) -> None:
    with pytest.raises(PlanError, match="'absent' not in the source registry"):
        _plan(source_registry, _config(tmp_path, "models: {absent: a.b.c}\n"))


def test_include_and_exclude_choose_models(source_registry: SourceFixture, tmp_path: Path) -> None:
    plan = _plan(source_registry, _config(tmp_path, "include: ['*']\nexclude: ['Churn*']\n"))
    assert [m.source for m in plan.models] == ["fraud"]


def test_permissions_become_grants_with_parents_approvers_and_statements(
    source_registry: SourceFixture, tmp_path: Path
) -> None:
    config = _config(
        tmp_path,
        "principals: {alice@corp.com: alice}\n"
        "permissions:\n"
        "  - {model: fraud, principal: data-team, level: CAN_EDIT, kind: group}\n",
    )
    extras = SourceExtras(
        source_kind="mlflow",
        permissions={
            "fraud": [
                ModelPermission(
                    "alice@corp.com", PrincipalKind.USER, Level.CAN_MANAGE_PRODUCTION_VERSIONS, "x"
                )
            ]
        },
    )
    plan = _plan(source_registry, config, extras)
    fraud = _model(plan, "fraud")
    statements = [g.statement() for g in plan.all_grants()]
    assert "GRANT APPLY TAG, EXECUTE ON MODEL main.ml.fraud TO `alice`;" in statements
    assert (
        "GRANT APPLY TAG, CREATE MODEL VERSION, EXECUTE ON MODEL main.ml.fraud TO `data-team`;"
        in statements
    )
    assert "GRANT USE CATALOG ON CATALOG main TO `alice`;" in statements
    assert "GRANT USE SCHEMA ON SCHEMA main.ml TO `data-team`;" in statements
    assert fraud.approvers == ["alice"]
    assert {(p.name, p.kind) for p in plan.principals} == {
        ("alice", "user"),
        ("data-team", "group"),
    }
    assert not _model(plan, "Churn Model").grants


def test_activity_becomes_a_section_of_the_version_description(
    source_registry: SourceFixture,
) -> None:
    moment = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    extras = SourceExtras(
        source_kind="databricks",
        activity={
            ("fraud", "5"): VersionActivity(
                comments=(Comment("bob", moment, "looks good\nship it"),),
                stage_history=(StageChange("Staging", "Production", "carol", moment),),
            )
        },
    )
    plan = _plan(source_registry, MigrationConfig.load(None, env={}), extras)
    comment = _model(plan, "fraud").versions[-1].comment
    assert comment.startswith("## Migrated activity\n\n")
    assert '- 2024-03-01 09:30 UTC, bob commented: "looks good ship it"' in comment
    assert "carol moved the version Staging → Production" in comment


def test_plan_round_trips_through_its_file(source_registry: SourceFixture, tmp_path: Path) -> None:
    plan = _plan(source_registry, MigrationConfig.load(None, env={}))
    write_plan(plan, tmp_path / "plan.yaml")
    again = read_plan(tmp_path / "plan.yaml")
    write_plan(again, tmp_path / "again.yaml")
    assert (tmp_path / "again.yaml").read_text() == (tmp_path / "plan.yaml").read_text()


def test_a_missing_source_database_is_refused_and_not_created(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        SourceRegistry(f"sqlite:///{tmp_path}/absent.db")
    assert not (tmp_path / "absent.db").exists()


_VERSION = (
    "  - version: 3\n    artifact_uri: file:///x\n    files: 1\n    bytes: 1\n"
    "    origin: {registry: r, model: m, version: '3'}\n"
)
_HEAD = "version: 1\nsource: {registry_uri: 'sqlite:///x.db'}\n"
_TARGET = "target: {url: 'http://h:1', catalog: c, schema: s}\n"


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        pytest.param(
            _HEAD + "target: {url: 'ftp://h', catalog: c, schema: s}\n",
            "target.url",
            "http(s) URL",
            id="url",
        ),
        pytest.param(
            _HEAD + "target: {url: 'http://h', catalog: c}\n",
            "target.schema",
            "missing",
            id="schema",
        ),
        pytest.param(
            _HEAD + _TARGET + "signature_policy: none\n", "signature_policy", "require", id="policy"
        ),
        pytest.param(
            _HEAD + _TARGET + "models:\n- source: m\n  target: c.s.m\n  aliases: {prod: 7}\n"
            "  versions:\n" + _VERSION,
            "models[0].aliases.prod",
            "a version this plan copies",
            id="alias-to-uncopied",
        ),
        pytest.param(
            _HEAD
            + _TARGET
            + "models:\n- source: m\n  target: c.s.m\n  versions:\n"
            + _VERSION
            + _VERSION,
            "models[0].versions[1].version",
            "listed twice",
            id="duplicate-version",
        ),
        pytest.param(
            _HEAD
            + _TARGET
            + "models:\n- source: m\n  target: c.s.m\n  versions:\n"
            + _VERSION
            + "    signature: {action: waived}\n",
            "models[0].versions[0].signature.waiver",
            "missing",
            id="waiver",
        ),
        pytest.param(
            _HEAD
            + _TARGET
            + "models:\n- source: m\n  target: c.s.m\n- source: n\n  target: c.s.m\n",
            "models[1].source",
            "also in models[0]",
            id="two-sources-one-target",
        ),
    ],
)
def test_bad_plans_name_the_field(tmp_path: Path, text: str, field: str, words: str) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    with pytest.raises(MappingError) as caught:
        read_plan(path)
    assert caught.value.field_path == field
    assert words in str(caught.value)


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "a/b", "1", "1/2/3"])
def test_bad_shards_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=text.replace("/", "/")):
        Shard.parse(text)


def test_shards_split_models_once_each() -> None:
    names = [f"model_{i}" for i in range(200)]
    shards = [Shard(i, 3) for i in (1, 2, 3)]
    owners = [[s for s in shards if s.includes(n)] for n in names]
    assert all(len(o) == 1 for o in owners)
    assert all(any(s.includes(n) for n in names) for s in shards)
