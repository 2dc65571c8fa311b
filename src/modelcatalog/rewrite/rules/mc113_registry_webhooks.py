"""MC113: workspace-registry webhooks."""

from __future__ import annotations

import libcst as cst

from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.registry import python_check, rule, string_check
from modelcatalog.rewrite.workspace_registry import rest_check, sdk_check

RULE = rule("MC113", "registry-webhook", Severity.ERROR, "Uses workspace-registry webhooks")
MESSAGE = (
    "registry webhooks do not exist in the catalog: use a trigger (model created, version "
    "ready, alias set) with a notification or deployment job; the migration turns existing "
    "webhooks into triggers and notifications."
)
METHODS = frozenset(
    {"create_webhook", "update_webhook", "delete_webhook", "list_webhooks", "test_registry_webhook"}
)

check = python_check(cst.Call)(sdk_check(RULE, METHODS, MESSAGE))
check_rest = string_check(rest_check(RULE, ("mlflow/registry-webhooks/",), MESSAGE))
