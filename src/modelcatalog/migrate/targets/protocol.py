"""What every target of a migration offers: the `Target` protocol and the values that cross it.

`Runner`, `Verifier` and the hook converter are written once against `Target`; `open_target`
chooses the implementation from the plan's target URL. An operation the target's
`Capabilities` do not list is never called (each implementation still defines it, refusing
with `NotOffered`, so that mypy checks every implementation against the whole protocol).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol


class TargetError(Exception):
    """The target cannot be used as configured (nothing has been written); the message says why."""


class NotOffered(Exception):
    """The target has no such operation; its `Capabilities` said so before the call."""


@dataclass(frozen=True)
class Capabilities:
    """Which of the routes a migration needs the target offers."""

    migration_versions: bool
    permissions: bool
    principals: bool
    bulk_files: bool = False
    """A version's files go in one request (`Target.upload_files`)."""
    import_versions: bool = False
    """Small versions of a model are created, written and finalized in one request
    (`Target.import_versions`)."""
    notifications: bool = False
    """Notification destinations and triggers: the source's webhooks can be converted."""
    approvers: bool = False
    """Deployment approvers: the source's stage managers can be made approvers."""


OpenedFile = AbstractContextManager[tuple[BinaryIO, int]]
"""A source file not opened yet: entering it gives (stream, size)."""


@dataclass(frozen=True)
class Uploaded:
    """One file written to the target, with what was actually sent."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class BulkUpload:
    """What one bulk request sent and, when it also finalized, what the target recorded."""

    sent: dict[str, Uploaded]
    version: dict[str, Any] | None = None
    """The finalized version (when asked to finalize)."""
    manifest: dict[str, Uploaded] | None = None
    """The manifest recorded at finalize, by path (when asked to finalize)."""


@dataclass(frozen=True)
class VersionImport:
    """One version to import: its number, what the migration path records of it (`origin`,
    `source`, `run_id`, `comment`, `tags`, `signature_waiver`) and its files, not opened yet."""

    number: int
    fields: dict[str, Any]
    files: Sequence[tuple[str, OpenedFile]]


@dataclass(frozen=True)
class ImportedVersion:
    """One version of an import request as the target left it."""

    outcome: str
    """"created", "resumed" (a PENDING version of the same origin, finished) or "present"
    (made by an earlier run: left as it was)."""
    version: dict[str, Any]
    sent: dict[str, Uploaded]
    """What was sent of the version's files, by path."""
    manifest: dict[str, Uploaded]
    """The manifest the target recorded (empty unless READY), by path."""


class Target(Protocol):
    """Migration-level operations on the registry a migration writes to.

    Models and versions are answered in the catalog's shape (`comment`, `tags`, `aliases`,
    `status`, `origin`, `created_at`), whichever registry is behind."""

    def close(self) -> None: ...

    def capabilities(self) -> Capabilities:
        """What the target offers."""
        ...

    def whoami(self) -> dict[str, Any]:
        """Check that the credentials reach the target (before any write)."""
        ...

    def no_hooks_reason(self) -> str:
        """Why the target takes no triggers, destinations or approvers (when it takes none)."""
        ...

    # Containers and models

    def ensure_catalog(self, name: str) -> None: ...

    def ensure_schema(self, catalog: str, schema: str) -> None: ...

    def get_model(self, full_name: str) -> dict[str, Any] | None: ...

    def ensure_model(self, full_name: str, comment: str, tags: dict[str, str]) -> str:
        """Create the model, or bring it to the plan's description and tags; returns
        "created", "updated" or "unchanged"."""
        ...

    # Versions and their files

    def create_version(self, full_name: str, number: int, body: dict[str, Any]) -> dict[str, Any]:
        """Version `number` exactly, PENDING; or the existing one if it has the same origin."""
        ...

    def get_version(self, full_name: str, number: int) -> dict[str, Any] | None: ...

    def list_versions(self, full_name: str) -> list[dict[str, Any]]: ...

    def upload(self, full_name: str, number: int, path: str, stream: BinaryIO, size: int) -> str:
        """Write one file of a PENDING version; returns the sha256 of what was sent."""
        ...

    def upload_files(
        self,
        full_name: str,
        number: int,
        files: Iterable[tuple[str, OpenedFile]],
        *,
        finalize: bool = False,
    ) -> BulkUpload:
        """Write several files in one request (`Capabilities.bulk_files`)."""
        ...

    def import_versions(
        self, full_name: str, versions: Sequence[VersionImport]
    ) -> dict[int, ImportedVersion]:
        """Create, write and finalize versions of one model in one request, by number
        (`Capabilities.import_versions`); a version an earlier run made is answered as it is."""
        ...

    def list_files(self, full_name: str, number: int) -> dict[str, int] | None:
        """Size of every file a PENDING version holds, by path; None if the target cannot tell."""
        ...

    def finalize(self, full_name: str, number: int) -> dict[str, Any]: ...

    def manifest(self, full_name: str, number: int) -> dict[str, Uploaded]:
        """The files the version holds, by path, with their sha256."""
        ...

    def set_alias(self, full_name: str, alias: str, number: int) -> None: ...

    # Principals, grants and approvers

    def ensure_principal(self, name: str, kind: str) -> None: ...

    def grant(
        self, securable_type: str, full_name: str, principal: str, privileges: list[str]
    ) -> None: ...

    def privileges(self, securable_type: str, full_name: str) -> dict[str, set[str]]:
        """Privileges granted directly on a securable, by principal (spelled with spaces)."""
        ...

    def add_approver(self, full_name: str, principal: str) -> None:
        """Let a principal approve the model's deployment runs (`Capabilities.approvers`)."""
        ...

    def approvers(self, full_name: str) -> list[str]: ...

    # Notification destinations and triggers (`Capabilities.notifications`)

    def create_destination(self, body: dict[str, Any]) -> None:
        """Create a notification destination; AlreadyExists if the name is taken."""
        ...

    def get_destination(self, name: str) -> dict[str, Any] | None: ...

    def create_trigger(self, body: dict[str, Any]) -> None:
        """Create a trigger; AlreadyExists if the name is taken."""
        ...

    def get_trigger(self, name: str) -> dict[str, Any] | None:
        """A trigger the caller owns (another's answers as missing)."""
        ...


def tag_dict(tags: object) -> dict[str, str]:
    """Tags as a mapping, whichever shape the target used (list of pairs or mapping)."""
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    if not isinstance(tags, list):
        return {}
    return {
        str(t.get("key")): str(t.get("value", ""))
        for t in tags
        if isinstance(t, dict) and "key" in t
    }
