"""MC114: registering a model under a name without catalog and schema."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.naming import target_for
from modelcatalog.rewrite.python_calls import argument, literal_or_constant, with_string_value
from modelcatalog.rewrite.python_context import PythonContext
from modelcatalog.rewrite.registry import PythonMatch, Replacement, python_check, rule

RULE = rule(
    "MC114",
    "short-registered-name",
    Severity.ERROR,
    "Registers a model under a name without catalog and schema",
)


def _name_argument(node: cst.Call, ctx: PythonContext) -> cst.Arg | None:
    qualified = ctx.qualified_name(node.func) or ""
    if qualified == "mlflow.register_model":
        return argument(node, 1, "name")
    if qualified.startswith("mlflow.") and qualified.endswith(".log_model"):
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == "registered_model_name":
                return arg
    return None


@python_check(cst.Call)
def check(node: cst.Call, ctx: PythonContext) -> Iterator[PythonMatch]:
    arg = _name_argument(node, ctx)
    if arg is None:
        return
    value, literal = literal_or_constant(arg.value, ctx)
    if value is None:
        return
    target = target_for(value, ctx.model_map)
    if target.replacement is None:
        return
    via = "" if literal else f" ({arg.value.value} is {value!r})"  # type: ignore[attr-defined]
    fix: dict[cst.CSTNode, Replacement] | None = (
        {arg.value: with_string_value(arg.value, target.replacement)}
        if literal and isinstance(arg.value, cst.SimpleString)
        else None
    )
    yield PythonMatch(
        RULE,
        arg.value,
        f"model name {value!r}{via} has no catalog and schema: register it as "
        f"{target.replacement!r}{target.note}.",
        fix,
    )
