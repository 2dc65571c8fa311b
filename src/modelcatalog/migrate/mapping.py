"""The model-name and alias map: how a source registry's names and stages land in the catalog.

One definition shared by the migration planner (which writes it into a plan) and the workload
rewriter (which reads it back to fix code), so both always agree on where a model went.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

DEFAULT_CATALOG = "main"
DEFAULT_SCHEMA = "default"
DEFAULT_STAGE_TAG = "migrated_stage"
#: Stages that may carry an alias. Archived (and None) never get one, per the stage policy.
ALIASABLE_STAGES = ("Production", "Staging")
DEFAULT_STAGE_ALIASES: Mapping[str, str] = MappingProxyType(
    {"Production": "Production", "Staging": "Staging"}
)
#: Every stage MLflow knows, keyed by its lower-case spelling (MLflow compares them so).
KNOWN_STAGES: Mapping[str, str] = MappingProxyType(
    {s.lower(): s for s in ("Production", "Staging", "Archived", "None")}
)

_NAME_PART = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_ALIAS = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)
_TAG_KEY_FORBIDDEN = set(".,-=/:")
_NAME_PART_RULE = "1 to 255 letters, digits, '_' or '-'"


class MappingError(ValueError):
    """A plan or map file that cannot be used, with the field at fault and what is allowed."""

    def __init__(self, source: str, field_path: str, problem: str, allowed: str = "") -> None:
        self.source = source
        self.field_path = field_path
        self.problem = problem
        self.allowed = allowed
        where = f"{source}: {field_path}" if field_path else source
        message = f"{where}: {problem}"
        if allowed:
            message += f" ({allowed})"
        super().__init__(message)


def is_full_name(name: str) -> bool:
    """True if `name` is a valid three-level `catalog.schema.model` name."""
    parts = name.split(".")
    return len(parts) == 3 and all(_NAME_PART.fullmatch(p) for p in parts)


def normalise_part(part: str) -> str:
    """Lower-case a name part and replace what the catalog does not allow with `_`."""
    cleaned = re.sub(r"[^a-z0-9_-]", "_", part.lower())[:255]
    return cleaned or "_"


def alias_problem(alias: str) -> str | None:
    """Why `alias` is not a valid alias name, or None if it is."""
    if not _ALIAS.fullmatch(alias):
        return f"alias {alias!r} is not {_NAME_PART_RULE}"
    if _RESERVED_ALIAS.fullmatch(alias):
        return f"alias {alias!r} is reserved (MLflow resolves 'latest' and 'v<digits>' itself)"
    return None


def tag_key_problem(key: str) -> str | None:
    """Why `key` is not a valid tag key, or None if it is."""
    if not 1 <= len(key) <= 255:
        return f"tag key {key!r} must be 1 to 255 characters"
    bad = sorted(_TAG_KEY_FORBIDDEN & set(key))
    if bad:
        return f"tag key {key!r} contains {' '.join(bad)}, which tag keys may not contain"
    return None


@dataclass(frozen=True)
class ModelMap:
    """Where each source model goes and which alias each stage becomes."""

    catalog: str = DEFAULT_CATALOG
    schema: str = DEFAULT_SCHEMA
    models: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    stage_aliases: Mapping[str, str] = field(default_factory=lambda: DEFAULT_STAGE_ALIASES)
    stage_tag: str | None = DEFAULT_STAGE_TAG
    #: True when catalog and schema are the built-in defaults rather than configured ones.
    default_namespace: bool = True
    #: The file the map came from, or None for the built-in defaults.
    origin: str | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Read-only mapping views cannot be pickled; worker processes need copies.
        return _rebuild, (
            self.catalog,
            self.schema,
            dict(self.models),
            dict(self.stage_aliases),
            self.stage_tag,
            self.default_namespace,
            self.origin,
        )

    @classmethod
    def default(cls) -> ModelMap:
        """The defaults the migration planner applies when nothing is configured."""
        return cls()

    @property
    def namespace(self) -> str:
        """The default `catalog.schema` prefix for names that have none."""
        return f"{self.catalog}.{self.schema}"

    def is_explicit(self, source_name: str) -> bool:
        """True if `source_name` has its own entry in the map."""
        return self._lookup(source_name) is not None

    def target_name(self, source_name: str) -> str:
        """The catalog's full name for a source model name."""
        explicit = self._lookup(source_name)
        if explicit is not None:
            return explicit
        parts = source_name.split(".")
        if len(parts) == 3 and all(parts):
            return ".".join(normalise_part(p) for p in parts)
        return f"{self.namespace}.{normalise_part(source_name)}"

    def alias_for_stage(self, stage: str) -> str | None:
        """The alias a stage becomes (stage names compare case-insensitively), or None."""
        canonical = KNOWN_STAGES.get(stage.lower())
        return self.stage_aliases.get(canonical) if canonical else None

    def _lookup(self, source_name: str) -> str | None:
        if source_name in self.models:
            return self.models[source_name]
        folded = source_name.casefold()
        for key, value in self.models.items():
            if key.casefold() == folded:
                return value
        return None

    # Loaders -----------------------------------------------------------------------------

    @classmethod
    def from_map_file(cls, path: str | Path) -> ModelMap:
        """Load a map file: `catalog`, `schema`, `models`, `aliases`, `stage_tag`."""
        source = str(path)
        doc = _load_yaml_mapping(path)
        allowed = {"catalog", "schema", "models", "aliases", "stage_tag"}
        _reject_unknown(source, "", doc, allowed)
        catalog, schema = _namespace(source, "", doc)
        models_raw = doc.get("models") or {}
        if not isinstance(models_raw, dict):
            raise MappingError(source, "models", "must be a mapping", "source name: c.s.m")
        models = {}
        for key, target in models_raw.items():
            models[str(key)] = _full_name(source, f"models.{key}", target)
        return cls(
            catalog=catalog or DEFAULT_CATALOG,
            schema=schema or DEFAULT_SCHEMA,
            models=MappingProxyType(models),
            stage_aliases=_aliases(source, "aliases", doc.get("aliases")),
            stage_tag=_stage_tag(source, "stage_tag", doc, DEFAULT_STAGE_TAG),
            default_namespace=catalog is None and schema is None,
            origin=source,
        )

    @classmethod
    def from_plan_file(cls, path: str | Path) -> ModelMap:
        """Load the name and alias map out of a migration plan (`version: 1`)."""
        source = str(path)
        doc = _load_yaml_mapping(path)
        version = doc.get("version")
        if version != 1:
            raise MappingError(source, "version", f"is {version!r}", "supported: 1")
        target = doc.get("target")
        if not isinstance(target, dict):
            raise MappingError(source, "target", "is missing or not a mapping", "catalog, schema")
        catalog, schema = _namespace(source, "target.", target)
        if catalog is None or schema is None:
            missing = "target.catalog" if catalog is None else "target.schema"
            raise MappingError(source, missing, "is missing", _NAME_PART_RULE)
        policy = doc.get("stage_policy") or {}
        if not isinstance(policy, dict):
            raise MappingError(source, "stage_policy", "must be a mapping", "aliases, stage_tag")
        models_raw = doc.get("models") or []
        if not isinstance(models_raw, list):
            raise MappingError(source, "models", "must be a list", "items: {source, target}")
        models: dict[str, str] = {}
        for i, item in enumerate(models_raw):
            where = f"models[{i}]"
            if not isinstance(item, dict):
                raise MappingError(source, where, "must be a mapping", "source, target")
            src = item.get("source")
            if not isinstance(src, str) or not src:
                raise MappingError(source, f"{where}.source", "is missing or empty")
            if src in models:
                raise MappingError(source, f"{where}.source", f"{src!r} is listed twice")
            models[src] = _full_name(source, f"{where}.target", item.get("target"))
        return cls(
            catalog=catalog,
            schema=schema,
            models=MappingProxyType(models),
            stage_aliases=_aliases(source, "stage_policy.aliases", policy.get("aliases")),
            stage_tag=_stage_tag(source, "stage_policy.stage_tag", policy, DEFAULT_STAGE_TAG),
            default_namespace=False,
            origin=source,
        )


def _rebuild(
    catalog: str,
    schema: str,
    models: dict[str, str],
    stage_aliases: dict[str, str],
    stage_tag: str | None,
    default_namespace: bool,
    origin: str | None,
) -> ModelMap:
    return ModelMap(
        catalog,
        schema,
        MappingProxyType(models),
        MappingProxyType(stage_aliases),
        stage_tag,
        default_namespace,
        origin,
    )


def _load_yaml_mapping(path: str | Path) -> dict[str, Any]:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(source, "", f"cannot be read: {exc.strerror or exc}") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(source, "", f"is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise MappingError(source, "", "must be a YAML mapping at the top level")
    return doc


def _reject_unknown(source: str, prefix: str, doc: dict[str, Any], allowed: set[str]) -> None:
    for key in doc:
        if key not in allowed:
            raise MappingError(
                source,
                f"{prefix}{key}",
                "is not a known field",
                f"allowed: {', '.join(sorted(allowed))}",
            )


def _namespace(source: str, prefix: str, doc: dict[str, Any]) -> tuple[str | None, str | None]:
    values: list[str | None] = []
    for key in ("catalog", "schema"):
        value = doc.get(key)
        if value is not None and (not isinstance(value, str) or not _NAME_PART.fullmatch(value)):
            raise MappingError(
                source, f"{prefix}{key}", f"{value!r} is not a valid name", _NAME_PART_RULE
            )
        values.append(value.lower() if isinstance(value, str) else None)
    return values[0], values[1]


def _full_name(source: str, where: str, value: object) -> str:
    if not isinstance(value, str) or not is_full_name(value):
        raise MappingError(
            source,
            where,
            f"{value!r} is not a three-level name",
            f"expected catalog.schema.model, each part {_NAME_PART_RULE}",
        )
    return value.lower()


def _aliases(source: str, where: str, raw: object) -> Mapping[str, str]:
    if raw is None:
        return DEFAULT_STAGE_ALIASES
    if not isinstance(raw, dict):
        raise MappingError(
            source, where, "must be a mapping", "Production: <alias>, Staging: <alias>"
        )
    aliases = dict(DEFAULT_STAGE_ALIASES)
    for stage, alias in raw.items():
        if stage not in ALIASABLE_STAGES:
            raise MappingError(
                source,
                f"{where}.{stage}",
                "is not a stage that can have an alias",
                "allowed: Production, Staging; Archived versions get only the stage tag",
            )
        if alias is None:
            aliases.pop(stage, None)
            continue
        problem = alias_problem(str(alias)) if isinstance(alias, str) else "must be a string"
        if problem:
            raise MappingError(source, f"{where}.{stage}", problem, _NAME_PART_RULE)
        aliases[stage] = alias
    return MappingProxyType(aliases)


def _stage_tag(source: str, where: str, doc: dict[str, Any], default: str) -> str | None:
    if "stage_tag" not in doc:
        return default
    key = doc["stage_tag"]
    if key is None:
        return None
    problem = tag_key_problem(key) if isinstance(key, str) else "must be a string or null"
    if problem:
        raise MappingError(source, where, problem, "none of . , - = / : and 1 to 255 characters")
    return key
