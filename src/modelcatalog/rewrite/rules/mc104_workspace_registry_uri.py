"""MC104: a registry URI of `databricks` points at the workspace registry, not the catalog.

The URI may be written in the call, held in a name (`REGISTRY = "databricks"`), or set in the
environment (`os.environ["MLFLOW_REGISTRY_URI"] = "databricks"`). A literal is fixed where it is
written; a name is fixed where it is assigned when it is read only as a registry URI. A URI that
comes from outside (a parameter, a setting) is reported in a file that otherwise selects a
registry, so a file is never left half on the old registry without a finding saying so.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.python_calls import argument, code_of, with_string_value
from modelcatalog.rewrite.python_context import MLFLOW_CLIENT, PythonContext, string_value
from modelcatalog.rewrite.registry import PythonMatch, Replacement, python_check, rule

RULE = rule(
    "MC104",
    "workspace-registry-uri",
    Severity.ERROR,
    "Registry URI that selects the workspace model registry",
)
_SET_REGISTRY_URI = frozenset({"mlflow.set_registry_uri", "mlflow.tracking.set_registry_uri"})
_SELECTS = _SET_REGISTRY_URI | MLFLOW_CLIENT
_VARIABLE = "MLFLOW_REGISTRY_URI"
#: Registry URIs that are the catalog, or a sign that the file is being moved to it.
_SELECTS_A_REGISTRY = ("databricks-uc", "modelcatalog://", '"databricks"', "'databricks'", "uc:")


def _catalog_uri(value: str) -> str | None:
    # `databricks` and `databricks://<profile>` are the workspace registry; the catalog is
    # the same URI with the `-uc` scheme.
    if value == "databricks" or value.startswith("databricks://"):
        return "databricks-uc" + value[len("databricks") :]
    return None


def _uri_argument(node: cst.Call, ctx: PythonContext) -> cst.Arg | None:
    uri, registry_uri = argument(node, 0, "uri"), argument(node, 1, "registry_uri")
    if uri is None and registry_uri is None:
        return None  # most calls: no scope analysis needed
    qualified = ctx.qualified_name(node.func, _SELECTS.__contains__)
    if qualified in _SET_REGISTRY_URI:
        return uri
    if qualified in MLFLOW_CLIENT:
        return registry_uri
    return None


def _read_only_as_registry_uri(readers: object, ctx: PythonContext) -> bool:
    for reader in readers or ():  # type: ignore[attr-defined]
        arg = ctx.parent(reader)
        call = ctx.parent(arg) if isinstance(arg, cst.Arg) else None
        if not isinstance(call, cst.Call) or _uri_argument(call, ctx) is not arg:
            return False
    return bool(readers)


def _message(value: str, new: str, via: str = "") -> str:
    return (
        f"registry URI {value!r}{via} is the workspace model registry: use {new!r} for the catalog."
    )


@python_check(cst.Call)
def check(node: cst.Call, ctx: PythonContext) -> Iterator[PythonMatch]:
    arg = _uri_argument(node, ctx)
    if arg is None:
        return
    source = ctx.string_source(arg.value)
    if source is None:
        if any(s in ctx.bindings.module.code for s in _SELECTS_A_REGISTRY):
            yield PythonMatch(
                RULE,
                arg.value,
                f"the registry URI comes from {ctx.outside_source(arg.value)}, and this file "
                "also selects a registry: make sure it is 'databricks-uc' (or this catalog's "
                "URI), or this code keeps using the workspace model registry.",
            )
        return
    new = _catalog_uri(source.value)
    if new is None:
        return
    literal = source.literal
    fixable = isinstance(literal, cst.SimpleString)
    if source.origin is not None:
        readers = ctx.bindings.readers(source.origin)
        fixable = fixable and _read_only_as_registry_uri(readers, ctx)
    replacements: dict[cst.CSTNode, Replacement] | None = None
    if fixable:
        assert isinstance(literal, cst.SimpleString)
        replacements = {literal: with_string_value(literal, new)}
    if source.origin is None:
        yield PythonMatch(RULE, arg.value, _message(source.value, new), replacements)
        return
    via = f" (held in {code_of(arg.value)})"
    yield PythonMatch(RULE, arg.value, _message(source.value, new, via), replacements)


@python_check(cst.Assign)
def check_environment(node: cst.Assign, ctx: PythonContext) -> Iterator[PythonMatch]:
    """`os.environ["MLFLOW_REGISTRY_URI"] = "databricks"`."""
    target = node.targets[0].target if len(node.targets) == 1 else None
    if not isinstance(target, cst.Subscript) or len(target.slice) != 1:
        return
    key = target.slice[0].slice
    if not isinstance(key, cst.Index) or string_value(key.value) != _VARIABLE:
        return
    if ctx.qualified_name(target.value, "os.environ".__eq__) != "os.environ":
        return
    value = string_value(node.value)
    new = _catalog_uri(value) if value is not None else None
    if new is None or not isinstance(node.value, cst.SimpleString):
        return
    yield PythonMatch(
        RULE,
        node.value,
        _message(value or "", new, f" (in {_VARIABLE})"),
        {node.value: with_string_value(node.value, new)},
    )
