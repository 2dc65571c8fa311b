"""MC115: a model URI whose stage is computed (`f"models:/{name}/{stage}"`).

The stage comes from a parameter, a setting or the environment, so the text alone cannot say
whether it is a stage; the expression's own words can (`stage`, `model_stage`,
`config["stage"]`, `os.environ["MODEL_STAGE"]`, `version.current_stage`). A computed version
number (`{version}`) is left alone. Reported, never fixed: what the value holds is decided
outside this code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import libcst as cst

from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.model_uri import UNKNOWN
from modelcatalog.rewrite.python_calls import code_of
from modelcatalog.rewrite.python_context import PythonContext
from modelcatalog.rewrite.python_strings import computed_parts
from modelcatalog.rewrite.registry import PythonMatch, python_check, rule

RULE = rule(
    "MC115",
    "computed-stage-model-uri",
    Severity.WARNING,
    "Model URI whose stage comes from outside the code",
)


_STAGE_WORDS = re.compile(r"stage|['\"](?:production|staging|archived)['\"]", re.IGNORECASE)


def _names_a_stage(node: cst.BaseExpression, ctx: PythonContext) -> bool:
    """True if the expression's own words, or those of what was assigned to it, say it holds a
    stage (`stage`, `"Production" if prod else "Staging"`)."""
    if _STAGE_WORDS.search(code_of(node)):
        return True
    if isinstance(node, cst.Name):
        for origin in ctx.bindings.origins(node) or []:
            if origin.value is not None and _STAGE_WORDS.search(code_of(origin.value)):
                return True
    return False


def _check(node: cst.BaseExpression, ctx: PythonContext) -> Iterator[PythonMatch]:
    if not "".join(t for t, _ in computed_parts(node, ctx, resolve=False)).startswith("models:/"):
        return  # following names costs a scope analysis: only for model URIs
    parts = computed_parts(node, ctx)
    if len(parts) < 2:
        return
    suffix, expression = parts[-1]
    before = "".join(t for t, _ in parts[:-1])
    if suffix != UNKNOWN or expression is None or not before.endswith("/"):
        return
    if before.count("/") != 2 or not _names_a_stage(expression, ctx):
        return  # a name with a slash, or a version number
    aliases = ", ".join(f"{s} -> {a}" for s, a in ctx.model_map.stage_aliases.items())
    yield PythonMatch(
        RULE,
        node,
        f"the stage in this model URI comes from {ctx.outside_source(expression)}: the "
        "catalog has no stages, so a stage name there no longer resolves; pass an alias "
        f"instead and write models:/<name>@<alias> (aliases for stages: {aliases or 'none'}), "
        "or pass a version number.",
    )


@python_check(cst.FormattedString)
def check_fstring(node: cst.FormattedString, ctx: PythonContext) -> Iterator[PythonMatch]:
    yield from _check(node, ctx)


@python_check(cst.BinaryOperation)
def check_concatenation(node: cst.BinaryOperation, ctx: PythonContext) -> Iterator[PythonMatch]:
    parent = ctx.parent(node)
    outermost = not (
        isinstance(parent, cst.BinaryOperation) and isinstance(parent.operator, cst.Add)
    )
    if isinstance(node.operator, cst.Add) and outermost:
        yield from _check(node, ctx)
