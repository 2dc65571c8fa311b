"""A source registry's extras: permissions, version activity, webhooks and subscriptions.

`read_extras` picks the readers for a registry URI; each reader returns the plain values of
`model`, with permission levels normalised to CAN_READ, CAN_EDIT,
CAN_MANAGE_STAGING_VERSIONS, CAN_MANAGE_PRODUCTION_VERSIONS and CAN_MANAGE.
"""

from modelcatalog.migrate.extras.model import (
    Capability,
    Comment,
    EmailSubscription,
    ExtrasError,
    Level,
    ModelPermission,
    PrincipalKind,
    SourceExtras,
    SourceWebhook,
    StageChange,
    TransitionRequest,
    Unavailable,
    UnmappedPermission,
    VersionActivity,
)
from modelcatalog.migrate.extras.reader import is_databricks, read_extras

__all__ = [
    "Capability",
    "Comment",
    "EmailSubscription",
    "ExtrasError",
    "Level",
    "ModelPermission",
    "PrincipalKind",
    "SourceExtras",
    "SourceWebhook",
    "StageChange",
    "TransitionRequest",
    "Unavailable",
    "UnmappedPermission",
    "VersionActivity",
    "is_databricks",
    "read_extras",
]
