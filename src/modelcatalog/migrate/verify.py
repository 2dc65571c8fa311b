"""Comparing source and target after a run: versions, file checksums, aliases, tags,
descriptions, lineage, grants, deployment approvers, and the destinations and triggers the
source's webhooks became. Every difference is reported; none is fixed here."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from modelcatalog.domain.statuses import VersionStatus
from modelcatalog.migrate.hook_definitions import hook_differences
from modelcatalog.migrate.plan_model import ModelPlan, Plan, VersionPlan
from modelcatalog.migrate.shard import Shard
from modelcatalog.migrate.signatures import signed_mlmodel
from modelcatalog.migrate.source import CHUNK_SIZE, SourceRegistry, SourceVersion
from modelcatalog.migrate.targets.protocol import Target, tag_dict


@dataclass(frozen=True)
class Difference:
    """One way the target differs from what the plan and the source say it should be."""

    model: str
    version: int | None
    what: str
    expected: str
    found: str

    def where(self) -> str:
        return self.model if self.version is None else f"{self.model} v{self.version}"


@dataclass
class VerifyReport:
    models: int = 0
    versions: int = 0
    files: int = 0
    bytes: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def _short(value: object, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Verifier:
    """Checks one plan (or one shard of it) against the source and the target."""

    def __init__(
        self,
        plan: Plan,
        source: SourceRegistry,
        target: Target,
        *,
        workers: int = 4,
        shard: Shard | None = None,
    ) -> None:
        self.plan = plan
        self.source = source
        self.target = target
        self.workers = workers
        self.shard = shard or Shard()
        self.models = [m for m in plan.models if self.shard.includes(m.source)]
        self.report = VerifyReport()

    def _differ(
        self, model: str, version: int | None, what: str, expected: Any, found: Any
    ) -> None:
        self.report.differences.append(
            Difference(model, version, what, _short(expected), _short(found))
        )

    def verify(self) -> VerifyReport:
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for model in self.models:
                self.report.models += 1
                found = self.target.get_model(model.target)
                if found is None:
                    self._differ(model.target, None, "model", "present", "missing")
                    continue
                self._compare_model(model, found)
                versions = {int(v["version"]): v for v in self.target.list_versions(model.target)}
                for skipped in model.skipped:
                    if skipped.version in versions:
                        self._differ(
                            model.target, skipped.version, "skipped version", "absent", "present"
                        )
                checks = [
                    pool.submit(self._compare_version, model, v, versions.get(v.version))
                    for v in model.versions
                ]
                for check in checks:
                    check.result()
        self._compare_grants()
        capabilities = self.target.capabilities()
        if capabilities.approvers:
            self._compare_approvers()
        if capabilities.notifications:
            self._compare_hooks()
        self.report.differences.sort(key=lambda d: (d.model, d.version or 0, d.what))
        return self.report

    def _compare_model(self, model: ModelPlan, found: dict[str, Any]) -> None:
        if (found.get("comment") or "") != model.comment:
            self._differ(model.target, None, "description", model.comment, found.get("comment"))
        tags = tag_dict(found.get("tags"))
        for key, value in model.tags.items():
            if tags.get(key) != value:
                self._differ(model.target, None, f"tag {key}", value, tags.get(key))
        aliases = {a.get("alias_name"): a.get("version_num") for a in found.get("aliases") or []}
        for alias, number in model.aliases.items():
            if aliases.get(alias) != number:
                self._differ(model.target, None, f"alias {alias}", number, aliases.get(alias))

    def _compare_version(
        self, model: ModelPlan, version: VersionPlan, listed: dict[str, Any] | None
    ) -> None:
        number = version.version
        if listed is None:
            self._differ(model.target, number, "version", "present", "missing")
            return
        self.report.versions += 1
        found = self.target.get_version(model.target, number) or listed
        if found.get("status") != VersionStatus.READY:
            self._differ(model.target, number, "status", VersionStatus.READY, found.get("status"))
            return
        if (found.get("comment") or "") != version.comment:
            self._differ(model.target, number, "description", version.comment, found.get("comment"))
        tags = tag_dict(found.get("tags"))
        if tags != version.tags:
            self._differ(model.target, number, "tags", version.tags, tags)
        if "origin" in found and found["origin"] != version.origin.to_dict():
            self._differ(model.target, number, "origin", version.origin.to_dict(), found["origin"])
        if version.signature.action == "waived" and not found.get("signature_waiver"):
            self._differ(model.target, number, "signature waiver", version.signature.waiver, None)
        self._compare_files(model, version)

    def _compare_files(self, model: ModelPlan, version: VersionPlan) -> None:
        manifest = self.target.manifest(model.target, version.version)
        located = SourceVersion.located(model.source, version.version, version.artifact_uri)
        expected = {f.path: f for f in self.source.files(located)}
        for path in sorted(set(manifest) - set(expected)):
            self._differ(model.target, version.version, f"file {path}", "absent", "present")
        for path in sorted(expected):
            if path not in manifest:
                self._differ(model.target, version.version, f"file {path}", "present", "missing")
                continue
            digest, size = self._source_digest(located, path, version)
            self.report.files += 1
            self.report.bytes += size
            if manifest[path].sha256 != digest:
                self._differ(
                    model.target,
                    version.version,
                    f"sha256 of {path}",
                    digest,
                    manifest[path].sha256,
                )

    def _source_digest(
        self, located: SourceVersion, path: str, version: VersionPlan
    ) -> tuple[str, int]:
        with self.source.open_file(located, path) as handle:
            if path == "MLmodel" and version.signature.action in ("inferred", "supplied"):
                data = signed_mlmodel(handle.read(), version.signature)
                return hashlib.sha256(data).hexdigest(), len(data)
            digest = hashlib.sha256()
            size = 0
            while chunk := handle.read(CHUNK_SIZE):
                digest.update(chunk)
                size += len(chunk)
            return digest.hexdigest(), size

    def _compare_grants(self) -> None:
        targets = {m.target for m in self.models}
        model_grants = [g for m in self.models for g in m.grants if g.securable in targets]
        if not model_grants or not self.target.capabilities().permissions:
            return
        held_by: dict[tuple[str, str], dict[str, set[str]]] = {}
        for grant in self.plan.grants + model_grants:
            key = (grant.securable_type, grant.securable)
            if key not in held_by:
                held_by[key] = self.target.privileges(*key)
            held = held_by[key].get(grant.principal, set())
            missing = sorted(set(grant.privileges) - held)
            if missing:
                self._differ(
                    grant.securable,
                    None,
                    f"grant to {grant.principal}",
                    ", ".join(grant.privileges),
                    ", ".join(sorted(held)) or "nothing",
                )

    def _compare_approvers(self) -> None:
        for model in self.models:
            if not model.approvers:
                continue
            held = {a.lower() for a in self.target.approvers(model.target)}
            for principal in model.approvers:
                if principal.lower() not in held:
                    self._differ(
                        model.target, None, f"approver {principal}", "approver", "not an approver"
                    )

    def _compare_hooks(self) -> None:
        """The run's rule for which shard converts a definition, and what it should have made."""
        mine = {m.target for m in self.models}
        for definition in self.plan.webhooks + self.plan.notifications:
            model = definition.get("model")
            if model not in mine and not (
                model is None and self.shard.includes(str(definition.get("trigger")))
            ):
                continue
            where = str(model or definition.get("scope"))
            for what, expected, found in hook_differences(self.target, definition):
                self._differ(where, None, what, expected, found)
