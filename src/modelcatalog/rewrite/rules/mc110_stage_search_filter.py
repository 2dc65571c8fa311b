"""MC110: `search_model_versions` filtering on `current_stage`, which the catalog ignores."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.python_calls import argument, literal_or_constant, method_name, receiver
from modelcatalog.rewrite.python_context import PythonContext
from modelcatalog.rewrite.python_strings import string_text
from modelcatalog.rewrite.registry import PythonMatch, python_check, rule

RULE = rule("MC110", "stage-search-filter", Severity.ERROR, "Searches model versions by stage")
_MODULE_SEARCH = frozenset({"mlflow.search_model_versions"})


@python_check(cst.Call)
def check(node: cst.Call, ctx: PythonContext) -> Iterator[PythonMatch]:
    target = receiver(node)
    is_search = ctx.qualified_name(node.func, _MODULE_SEARCH.__contains__) is not None or (
        method_name(node) == "search_model_versions"
        and target is not None
        and ctx.is_mlflow_client(target)
    )
    if not is_search:
        return
    arg = argument(node, 0, "filter_string")
    if arg is None:
        return
    value, _ = literal_or_constant(arg.value, ctx)
    text = value if value is not None else string_text(arg.value, ctx)
    if text is None or "current_stage" not in text:
        return
    tag = ctx.model_map.stage_tag
    recorded = f"; the stage at migration time is kept in the version tag {tag!r}" if tag else ""
    yield PythonMatch(
        RULE,
        arg.value,
        "the catalog has no current_stage to filter on: resolve the version by alias with "
        f"get_model_version_by_alias(name, alias){recorded}.",
    )
