"""Copying versions: each created with its number, sent the files it lacks, finalized, and every
file's sha256 checked against the target's manifest.

Small versions of a model go together in one import request when the target offers it
(`Capabilities.import_versions`): the target creates, writes and finalizes them in one
transaction, or none of them, and answers a version an earlier run made as it is. A version the
run log says an earlier run sent files of goes on its own, as below, so that a rerun sends only
what the target lacks.

Idempotent and resumable. Each version is created through the target's migration endpoint,
which answers with the existing version when the same origin is already there: a READY version
is left alone, a PENDING one (from a run that was killed) gets the files it is missing and is
finalized, and a version is never created twice.

Which files a PENDING version is missing, the target says when it can list them (the catalog
lists a PENDING version's files to whoever may write them); otherwise the run log's
`file_uploaded` events say. Files are written atomically one by one, so a file the target holds
is complete: a rerun sends only the others. A small version's files go in one request when the
target offers it (`Capabilities.bulk_files`); if that request is cut off, the files it had
already written are kept and the rest are sent by the rerun, in one request again.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from modelcatalog.client import AlreadyExists
from modelcatalog.domain.statuses import VersionStatus
from modelcatalog.migrate.plan_model import ModelPlan, VersionPlan
from modelcatalog.migrate.runlog import RunLog
from modelcatalog.migrate.signatures import signed_mlmodel
from modelcatalog.migrate.source import CHUNK_SIZE, SourceFile, SourceRegistry, SourceVersion
from modelcatalog.migrate.targets.protocol import (
    BulkUpload,
    ImportedVersion,
    Target,
    Uploaded,
    VersionImport,
)

BULK_VERSION_BYTES = 16 << 20
"""A version whose missing files add up to at most this goes in one request (when the target
offers it); bigger ones go file by file, each streamed on its own."""
IMPORT_BYTES = 16 << 20
"""An import request carries versions of at most this many bytes in all (a single small
version may take it past)."""
IMPORT_VERSIONS = 50
"""An import request carries at most this many versions."""

Outcome = str | Exception
"""How copying one version ended: "copied", "resumed", "present", or the error."""


class VersionCopier:
    """Copies planned versions from the source to the target, one call per version (several
    threads may call it at once: it keeps nothing of a version between calls)."""

    def __init__(
        self,
        source: SourceRegistry,
        target: Target,
        log: RunLog,
        *,
        bulk: bool,
        run_started_ms: int,
        on_upload: Callable[[int], None],
        imports: bool = False,
    ) -> None:
        """`bulk`: send a small version's files in one request; `imports`: import small
        versions of a model in one request; `run_started_ms`: a PENDING version created before
        it is resumed; `on_upload`: told the size of each file written."""
        self.source = source
        self.target = target
        self.log = log
        self.bulk = bulk
        self.imports = imports
        self.run_started_ms = run_started_ms
        self.on_upload = on_upload

    def groups(self, model: ModelPlan) -> Iterator[list[VersionPlan]]:
        """The model's versions in the groups they are copied in: small versions that no
        earlier run touched together, in import requests; every other version alone."""
        group: list[VersionPlan] = []
        size = 0
        for version in model.versions:
            if not self._importable(model, version):
                yield [version]
                continue
            if group and (size + version.bytes > IMPORT_BYTES or len(group) == IMPORT_VERSIONS):
                yield group
                group, size = [], 0
            group.append(version)
            size += version.bytes
        if group:
            yield group

    def _importable(self, model: ModelPlan, version: VersionPlan) -> bool:
        return (
            self.imports
            and version.bytes <= BULK_VERSION_BYTES
            and not self.log.uploaded(model.target, version.version)
        )

    def copy_group(
        self, model: ModelPlan, versions: list[VersionPlan]
    ) -> list[tuple[VersionPlan, Outcome]]:
        """Copy one group of `groups`; how each version ended, in order."""
        if len(versions) == 1 and not self._importable(model, versions[0]):
            try:
                return [(versions[0], self.copy(model, versions[0]))]
            except Exception as exc:
                return [(versions[0], exc)]
        try:
            answered = self._import(model, versions)
        except Exception as exc:
            return [(version, exc) for version in versions]
        outcomes: list[tuple[VersionPlan, Outcome]] = []
        for version in versions:
            try:
                answer = answered[version.version]
                outcomes.append((version, self._imported(model, version, answer)))
            except Exception as exc:
                outcomes.append((version, exc))
        return outcomes

    def _import(self, model: ModelPlan, versions: list[VersionPlan]) -> dict[int, ImportedVersion]:
        items = []
        for version in versions:
            located = SourceVersion.located(model.source, version.version, version.artifact_uri)
            opened = [
                (f.path, self._opened(located, f.path, version)) for f in self.source.files(located)
            ]
            items.append(VersionImport(version.version, _body(version), opened))
        try:
            return self.target.import_versions(model.target, items)
        except AlreadyExists as exc:
            raise RuntimeError(
                f"a version exists on the target with another origin ({exc.detail})"
            ) from exc

    def _imported(self, model: ModelPlan, version: VersionPlan, answer: ImportedVersion) -> str:
        """Check and log one version of an import request's answer."""
        status = answer.version.get("status")
        if answer.outcome == "present" and status == VersionStatus.READY:
            self.log.event("version_present", model=model.target, version=version.version)
            return "present"
        if status != VersionStatus.READY:
            raise RuntimeError(
                f"the target version is {status}: {answer.version.get('status_message')}"
            )
        # Started only now: a version the request found already made was not started again.
        resumed = answer.outcome == "resumed"
        self.log.event(
            "version_started", model=model.target, version=version.version, resumed=resumed
        )
        _check_manifest(answer.manifest, {p: u.sha256 for p, u in answer.sent.items()})
        for item in answer.sent.values():
            self._uploaded(model, version, item.path, item.size, item.sha256)
        self.log.event(
            "version_copied",
            model=model.target,
            version=version.version,
            files=len(answer.sent),
            resumed=resumed,
        )
        return "resumed" if resumed else "copied"

    def copy(self, model: ModelPlan, version: VersionPlan) -> str:
        """Create (or find) the version, upload what it lacks, finalize, check the manifest.

        Returns "copied", "resumed" (a PENDING version from an earlier run) or "present"."""
        try:
            answer = self.target.create_version(model.target, version.version, _body(version))
        except AlreadyExists as exc:
            raise RuntimeError(
                f"version {version.version} exists on the target with another origin ({exc.detail})"
            ) from exc
        status = answer.get("status")
        if status == VersionStatus.READY:
            self.log.event("version_present", model=model.target, version=version.version)
            return "present"
        if status != VersionStatus.PENDING_REGISTRATION:
            raise RuntimeError(f"the target version is {status}: {answer.get('status_message')}")
        resumed = int(answer.get("created_at") or 0) < self.run_started_ms
        self.log.event(
            "version_started", model=model.target, version=version.version, resumed=resumed
        )
        sent, bulk = self._upload_files(model, version, resumed)
        finalized = bulk.version if bulk else None
        if finalized is None:
            finalized = self.target.finalize(model.target, version.version)
        if finalized.get("status") != VersionStatus.READY:
            raise RuntimeError(
                f"finalize left it {finalized.get('status')}: {finalized.get('status_message')}"
            )
        manifest = bulk.manifest if bulk else None
        if manifest is None:
            manifest = self.target.manifest(model.target, version.version)
        _check_manifest(manifest, sent)
        self.log.event(
            "version_copied",
            model=model.target,
            version=version.version,
            files=len(sent),
            resumed=resumed,
        )
        return "resumed" if resumed else "copied"

    def _upload_files(
        self, model: ModelPlan, version: VersionPlan, resumed: bool
    ) -> tuple[dict[str, str], BulkUpload | None]:
        """Upload each file the target lacks; returns every file's sha256 by path, and the
        bulk request's answer when the files went in one request (which also finalized)."""
        located = SourceVersion.located(model.source, version.version, version.artifact_uri)
        # The target's own listing is the truth when it has one; else the run log.
        on_target = self.target.list_files(model.target, version.version) if resumed else {}
        logged = self.log.uploaded(model.target, version.version)
        sent: dict[str, str] = {}
        missing: list[tuple[SourceFile, int]] = []
        for file in self.source.files(located):
            size = self._planned_size(located, file, version)
            earlier = logged.get(file.path)
            known = earlier.sha256 if earlier is not None and earlier.size == size else None
            present = known is not None if on_target is None else on_target.get(file.path) == size
            if not present:
                missing.append((file, size))
            else:
                sent[file.path] = known or self._source_digest(located, file.path, version)
        if self.bulk and missing and sum(size for _, size in missing) <= BULK_VERSION_BYTES:
            opened = [(f.path, self._opened(located, f.path, version)) for f, _ in missing]
            bulk = self.target.upload_files(model.target, version.version, opened, finalize=True)
            for item in bulk.sent.values():
                sent[item.path] = item.sha256
                self._uploaded(model, version, item.path, item.size, item.sha256)
            return sent, bulk
        for file, _ in missing:
            with self._opened(located, file.path, version) as (stream, size):
                digest = self.target.upload(model.target, version.version, file.path, stream, size)
            sent[file.path] = digest
            self._uploaded(model, version, file.path, size, digest)
        return sent, None

    def _uploaded(
        self, model: ModelPlan, version: VersionPlan, path: str, size: int, digest: str
    ) -> None:
        self.on_upload(size)
        self.log.event(
            "file_uploaded",
            model=model.target,
            version=version.version,
            path=path,
            size=size,
            sha256=digest,
        )

    def _planned_size(self, located: SourceVersion, file: SourceFile, version: VersionPlan) -> int:
        """The size of what is sent for a file (the MLmodel may gain a signature)."""
        if file.path == "MLmodel" and _signs(version):
            with self._opened(located, file.path, version) as (_, size):
                return size
        return file.size

    def _source_digest(self, located: SourceVersion, path: str, version: VersionPlan) -> str:
        """sha256 of what would be sent for a file the target already holds."""
        digest = hashlib.sha256()
        with self._opened(located, path, version) as (stream, _):
            while chunk := stream.read(CHUNK_SIZE):
                digest.update(chunk)
        return digest.hexdigest()

    @contextmanager
    def _opened(
        self, located: SourceVersion, path: str, version: VersionPlan
    ) -> Iterator[tuple[BinaryIO, int]]:
        """(stream, size) of a source file; the MLmodel with its added signature if planned."""
        with self.source.open_file(located, path) as handle:
            if path == "MLmodel" and _signs(version):
                data = signed_mlmodel(handle.read(), version.signature)
                yield io.BytesIO(data), len(data)
                return
            yield handle, _size_of(handle)


def _body(version: VersionPlan) -> dict[str, Any]:
    """What the target's migration endpoint is told of a version besides its number."""
    waived = version.signature.action == "waived"
    return {
        "source": version.source or None,
        "run_id": version.run_id,
        "comment": version.comment or None,
        "tags": dict(version.tags) or None,
        "signature_waiver": version.signature.waiver if waived else None,
        "origin": version.origin.to_dict(),
    }


def _signs(version: VersionPlan) -> bool:
    """Whether the plan adds a signature to the version's MLmodel."""
    return version.signature.action in ("inferred", "supplied")


def _check_manifest(manifest: dict[str, Uploaded], sent: dict[str, str]) -> None:
    if set(manifest) != set(sent):
        extra = sorted(set(manifest) - set(sent))
        lost = sorted(set(sent) - set(manifest))
        raise RuntimeError(
            f"the target's files differ from the source's (on the target only: {extra}, "
            f"missing on the target: {lost})"
        )
    wrong = sorted(p for p, digest in sent.items() if manifest[p].sha256 != digest)
    if wrong:
        raise RuntimeError(f"sha256 differs between source and target for {wrong}")


def _size_of(handle: BinaryIO) -> int:
    position = handle.tell()
    handle.seek(0, io.SEEK_END)
    size = handle.tell()
    handle.seek(position)
    return size
