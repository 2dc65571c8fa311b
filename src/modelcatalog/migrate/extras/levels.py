"""Permission levels as each source spells them, read through the catalog's permission map.

`domain.privileges.normalise_level` owns the spellings (MLflow auth's READ/USE/EDIT/MANAGE,
the workspace registry's CAN_*); this module gives its answer as the extras' `Level`.
"""

from __future__ import annotations

from modelcatalog.domain.privileges import NO_ACCESS_LEVELS, normalise_level
from modelcatalog.migrate.extras.model import Level

#: DENY overrides other grants in MLflow's auth app and has no counterpart in the catalog, so
#: the readers report it; the other levels that grant nothing mean what an absent grant means.
DENY = "DENY"
NO_ACCESS = NO_ACCESS_LEVELS - {DENY}


def granted_level(raw: str) -> Level | None:
    """The level a source's grant gives, or None if it grants nothing or is not known."""
    key = normalise_level(raw)
    return Level(key) if key is not None and key not in NO_ACCESS_LEVELS else None
