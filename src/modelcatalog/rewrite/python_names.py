"""Model names that flow through variables: where a name is used as a model name, and the fix
of the literal it was assigned from.

A name assigned once (`name = "fraud"`, or a module constant) and read only where MLflow takes a
model name (`register_model(uri, name)`, `client.get_model_version(name, 1)`,
`f"models:/{name}/1"`, a search filter `f"name='{name}'"`) is fixed where it is assigned: every
reader then gets the full name. A name read anywhere else (a log line, a file path) is reported
with the value to write, and left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from modelcatalog.rewrite.naming import name_argument
from modelcatalog.rewrite.python_calls import (
    argument,
    code_of,
    method_name,
    quoted_like,
    receiver,
    with_string_value,
)
from modelcatalog.rewrite.python_context import PythonContext, StringSource
from modelcatalog.rewrite.registry import Replacement

#: MlflowClient methods whose first parameter, `name`, is a registered model's name.
CLIENT_NAME_METHODS = frozenset(
    {
        "create_model_version",
        "create_registered_model",
        "delete_model_version",
        "delete_model_version_tag",
        "delete_registered_model",
        "delete_registered_model_alias",
        "delete_registered_model_tag",
        "get_latest_versions",
        "get_model_version",
        "get_model_version_by_alias",
        "get_model_version_download_uri",
        "get_registered_model",
        "rename_registered_model",
        "set_model_version_tag",
        "set_registered_model_alias",
        "set_registered_model_tag",
        "transition_model_version_stage",
        "update_model_version",
        "update_registered_model",
    }
)
#: The function a fix of `get_latest_versions` adds; its second parameter is a model name.
VERSIONS_WITH_ALIAS = "_versions_with_alias"


def _takes_a_name(qualified: str) -> bool:
    return qualified == "mlflow.register_model" or qualified.endswith(".log_model")


def _is_name_argument(name: cst.Name, ctx: PythonContext) -> bool:
    arg = ctx.parent(name)
    call = ctx.parent(arg) if isinstance(arg, cst.Arg) else None
    if not isinstance(arg, cst.Arg) or not isinstance(call, cst.Call) or arg.value is not name:
        return False
    if isinstance(call.func, cst.Name) and call.func.value == VERSIONS_WITH_ALIAS:
        return argument(call, 1, "name") is arg
    qualified = ctx.qualified_name(call.func, _takes_a_name) or ""
    if qualified == "mlflow.register_model":
        return argument(call, 1, "name") is arg
    if qualified.startswith("mlflow.") and qualified.endswith(".log_model"):
        return arg.keyword is not None and arg.keyword.value == "registered_model_name"
    target = receiver(call)
    if method_name(call) in CLIENT_NAME_METHODS and target is not None:
        return argument(call, 0, "name") is arg and ctx.is_mlflow_client(target)
    return False


def _is_name_in_text(name: cst.Name, ctx: PythonContext) -> bool:
    """`{name}` as the whole model name of `f"models:/{name}/..."` or `f"name='{name}'"`."""
    field = ctx.parent(name)
    string = ctx.parent(field) if field is not None else None
    if not isinstance(field, cst.FormattedStringExpression) or not isinstance(
        string, cst.FormattedString
    ):
        return False
    if field.conversion is not None or field.format_spec is not None:
        return False
    parts = list(string.parts)
    at = parts.index(field)
    before = parts[at - 1] if at > 0 else None
    after = parts[at + 1] if at + 1 < len(parts) else None
    if not isinstance(before, cst.FormattedStringText) or not isinstance(
        after, cst.FormattedStringText
    ):
        return False
    if at == 1 and before.value == "models:/":
        return after.value[:1] in ("/", "@")
    return before.value.endswith("name='") and after.value.startswith("'")


def used_only_as_model_name(source: StringSource, ctx: PythonContext) -> bool:
    """True if the name `source` came through is read only where a model name is expected."""
    if source.origin is None or not isinstance(source.literal, cst.SimpleString):
        return False
    readers = ctx.bindings.readers(source.origin)
    if not readers:
        return False
    return all(
        isinstance(r, cst.Name) and (_is_name_argument(r, ctx) or _is_name_in_text(r, ctx))
        for r in readers
    )


@dataclass(frozen=True)
class NameFix:
    """How a fix writes a model-name argument."""

    #: The argument's new value (a literal made full) or the argument as it was.
    expression: cst.BaseExpression
    #: Other nodes to replace: the literal a name was assigned, when that is safe.
    replacements: dict[cst.CSTNode, Replacement]
    #: A sentence for the message when the name needs a look.
    note: str


def name_fix(node: cst.BaseExpression, ctx: PythonContext) -> NameFix:
    """For a model-name argument: its new value, replacements of the literal it came from
    (when that is safe), and a note for the message."""
    source = ctx.string_source(node)
    literal = source is not None and source.origin is None
    full, note = name_argument(
        code_of(node), source.value if source else None, literal, ctx.model_map
    )
    if source is None:
        return NameFix(node, {}, note)
    if literal:
        if full is not None and isinstance(node, cst.SimpleString):
            return NameFix(with_string_value(node, full), {}, note)
        if full is not None:
            return NameFix(cst.parse_expression(quoted_like(node, full)), {}, note)
        return NameFix(node, {}, note)
    if note and used_only_as_model_name(source, ctx):
        assert isinstance(source.literal, cst.SimpleString)
        target = ctx.model_map.target_name(source.value)
        return NameFix(node, {source.literal: with_string_value(source.literal, target)}, "")
    return NameFix(node, {}, note)
