"""The migration plan as values: what moves where, and which targets a plan may name.

A plan is reviewable: every model and version it moves, the alias each stage becomes, every
tag renamed and why, each signature decision, every skipped version with its reason, the grants
(also as GRANT statements) and the webhook definitions. It holds no secret. `plan_file` writes
it to YAML and reads it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SIGNATURE_ACTIONS = ("present", "inferred", "supplied", "waived")


@dataclass(frozen=True)
class Origin:
    """Where a migrated version came from (its lineage, recorded on the target version)."""

    registry: str
    model: str
    version: str
    run_id: str | None = None
    run_link: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "model": self.model,
            "version": self.version,
            "run_id": self.run_id,
            "run_link": self.run_link,
        }


@dataclass(frozen=True)
class TagRename:
    """A tag key the catalog would refuse, and the key it becomes."""

    original: str
    renamed: str
    reason: str


@dataclass(frozen=True)
class SignatureDecision:
    """How a version meets the signature rule: it has one, one is added, or it is waived."""

    action: str
    #: For `inferred` and `supplied`: the signature written into the copied MLmodel.
    inputs: str | None = None
    outputs: str | None = None
    #: For `waived`: the reason recorded on the version.
    waiver: str | None = None


@dataclass(frozen=True)
class VersionPlan:
    """One version to copy, with its number kept."""

    version: int
    stage: str
    artifact_uri: str
    comment: str
    tags: dict[str, str]
    signature: SignatureDecision
    origin: Origin
    files: int
    bytes: int
    source: str = ""
    run_id: str | None = None


@dataclass(frozen=True)
class SkippedVersion:
    """A source version that will not be copied, and why."""

    version: int
    reason: str


@dataclass(frozen=True)
class Grant:
    """Privileges for one principal on one securable."""

    principal: str
    securable_type: str
    securable: str
    privileges: tuple[str, ...]
    #: The source permission level this grant carries over (empty for parent grants).
    source_level: str = ""

    def statement(self) -> str:
        kind = {"registered_model": "MODEL"}.get(self.securable_type, self.securable_type.upper())
        return (
            f"GRANT {', '.join(self.privileges)} ON {kind} {self.securable} TO `{self.principal}`;"
        )


@dataclass(frozen=True)
class Principal:
    """A principal the grants name, created on the target when missing."""

    name: str
    kind: str


@dataclass
class ModelPlan:
    """One registered model: where it goes, its versions, aliases and grants."""

    source: str
    target: str
    comment: str
    tags: dict[str, str]
    versions: list[VersionPlan] = field(default_factory=list)
    aliases: dict[str, int] = field(default_factory=dict)
    skipped: list[SkippedVersion] = field(default_factory=list)
    tag_renames: list[TagRename] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    approvers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """Everything `migrate run` does and `migrate verify` checks."""

    source_registry: str
    source_tracking: str
    target_url: str
    catalog: str
    schema: str
    stage_aliases: dict[str, str]
    stage_tag: str | None
    signature_policy: str
    tag_overflow: str
    overflow_tag: str
    models: list[ModelPlan] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    principals: list[Principal] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def all_grants(self) -> list[Grant]:
        """Parent grants first (a model grant is useless without them), then model grants."""
        return self.grants + [g for m in self.models for g in m.grants]

    @property
    def version_count(self) -> int:
        return sum(len(m.versions) for m in self.models)


UC_TARGET = "databricks-uc"
TARGET_URL_FORMS = (
    "an http(s) URL of the catalog server, or databricks-uc / databricks-uc://PROFILE for a "
    "Unity Catalog reached with MLflow's databricks-uc client"
)
_PROFILE = re.compile(r"[A-Za-z0-9_.-]+")


def target_url_problem(url: str) -> str | None:
    """Why `url` names no migration target, or None if it does: an http(s) URL of this catalog,
    or `databricks-uc` (DATABRICKS_HOST and DATABRICKS_TOKEN) or `databricks-uc://PROFILE` (a
    profile of ~/.databrickscfg); credentials never appear in it."""
    if url.startswith(("http://", "https://")):
        return None
    if url == UC_TARGET:
        return None
    scheme, separator, profile = url.partition("://")
    if scheme != UC_TARGET or not separator:
        return f"is {url!r}"
    if not _PROFILE.fullmatch(profile):
        return (
            f"is {url!r}: a profile name is letters, digits, '_', '.' or '-' (the token comes "
            "from the profile or DATABRICKS_TOKEN, never from the plan)"
        )
    return None
