"""`modelcatalog migrate assess`: what in a source registry will not move cleanly, and why.

Reads every registered model and version (through `SourceRegistry`) and the source's extras
(permissions, activity, webhooks) into an inventory, and runs the checks of `assess_checks`
over it (the catalog's rules, DESIGN.md: names, tags, signatures, stages). Each finding has a
stable code, a severity (`error`: will not migrate as is; `warning`: migrates with a change;
`info`: for the record), the model and version it concerns, a message and what the migration
will do about it. Rendering (JSON, HTML, terminal summary) lives in `assess_report`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from modelcatalog.migrate.assess_checks import (
    Finding,
    extras_unreadable,
    model_findings,
    name_findings,
    source_findings,
    version_findings,
)
from modelcatalog.migrate.assess_inventory import ModelInventory, VersionInventory
from modelcatalog.migrate.extras import (
    ExtrasError,
    SourceExtras,
    is_databricks,
    read_extras,
)
from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.migrate.source import SourceError, SourceRegistry, SourceVersion, display_uri

SEVERITIES = ("error", "warning", "info")
_DB_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
_SCHEMES_HELP = (
    "a folder of an MLflow file store, file:///path, sqlite:///path.db, "
    "postgresql://..., mysql://..., mssql://..., http(s)://mlflow-server, or databricks"
)


class AssessError(ValueError):
    """The assessment cannot start (a bad source URI); the message says what and why."""


@dataclass
class Assessment:
    """The whole readiness report of one source registry."""

    registry_uri: str
    tracking_uri: str
    models: list[ModelInventory]
    findings: list[Finding]
    extras: SourceExtras | None
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def counts(self) -> dict[str, int]:
        counted = Counter(f.severity for f in self.findings)
        return {severity: counted.get(severity, 0) for severity in SEVERITIES}

    def blocked_versions(self) -> set[tuple[str, int]]:
        """(model, version) pairs with an error finding of their own or of their model."""
        blocked_models = {f.model for f in self.findings if f.severity == "error" and not f.version}
        found: set[tuple[str, int]] = set()
        for f in self.findings:
            if f.severity == "error" and f.model and f.version is not None:
                found.add((f.model, f.version))
        for model in self.models:
            if model.name in blocked_models:
                found.update((model.name, v.source.version) for v in model.versions)
        return found


def check_source_uri(uri: str, option: str = "--source") -> str:
    """The URI if it names a registry assess can read; otherwise a precise AssessError."""
    if not uri or not uri.strip():
        raise AssessError(f"{option} is empty; expected {_SCHEMES_HELP}")
    uri = uri.strip()
    if is_databricks(uri):
        return uri
    parts = urlsplit(uri)
    scheme = parts.scheme.lower().split("+")[0]
    if len(scheme) == 1 and os.name == "nt":  # a Windows drive letter is a path
        scheme = ""
    if scheme in ("", "file"):
        path = parts.path if scheme == "file" else uri
        if not os.path.isdir(path):
            raise AssessError(
                f"{option} {uri!r}: the folder {path!r} does not exist; an MLflow file store "
                "is the folder that holds its 'models' folder (often ./mlruns)"
            )
        return uri
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise AssessError(f"{option} {uri!r} has no host; expected {scheme}://host[:port]")
        return uri
    if scheme == "sqlite":
        if not uri.startswith("sqlite:///"):
            raise AssessError(
                f"{option} {uri!r}: a SQLite URI is sqlite:///relative.db or "
                "sqlite:////absolute/path.db"
            )
        return uri
    if scheme in _DB_SCHEMES:
        return uri
    raise AssessError(
        f"{option} {display_uri(uri)!r} has the scheme {parts.scheme!r}, which is not a "
        f"registry assess can read; expected {_SCHEMES_HELP}"
    )


@dataclass
class AssessedModel:
    """One model as assessed: what was learnt about it and every finding about it."""

    inventory: ModelInventory
    findings: list[Finding]

    def blocked_versions(self) -> set[int]:
        """Versions with an error finding of their own or of their model."""
        errors = [f for f in self.findings if f.severity == "error"]
        if any(f.version is None for f in errors):
            return {v.source.version for v in self.inventory.versions}
        return {f.version for f in errors if f.version is not None}


@dataclass
class AssessedSource:
    """A source being assessed: what is known up front, and its models one at a time.

    `models` is read once, as it is iterated: a model's versions are inspected when its turn
    comes and nothing about it is kept afterwards, so memory does not grow with the source."""

    registry_uri: str
    tracking_uri: str
    extras: SourceExtras | None
    #: Findings about the source as a whole (extras, webhooks), not about one model.
    source_findings: list[Finding]
    models: Iterator[AssessedModel]
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def assess_source(
    registry_uri: str,
    tracking_uri: str | None = None,
    auth_users: Sequence[str] | None = None,
) -> AssessedSource:
    """Open the source registry, read what concerns it as a whole, and assess its models as
    they are iterated."""
    registry_uri = check_source_uri(registry_uri)
    if tracking_uri is not None:
        tracking_uri = check_source_uri(tracking_uri, "--source-tracking-uri")
    try:
        registry = SourceRegistry(registry_uri, tracking_uri)
        names = registry.model_names()
    except SourceError as exc:
        raise AssessError(str(exc)) from exc
    model_map = ModelMap.default()
    source_found: list[Finding] = []
    extras = None
    try:
        extras = read_extras(
            registry.registry_uri,
            registry.tracking_uri,
            ((name, [str(n) for n in registry.version_numbers(name)]) for name in names),
            auth_users,
        )
    except ExtrasError as exc:
        source_found.append(extras_unreadable(str(exc)))
    if extras is not None:
        source_found.extend(source_findings(extras))
    # Name collisions are the one check across models: it needs the names alone.
    by_name: dict[str, list[Finding]] = {}
    named = [ModelInventory(n, model_map.target_name(n), "", {}, {}) for n in names]
    for finding in name_findings(named):
        by_name.setdefault(finding.model or "", []).append(finding)
    del named
    return AssessedSource(
        registry_uri=display_uri(registry.registry_uri),
        tracking_uri=display_uri(registry.tracking_uri),
        extras=extras,
        source_findings=source_found,
        models=_assessed_models(registry, names, model_map, extras, by_name),
    )


def _assessed_models(
    registry: SourceRegistry,
    names: list[str],
    model_map: ModelMap,
    extras: SourceExtras | None,
    by_name: dict[str, list[Finding]],
) -> Iterator[AssessedModel]:
    for name in names:
        try:
            model = registry.model(name)
        except SourceError as exc:
            raise AssessError(str(exc)) from exc
        inventory = ModelInventory(
            name=model.name,
            target_name=model_map.target_name(model.name),
            description=model.description,
            tags=model.tags,
            aliases=model.aliases,
        )
        inventory.versions = [_inspect(registry, v) for v in model.versions]
        if extras is not None:
            _attach(extras, inventory)
        findings = list(by_name.get(name, []))
        findings.extend(model_findings(inventory, model_map))
        for version in inventory.versions:
            findings.extend(version_findings(inventory, version))
        yield AssessedModel(inventory, findings)


def run_assessment(
    registry_uri: str,
    tracking_uri: str | None = None,
    auth_users: Sequence[str] | None = None,
) -> Assessment:
    """Read the source registry and everything around it, and check it, all in memory (for a
    small source; `assess_source` streams)."""
    source = assess_source(registry_uri, tracking_uri, auth_users)
    models: list[ModelInventory] = []
    findings = list(source.source_findings)
    for assessed in source.models:
        models.append(assessed.inventory)
        findings.extend(assessed.findings)
    return Assessment(
        registry_uri=source.registry_uri,
        tracking_uri=source.tracking_uri,
        models=models,
        findings=findings,
        extras=source.extras,
        generated_at=source.generated_at,
    )


def _inspect(registry: SourceRegistry, version: SourceVersion) -> VersionInventory:
    found = VersionInventory(source=version)
    try:
        files = registry.files(version)
    except SourceError:
        return found
    found.has_files = True
    found.files = len(files)
    found.size = sum(f.size for f in files)
    if not any(f.path == "MLmodel" for f in files):
        return found
    mlmodel = registry.read_mlmodel(version)
    found.has_mlmodel = mlmodel is not None
    signature = (mlmodel or {}).get("signature") or {}
    if isinstance(signature, dict):
        found.signature_inputs = _declared(signature.get("inputs"))
        found.signature_outputs = _declared(signature.get("outputs"))
    return found


def _declared(schema: object) -> bool:
    """True if an MLmodel signature part declares at least one column or tensor."""
    return isinstance(schema, str) and schema.strip() not in ("", "null", "[]")


def _attach(extras: SourceExtras, model: ModelInventory) -> None:
    model.permissions = list(extras.permissions.get(model.name, []))
    model.unmapped_permissions = list(extras.unmapped_permissions.get(model.name, []))
    model.webhooks = extras.webhooks_of(model.name)
    for version in model.versions:
        version.activity = extras.activity_of(model.name, str(version.source.version))
