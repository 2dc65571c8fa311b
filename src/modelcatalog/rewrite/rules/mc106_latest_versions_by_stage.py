"""MC106: `get_latest_versions(name, stages=[...])` becomes a lookup by alias.

The fix calls `_versions_with_alias(client, name, alias)` (added once per file), which returns
a list as the old call did: `[version]`, or `[]` when no version holds the alias, so code that
branches on an empty list, indexes it or catches around it behaves as before. Only the call is
replaced: the subscript after it, comments and line breaks between its arguments stay.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import libcst as cst

from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.python_calls import (
    argument,
    keyword_argument,
    literal_or_constant,
    method_name,
    quoted_like,
    receiver,
)
from modelcatalog.rewrite.python_context import PythonContext
from modelcatalog.rewrite.python_names import VERSIONS_WITH_ALIAS, name_fix
from modelcatalog.rewrite.registry import PythonMatch, Replacement, python_check, rule

RULE = rule(
    "MC106",
    "latest-versions-by-stage",
    Severity.ERROR,
    "Looks up the version in a stage with get_latest_versions",
)


def _stage_elements(arg: cst.Arg) -> list[cst.BaseExpression] | None:
    """The elements of a literal list or tuple of stages, else None."""
    if isinstance(arg.value, cst.List | cst.Tuple):
        return [e.value for e in arg.value.elements if not isinstance(e, cst.StarredElement)]
    return None


def _aliases(ctx: PythonContext) -> str:
    pairs = ", ".join(f"{s} -> {a}" for s, a in ctx.model_map.stage_aliases.items())
    return pairs or "none configured"


def _report(node: cst.Call, stages_arg: cst.Arg, ctx: PythonContext) -> PythonMatch | None:
    """The finding when the stage asked for has no single alias to look up."""
    elements = _stage_elements(stages_arg)
    if elements == []:
        return None  # every stage: MC107
    if elements is None:
        what = f"the stages come from {ctx.outside_source(stages_arg.value)}"
    elif len(elements) > 1:
        what = "several stages are asked for at once"
    else:
        stage, _ = literal_or_constant(elements[0], ctx)
        alias = ctx.model_map.alias_for_stage(stage) if stage else None
        if stage is None:
            what = f"the stage comes from {ctx.outside_source(elements[0])}"
        elif alias is not None:
            what = f"the version in {stage} is the one with the alias {alias!r}"
        else:
            tag = ctx.model_map.stage_tag
            kept = f"; its versions carry the tag {tag!r}" if tag else ""
            what = f"stage {stage!r} has no alias in the catalog{kept}"
    return PythonMatch(
        RULE,
        node,
        f"stages do not exist in the catalog and {what}: look up each stage's version by its "
        f"alias with get_model_version_by_alias(name, alias) (aliases: {_aliases(ctx)}).",
    )


#: Airflow's MLflow provider: an operator per registry call.
OPERATOR = "mlflow_provider.operators.registry.GetLatestModelVersionsOperator"


@python_check(cst.Call)
def check_operator(node: cst.Call, ctx: PythonContext) -> Iterator[PythonMatch]:
    """`GetLatestModelVersionsOperator(name=..., stages=[...])` in an Airflow DAG."""
    stages = keyword_argument(node, "stages")
    if stages is None or ctx.qualified_name(node.func, OPERATOR.__eq__) != OPERATOR:
        return
    found = _report(node, stages, ctx)
    if found is not None:
        message = (
            f"GetLatestModelVersionsOperator: {found.message} An operator cannot be fixed in "
            "place: call the client from a task (@task) instead."
        )
        yield replace(found, message=message)


@python_check(cst.Call)
def check(node: cst.Call, ctx: PythonContext) -> Iterator[PythonMatch]:
    target = receiver(node)
    if method_name(node) != "get_latest_versions" or target is None:
        return
    stages_arg, name_arg = argument(node, 1, "stages"), argument(node, 0, "name")
    if stages_arg is None or name_arg is None or not ctx.is_mlflow_client(target):
        return  # no stages: MC107 explains the choices
    if isinstance(stages_arg.value, cst.Name) and stages_arg.value.value == "None":
        return  # every stage: MC107
    elements = _stage_elements(stages_arg)
    stage = literal_or_constant(elements[0], ctx)[0] if elements and len(elements) == 1 else None
    alias = ctx.model_map.alias_for_stage(stage) if stage else None
    if alias is None or elements is None:
        if (found := _report(node, stages_arg, ctx)) is not None:
            yield found
        return
    name = name_fix(name_arg.value, ctx)
    alias_value = cst.parse_expression(quoted_like(elements[0], alias))
    alias_keyword = cst.Name("alias") if stages_arg.keyword is not None else None
    call = node.with_changes(
        func=cst.Name(VERSIONS_WITH_ALIAS),
        args=[
            cst.Arg(target, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
            name_arg.with_changes(value=name.expression),
            stages_arg.with_changes(keyword=alias_keyword, value=alias_value),
        ],
    )
    fix: dict[cst.CSTNode, Replacement] = {node: call, **name.replacements}
    yield PythonMatch(
        RULE,
        node,
        f"stages do not exist in the catalog: the version in {stage} is the one with the alias "
        f"{alias!r}; the fix calls {VERSIONS_WITH_ALIAS}(client, name, {alias!r}), added to the "
        "file, which returns [] when no version has the alias, as get_latest_versions did for "
        f"an empty stage{name.note}.",
        fix,
        (VERSIONS_WITH_ALIAS,),
    )
