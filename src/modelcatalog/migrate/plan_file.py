"""The plan file: a migration plan written to YAML for review, and read back with every field
checked (any problem names its field and what is allowed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from modelcatalog.migrate.fields import Fields
from modelcatalog.migrate.mapping import (
    DEFAULT_STAGE_TAG,
    MappingError,
    _aliases,
    _full_name,
    _load_yaml_mapping,
    _stage_tag,
    alias_problem,
)
from modelcatalog.migrate.plan_model import (
    SIGNATURE_ACTIONS,
    TARGET_URL_FORMS,
    Grant,
    ModelPlan,
    Origin,
    Plan,
    Principal,
    SignatureDecision,
    SkippedVersion,
    TagRename,
    VersionPlan,
    target_url_problem,
)

PLAN_FORMAT = 1


# Writing ----------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    pass


def _text_representer(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value and not value.endswith((" ", "\t")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text_representer)


def _grant_dict(g: Grant) -> dict[str, Any]:
    body: dict[str, Any] = {
        "principal": g.principal,
        "securable_type": g.securable_type,
        "securable": g.securable,
        "privileges": list(g.privileges),
    }
    if g.source_level:
        body["source_level"] = g.source_level
    body["statement"] = g.statement()
    return body


def _signature_dict(s: SignatureDecision) -> dict[str, Any]:
    body: dict[str, Any] = {"action": s.action}
    for key in ("inputs", "outputs", "waiver"):
        if getattr(s, key) is not None:
            body[key] = getattr(s, key)
    return body


def _version_dict(v: VersionPlan) -> dict[str, Any]:
    return {
        "version": v.version,
        "stage": v.stage,
        "artifact_uri": v.artifact_uri,
        "source": v.source,
        "run_id": v.run_id,
        "files": v.files,
        "bytes": v.bytes,
        "signature": _signature_dict(v.signature),
        "origin": v.origin.to_dict(),
        "tags": dict(v.tags),
        "comment": v.comment,
    }


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan as plain data, in a fixed order (the same source gives the same file)."""
    return {
        "version": PLAN_FORMAT,
        "source": {"registry_uri": plan.source_registry, "tracking_uri": plan.source_tracking},
        "target": {"url": plan.target_url, "catalog": plan.catalog, "schema": plan.schema},
        "stage_policy": {"aliases": dict(plan.stage_aliases), "stage_tag": plan.stage_tag},
        "signature_policy": plan.signature_policy,
        "tag_policy": {
            "rename_rule": TAG_RENAME_RULE,
            "overflow": plan.tag_overflow,
            "overflow_tag": plan.overflow_tag,
        },
        "summary": {
            "models": len(plan.models),
            "versions": plan.version_count,
            "skipped_versions": sum(len(m.skipped) for m in plan.models),
            "bytes": sum(v.bytes for m in plan.models for v in m.versions),
            "grants": len(plan.all_grants()),
        },
        "notes": list(plan.notes),
        "principals": [{"name": p.name, "kind": p.kind} for p in plan.principals],
        "grants": [_grant_dict(g) for g in plan.grants],
        "webhooks": list(plan.webhooks),
        "notifications": list(plan.notifications),
        "models": [
            {
                "source": m.source,
                "target": m.target,
                "comment": m.comment,
                "tags": dict(m.tags),
                "tag_renames": [
                    {"from": r.original, "to": r.renamed, "reason": r.reason} for r in m.tag_renames
                ],
                "aliases": dict(m.aliases),
                "approvers": list(m.approvers),
                "grants": [_grant_dict(g) for g in m.grants],
                "notes": list(m.notes),
                "skipped": [{"version": s.version, "reason": s.reason} for s in m.skipped],
                "versions": [_version_dict(v) for v in m.versions],
            }
            for m in plan.models
        ],
    }


def write_plan(plan: Plan, path: str | Path) -> None:
    """Write the plan as YAML (atomically: a reader never sees half a plan)."""
    target = Path(path)
    text = yaml.dump(
        plan_to_dict(plan), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )
    scratch = target.with_name(f".{target.name}.tmp")
    scratch.write_text(text, encoding="utf-8")
    scratch.replace(target)


TAG_RENAME_RULE = (
    "each character UC refuses in a key (. , - = / :) becomes '_', keys are cut to 255 "
    "characters, and a key that would collide gets _2, _3, ... appended"
)

# Reading ----------------------------------------------------------------------------------


def read_plan(path: str | Path) -> Plan:
    """Read and check a plan file; any problem names its field and what is allowed."""
    source = str(path)
    top = Fields(source, "", _load_yaml_mapping(path))
    if top.doc.get("version") != PLAN_FORMAT:
        raise top.error("version", f"is {top.doc.get('version')!r}", "supported: 1")
    src = top.mapping("source")
    target = top.mapping("target").only("url", "catalog", "schema")
    url = target.str("url", required=True)
    problem = target_url_problem(url)
    if problem:
        raise target.error("url", problem, TARGET_URL_FORMS)
    catalog = target.str("catalog", required=True)
    schema = target.str("schema", required=True)
    _full_name(source, "target", f"{catalog}.{schema}.m")
    policy = top.mapping("stage_policy").only("aliases", "stage_tag")
    tag_policy = top.mapping("tag_policy")
    plan = Plan(
        source_registry=src.str("registry_uri", required=True),
        source_tracking=src.str("tracking_uri") or src.str("registry_uri"),
        target_url=url,
        catalog=catalog.lower(),
        schema=schema.lower(),
        stage_aliases=dict(_aliases(source, "stage_policy.aliases", policy.doc.get("aliases"))),
        stage_tag=_stage_tag(source, "stage_policy.stage_tag", policy.doc, DEFAULT_STAGE_TAG),
        signature_policy=top.choice("signature_policy", ("require", "infer", "waive"), "require"),
        tag_overflow=tag_policy.choice("overflow", ("tag", "description"), "tag"),
        overflow_tag=tag_policy.str("overflow_tag", "migrated_tags"),
        notes=top.str_list("notes"),
        webhooks=[w.doc for w in top.items("webhooks")],
        notifications=[n.doc for n in top.items("notifications")],
    )
    plan.principals = [
        Principal(p.str("name", required=True), p.str("kind", "user"))
        for p in top.items("principals")
    ]
    plan.grants = [_grant(g) for g in top.items("grants")]
    seen: dict[str, str] = {}
    for item in top.items("models"):
        model = _model(item)
        for name in (model.source, model.target):
            if name in seen:
                raise item.error("source", f"{name!r} is also in {seen[name]}", "one entry each")
            seen[name] = item.where
        plan.models.append(model)
    return plan


def _grant(item: Fields) -> Grant:
    privileges = item.str_list("privileges")
    if not privileges:
        raise item.error("privileges", "is empty", "e.g. [EXECUTE]")
    return Grant(
        principal=item.str("principal", required=True),
        securable_type=item.choice(
            "securable_type", ("catalog", "schema", "registered_model"), "registered_model"
        ),
        securable=item.str("securable", required=True),
        privileges=tuple(privileges),
        source_level=item.str("source_level", "") or "",
    )


def _model(item: Fields) -> ModelPlan:
    target = _full_name(item.source, item.path("target"), item.doc.get("target"))
    model = ModelPlan(
        source=item.str("source", required=True),
        target=target,
        comment=item.str("comment", "") or "",
        tags=item.str_map("tags"),
        notes=item.str_list("notes"),
        approvers=item.str_list("approvers"),
    )
    numbers: set[int] = set()
    for v in item.items("versions"):
        plan = _version(v)
        if plan.version in numbers:
            raise v.error("version", f"{plan.version} is listed twice")
        numbers.add(plan.version)
        model.versions.append(plan)
    for alias, number in (item.doc.get("aliases") or {}).items():
        where = f"{item.path('aliases')}.{alias}"
        problem = alias_problem(str(alias))
        if problem:
            raise MappingError(item.source, where, problem)
        if number not in numbers:
            raise MappingError(
                item.source, where, f"names version {number!r}", "a version this plan copies"
            )
        model.aliases[str(alias)] = number
    model.skipped = [
        SkippedVersion(s.int("version", minimum=1), s.str("reason", "") or "")
        for s in item.items("skipped")
    ]
    model.tag_renames = [
        TagRename(r.str("from", required=True), r.str("to", required=True), r.str("reason") or "")
        for r in item.items("tag_renames")
    ]
    model.grants = [_grant(g) for g in item.items("grants")]
    return model


def _version(v: Fields) -> VersionPlan:
    sig = v.mapping("signature").only("action", "inputs", "outputs", "waiver")
    action = sig.choice("action", SIGNATURE_ACTIONS, "present")
    decision = SignatureDecision(action, sig.str("inputs"), sig.str("outputs"), sig.str("waiver"))
    if action in ("inferred", "supplied") and not (decision.inputs and decision.outputs):
        raise sig.error("inputs", f"is missing for a signature that is {action}")
    if action == "waived" and not decision.waiver:
        raise sig.error("waiver", "is missing", "the reason recorded on the version")
    o = v.mapping("origin").only("registry", "model", "version", "run_id", "run_link")
    return VersionPlan(
        version=v.int("version", minimum=1),
        stage=v.str("stage", "None"),
        artifact_uri=v.str("artifact_uri", required=True),
        comment=v.str("comment", "") or "",
        tags=v.str_map("tags"),
        signature=decision,
        origin=Origin(
            o.str("registry", required=True),
            o.str("model", required=True),
            str(o.doc.get("version", "")),
            o.str("run_id"),
            o.str("run_link"),
        ),
        files=v.int("files"),
        bytes=v.int("bytes"),
        source=v.str("source", "") or "",
        run_id=v.str("run_id"),
    )
