"""The status of a model version, spelled as every wire dialect and MLflow spell it.

PENDING_REGISTRATION → READY or FAILED_REGISTRATION; only READY versions can be loaded or
aliased."""

from __future__ import annotations

from enum import StrEnum


class VersionStatus(StrEnum):
    """A model version's registration status (its members are the wire strings themselves)."""

    #: Created; its files are still to come, and finalize is still to check them.
    PENDING_REGISTRATION = "PENDING_REGISTRATION"
    #: Finalized: its files are recorded and it can be loaded and aliased.
    READY = "READY"
    #: Finalize refused it (`status_message` says why); its files are in quarantine.
    FAILED_REGISTRATION = "FAILED_REGISTRATION"
