"""MC107: `get_latest_versions(name)` (no stages) means 'newest per stage': a decision to make."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.python_calls import (
    argument,
    keyword_argument,
    method_name,
    receiver,
)
from modelcatalog.rewrite.python_context import PythonContext
from modelcatalog.rewrite.registry import (
    PythonMatch,
    StringMatch,
    python_check,
    rule,
    string_check,
)

RULE = rule(
    "MC107",
    "latest-versions",
    Severity.WARNING,
    "get_latest_versions without stages: newest version per stage",
)

MESSAGE = (
    "get_latest_versions without stages returned the newest version of each stage, and the "
    "catalog has no stages; choose: the version you serve (get_model_version_by_alias(name, "
    "alias)), "
    "or the newest version (search_model_versions(f\"name='{name}'\", "
    "order_by=['version_number DESC'], max_results=1))."
)


@python_check(cst.Call)
def check(node: cst.Call, ctx: PythonContext) -> Iterator[PythonMatch]:
    target = receiver(node)
    if method_name(node) != "get_latest_versions" or target is None:
        return
    if ctx.is_workspace_registry(target):
        yield PythonMatch(RULE, node, "workspace registry call: " + MESSAGE)
    elif ctx.is_mlflow_client(target) and _every_stage(argument(node, 1, "stages")):
        yield PythonMatch(RULE, node, MESSAGE)


@python_check(cst.Call)
def check_operator(node: cst.Call, ctx: PythonContext) -> Iterator[PythonMatch]:
    """Airflow's `GetLatestModelVersionsOperator` without stages."""
    func = node.func
    called = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
    if called != "GetLatestModelVersionsOperator":
        return
    operator = "mlflow_provider.operators.registry.GetLatestModelVersionsOperator"
    if ctx.qualified_name(node.func, operator.__eq__) == operator and _every_stage(
        keyword_argument(node, "stages")
    ):
        yield PythonMatch(RULE, node, "GetLatestModelVersionsOperator: " + MESSAGE)


def _every_stage(stages: cst.Arg | None) -> bool:
    """No stages, `None` or an empty list: MLflow then returns the newest of every stage."""
    if stages is None:
        return True
    value = stages.value
    if isinstance(value, cst.Name) and value.value == "None":
        return True
    return isinstance(value, cst.List | cst.Tuple) and not value.elements


@string_check
def check_rest(text: str, model_map: ModelMap) -> StringMatch | None:
    if "mlflow/registered-models/get-latest-versions" not in text:
        return None
    return StringMatch(RULE, "REST call to get-latest-versions: " + MESSAGE)
