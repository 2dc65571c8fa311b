"""MC104: a registry URI of `databricks` points at the workspace registry, not the catalog."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.python_calls import argument, with_string_value
from modelcatalog.rewrite.python_context import MLFLOW_CLIENT, PythonContext
from modelcatalog.rewrite.registry import PythonMatch, python_check, rule

RULE = rule(
    "MC104",
    "workspace-registry-uri",
    Severity.ERROR,
    "Registry URI that selects the workspace model registry",
)
_SET_REGISTRY_URI = frozenset({"mlflow.set_registry_uri", "mlflow.tracking.set_registry_uri"})


def _catalog_uri(value: str) -> str | None:
    # `databricks` and `databricks://<profile>` are the workspace registry; the catalog is
    # the same URI with the `-uc` scheme.
    if value == "databricks" or value.startswith("databricks://"):
        return "databricks-uc" + value[len("databricks") :]
    return None


@python_check(cst.Call)
def check(node: cst.Call, ctx: PythonContext) -> Iterator[PythonMatch]:
    qualified = ctx.qualified_name(node.func)
    if qualified in _SET_REGISTRY_URI:
        arg = argument(node, 0, "uri")
    elif qualified in MLFLOW_CLIENT:
        arg = argument(node, 1, "registry_uri")
    else:
        return
    if arg is None or not isinstance(arg.value, cst.SimpleString):
        return
    value = arg.value.evaluated_value
    new = _catalog_uri(value) if isinstance(value, str) else None
    if new is None:
        return
    yield PythonMatch(
        RULE,
        arg.value,
        f"registry URI {value!r} is the workspace model registry: use {new!r} for the catalog.",
        {arg.value: with_string_value(arg.value, new)},
    )
