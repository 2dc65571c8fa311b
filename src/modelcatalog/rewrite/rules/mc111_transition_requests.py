"""MC111: workspace-registry transition requests (create, approve, reject, list, delete)."""

from __future__ import annotations

import libcst as cst

from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.registry import python_check, rule, string_check
from modelcatalog.rewrite.workspace_registry import rest_check, sdk_check

RULE = rule(
    "MC111", "transition-request", Severity.ERROR, "Uses workspace-registry transition requests"
)
MESSAGE = (
    "transition requests do not exist in the catalog: link a deployment job with an approval "
    "task to the model; an approver approves by setting the version tag '<task name>=Approved'. "
    "Migrated requests are kept in the version's description under 'Migrated activity'."
)
METHODS = frozenset(
    {
        "create_transition_request",
        "approve_transition_request",
        "reject_transition_request",
        "delete_transition_request",
        "list_transition_requests",
    }
)

check = python_check(cst.Call)(sdk_check(RULE, METHODS, MESSAGE))
check_rest = string_check(rest_check(RULE, ("mlflow/transition-requests",), MESSAGE))
