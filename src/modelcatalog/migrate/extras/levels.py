"""Permission levels as each source spells them, normalised to the workspace registry's names."""

from __future__ import annotations

from types import MappingProxyType

from modelcatalog.migrate.extras.model import Level

#: MLflow auth app levels (READ, USE, EDIT, MANAGE) and the workspace registry's own CAN_*.
_KNOWN = MappingProxyType(
    {
        "READ": Level.CAN_READ,
        # USE lets a principal read and load a model; on a registered model that is reading.
        "USE": Level.CAN_READ,
        "EDIT": Level.CAN_EDIT,
        "MANAGE": Level.CAN_MANAGE,
        **{level.value: level for level in Level},
    }
)
#: Levels that grant nothing. An absent grant means the same in the catalog, except DENY,
#: which overrides other grants in MLflow's auth app and has no counterpart in the catalog.
NO_ACCESS = frozenset({"NO_PERMISSIONS", "CAN_NO_ACCESS"})
DENY = "DENY"


def normalise_level(raw: str) -> Level | None:
    """The normalised level for a source's spelling, or None if it is not a known level."""
    return _KNOWN.get(raw.strip().upper()) if isinstance(raw, str) else None
