"""Reading calls the way the called API defines them: by position or by keyword."""

from __future__ import annotations

import libcst as cst

from modelcatalog.rewrite.python_context import PythonContext

_CODE = cst.Module(body=[])


def code_of(node: cst.CSTNode) -> str:
    """The source text of a node, as written."""
    return _CODE.code_for_node(node)


def argument(call: cst.Call, position: int, keyword: str) -> cst.Arg | None:
    """The argument bound to a parameter, whether passed by position or by keyword."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg
    positional = [a for a in call.args if a.keyword is None and not a.star]
    if len(positional) > position and not any(a.star for a in call.args[: position + 1]):
        return positional[position]
    return None


def keyword_argument(call: cst.Call, keyword: str) -> cst.Arg | None:
    """The argument passed by keyword to a keyword-only parameter."""
    return next((a for a in call.args if a.keyword and a.keyword.value == keyword), None)


def method_name(call: cst.Call) -> str | None:
    """`m` for a call `receiver.m(...)`."""
    return call.func.attr.value if isinstance(call.func, cst.Attribute) else None


def receiver(call: cst.Call) -> cst.BaseExpression | None:
    """`receiver` for a call `receiver.m(...)`."""
    return call.func.value if isinstance(call.func, cst.Attribute) else None


def literal_or_constant(node: cst.BaseExpression, ctx: PythonContext) -> tuple[str | None, bool]:
    """A string's value and whether it is written right here (True) or comes through a name
    assigned it (False)."""
    source = ctx.string_source(node)
    if source is None:
        return None, False
    return source.value, source.origin is None


def with_string_value(node: cst.SimpleString, value: str) -> cst.SimpleString:
    """The same literal (prefix and quotes kept) holding another value without escapes."""
    head = len(node.prefix) + len(node.quote)
    return node.with_changes(value=node.value[:head] + value + node.quote)


def quoted_like(node: cst.BaseExpression, value: str) -> str:
    """`value` as a literal in the quote style of `node` (double quotes if it has none)."""
    quote = node.quote if isinstance(node, cst.SimpleString) else '"'
    return f"{quote}{value}{quote}"


def is_simple(node: cst.BaseExpression) -> bool:
    """True if evaluating `node` twice is harmless (no calls)."""
    if isinstance(node, cst.Name | cst.SimpleString | cst.Integer):
        return True
    if isinstance(node, cst.Attribute):
        return is_simple(node.value)
    if isinstance(node, cst.Subscript):
        return is_simple(node.value) and all(
            isinstance(e.slice, cst.Index) and is_simple(e.slice.value) for e in node.slice
        )
    return False
