"""The plan file: a migration plan written to YAML for review, and read back with every field
checked (any problem names its field and what is allowed)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import (
    MappingEndEvent,
    MappingStartEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from modelcatalog.migrate.fields import Fields
from modelcatalog.migrate.mapping import (
    DEFAULT_STAGE_TAG,
    MappingError,
    _aliases,
    _full_name,
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


class _PythonParser(Reader, Scanner, Parser):
    """PyYAML's own event parser, where it was built without libyaml."""

    def __init__(self, stream: BinaryIO) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)


# libyaml's event parser where PyYAML was built with it; nodes are composed here, one model
# at a time.
try:
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML without libyaml
    _Parser = _PythonParser


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


def _model_dict(m: ModelPlan) -> dict[str, Any]:
    return {
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


def _head(plan: Plan, summary: dict[str, int]) -> dict[str, Any]:
    """Everything of the plan file before its models."""
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
        "summary": {**summary, "grants": len(plan.all_grants())},
        "notes": list(plan.notes),
        "principals": [{"name": p.name, "kind": p.kind} for p in plan.principals],
        "grants": [_grant_dict(g) for g in plan.grants],
        "webhooks": list(plan.webhooks),
        "notifications": list(plan.notifications),
    }


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan as plain data, in a fixed order (the same source gives the same file)."""
    summary = {
        "models": len(plan.models),
        "versions": plan.version_count,
        "skipped_versions": sum(len(m.skipped) for m in plan.models),
        "bytes": sum(v.bytes for m in plan.models for v in m.versions),
    }
    return {**_head(plan, summary), "models": [_model_dict(m) for m in plan.models]}


def _dump(value: Any) -> str:
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


class PlanWriter:
    """Writes a plan file one model at a time, in bounded memory.

    Each model goes to a scratch file as it is planned (a top-level YAML list item is written
    the same alone as inside the whole document); `finish` writes the head, whose summary
    counts every model, then the models, and moves the file into place (a reader never sees
    half a plan). The file is the one `write_plan` writes for the whole plan at once."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._models = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self.summary = {"models": 0, "versions": 0, "skipped_versions": 0, "bytes": 0}

    def model(self, model: ModelPlan) -> None:
        """Add one model with its versions (which the caller may then drop)."""
        self._models.write(_dump([_model_dict(model)]))
        self.summary["models"] += 1
        self.summary["versions"] += len(model.versions)
        self.summary["skipped_versions"] += len(model.skipped)
        self.summary["bytes"] += sum(v.bytes for v in model.versions)

    def finish(self, plan: Plan) -> None:
        """Write the file: `plan` gives the head (its models are not read again)."""
        scratch = self.path.with_name(f".{self.path.name}.tmp")
        try:
            with open(scratch, "w", encoding="utf-8") as out:
                out.write(_dump(_head(plan, self.summary)))
                if not self.summary["models"]:
                    out.write("models: []\n")
                else:
                    out.write("models:\n")
                    self._models.seek(0)
                    shutil.copyfileobj(self._models, out)
            scratch.replace(self.path)
        finally:
            scratch.unlink(missing_ok=True)
            self._models.close()

    def close(self) -> None:
        self._models.close()


def write_plan(plan: Plan, path: str | Path) -> None:
    """Write the plan as YAML (atomically: a reader never sees half a plan)."""
    writer = PlanWriter(path)
    for model in plan.models:
        writer.model(model)
    writer.finish(plan)


TAG_RENAME_RULE = (
    "each character UC refuses in a key (. , - = / :) becomes '_', keys are cut to 255 "
    "characters, and a key that would collide gets _2, _3, ... appended"
)

# Reading ----------------------------------------------------------------------------------


def read_plan(path: str | Path) -> Plan:
    """Read and check a plan file; any problem names its field and what is allowed."""
    opened = open_plan(path)
    opened.plan.models = list(opened.models())
    return opened.plan


@dataclass
class OpenedPlan:
    """A plan file read for a run: its head checked and in memory, its models read from the
    file one at a time, each time `models` is called (memory holds one model at a time)."""

    path: Path
    plan: Plan

    def models(self) -> Iterator[ModelPlan]:
        """Every model of the plan, in file order, checked as `read_plan` checks them."""
        seen: dict[str, str] = {}
        with open(self.path, "rb") as handle:
            for item in _model_items(handle, str(self.path)):
                model = _model(item)
                for name in (model.source, model.target):
                    if name in seen:
                        raise item.error(
                            "source", f"{name!r} is also in {seen[name]}", "one entry each"
                        )
                    seen[name] = item.where
                yield model


def open_plan(path: str | Path) -> OpenedPlan:
    """Read and check a plan file's head (everything but its models), for a run that streams
    the models (`OpenedPlan.models`)."""
    source = str(path)
    try:
        handle = open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise MappingError(source, "", f"cannot be read: {exc.strerror or exc}") from exc
    with handle:
        head = _head_document(handle, source)
    top = Fields(source, "", head)
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
    return OpenedPlan(Path(path), plan)


class _Loader(_Parser, Composer, SafeConstructor, Resolver):  # type: ignore[misc]
    """A YAML loader that builds one node at a time (libyaml's parser where PyYAML has it)."""

    def __init__(self, stream: BinaryIO) -> None:
        _Parser.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)

    def value(self) -> Any:
        """The next node (a whole subtree) as plain data."""
        node = Composer.compose_node(self, None, None)
        self.anchors: dict[str, Any] = {}
        return self.construct_document(node)


def _top_keys(handle: BinaryIO, source: str) -> Iterator[tuple[str, _Loader]]:
    """Each key of the plan's top-level mapping, with the loader placed on its value."""
    loader = _Loader(handle)
    try:
        loader.get_event()  # the stream's start
        if loader.check_event(StreamEndEvent):
            raise MappingError(source, "", "must be a YAML mapping at the top level")
        loader.get_event()  # the document's start
        if not loader.check_event(MappingStartEvent):
            raise MappingError(source, "", "must be a YAML mapping at the top level")
        loader.get_event()
        while not loader.check_event(MappingEndEvent):
            yield str(loader.value()), loader
    except yaml.YAMLError as exc:
        raise MappingError(source, "", f"is not valid YAML: {exc}") from exc
    finally:
        loader.dispose()


def _head_document(handle: BinaryIO, source: str) -> dict[str, Any]:
    head: dict[str, Any] = {}
    for key, loader in _top_keys(handle, source):
        if key == "models":
            _skip(loader)
        else:
            head[key] = loader.value()
    return head


def _skip(loader: _Loader) -> None:
    """Pass over the next node without building it."""
    depth = 0
    while True:
        event = loader.get_event()
        if isinstance(event, (MappingStartEvent, SequenceStartEvent)):
            depth += 1
        elif isinstance(event, (MappingEndEvent, SequenceEndEvent)):
            depth -= 1
        if depth == 0:
            return


def _model_items(handle: BinaryIO, source: str) -> Iterator[Fields]:
    for key, loader in _top_keys(handle, source):
        if key != "models":
            _skip(loader)
            continue
        if not loader.check_event(SequenceStartEvent):
            value = loader.value()
            if value is None:
                continue
            raise MappingError(source, "models", "must be a list")
        loader.get_event()
        index = 0
        while not loader.check_event(SequenceEndEvent):
            yield Fields(source, f"models[{index}]", loader.value())
            index += 1
        loader.get_event()


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
