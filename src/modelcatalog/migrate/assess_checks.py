"""The checks of `migrate assess`: each reads what assess learnt and yields findings.

Codes by family: MA1xx names, tags and aliases; MA2xx versions, files, signatures and stages;
MA3xx the source's extras (activity, webhooks, permissions, and whether they could be read).
A code, once published, keeps its meaning: reports and scripts filter on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from modelcatalog.domain import text
from modelcatalog.domain.privileges import permission_map
from modelcatalog.domain.rules import MAX_COMMENT, MAX_TAG_VALUE, MAX_TAGS
from modelcatalog.domain.statuses import VersionStatus
from modelcatalog.migrate.assess_inventory import ModelInventory, VersionInventory
from modelcatalog.migrate.assess_rules import RULES
from modelcatalog.migrate.extras import PrincipalKind, SourceExtras
from modelcatalog.migrate.mapping import (
    DEFAULT_STAGE_TAG,
    KNOWN_STAGES,
    ModelMap,
    alias_problem,
    is_full_name,
    tag_key_problem,
)
from modelcatalog.migrate.source import display_uri


@dataclass(frozen=True)
class Finding:
    """One thing about the source that the migration handles specially, or cannot handle."""

    code: str
    severity: str
    model: str | None
    version: int | None
    message: str
    action: str


def extras_unreadable(reason: str) -> Finding:
    """The finding for a source whose permissions, activity and webhooks could not be read."""
    return _finding(
        "MA332", None, None,
        f"the source's permissions, activity or webhooks could not be read: {reason}",
        "nothing of them would migrate; fix access and assess again",
    )  # fmt: skip


def _finding(code: str, model: str | None, version: int | None, message: str,
             action: str) -> Finding:  # fmt: skip
    """A finding of rule `code`, with the severity the rules table gives it."""
    return Finding(code, RULES[code].severity, model, version, message, action)


def source_findings(extras: SourceExtras) -> Iterator[Finding]:
    """Findings about the source as a whole: extras it cannot give, and its webhooks."""
    others: dict[str, list[str]] = {}
    for gap in extras.unavailable:
        if gap.capability.value not in ("permissions", "webhooks"):
            others.setdefault(gap.reason, []).append(gap.capability.value.replace("_", " "))
        if gap.capability.value == "permissions":
            yield _finding(
                "MA331", None, None, f"Permissions cannot be read: {gap.reason}.",
                "no grants are made from the source; state them under 'permissions' in "
                "migration.yaml, or grant them in the catalog afterwards",
            )  # fmt: skip
        elif gap.capability.value == "webhooks":
            yield _finding(
                "MA333", None, None, f"Webhooks cannot be read: {gap.reason}.",
                "no triggers or notifications are made from the source's webhooks",
            )  # fmt: skip
    for reason, labels in others.items():
        what = " and ".join(labels)
        yield _finding(
            "MA334", None, None, f"The source's {what} cannot be read: {reason}.",
            f"{what} do not migrate; copy what matters by hand",
        )  # fmt: skip
    for hook in extras.webhooks:
        scope = f"model {hook.model_name}" if hook.model_name else "every model"
        where = hook.model_name
        yield _finding(
            "MA311", where, None,
            f"Webhook {hook.name or hook.id} ({hook.status}) calls {hook.target_kind} "
            f"{hook.target or '?'} on {', '.join(hook.events)} for {scope}.",
            "becomes a webhook destination and a notification trigger on the matching catalog "
            "events (version created, alias set for the stage's alias, model created, approval "
            "requested); tag and comment events have no equivalent and are reported"
            if hook.target_kind == "http" else
            "not converted: a deployment job is defined in YAML and linked to the model "
            "(`modelcatalog jobs create`, `modelcatalog jobs link`)",
        )  # fmt: skip
        if hook.target_kind == "http" and hook.has_secret is not False:
            yield _finding(
                "MA312", where, None,
                f"Webhook {hook.name or hook.id}: its secret "
                + ("is set" if hook.has_secret else "cannot be read from the source")
                + " and is never copied.",
                "the destination is created without a secret unless the plan's secret_env "
                "names an environment variable holding a new one; give it to the receiver",
            )  # fmt: skip


def name_findings(inventories: list[ModelInventory]) -> Iterator[Finding]:
    """Source models that would all become the same catalog model."""
    by_target: dict[str, list[str]] = {}
    for model in inventories:
        by_target.setdefault(model.target_name, []).append(model.name)
    for target, names in sorted(by_target.items()):
        if len(names) > 1:
            for name in names:
                yield _finding(
                    "MA103", name, None,
                    f"{len(names)} source models ({', '.join(repr(n) for n in names)}) would "
                    f"all become {target}.",
                    "none of them migrates until migration.yaml gives each its own target "
                    "under 'models'",
                )  # fmt: skip


def model_findings(model: ModelInventory, model_map: ModelMap) -> Iterator[Finding]:
    """Findings about one model: its name, description, tags, aliases, stages and grants."""
    name = model.name
    parts = name.split(".")
    if len(parts) == 3:
        valid = is_full_name(name)
    else:
        valid = len(parts) == 1 and is_full_name(f"c.s.{name}")
    if not valid:
        yield _finding(
            "MA101", name, None,
            f"The name {name!r} is not valid in the catalog (each part of catalog.schema.model "
            "is 1 to 255 letters, digits, '_' or '-').",
            f"registered as {model.target_name} (normalised); rename it under 'models' in "
            "migration.yaml to choose another name",
        )  # fmt: skip
    elif model.target_name.split(".")[-1] != parts[-1]:
        yield _finding(
            "MA102", name, None,
            f"The catalog stores names lower-case: {name!r} becomes {model.target_name}.",
            "registered lower-case; code that names the model is rewritten by "
            "'modelcatalog code fix'",
        )  # fmt: skip
    if len(model.description) > MAX_COMMENT:
        yield _finding(
            "MA104", name, None,
            f"The description has {len(model.description):,} characters; at most "
            f"{MAX_COMMENT:,} are allowed.",
            "the description is cut to the limit",
        )  # fmt: skip
    yield from _tag_findings(name, None, model.tags)
    yield from text_findings(name, None, [("description", model.description, "comment")])
    stage_aliases = {model_map.alias_for_stage(s) for s in ("Production", "Staging")}
    for alias, number in sorted(model.aliases.items()):
        problem = alias_problem(alias)
        if problem:
            yield _finding(
                "MA121", name, number, f"Source alias: {problem}.",
                "the alias is not created; choose a new alias name after the migration",
            )  # fmt: skip
        elif alias in stage_aliases:
            yield _finding(
                "MA122", name, number,
                f"The source alias {alias!r} (version {number}) has the name the stage policy "
                "gives a stage's newest version.",
                "the stage alias wins when they point at different versions; the source alias "
                "is recorded in the version's description",
            )  # fmt: skip
    yield from _stage_findings(model)
    yield from _permission_findings(model)


_TEXT_REPAIR = {
    text.PROSE: "refused characters (NUL, unpaired surrogates, other control characters) are "
    "removed; tab, newline and carriage return stay",
    text.LINE: "refused characters are removed and line breaks become spaces",
}


def text_findings(
    model: str, version: int | None, values: list[tuple[str, str, str]]
) -> Iterator[Finding]:
    """MA105 for each (label, value, field) whose text the catalog's text rules refuse."""
    what = f"Version {version}" if version is not None else "The model"
    for label, value, field in values:
        rule = text.field_rule(field)
        if field in _LENGTH_FOUND_ELSEWHERE:
            rule = dataclasses.replace(rule, max_length=None)
        problem = text.problem(value, rule) if value else None
        if problem is not None:
            yield _finding(
                "MA105", model, version, f"{what}'s {label} {problem}.",
                f"repaired by the plan: {_TEXT_REPAIR[rule.kind]}",
            )  # fmt: skip


# Too long a description (MA104), tag key (MA111) or tag value (MA113) has a finding of its own.
_LENGTH_FOUND_ELSEWHERE = ("comment", "key", "value")


def _tag_findings(model: str, version: int | None, tags: dict[str, str]) -> Iterator[Finding]:
    what = f"version {version}" if version is not None else "The model"
    yield from text_findings(
        model,
        version,
        [(f"tag key {k!r}", k, "key") for k in sorted(tags)]
        + [(f"value of tag {k!r}", v, "value") for k, v in sorted(tags.items())],
    )
    for key, value in sorted(tags.items()):
        problem = tag_key_problem(key)
        if problem:
            yield _finding(
                "MA111", model, version, f"{what.capitalize()}: {problem}.",
                "the tag moves with ':' and the other forbidden characters replaced by '_' "
                "(or is dropped if that is empty or clashes)",
            )  # fmt: skip
        if len(value) > MAX_TAG_VALUE:
            yield _finding(
                "MA113", model, version,
                f"{what.capitalize()}: the value of tag {key!r} has {len(value):,} characters; "
                f"at most {MAX_TAG_VALUE} are allowed.",
                "the value moves to the description; the tag keeps a pointer to it",
            )  # fmt: skip
        if version is not None and key == DEFAULT_STAGE_TAG:
            yield _finding(
                "MA114", model, version,
                f"Version {version} already has a tag {key!r}, the key the stage policy uses.",
                "the stage policy overwrites it; choose another stage_tag in migration.yaml "
                "to keep it",
            )  # fmt: skip
    if len(tags) > MAX_TAGS:
        yield _finding(
            "MA112", model, version,
            f"{what.capitalize()} has {len(tags)} tags; at most {MAX_TAGS} are allowed.",
            f"the first {MAX_TAGS - 1} tags (by key) move; the rest go into one overflow tag "
            "(or the description, per 'tags.overflow' in migration.yaml)",
        )  # fmt: skip


def _stage_findings(model: ModelInventory) -> Iterator[Finding]:
    by_stage: dict[str, list[int]] = {}
    for version in model.versions:
        stage = KNOWN_STAGES.get(version.source.stage.lower(), version.source.stage)
        by_stage.setdefault(stage, []).append(version.source.version)
    for stage in ("Production", "Staging"):
        numbers = sorted(by_stage.get(stage, []))
        if len(numbers) > 1:
            yield _finding(
                "MA207", model.name, None,
                f"{len(numbers)} versions are in {stage}: "
                f"{', '.join(str(n) for n in numbers)}.",
                f"only the newest, version {numbers[-1]}, gets the alias {stage}; every one "
                f"gets the tag {DEFAULT_STAGE_TAG}={stage}",
            )  # fmt: skip
    archived = sorted(by_stage.get("Archived", []))
    if archived:
        yield _finding(
            "MA208", model.name, None,
            f"Archived versions: {', '.join(str(n) for n in archived)}.",
            f"they migrate with the tag {DEFAULT_STAGE_TAG}=Archived and no alias",
        )  # fmt: skip


def _permission_findings(model: ModelInventory) -> Iterator[Finding]:
    for grant in model.permissions:
        mapped = permission_map(grant.level.value)
        if mapped is None:
            continue
        privileges = ", ".join(p.value for p in mapped.privileges)
        parents = " and ".join(p.value for p in mapped.parent_privileges)
        approver = "; may approve in the model's deployment job" if mapped.approver else ""
        origin = " (inherited)" if grant.inherited else ""
        yield _finding(
            "MA321", model.name, None,
            f"{grant.kind.value} {grant.principal} has {grant.source_level}{origin}.",
            f"grant {privileges} on the model, {parents} on its parents{approver}",
        )  # fmt: skip
    for unmapped in model.unmapped_permissions:
        yield _finding(
            "MA322", model.name, None,
            f"{unmapped.kind.value} {unmapped.principal} has {unmapped.source_level}: "
            f"{unmapped.reason}.",
            "no grant is made for it; review who can read the model after the migration",
        )  # fmt: skip
    kinds = sorted({g.kind.value for g in model.permissions if g.kind != PrincipalKind.USER})
    if kinds:
        yield _finding(
            "MA323", model.name, None,
            f"Grants go to {' and '.join(k.replace('_', ' ') + 's' for k in kinds)}.",
            "the same names must exist in the catalog, or be mapped under 'principals' in "
            "migration.yaml",
        )  # fmt: skip


def version_findings(model: ModelInventory, inventory: VersionInventory) -> Iterator[Finding]:
    """Findings about one version: status, files, signature, run, tags and activity."""
    version = inventory.source
    name, number = model.name, version.version
    if version.status != VersionStatus.READY:
        yield _finding(
            "MA205", name, number, f"Version {number} is {version.status}.",
            "not migrated: only READY versions can be loaded or aliased",
        )  # fmt: skip
    if not inventory.has_files:
        yield _finding(
            "MA201", name, number,
            f"Version {number} has no readable files at {display_uri(version.artifact_uri)}.",
            "not migrated: there is nothing to copy",
        )  # fmt: skip
    elif not inventory.has_mlmodel:
        yield _finding(
            "MA202", name, number,
            f"Version {number} has {inventory.files} files but no readable MLmodel file.",
            "not migrated: the catalog needs an MLflow model with a signature",
        )  # fmt: skip
    elif not (inventory.signature_inputs or inventory.signature_outputs):
        yield _finding(
            "MA203", name, number, f"Version {number} has no signature.",
            "with signatures.policy 'require' (the default) it is not migrated; 'infer' derives "
            "one by loading the model, 'waive' migrates it with a recorded waiver, or supply one "
            "under signatures.supplied",
        )  # fmt: skip
    elif not (inventory.signature_inputs and inventory.signature_outputs):
        missing = "outputs" if inventory.signature_inputs else "inputs"
        yield _finding(
            "MA204", name, number,
            f"Version {number} has a signature without {missing}.",
            "handled as a missing signature: 'infer', 'waive' or a supplied signature lets it "
            "migrate",
        )  # fmt: skip
    if not version.run_id:
        yield _finding(
            "MA206", name, number, f"Version {number} has no run.",
            "migrated without lineage to a run",
        )  # fmt: skip
    yield from _tag_findings(name, number, version.tags)
    yield from text_findings(
        name,
        number,
        [
            ("description", version.description or "", "comment"),
            ("run id", version.run_id or "", "run_id"),
            ("source", version.source or "", "source"),
        ],
    )
    activity = inventory.activity
    if activity.comments:
        yield _finding(
            "MA301", name, number,
            f"Version {number} has {len(activity.comments)} comment(s).",
            "copied into the version's description under 'Migrated activity'",
        )  # fmt: skip
    if activity.transition_requests:
        pending = sum(1 for r in activity.transition_requests if r.status == "PENDING")
        yield _finding(
            "MA302" if pending else "MA304", name, number,
            f"Version {number} has {len(activity.transition_requests)} transition request(s), "
            f"{pending} still pending.",
            "recorded in the description under 'Migrated activity'; pending requests become "
            "approvals only if a deployment job is linked",
        )  # fmt: skip
    if activity.stage_history:
        yield _finding(
            "MA303", name, number,
            f"Version {number} has {len(activity.stage_history)} stage change(s).",
            "recorded in the description under 'Migrated activity'",
        )  # fmt: skip
