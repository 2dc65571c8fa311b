"""MC114: registering a model under a name without catalog and schema."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.naming import target_for
from modelcatalog.rewrite.python_calls import argument, code_of
from modelcatalog.rewrite.python_context import PythonContext
from modelcatalog.rewrite.python_names import name_fix
from modelcatalog.rewrite.registry import PythonMatch, Replacement, python_check, rule

RULE = rule(
    "MC114",
    "short-registered-name",
    Severity.ERROR,
    "Registers a model under a name without catalog and schema",
)


def _registers(qualified: str) -> bool:
    return qualified == "mlflow.register_model" or qualified.endswith(".log_model")


def _name_argument(node: cst.Call, ctx: PythonContext) -> cst.Arg | None:
    qualified = ctx.qualified_name(node.func, _registers) or ""
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
    source = ctx.string_source(arg.value)
    if source is None:
        return
    target = target_for(source.value, ctx.model_map)
    if target.replacement is None:
        return
    name = name_fix(arg.value, ctx)
    replacements: dict[cst.CSTNode, Replacement] = dict(name.replacements)
    if name.expression is not arg.value:
        replacements[arg.value] = name.expression
    via, advice = "", ""
    if source.origin is not None:
        via = f" ({code_of(arg.value)} is {source.value!r})"
        if not replacements:
            advice = (
                f"; {code_of(arg.value)} is also read where no model name is expected, so "
                "change it where it is assigned if that is what those places need"
            )
    yield PythonMatch(
        RULE,
        arg.value,
        f"model name {source.value!r}{via} has no catalog and schema: register it as "
        f"{target.replacement!r}{advice}{target.note}.",
        replacements or None,
    )
