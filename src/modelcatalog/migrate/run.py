"""Executing a plan (or one shard of it) against one target: containers and models first, then
the versions copied concurrently (`version_copy`), then what needs READY versions: aliases,
grants, deployment approvers, and the destinations and triggers the source's hooks become.

Nothing is written before `Runner.preflight` has checked the target, the source and the plan.
What the target cannot take is counted and explained in the summary, never guessed at.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from modelcatalog.client import CatalogClientError
from modelcatalog.migrate.hook_conversion import HookConverter
from modelcatalog.migrate.plan_model import ModelPlan, Plan, VersionPlan
from modelcatalog.migrate.run_report import Observer, RunSummary, Silent
from modelcatalog.migrate.runlog import RunLog
from modelcatalog.migrate.shard import Shard
from modelcatalog.migrate.source import SourceRegistry
from modelcatalog.migrate.targets.protocol import Capabilities, Target
from modelcatalog.migrate.version_copy import Outcome, VersionCopier


class RunError(Exception):
    """The run cannot start (nothing has been written); the message says why."""


class Runner:
    """Runs one plan (or one shard of it) against one target."""

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
        self._lock = threading.Lock()

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
        for catalog, schema in sorted({_container(m.target) for m in self.models}):
            self.target.ensure_catalog(catalog)
            self.target.ensure_schema(catalog, schema)
        failed_versions: dict[str, set[int]] = {m.target: set() for m in self.models}
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures: list[Future[list[tuple[VersionPlan, Outcome]]]] = []
            for model in self.models:
                outcome = self.target.ensure_model(model.target, model.comment, model.tags)
                self.log.event("model_ready", model=model.target, outcome=outcome)
                for group in copier.groups(model):
                    future = pool.submit(copier.copy_group, model, group)
                    future.add_done_callback(self._recorder(model, group, failed_versions))
                    futures.append(future)
            for future in futures:
                future.exception()  # wait; results are recorded by the callbacks
        for model in self.models:
            self._finish_model(model, failed_versions[model.target])
        self._apply_grants(capabilities)
        self._apply_approvers(capabilities)
        self._apply_hooks(capabilities)
        self.summary.seconds = time.monotonic() - began
        self.log.event("run_finished", **self.summary.log_fields())
        return self.summary

    def _uploaded(self, size: int) -> None:
        self._count(files_uploaded=1, bytes_uploaded=size)
        self.observer.advance_bytes(size)

    def _recorder(
        self, model: ModelPlan, group: list[VersionPlan], failed: dict[str, set[int]]
    ) -> Callable[[Future[list[tuple[VersionPlan, Outcome]]]], None]:
        def record(future: Future[list[tuple[VersionPlan, Outcome]]]) -> None:
            error = future.exception()
            ended = future.result() if error is None else [(v, error) for v in group]
            for version, outcome in ended:
                self._record(model, version, outcome, failed)

        return record

    def _record(
        self,
        model: ModelPlan,
        version: VersionPlan,
        outcome: Outcome | BaseException,
        failed: dict[str, set[int]],
    ) -> None:
        if isinstance(outcome, BaseException):
            message = f"{model.target} version {version.version}: {_describe(outcome)}"
            with self._lock:
                failed[model.target].add(version.version)
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
