"""MC109: reading `.current_stage` of a model version; in the catalog it is always empty."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.python_context import PythonContext, string_value
from modelcatalog.rewrite.registry import PythonMatch, python_check, rule

RULE = rule("MC109", "current-stage-read", Severity.WARNING, "Reads a model version's stage")


@python_check(cst.Attribute)
def check(node: cst.Attribute, ctx: PythonContext) -> Iterator[PythonMatch]:
    # Only where MLflow is imported: elsewhere `current_stage` is somebody else's attribute.
    if node.attr.value != "current_stage" or not ctx.mentions_mlflow():
        return
    parent = ctx.parent(node)
    if isinstance(parent, cst.AssignTarget) or isinstance(parent, cst.Attribute):
        return  # a write, or `x.current_stage.y` handled at the outer read
    yield PythonMatch(RULE, node, _message(ctx))


@python_check(cst.Call)
def check_getattr(node: cst.Call, ctx: PythonContext) -> Iterator[PythonMatch]:
    """`getattr(version, "current_stage")` and `getattr(version, "current_stage", default)`."""
    if not isinstance(node.func, cst.Name) or node.func.value != "getattr":
        return
    if len(node.args) < 2 or not ctx.mentions_mlflow():
        return
    if string_value(node.args[1].value) == "current_stage":
        yield PythonMatch(RULE, node, _message(ctx))


def _message(ctx: PythonContext) -> str:
    tag = ctx.model_map.stage_tag
    where = f" or the tag {tag!r} set by the migration (version.tags.get({tag!r}))" if tag else ""
    return (
        f"current_stage is empty in the catalog: read the version's aliases (version.aliases)"
        f"{where}."
    )
