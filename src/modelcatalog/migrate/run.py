"""Executing a plan: versions copied concurrently, numbers kept, every file's sha256 checked.

Idempotent and resumable. Each version is created through the migration endpoint, which answers
with the existing version when the same origin is already there: a READY version is left alone,
a PENDING one (from a run that was killed) gets the files it is missing and is finalized, and a
version is never created twice. Aliases and grants follow once a model's versions are READY.

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
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

from modelcatalog.client import AlreadyExists, CatalogClientError
from modelcatalog.domain.statuses import VersionStatus
from modelcatalog.migrate.notifications import HookConverter
from modelcatalog.migrate.plan_model import UC_TARGET, ModelPlan, Plan, VersionPlan
from modelcatalog.migrate.runlog import RunLog
from modelcatalog.migrate.signatures import signed_mlmodel
from modelcatalog.migrate.source import SourceFile, SourceRegistry, SourceVersion
from modelcatalog.migrate.target import (
    CHUNK_SIZE,
    BulkUpload,
    Capabilities,
    CatalogTarget,
    Uploaded,
)

READY = VersionStatus.READY
PENDING = VersionStatus.PENDING_REGISTRATION
BULK_VERSION_BYTES = 16 << 20
"""A version whose missing files add up to at most this goes in one request (when the target
offers it); bigger ones go file by file, each streamed on its own."""


class RunError(Exception):
    """The run cannot start (nothing has been written); the message says why."""


@dataclass(frozen=True)
class Shard:
    """This run's share of the models: those whose stable hash falls in slot `index` of `count`."""

    index: int = 1
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`I/N` with 1 <= I <= N."""
        parts = text.split("/")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"'{text}' is not I/N (e.g. 1/4: the first of four shards)")
        index, count = int(parts[0]), int(parts[1])
        if count < 1 or not 1 <= index <= count:
            raise ValueError(f"'{text}': I must be from 1 to N, and N at least 1")
        return cls(index, count)

    def includes(self, source_name: str) -> bool:
        digest = hashlib.sha256(source_name.encode("utf-8")).hexdigest()
        return int(digest[:16], 16) % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


class Observer(Protocol):
    """Receives progress (a progress bar, or nothing)."""

    def started(self, versions: int, total_bytes: int) -> None: ...
    def advance_bytes(self, count: int) -> None: ...
    def version_done(self, model: str, version: int, outcome: str, planned_bytes: int) -> None: ...


class Silent:
    """An observer that shows nothing."""

    def started(self, versions: int, total_bytes: int) -> None:
        pass

    def advance_bytes(self, count: int) -> None:
        pass

    def version_done(self, model: str, version: int, outcome: str, planned_bytes: int) -> None:
        pass


@dataclass
class RunSummary:
    """What a run did, for the summary table and the exit code."""

    models: int = 0
    versions_planned: int = 0
    copied: int = 0
    resumed: int = 0
    present: int = 0
    failed: int = 0
    skipped_by_plan: int = 0
    files_uploaded: int = 0
    bytes_uploaded: int = 0
    aliases_set: int = 0
    grants_applied: int = 0
    grants_not_applied: int = 0
    grants_note: str = ""
    approvers_set: int = 0
    approvers_not_applied: int = 0
    hooks_converted: int = 0
    hooks_not_converted: int = 0
    #: Why each webhook or subscription was not converted, or why none could be applied.
    hook_notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.failures


class Runner:
    """Runs one plan (or one shard of it) against one target."""

    def __init__(
        self,
        plan: Plan,
        source: SourceRegistry,
        target: CatalogTarget,
        log: RunLog,
        *,
        workers: int = 4,
        shard: Shard | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.plan = plan
        self.source = source
        self.target = target
        self.log = log
        self.workers = workers
        self.shard = shard or Shard()
        self.observer = observer or Silent()
        self.models = [m for m in plan.models if self.shard.includes(m.source)]
        self.summary = RunSummary(models=len(self.models))
        self._started_ms = 0
        self._lock = threading.Lock()
        self._bulk = False

    def _count(self, **increments: int) -> None:
        with self._lock:
            for name, value in increments.items():
                setattr(self.summary, name, getattr(self.summary, name) + value)

    # Before anything is written ------------------------------------------------------------

    def preflight(self) -> Capabilities:
        """Check target, source and plan; raise `RunError` before any write."""
        try:
            self.target.whoami()
        except CatalogClientError as exc:
            raise RunError(f"target {self.plan.target_url}: {exc}") from exc
        capabilities = self.target.capabilities()
        if not capabilities.migration_versions:
            raise RunError(
                f"the target at {self.plan.target_url} has no POST "
                "/api/modelcatalog/migration/versions, which keeps version numbers; upgrade "
                "the catalog server"
            )
        known = set(self.source.model_names())
        missing = sorted(m.source for m in self.models if m.source not in known)
        if missing:
            raise RunError(
                f"the source registry {self.source.display_uri} no longer has "
                f"{', '.join(repr(m) for m in missing)}; make a new plan"
            )
        for model in self.models:
            self._refuse_foreign_versions(model)
        return capabilities

    def _refuse_foreign_versions(self, model: ModelPlan) -> None:
        if self.target.get_model(model.target) is None:
            return
        planned = {v.version: v for v in model.versions}
        for found in self.target.list_versions(model.target):
            number = int(found.get("version") or 0)
            origin = found.get("origin")
            if number in planned and origin is not None:
                if origin != planned[number].origin.to_dict():
                    raise RunError(
                        f"{model.target} version {number} exists on the target with another "
                        f"origin ({origin.get('model')} version {origin.get('version')} of "
                        f"{origin.get('registry')}); map {model.source!r} to another model"
                    )

    # The run -------------------------------------------------------------------------------

    def run(self) -> RunSummary:
        capabilities = self.preflight()
        # Another target (Unity Catalog through MLflow) may offer no bulk upload at all.
        self._bulk = capabilities.bulk_files and hasattr(self.target, "upload_files")
        began = time.monotonic()
        self._started_ms = int(time.time() * 1000)
        versions = [(m, v) for m in self.models for v in m.versions]
        self.summary.versions_planned = len(versions)
        self.summary.skipped_by_plan = sum(len(m.skipped) for m in self.models)
        self.log.event(
            "run_started",
            shard=str(self.shard),
            workers=self.workers,
            models=len(self.models),
            versions=len(versions),
        )
        self.observer.started(len(versions), sum(v.bytes for _, v in versions))
        for catalog, schema in sorted({tuple(m.target.split(".")[:2]) for m in self.models}):
            self.target.ensure_catalog(catalog)
            self.target.ensure_schema(catalog, schema)
        failed_versions: dict[str, set[int]] = {m.target: set() for m in self.models}
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures: list[Future[str]] = []
            for model in self.models:
                outcome = self.target.ensure_model(model.target, model.comment, model.tags)
                self.log.event("model_ready", model=model.target, outcome=outcome)
                for version in model.versions:
                    future = pool.submit(self._copy_version, model, version)
                    future.add_done_callback(self._recorder(model, version, failed_versions))
                    futures.append(future)
            for future in futures:
                future.exception()  # wait; results are recorded by the callbacks
        for model in self.models:
            self._finish_model(model, failed_versions[model.target])
        self._apply_grants(capabilities)
        self._apply_approvers(capabilities)
        self._apply_hooks(capabilities)
        self.summary.seconds = time.monotonic() - began
        self.log.event("run_finished", **_summary_fields(self.summary))
        return self.summary

    def _recorder(
        self, model: ModelPlan, version: VersionPlan, failed: dict[str, set[int]]
    ) -> Callable[[Future[str]], None]:
        def record(future: Future[str]) -> None:
            error = future.exception()
            if error is None:
                outcome = future.result()
            else:
                outcome = "failed"
                message = f"{model.target} version {version.version}: {_describe(error)}"
                with self._lock:
                    failed[model.target].add(version.version)
                    self.summary.failures.append(message)
                self.log.event(
                    "version_failed",
                    model=model.target,
                    version=version.version,
                    error=_describe(error),
                )
            self._count(**{outcome: 1})
            self.observer.version_done(model.target, version.version, outcome, version.bytes)

        return record

    def _copy_version(self, model: ModelPlan, version: VersionPlan) -> str:
        """Create (or find) the version, upload what it lacks, finalize, check the manifest."""
        body: dict[str, Any] = {
            "source": version.source or None,
            "run_id": version.run_id,
            "comment": version.comment or None,
            "tags": dict(version.tags) or None,
            "signature_waiver": version.signature.waiver
            if version.signature.action == "waived"
            else None,
            "origin": version.origin.to_dict(),
        }
        try:
            answer = self.target.create_version(model.target, version.version, body)
        except AlreadyExists as exc:
            raise RuntimeError(
                f"version {version.version} exists on the target with another origin ({exc.detail})"
            ) from exc
        status = answer.get("status")
        if status == READY:
            self.log.event("version_present", model=model.target, version=version.version)
            return "present"
        if status != PENDING:
            raise RuntimeError(f"the target version is {status}: {answer.get('status_message')}")
        resumed = int(answer.get("created_at") or 0) < self._started_ms
        self.log.event(
            "version_started", model=model.target, version=version.version, resumed=resumed
        )
        sent, bulk = self._upload_files(model, version, resumed)
        finalized = bulk.version if bulk else None
        if finalized is None:
            finalized = self.target.finalize(model.target, version.version)
        if finalized.get("status") != READY:
            raise RuntimeError(
                f"finalize left it {finalized.get('status')}: {finalized.get('status_message')}"
            )
        manifest = bulk.manifest if bulk else None
        if manifest is None:
            manifest = self.target.manifest(model.target, version.version)
        self._check_manifest(manifest, sent)
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
        on_target = self._files_on_target(model, version) if resumed else {}
        logged = self.log.uploaded(model.target, version.version)
        sent: dict[str, str] = {}
        missing: list[tuple[SourceFile, int]] = []
        for file in self.source.files(located):
            size = self._planned_size(located, file, version)
            earlier = logged.get(file.path)
            known = earlier.sha256 if earlier is not None and earlier.size == size else None
            # The target's own listing is the truth when it has one; else the run log.
            present = known is not None if on_target is None else on_target.get(file.path) == size
            if not present:
                missing.append((file, size))
            else:
                sent[file.path] = known or self._source_digest(located, file.path, version)
        if self._bulk and missing and sum(size for _, size in missing) <= BULK_VERSION_BYTES:
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

    def _files_on_target(self, model: ModelPlan, version: VersionPlan) -> dict[str, int] | None:
        """Sizes of the files an interrupted version already holds; None if the target cannot
        tell (then the run log says what was sent)."""
        list_files = getattr(self.target, "list_files", None)
        return None if list_files is None else list_files(model.target, version.version)

    def _uploaded(
        self, model: ModelPlan, version: VersionPlan, path: str, size: int, digest: str
    ) -> None:
        self._count(files_uploaded=1, bytes_uploaded=size)
        self.observer.advance_bytes(size)
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
        if file.path == "MLmodel" and version.signature.action in ("inferred", "supplied"):
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

    def _opened(self, located: SourceVersion, path: str, version: VersionPlan) -> Any:
        """(stream, size) of a source file; the MLmodel with its added signature if planned."""
        from contextlib import contextmanager

        @contextmanager
        def opened() -> Any:
            with self.source.open_file(located, path) as handle:
                if path == "MLmodel" and version.signature.action in ("inferred", "supplied"):
                    data = signed_mlmodel(handle.read(), version.signature)
                    yield io.BytesIO(data), len(data)
                    return
                yield handle, _size_of(handle)

        return opened()

    def _check_manifest(self, manifest: dict[str, Uploaded], sent: dict[str, str]) -> None:
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

    # After the versions --------------------------------------------------------------------

    def _finish_model(self, model: ModelPlan, failed: set[int]) -> None:
        found = (self.target.get_model(model.target) or {}).get("aliases") or []
        current = {a.get("alias_name"): a.get("version_num") for a in found}
        for alias, number in model.aliases.items():
            if number in failed:
                self.summary.failures.append(
                    f"{model.target}: alias {alias!r} not set, version {number} failed"
                )
                continue
            if current.get(alias) == number:
                # Setting it again would be an alias event: migrated triggers would fire.
                self.log.event("alias_present", model=model.target, alias=alias, version=number)
                continue
            self.target.set_alias(model.target, alias, number)
            self.summary.aliases_set += 1
            self.log.event("alias_set", model=model.target, alias=alias, version=number)

    def _apply_grants(self, capabilities: Capabilities) -> None:
        targets = {m.target for m in self.models}
        grants = self.plan.grants + [g for m in self.models for g in m.grants]
        if not any(g.securable in targets for g in grants):
            return
        if not (capabilities.permissions and capabilities.principals):
            self.summary.grants_not_applied = len(grants)
            self.summary.grants_note = (
                "carried in the plan but not applied: the target has no permissions endpoint "
                "yet; rerun `migrate run` once it has"
            )
            self.log.event("grants_not_applied", count=len(grants), reason=self.summary.grants_note)
            return
        for principal in self.plan.principals:
            self.target.ensure_principal(principal.name, principal.kind)
        for grant in grants:
            self.target.grant(
                grant.securable_type, grant.securable, grant.principal, list(grant.privileges)
            )
            self.summary.grants_applied += 1
            self.log.event(
                "grant_applied",
                principal=grant.principal,
                securable=grant.securable,
                privileges=list(grant.privileges),
            )

    def _apply_approvers(self, capabilities: Capabilities) -> None:
        """Make the source's stage managers approvers of each model's deployment runs."""
        planned = [(m.target, p) for m in self.models for p in m.approvers]
        if not planned:
            return
        if not (capabilities.approvers and capabilities.principals):
            self.summary.approvers_not_applied = len(planned)
            note = f"{len(planned)} deployment approvers not applied: {_unsupported(self.plan)}"
            self.summary.hook_notes.append(note)
            self.log.event("approvers_not_applied", count=len(planned), reason=note)
            return
        for model, principal in planned:
            try:
                self.target.add_approver(model, principal)
            except CatalogClientError as exc:
                message = exc.message
                self.summary.failures.append(f"{model}: approver {principal}: {message}")
                self.log.event("approver_failed", model=model, principal=principal, error=message)
                continue
            self.summary.approvers_set += 1
            self.log.event("approver_set", model=model, principal=principal)

    def _apply_hooks(self, capabilities: Capabilities) -> None:
        """Webhooks and e-mail subscriptions become destinations and triggers."""
        mine = {m.target for m in self.models}
        definitions = [
            d
            for d in self.plan.webhooks + self.plan.notifications
            # A registry-wide hook goes with the shard its trigger name falls in.
            if d.get("model") in mine
            or (d.get("model") is None and self.shard.includes(str(d.get("trigger"))))
        ]
        converter = HookConverter(self.target, self.log.event)
        for definition in definitions:
            if capabilities.notifications or not definition.get("convert", True):
                converter.convert(definition)
            else:
                converter.skip(definition, _unsupported(self.plan))
        outcome = converter.outcome
        self.summary.hooks_converted += outcome.converted
        self.summary.hooks_not_converted += outcome.not_converted
        self.summary.hook_notes.extend(outcome.notes)
        self.summary.failures.extend(outcome.failures)


def _unsupported(plan: Plan) -> str:
    """Why the target cannot take triggers, destinations or approvers."""
    if plan.target_url.startswith(UC_TARGET):
        return (
            "Databricks Unity Catalog has no API for model triggers, notification destinations "
            "or deployment approvers; set them up by hand (Databricks jobs and workflows) if "
            "still wanted"
        )
    return (
        f"the catalog at {plan.target_url} has no notification, trigger or deployment approver "
        "endpoints yet; upgrade it and run `migrate run` again"
    )


def _size_of(handle: BinaryIO) -> int:
    position = handle.tell()
    handle.seek(0, io.SEEK_END)
    size = handle.tell()
    handle.seek(position)
    return size


def _describe(error: BaseException) -> str:
    if isinstance(error, CatalogClientError):
        return error.message
    return str(error) or type(error).__name__


def _summary_fields(summary: RunSummary) -> dict[str, Any]:
    fields = {k: v for k, v in vars(summary).items() if k not in ("failures", "hook_notes")}
    fields["failures"] = list(summary.failures)
    fields["hook_notes"] = list(summary.hook_notes)
    fields["seconds"] = round(summary.seconds, 3)
    return fields
