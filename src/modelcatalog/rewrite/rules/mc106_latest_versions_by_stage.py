"""MC106: `get_latest_versions(name, stages=[...])` becomes a lookup by alias."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.naming import name_argument
from modelcatalog.rewrite.python_calls import (
    argument,
    code_of,
    literal_or_constant,
    method_name,
    quoted_like,
    receiver,
)
from modelcatalog.rewrite.python_context import PythonContext
from modelcatalog.rewrite.registry import PythonMatch, Replacement, python_check, rule

RULE = rule(
    "MC106",
    "latest-versions-by-stage",
    Severity.ERROR,
    "Looks up the version in a stage with get_latest_versions",
)


def _single_stage(arg: cst.Arg, ctx: PythonContext) -> tuple[str | None, bool]:
    """The one stage asked for, and whether it is written literally."""
    value = arg.value
    if isinstance(value, cst.List | cst.Tuple) and len(value.elements) == 1:
        return literal_or_constant(value.elements[0].value, ctx)
    return None, False


def _first_element(node: cst.Call, ctx: PythonContext) -> cst.Subscript | None:
    """The `[0]` (or `[-1]`) around the call: with one stage, the list has one element."""
    parent = ctx.parent(node)
    if isinstance(parent, cst.Subscript) and len(parent.slice) == 1:
        index = parent.slice[0].slice
        if isinstance(index, cst.Index) and code_of(index.value).strip() in ("0", "-1"):
            return parent
    return None


@python_check(cst.Call)
def check(node: cst.Call, ctx: PythonContext) -> Iterator[PythonMatch]:
    target = receiver(node)
    if method_name(node) != "get_latest_versions" or target is None:
        return
    if not ctx.is_mlflow_client(target):
        return
    stages_arg, name_arg = argument(node, 1, "stages"), argument(node, 0, "name")
    if stages_arg is None or name_arg is None:
        return  # no stages: MC107 explains the choices
    stage, literal = _single_stage(stages_arg, ctx)
    alias = ctx.model_map.alias_for_stage(stage) if stage else None
    if alias is None or not literal:
        yield PythonMatch(
            RULE,
            node,
            "stages do not exist in the catalog: look up the version by alias with "
            "get_model_version_by_alias(name, alias), one alias per stage "
            f"({', '.join(f'{s} -> {a}' for s, a in ctx.model_map.stage_aliases.items())}).",
        )
        return
    value, name_literal = literal_or_constant(name_arg.value, ctx)
    full, note = name_argument(code_of(name_arg.value), value, name_literal, ctx.model_map)
    name = quoted_like(name_arg.value, full) if full else code_of(name_arg.value)
    stage_node = stages_arg.value.elements[0].value  # type: ignore[attr-defined]
    call = f"{code_of(target)}.get_model_version_by_alias({name}, {quoted_like(stage_node, alias)})"
    subscript = _first_element(node, ctx)
    replacements: dict[cst.CSTNode, Replacement]
    if subscript is not None:
        replacements = {subscript: cst.parse_expression(call)}
    else:
        replacements = {node: cst.parse_expression(f"[{call}]")}  # keep the list type
    yield PythonMatch(
        RULE,
        node,
        f"stages do not exist in the catalog: get the version by its alias {alias!r} with "
        f"get_model_version_by_alias (it raises if no version has the alias, where "
        f"get_latest_versions returned an empty list){note}.",
        replacements,
    )
