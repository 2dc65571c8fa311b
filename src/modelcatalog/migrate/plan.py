"""Building a migration plan from a source registry, a config and (optionally) source extras.

Names: an explicit entry in the config, else the normalised source name under the target
catalog and schema. Stages (DESIGN.md): the newest version in Production and in Staging each get
the stage's alias; every version in a stage, Archived included, gets the stage tag. Everything
that cannot move cleanly is refused here, before anything is written anywhere.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable, Iterable
from typing import Any, overload

from modelcatalog.domain import text as text_rules
from modelcatalog.domain.rules import MAX_COMMENT
from modelcatalog.domain.statuses import VersionStatus
from modelcatalog.migrate.activity import activity_section
from modelcatalog.migrate.config import MigrationConfig
from modelcatalog.migrate.grants import plan_grants
from modelcatalog.migrate.mapping import ALIASABLE_STAGES, KNOWN_STAGES, ModelMap, alias_problem
from modelcatalog.migrate.notifications import plan_notifications, plan_webhooks
from modelcatalog.migrate.plan_model import (
    ModelPlan,
    Origin,
    Plan,
    SkippedVersion,
    VersionPlan,
)
from modelcatalog.migrate.signatures import Skip, decide
from modelcatalog.migrate.source import SourceModel, SourceRegistry, SourceVersion, display_uri
from modelcatalog.migrate.tag_policy import apply_tag_policy


class PlanError(Exception):
    """The source cannot be migrated as configured; the message names what and why."""


Progress = Callable[[str], None]
ExtrasReader = Callable[[Iterable[tuple[str, list[str]]]], Any]


def _selected(names: Iterable[str], config: MigrationConfig) -> list[str]:
    chosen = []
    for name in names:
        if config.include and not any(fnmatch.fnmatchcase(name, p) for p in config.include):
            continue
        if any(fnmatch.fnmatchcase(name, p) for p in config.exclude):
            continue
        chosen.append(name)
    return chosen


def _joined(*parts: str) -> str:
    return "\n\n".join(p.strip("\n") for p in parts if p and p.strip())


def _fit_comment(value: str, where: str, notes: list[str]) -> str:
    text = _repaired(value, "comment", where, notes)
    if len(text) <= MAX_COMMENT:
        return text
    marker = "\n\n(cut: the full text was longer than the catalog's 65,536 characters)"
    notes.append(f"{where}: description cut from {len(text)} to {MAX_COMMENT} characters")
    return text[: MAX_COMMENT - len(marker)] + marker


@overload
def _repaired(value: str, field: str, where: str, notes: list[str]) -> str: ...
@overload
def _repaired(value: str | None, field: str, where: str, notes: list[str]) -> str | None: ...
def _repaired(value: str | None, field: str, where: str, notes: list[str]) -> str | None:
    """`value` without the characters the catalog's text rules refuse, noting the repair (a
    length is the caller's to handle)."""
    if not value:
        return value
    rule = dataclasses.replace(text_rules.field_rule(field), max_length=None)
    fixed = text_rules.repaired(value, rule)
    if fixed != value:
        notes.append(f"{where}: characters the catalog refuses removed from the {field}")
    return fixed


def build_plan(
    registry: SourceRegistry,
    config: MigrationConfig,
    *,
    target_url: str,
    catalog: str,
    schema: str,
    extras: Any = None,
    read_extras: ExtrasReader | None = None,
    progress: Progress | None = None,
    on_model: Callable[[ModelPlan], None] | None = None,
) -> Plan:
    """Read the source and decide, for every model and version, what the run will do.

    Extras (permissions, activity, webhooks) are given, or read once the models are known.
    With `on_model`, each model is handed over as soon as it is planned and its versions are
    then dropped (the returned plan keeps the models without versions): a `PlanWriter` writes
    a plan of any size that way in bounded memory."""
    model_map = ModelMap(catalog=catalog, schema=schema, models=dict(config.models))
    plan = Plan(
        source_registry=registry.display_uri,
        source_tracking=display_uri(registry.tracking_uri),
        target_url=target_url,
        catalog=catalog,
        schema=schema,
        stage_aliases=dict(config.stage_aliases),
        stage_tag=config.stage_tag,
        signature_policy=config.signature_policy,
        tag_overflow=config.tag_overflow,
        overflow_tag=config.overflow_tag,
    )
    names = _selected(registry.model_names(), config)
    unknown = sorted(set(config.models) - set(registry.model_names()))
    if unknown:
        raise PlanError(
            f"{config.origin}: models: {', '.join(repr(u) for u in unknown)} not in the source "
            f"registry {registry.display_uri}"
        )
    targets: dict[str, str] = {}
    for name in names:
        target = model_map.target_name(name)
        if target in targets:
            raise PlanError(
                f"source models {targets[target]!r} and {name!r} would both become {target!r}; "
                "give one of them its own target under 'models' in the config"
            )
        targets[target] = name
    if read_extras is not None:
        extras = read_extras(
            (name, [str(n) for n in registry.version_numbers(name)]) for name in names
        )
    # Grants come from the names alone, so they are decided before any version is read; the
    # notes they add follow the notes of each model's versions, as a reader expects them.
    plan.models = [ModelPlan(source=name, target=model_map.target_name(name), comment="", tags={})
                   for name in names]  # fmt: skip
    plan_grants(plan, config, extras)
    for skeleton in plan.models:
        grant_notes, skeleton.notes = skeleton.notes, []
        if progress:
            progress(skeleton.source)
        _model_plan(registry, registry.model(skeleton.source), skeleton, config, extras)
        skeleton.notes.extend(grant_notes)
        if on_model is not None:
            on_model(skeleton)
            skeleton.versions = []  # written: only what the plan's head needs is kept
    plan.webhooks = plan_webhooks(plan, extras)
    plan.notifications = plan_notifications(plan, extras)
    return plan


def _model_plan(
    registry: SourceRegistry,
    model: SourceModel,
    plan: ModelPlan,
    config: MigrationConfig,
    extras: Any,
) -> None:
    """Fill `plan` (which has its source and target) from the source model."""
    outcome = apply_tag_policy(
        model.tags, reserved={}, overflow=config.tag_overflow, overflow_tag=config.overflow_tag
    )
    plan.notes = [f"model tags: {n}" for n in outcome.notes]
    plan.comment = _fit_comment(
        _joined(model.description, outcome.description_section), "model description", plan.notes
    )
    plan.tags = outcome.tags
    plan.tag_renames = list(outcome.renames)
    for version in model.versions:
        if version.status != VersionStatus.READY:
            plan.skipped.append(
                SkippedVersion(version.version, f"status is {version.status} in the source")
            )
            continue
        try:
            plan.versions.append(_version_plan(registry, version, config, extras, plan))
        except Skip as exc:
            plan.skipped.append(SkippedVersion(version.version, str(exc)))
    plan.aliases = _aliases(model, plan, config)


def _version_plan(
    registry: SourceRegistry,
    version: SourceVersion,
    config: MigrationConfig,
    extras: Any,
    model_plan: ModelPlan,
) -> VersionPlan:
    files = registry.files(version)
    decision = decide(registry, version, registry.read_mlmodel(version), config)
    stage = KNOWN_STAGES.get(version.stage.lower(), version.stage)
    reserved = {}
    if config.stage_tag and stage != "None":
        reserved[config.stage_tag] = stage
    outcome = apply_tag_policy(
        version.tags,
        reserved=reserved,
        overflow=config.tag_overflow,
        overflow_tag=config.overflow_tag,
    )
    where = f"version {version.version}"
    model_plan.notes.extend(f"{where} tags: {n}" for n in outcome.notes)
    model_plan.tag_renames.extend(r for r in outcome.renames if r not in model_plan.tag_renames)
    run_id = _repaired(version.run_id, "run_id", where, model_plan.notes)
    activity = extras.activity_of(version.model, str(version.version)) if extras else None
    comment = _fit_comment(
        _joined(version.description, activity_section(activity), outcome.description_section),
        f"{where} description",
        model_plan.notes,
    )
    return VersionPlan(
        version=version.version,
        stage=stage,
        artifact_uri=version.artifact_uri,
        comment=comment,
        tags=outcome.tags,
        signature=decision,
        origin=Origin(
            registry=registry.display_uri,
            model=version.model,
            version=str(version.version),
            run_id=run_id,
            run_link=_repaired(version.run_link, "run_link", where, []),
        ),
        files=len(files),
        bytes=sum(f.size for f in files),
        source=_repaired(version.source, "source", where, model_plan.notes),
        run_id=run_id,
    )


def _aliases(model: SourceModel, plan: ModelPlan, config: MigrationConfig) -> dict[str, int]:
    copied = {v.version for v in plan.versions}
    aliases: dict[str, int] = {}
    for stage in ALIASABLE_STAGES:
        alias = config.stage_aliases.get(stage)
        in_stage = [v.version for v in model.versions if v.stage.lower() == stage.lower()]
        if not alias or not in_stage:
            continue
        newest = max(in_stage)
        if newest in copied:
            aliases[alias] = newest
        else:
            plan.notes.append(
                f"alias {alias!r} not set: version {newest}, the newest in {stage}, is skipped"
            )
    for alias, number in model.aliases.items():
        problem = alias_problem(alias)
        clash = next((a for a in aliases if a.lower() == alias.lower()), None)
        if problem:
            plan.notes.append(f"source alias {alias!r} not carried over: {problem}")
        elif clash is not None and aliases[clash] != number:
            plan.notes.append(
                f"source alias {alias!r} (version {number}) not carried over: the stage policy "
                f"gives {clash!r} to version {aliases[clash]}"
            )
        elif number not in copied:
            plan.notes.append(
                f"source alias {alias!r} not carried over: version {number} is skipped"
            )
        elif clash is None:
            aliases[alias] = number
    return dict(sorted(aliases.items()))
