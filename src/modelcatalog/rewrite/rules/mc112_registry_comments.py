"""MC112: workspace-registry comments on model versions."""

from __future__ import annotations

import libcst as cst

from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.registry import python_check, rule, string_check
from modelcatalog.rewrite.workspace_registry import rest_check, sdk_check

RULE = rule("MC112", "registry-comment", Severity.ERROR, "Uses workspace-registry comments")
MESSAGE = (
    "version comments do not exist in the catalog: write to the version's description "
    "(MlflowClient().update_model_version(name, version, description=...)); migrated comments "
    "are under 'Migrated activity' there."
)
METHODS = frozenset({"create_comment", "update_comment", "delete_comment"})

check = python_check(cst.Call)(sdk_check(RULE, METHODS, MESSAGE))
check_rest = string_check(rest_check(RULE, ("mlflow/comments/",), MESSAGE))
