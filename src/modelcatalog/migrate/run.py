"""Executing a plan (or one shard of it) against one target: containers and models first, then
the versions copied concurrently (`version_copy`), then what needs READY versions: aliases,
grants, deployment approvers, and the destinations and triggers the source's hooks become.

Nothing is written before `Runner.preflight` has checked the target, the source and the plan.
What the target cannot take is counted and explained in the summary, never guessed at.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from modelcatalog.client import CatalogClientError
from modelcatalog.migrate.hook_conversion import HookConverter
from modelcatalog.migrate.plan_model import Grant, ModelPlan, Plan, VersionPlan
from modelcatalog.migrate.run_report import Observer, RunSummary, Silent
from modelcatalog.migrate.runlog import RunLog
from modelcatalog.migrate.shard import Shard
from modelcatalog.migrate.source import SourceRegistry
from modelcatalog.migrate.targets.protocol import Capabilities, Target
from modelcatalog.migrate.version_copy import Outcome, VersionCopier


class RunError(Exception):
    """The run cannot start (nothing has been written); the message says why."""


@dataclass
class _ModelInFlight:
    """A model whose versions are being copied; finished when the last one is done."""

    model: ModelPlan
    remaining: int
    failed: set[int] = field(default_factory=set)


class Runner:
    """Runs one plan (or one shard of it) against one target.

    The plan's models are read one at a time (`models`, called once per pass: a plan file
    streamed by `plan_file.open_plan`, or the plan's own list), and at most a few versions
    per worker are queued at once, so memory does not grow with the size of the plan."""

    def __init__(
        self,
        plan: Plan,
        source: SourceRegistry,
        target: Target,
        log: RunLog,
        *,
        workers: int = 4,
        shard: Shard | None = None,
        observer: Observer | None = None,
        models: Callable[[], Iterable[ModelPlan]] | None = None,
    ) -> None:
        self.plan = plan
        self.source = source
        self.target = target
        self.log = log
        self.workers = workers
        self.shard = shard or Shard()
        self.observer = observer or Silent()
        self._all_models = models or (lambda: plan.models)
        self.summary = RunSummary()
        self._lock = threading.Lock()
        # What the steps after the versions need, gathered while the models go by.
        self._targets: set[str] = set()
        self._containers: set[tuple[str, str]] = set()
        self._bytes_planned = 0

    def _models(self) -> Iterator[ModelPlan]:
        """This shard's models, read afresh."""
        for model in self._all_models():
            if self.shard.includes(model.source):
                yield model

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
        missing = []
        self.summary = RunSummary()
        for model in self._models():
            self.summary.models += 1
            self.summary.versions_planned += len(model.versions)
            self.summary.skipped_by_plan += len(model.skipped)
            self._bytes_planned += sum(v.bytes for v in model.versions)
            self._targets.add(model.target)
            self._containers.add(_container(model.target))
            if model.source not in known:
                missing.append(model.source)
            else:
                self._refuse_foreign_versions(model)
        if missing:
            raise RunError(
                f"the source registry {self.source.display_uri} no longer has "
                f"{', '.join(repr(m) for m in sorted(missing))}; make a new plan"
            )
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
        began = time.monotonic()
        copier = VersionCopier(
            self.source,
            self.target,
            self.log,
            bulk=capabilities.bulk_files,
            imports=capabilities.import_versions,
            run_started_ms=int(time.time() * 1000),
            on_upload=self._uploaded,
        )
        self.log.event(
            "run_started",
            shard=str(self.shard),
            workers=self.workers,
            models=self.summary.models,
            versions=self.summary.versions_planned,
        )
        self.observer.started(self.summary.versions_planned, self._bytes_planned)
        for catalog, schema in sorted(self._containers):
            self.target.ensure_catalog(catalog)
            self.target.ensure_schema(catalog, schema)
        grants = list(self.plan.grants)
        approvers: list[tuple[str, str]] = []
        finished: queue.SimpleQueue[_ModelInFlight] = queue.SimpleQueue()
        # A few versions per worker wait in the pool's queue, never the whole plan.
        room = threading.BoundedSemaphore(self.workers * 4)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for model in self._models():
                grants.extend(model.grants)
                approvers.extend((model.target, p) for p in model.approvers)
                outcome = self.target.ensure_model(model.target, model.comment, model.tags)
                self.log.event("model_ready", model=model.target, outcome=outcome)
                in_flight = _ModelInFlight(model, len(model.versions))
                if not model.versions:
                    finished.put(in_flight)
                for group in copier.groups(model):
                    room.acquire()
                    future = pool.submit(copier.copy_group, model, group)
                    future.add_done_callback(self._recorder(in_flight, group, room, finished))
                self._finish_models(finished)
        self._finish_models(finished)
        self._apply_grants(capabilities, grants)
        self._apply_approvers(capabilities, approvers)
        self._apply_hooks(capabilities)
        self.summary.seconds = time.monotonic() - began
        self.log.event("run_finished", **self.summary.log_fields())
        return self.summary

    def _finish_models(self, finished: queue.SimpleQueue[_ModelInFlight]) -> None:
        while not finished.empty():
            done = finished.get()
            self._finish_model(done.model, done.failed)

    def _uploaded(self, size: int) -> None:
        self._count(files_uploaded=1, bytes_uploaded=size)
        self.observer.advance_bytes(size)

    def _recorder(
        self,
        in_flight: _ModelInFlight,
        group: list[VersionPlan],
        room: threading.BoundedSemaphore,
        finished: queue.SimpleQueue[_ModelInFlight],
    ) -> Callable[[Future[list[tuple[VersionPlan, Outcome]]]], None]:
        def record(future: Future[list[tuple[VersionPlan, Outcome]]]) -> None:
            room.release()
            error = future.exception()
            ended = future.result() if error is None else [(v, error) for v in group]
            for version, outcome in ended:
                self._record(in_flight, version, outcome)
            with self._lock:
                in_flight.remaining -= len(group)
                if in_flight.remaining == 0:
                    finished.put(in_flight)

        return record

    def _record(
        self, in_flight: _ModelInFlight, version: VersionPlan, outcome: Outcome | BaseException
    ) -> None:
        model = in_flight.model
        if isinstance(outcome, BaseException):
            message = f"{model.target} version {version.version}: {_describe(outcome)}"
            with self._lock:
                in_flight.failed.add(version.version)
                self.summary.failures.append(message)
            self.log.event(
                "version_failed",
                model=model.target,
                version=version.version,
                error=_describe(outcome),
            )
            outcome = "failed"
        self._count(**{outcome: 1})
        self.observer.version_done(model.target, version.version, outcome, version.bytes)

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

    def _apply_grants(self, capabilities: Capabilities, grants: list[Grant]) -> None:
        if not any(g.securable in self._targets for g in grants):
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

    def _apply_approvers(self, capabilities: Capabilities, planned: list[tuple[str, str]]) -> None:
        """Make the source's stage managers approvers of each model's deployment runs."""
        if not planned:
            return
        if not (capabilities.approvers and capabilities.principals):
            self.summary.approvers_not_applied = len(planned)
            reason = self.target.no_hooks_reason()
            note = f"{len(planned)} deployment approvers not applied: {reason}"
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
        mine = self._targets
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
                converter.skip(definition, self.target.no_hooks_reason())
        outcome = converter.outcome
        self.summary.hooks_converted += outcome.converted
        self.summary.hooks_not_converted += outcome.not_converted
        self.summary.hook_notes.extend(outcome.notes)
        self.summary.failures.extend(outcome.failures)


def _container(full_name: str) -> tuple[str, str]:
    """The catalog and schema of a model's full name."""
    parts = full_name.split(".")
    return parts[0], parts[1]


def _describe(error: BaseException) -> str:
    if isinstance(error, CatalogClientError):
        return error.message
    return str(error) or type(error).__name__
