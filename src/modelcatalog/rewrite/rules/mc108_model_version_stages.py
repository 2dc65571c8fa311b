"""MC108: `get_model_version_stages` lists stages, which the catalog does not have."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.python_calls import method_name, receiver
from modelcatalog.rewrite.python_context import PythonContext
from modelcatalog.rewrite.registry import PythonMatch, python_check, rule

RULE = rule("MC108", "model-version-stages", Severity.ERROR, "Lists the registry's stages")


@python_check(cst.Call)
def check(node: cst.Call, ctx: PythonContext) -> Iterator[PythonMatch]:
    target = receiver(node)
    if method_name(node) == "get_model_version_stages" and target is not None:
        if ctx.is_mlflow_client(target):
            aliases = ", ".join(ctx.model_map.stage_aliases.values()) or "none configured"
            yield PythonMatch(
                RULE,
                node,
                "the catalog has no stages: use the model's aliases instead "
                f"(get_registered_model(name).aliases; migrated aliases: {aliases}).",
            )
