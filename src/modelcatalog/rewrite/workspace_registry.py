"""Shared shape of the rules about Databricks workspace-registry features that have no
counterpart in MLflow's client: a set of SDK methods and a set of REST paths per feature."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import libcst as cst

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.finding import Rule
from modelcatalog.rewrite.python_calls import method_name, receiver
from modelcatalog.rewrite.python_context import PythonContext
from modelcatalog.rewrite.registry import PythonMatch, StringMatch


def sdk_check(
    rule: Rule, methods: frozenset[str], message: str
) -> Callable[[cst.Call, PythonContext], Iterator[PythonMatch]]:
    """A check for `WorkspaceClient().model_registry.<method>(...)` calls."""

    def check(node: cst.Call, ctx: PythonContext) -> Iterator[PythonMatch]:
        method, target = method_name(node), receiver(node)
        if method in methods and target is not None and ctx.is_workspace_registry(target):
            yield PythonMatch(rule, node, f"model_registry.{method}: {message}")

    return check


def rest_check(
    rule: Rule, paths: tuple[str, ...], message: str
) -> Callable[[str, ModelMap], StringMatch | None]:
    """A check for strings holding one of the feature's REST paths (`/api/2.0/mlflow/...`)."""

    def check(text: str, model_map: ModelMap) -> StringMatch | None:
        if "mlflow/" not in text:
            return None
        for path in paths:
            if path in text:
                return StringMatch(rule, f"REST path .../{path}...: {message}")
        return None

    return check
