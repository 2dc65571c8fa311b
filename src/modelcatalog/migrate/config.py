"""`migration.yaml`: the choices a migration plan is built from, checked field by field.

models: {churn: ml.prod.churn}          # explicit targets; others are normalised
include: ["churn*"]                     # source names to take (glob); default all
exclude: ["tmp_*"]
stage_policy:
  aliases: {Production: champion, Staging: challenger}   # null: no alias for that stage
  stage_tag: migrated_stage                              # null: no stage tag
signatures:
  policy: require | infer | waive
  waiver: "reason recorded on every waived version"
  supplied:                             # signatures for models logged without one
    churn: {inputs: '<json>', outputs: '<json>', versions: [3, 4]}
tags:
  overflow: tag | description           # where tags beyond 50 go
  overflow_tag: migrated_tags
principals: {alice@corp.com: alice}     # source principal -> catalog principal
principals_file: principals.yaml        # the same, from a file
permissions:                            # for sources whose permissions cannot be read
  - {model: churn, principal: alice, level: CAN_READ, kind: user}
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from modelcatalog.domain.privileges import permission_map
from modelcatalog.errors import InvalidParameter
from modelcatalog.migrate.fields import Fields
from modelcatalog.migrate.mapping import (
    ALIASABLE_STAGES,
    DEFAULT_STAGE_ALIASES,
    DEFAULT_STAGE_TAG,
    MappingError,
    _aliases,
    _full_name,
    _load_yaml_mapping,
    _stage_tag,
)

SIGNATURE_POLICIES = ("require", "infer", "waive")
OVERFLOW_PLACES = ("tag", "description")
PRINCIPAL_KINDS = ("user", "group", "service_principal")
SKIP_SIGNATURE_ENV = "MLFLOW_SKIP_SIGNATURE_CHECK_FOR_UC_REGISTRY_MIGRATION"
DEFAULT_WAIVER = "migrated from a stage-based registry without a complete signature"
_PRINCIPAL = re.compile(r"^\S(.{0,253}\S)?$")


@dataclass(frozen=True)
class SuppliedSignature:
    """A signature given in the config for versions logged without one."""

    inputs: str
    outputs: str
    #: The versions it applies to; empty means every version of the model that lacks one.
    versions: tuple[int, ...] = ()

    def applies_to(self, version: int) -> bool:
        return not self.versions or version in self.versions


@dataclass(frozen=True)
class ConfiguredPermission:
    """A permission stated in the config (for sources whose permissions cannot be read)."""

    model: str
    principal: str
    level: str
    kind: str = "user"


@dataclass(frozen=True)
class MigrationConfig:
    """Everything a plan is built from besides the source itself."""

    models: Mapping[str, str] = field(default_factory=dict)
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    stage_aliases: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_STAGE_ALIASES))
    stage_tag: str | None = DEFAULT_STAGE_TAG
    signature_policy: str = "require"
    waiver: str = DEFAULT_WAIVER
    supplied_signatures: Mapping[str, SuppliedSignature] = field(default_factory=dict)
    tag_overflow: str = "tag"
    overflow_tag: str = "migrated_tags"
    principals: Mapping[str, str] = field(default_factory=dict)
    permissions: tuple[ConfiguredPermission, ...] = ()
    origin: str | None = None

    @classmethod
    def load(cls, path: str | Path | None, env: Mapping[str, str] | None = None) -> MigrationConfig:
        """Read a config file (None: every default), then apply the environment's waiver switch."""
        env = os.environ if env is None else env
        config = cls() if path is None else _parse(str(path), _load_yaml_mapping(path))
        if env.get(SKIP_SIGNATURE_ENV, "").strip().lower() in ("true", "1"):
            config = replace(config, signature_policy="waive")
        return config


def _parse(source: str, doc: dict) -> MigrationConfig:
    top = Fields(source, "", doc).only(
        "models",
        "include",
        "exclude",
        "stage_policy",
        "signatures",
        "tags",
        "principals",
        "principals_file",
        "permissions",
    )
    raw_models = top.doc.get("models") or {}
    if not isinstance(raw_models, dict):
        raise top.error("models", "must be a mapping", "source name: catalog.schema.model")
    models = {str(k): _full_name(source, f"models.{k}", v) for k, v in raw_models.items()}

    policy = top.mapping("stage_policy").only("aliases", "stage_tag")
    aliases = _aliases(source, "stage_policy.aliases", policy.doc.get("aliases"))
    chosen = [a.lower() for a in aliases.values()]
    if len(set(chosen)) != len(chosen):
        raise policy.error(
            "aliases", "gives two stages the same alias", "one alias per stage: Production, Staging"
        )
    stage_tag = _stage_tag(source, "stage_policy.stage_tag", policy.doc, DEFAULT_STAGE_TAG)

    signatures = top.mapping("signatures").only("policy", "waiver", "supplied")
    waiver = signatures.str("waiver", DEFAULT_WAIVER)
    if not waiver.strip():
        raise signatures.error("waiver", "is empty", "a reason people will read on the version")
    supplied = _supplied(signatures.mapping("supplied"))

    tags = top.mapping("tags").only("overflow", "overflow_tag")
    overflow_tag = tags.str("overflow_tag", "migrated_tags")
    _stage_tag(source, "tags.overflow_tag", {"stage_tag": overflow_tag}, overflow_tag)

    return MigrationConfig(
        models=models,
        include=tuple(top.str_list("include")),
        exclude=tuple(top.str_list("exclude")),
        stage_aliases=dict(aliases),
        stage_tag=stage_tag,
        signature_policy=signatures.choice("policy", SIGNATURE_POLICIES, "require"),
        waiver=waiver.strip(),
        supplied_signatures=supplied,
        tag_overflow=tags.choice("overflow", OVERFLOW_PLACES, "tag"),
        overflow_tag=overflow_tag,
        principals=_principals(top),
        permissions=tuple(_permission(item) for item in top.items("permissions")),
        origin=source,
    )


def _supplied(section: Fields) -> dict[str, SuppliedSignature]:
    # Deferred: MLflow loads only for a configuration that supplies signatures.
    from mlflow.models.signature import ModelSignature

    found = {}
    for model in section.doc:
        entry = section.mapping(str(model)).only("inputs", "outputs", "versions")
        parts = {}
        for key in ("inputs", "outputs"):
            value = entry.doc.get(key)
            if isinstance(value, list):
                value = json.dumps(value)
            if not isinstance(value, str) or not value.strip():
                raise entry.error(
                    key, "is missing", "a column list, as in an MLmodel file's signature"
                )
            parts[key] = value
        try:
            parsed = ModelSignature.from_dict(parts)
        except Exception as exc:
            raise entry.error("inputs", f"is not an MLflow signature: {exc}") from exc
        if parsed.inputs is None or parsed.outputs is None:
            raise entry.error("outputs", "is empty", "a signature needs inputs and outputs")
        versions = entry.doc.get("versions") or []
        if not isinstance(versions, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in versions
        ):
            raise entry.error("versions", f"is {versions!r}", "a list of version numbers")
        found[str(model)] = SuppliedSignature(
            parts["inputs"], parts["outputs"], tuple(sorted(set(versions)))
        )
    return found


def _principal_problem(key: str, value: str) -> str | None:
    if not _PRINCIPAL.fullmatch(value):
        return f"{value!r} is not a principal name (1 to 255 characters, no edge spaces)"
    return None


def _principals(top: Fields) -> dict[str, str]:
    mapping = {}
    path = top.str("principals_file")
    if path is not None:
        base = Path(top.source).parent
        file = Path(path) if Path(path).is_absolute() else base / path
        doc = _load_yaml_mapping(file)
        mapping.update(Fields(str(file), "", {"principals": doc}).str_map("principals"))
        for key, value in mapping.items():
            problem = _principal_problem(key, value)
            if problem:
                raise MappingError(str(file), key, problem)
    mapping.update(top.str_map("principals", _principal_problem))
    return mapping


def _permission(item: Fields) -> ConfiguredPermission:
    item.only("model", "principal", "level", "kind")
    level = item.str("level", required=True)
    try:
        permission_map(level)
    except InvalidParameter as exc:
        raise item.error("level", f"is {level!r}", str(exc)) from exc
    principal = item.str("principal", required=True)
    problem = _principal_problem("principal", principal)
    if problem:
        raise item.error("principal", problem)
    return ConfiguredPermission(
        model=item.str("model", required=True),
        principal=principal,
        level=level,
        kind=item.choice("kind", PRINCIPAL_KINDS, "user"),
    )


__all__ = [
    "ALIASABLE_STAGES",
    "ConfiguredPermission",
    "MigrationConfig",
    "SuppliedSignature",
]
