"""MC105: moving a version between stages; in the catalog an alias moves instead."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.naming import name_argument
from modelcatalog.rewrite.python_calls import (
    argument,
    code_of,
    is_simple,
    literal_or_constant,
    method_name,
    quoted_like,
    receiver,
)
from modelcatalog.rewrite.python_context import PythonContext
from modelcatalog.rewrite.registry import (
    PythonMatch,
    Replacement,
    StringMatch,
    python_check,
    rule,
    string_check,
)

RULE = rule(
    "MC105", "stage-transition", Severity.ERROR, "Moves a model version between registry stages"
)
_REST = (
    "mlflow/model-versions/transition-stage",
    "mlflow/databricks/model-versions/transition-stage",
)


def _name_code(node: cst.BaseExpression, ctx: PythonContext) -> tuple[str, str]:
    """The name to write in the new call, and a note for the message."""
    value, literal = literal_or_constant(node, ctx)
    full, note = name_argument(code_of(node), value, literal, ctx.model_map)
    return (quoted_like(node, full) if full else code_of(node)), note


def _fix(
    node: cst.Call, ctx: PythonContext, alias: str, stage: str, quote_like: cst.BaseExpression
) -> tuple[dict[cst.CSTNode, Replacement] | None, str]:
    name_arg, version_arg = argument(node, 0, "name"), argument(node, 1, "version")
    statement = ctx.parent(ctx.parent(node) or node)
    if (
        name_arg is None
        or version_arg is None
        or not isinstance(ctx.parent(node), cst.Expr)
        or not isinstance(statement, cst.SimpleStatementLine)
        or len(statement.body) != 1
    ):
        return None, ""
    name, note = _name_code(name_arg.value, ctx)
    client, version = code_of(receiver(node) or node), code_of(version_arg.value)
    lines = [
        cst.parse_statement(
            f"{client}.set_registered_model_alias(name={name}, "
            f"alias={quoted_like(quote_like, alias)}, version={version})"
        )
    ]
    tag = ctx.model_map.stage_tag
    if tag:
        if not (is_simple(name_arg.value) and is_simple(version_arg.value)):
            return None, note  # would evaluate name or version twice
        lines.append(
            cst.parse_statement(
                f"{client}.set_model_version_tag(name={name}, version={version}, "
                f"key={quoted_like(quote_like, tag)}, value={quoted_like(quote_like, stage)})"
            )
        )
    first = lines[0]
    assert isinstance(first, cst.SimpleStatementLine)
    lines[0] = first.with_changes(
        leading_lines=statement.leading_lines, trailing_whitespace=statement.trailing_whitespace
    )
    return {statement: cst.FlattenSentinel(lines)}, note


@python_check(cst.Call)
def check(node: cst.Call, ctx: PythonContext) -> Iterator[PythonMatch]:
    method, target = method_name(node), receiver(node)
    if target is None:
        return
    if method == "transition_stage" and ctx.is_workspace_registry(target):
        yield PythonMatch(RULE, node, _explain(ctx.model_map, None))
        return
    if method != "transition_model_version_stage" or not ctx.is_mlflow_client(target):
        return
    stage_arg = argument(node, 2, "stage")
    stage, literal = literal_or_constant(stage_arg.value, ctx) if stage_arg else (None, False)
    alias = ctx.model_map.alias_for_stage(stage) if stage else None
    if stage is None or alias is None or not literal:
        yield PythonMatch(RULE, node, _explain(ctx.model_map, stage))
        return
    assert stage_arg is not None
    replacements, note = _fix(node, ctx, alias, stage, stage_arg.value)
    tag = ctx.model_map.stage_tag
    also = f" and record the stage in the tag {tag}" if tag else ""
    yield PythonMatch(
        RULE,
        node,
        f"stages do not exist in the catalog: set the alias {alias!r} on the version instead"
        f"{also} (the alias moves off the version that held it, which replaces "
        f"archive_existing_versions){note}.",
        replacements,
    )


def _explain(model_map: ModelMap, stage: str | None) -> str:
    aliases = ", ".join(f"{s} -> {a}" for s, a in model_map.stage_aliases.items()) or "none"
    what = f"stage {stage!r}" if stage else "this stage transition"
    return (
        f"{what} has no equivalent in the catalog: set an alias with "
        f"set_registered_model_alias (configured aliases: {aliases}) or record the stage "
        "with set_model_version_tag; Archived versions get no alias."
    )


@string_check
def check_rest(text: str, model_map: ModelMap) -> StringMatch | None:
    if "/transition-stage" not in text or not any(path in text for path in _REST):
        return None
    return StringMatch(RULE, "REST call to transition-stage: " + _explain(model_map, None))
