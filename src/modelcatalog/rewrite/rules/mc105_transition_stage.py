"""MC105: moving a version between stages; in the catalog an alias moves instead.

The fix renames the call to `set_registered_model_alias` and passes every argument by keyword,
so arguments, comments and line breaks stay where they were; `archive_existing_versions` goes
(an alias leaves the version that held it). With a stage tag configured, a second call records
the stage in the version's tag.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.finding import Severity
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
from modelcatalog.rewrite.python_names import name_fix
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
#: Airflow's MLflow provider: an operator per registry call.
_OPERATORS = frozenset({"mlflow_provider.operators.registry.TransitionModelVersionStageOperator"})
_NO_SPACE = cst.SimpleWhitespace("")


def _keyword(arg: cst.Arg, keyword: str, value: cst.BaseExpression) -> cst.Arg:
    if arg.keyword is not None:
        return arg.with_changes(keyword=cst.Name(keyword), value=value)
    equal = cst.AssignEqual(whitespace_before=_NO_SPACE, whitespace_after=_NO_SPACE)
    return arg.with_changes(keyword=cst.Name(keyword), equal=equal, value=value)


def _has_comment(comma: cst.Comma | cst.MaybeSentinel) -> bool:
    return isinstance(comma, cst.Comma) and "#" in code_of(comma)


def _closing_comma(
    kept: cst.Comma | cst.MaybeSentinel, dropped: cst.Comma | cst.MaybeSentinel
) -> cst.Comma | cst.MaybeSentinel:
    """The comma after what becomes the last argument: its own comment stays, with the line
    break before `)` of the argument dropped after it."""
    if not _has_comment(kept) or not isinstance(kept, cst.Comma):
        return dropped
    after, closing = kept.whitespace_after, getattr(dropped, "whitespace_after", None)
    if isinstance(after, cst.ParenthesizedWhitespace) and isinstance(
        closing, cst.ParenthesizedWhitespace
    ):
        return kept.with_changes(whitespace_after=after.with_changes(last_line=closing.last_line))
    return kept


def _alias_call(node: cst.Call, new_args: dict[cst.Arg, cst.Arg | None]) -> cst.Call | None:
    """The call renamed, with the arguments replaced (None: dropped, keeping its comma's
    comments on the argument before it)."""
    args: list[cst.Arg] = []
    for arg in node.args:
        if arg not in new_args:
            return None  # an argument the fix does not know (`*args`, `**kwargs`, ...)
        new = new_args[arg]
        if new is not None:
            args.append(new)
        elif args and arg is node.args[-1]:
            # the last argument's trailing comma and line break before `)` stay
            args[-1] = args[-1].with_changes(
                comma=_closing_comma(args[-1].comma, arg.comma),
                whitespace_after_arg=arg.whitespace_after_arg,
            )
        elif args and _has_comment(arg.comma):
            args[-1] = args[-1].with_changes(comma=arg.comma)
    assert isinstance(node.func, cst.Attribute)
    return node.with_changes(
        func=node.func.with_changes(attr=cst.Name("set_registered_model_alias")), args=args
    )


def _fix(
    node: cst.Call, ctx: PythonContext, alias: str, stage: str, stage_arg: cst.Arg
) -> tuple[dict[cst.CSTNode, Replacement] | None, str]:
    name_arg, version_arg = argument(node, 0, "name"), argument(node, 1, "version")
    expression = ctx.parent(node)
    statement = ctx.parent(expression) if expression is not None else None
    if (
        name_arg is None
        or version_arg is None
        or not isinstance(expression, cst.Expr)
        or not isinstance(statement, cst.SimpleStatementLine)
        or len(statement.body) != 1
    ):
        return None, ""
    name = name_fix(name_arg.value, ctx)
    archive = argument(node, 3, "archive_existing_versions")
    new_args: dict[cst.Arg, cst.Arg | None] = {
        name_arg: _keyword(name_arg, "name", name.expression),
        version_arg: _keyword(version_arg, "version", version_arg.value),
        stage_arg: _keyword(
            stage_arg, "alias", cst.parse_expression(quoted_like(stage_arg.value, alias))
        ),
    }
    if archive is not None:
        new_args[archive] = None
    call = _alias_call(node, new_args)
    if call is None:
        return None, name.note
    lines: list[cst.BaseStatement] = [
        statement.with_changes(body=[expression.with_changes(value=call)])
    ]
    tag = ctx.model_map.stage_tag
    if tag:
        if not (is_simple(name_arg.value) and is_simple(version_arg.value)):
            return None, name.note  # would evaluate name or version twice
        client, version = code_of(receiver(node) or node), code_of(version_arg.value)
        quote = stage_arg.value
        lines.append(
            cst.parse_statement(
                f"{client}.set_model_version_tag(name={code_of(name.expression)}, "
                f"version={version}, key={quoted_like(quote, tag)}, "
                f"value={quoted_like(quote, stage)})"
            )
        )
    return {statement: cst.FlattenSentinel(lines), **name.replacements}, name.note


@python_check(cst.Call)
def check(node: cst.Call, ctx: PythonContext) -> Iterator[PythonMatch]:
    if ctx.qualified_name(node.func, _OPERATORS.__contains__) in _OPERATORS:
        yield PythonMatch(RULE, node, "TransitionModelVersionStageOperator: " + _explain(ctx, None))
        return
    method, target = method_name(node), receiver(node)
    if target is None:
        return
    if method == "transition_stage" and ctx.is_workspace_registry(target):
        yield PythonMatch(RULE, node, _explain(ctx, None))
        return
    if method != "transition_model_version_stage" or not ctx.is_mlflow_client(target):
        return
    stage_arg = argument(node, 2, "stage")
    stage = literal_or_constant(stage_arg.value, ctx)[0] if stage_arg else None
    alias = ctx.model_map.alias_for_stage(stage) if stage else None
    if stage_arg is None or stage is None or alias is None:
        yield PythonMatch(RULE, node, _explain(ctx, stage, stage_arg))
        return
    replacements, note = _fix(node, ctx, alias, stage, stage_arg)
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


def _explain(ctx: PythonContext | ModelMap, stage: str | None, arg: cst.Arg | None = None) -> str:
    model_map = ctx.model_map if isinstance(ctx, PythonContext) else ctx
    aliases = ", ".join(f"{s} -> {a}" for s, a in model_map.stage_aliases.items()) or "none"
    if stage is not None:
        what = f"stage {stage!r} has no alias in the catalog"
    elif arg is not None and isinstance(ctx, PythonContext):
        what = f"the stage comes from {ctx.outside_source(arg.value)}"
    else:
        what = "stages do not exist in the catalog"
    return (
        f"{what}: set an alias with set_registered_model_alias (aliases for stages: "
        f"{aliases}) and record the stage with set_model_version_tag if it still matters; "
        "Archived versions get no alias."
    )


@string_check
def check_rest(text: str, model_map: ModelMap) -> StringMatch | None:
    if "/transition-stage" not in text or not any(path in text for path in _REST):
        return None
    return StringMatch(RULE, "REST call to transition-stage: " + _explain(model_map, None))
