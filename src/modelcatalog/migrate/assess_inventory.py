"""What `migrate assess` learns about each registered model and version of the source, which
its checks (`assess_checks`) read and its report (`assess_report`) shows."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelcatalog.migrate.extras import (
    ModelPermission,
    SourceWebhook,
    UnmappedPermission,
    VersionActivity,
)
from modelcatalog.migrate.source import SourceVersion


@dataclass
class VersionInventory:
    """What assess learnt about one model version."""

    source: SourceVersion
    files: int = 0
    size: int = 0
    has_files: bool = False
    has_mlmodel: bool = False
    signature_inputs: bool = False
    signature_outputs: bool = False
    activity: VersionActivity = field(default_factory=VersionActivity)


@dataclass
class ModelInventory:
    """What assess learnt about one registered model."""

    name: str
    target_name: str
    description: str
    tags: dict[str, str]
    aliases: dict[str, int]
    versions: list[VersionInventory] = field(default_factory=list)
    permissions: list[ModelPermission] = field(default_factory=list)
    unmapped_permissions: list[UnmappedPermission] = field(default_factory=list)
    webhooks: list[SourceWebhook] = field(default_factory=list)
