"""Strings in Python source as checkable text: literals, f-strings, concatenations, constants.

A string expression becomes a list of pieces. Literal text is editable; module constants
contribute their value (readable, not editable: fixes rewrite only the literal text in
front of the reader); anything computed becomes `UNKNOWN`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from modelcatalog.rewrite.model_uri import UNKNOWN
from modelcatalog.rewrite.python_context import PythonContext
from modelcatalog.rewrite.registry import STRING_CHECKS, Edit, PythonMatch, Replacement

# `str.format` fields and `%` conversions inside a plain literal are filled in at run time.
_PLACEHOLDER = re.compile(r"\{[^{}]*\}|%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdrifx]")
_STRING_NODES = (cst.SimpleString, cst.FormattedString, cst.ConcatenatedString)


@dataclass(frozen=True)
class _Piece:
    text: str
    #: The literal node this text can be edited in, and where the text starts in its value.
    node: cst.SimpleString | cst.FormattedStringText | None = None
    offset: int = 0


def _simple_string(node: cst.SimpleString) -> list[_Piece] | None:
    if "b" in node.prefix.lower():
        return None
    head = len(node.prefix) + len(node.quote)
    body = node.value[head : len(node.value) - len(node.quote)]
    if "\\" in body:
        value = node.evaluated_value
        return [_Piece(value)] if isinstance(value, str) else None
    pieces: list[_Piece] = []
    position = 0
    for match in _PLACEHOLDER.finditer(body):
        if match.start() > position:
            pieces.append(_Piece(body[position : match.start()], node, head + position))
        pieces.append(_Piece(UNKNOWN))
        position = match.end()
    if position < len(body) or not pieces:
        pieces.append(_Piece(body[position:], node, head + position))
    return pieces


def _pieces(node: cst.BaseExpression, ctx: PythonContext) -> list[_Piece]:
    if isinstance(node, cst.SimpleString):
        return _simple_string(node) or [_Piece(UNKNOWN)]
    if isinstance(node, cst.FormattedString):
        pieces: list[_Piece] = []
        for part in node.parts:
            if isinstance(part, cst.FormattedStringText):
                if "\\" in part.value or "{{" in part.value or "}}" in part.value:
                    pieces.append(_Piece(part.value.replace("{{", "{").replace("}}", "}")))
                else:
                    pieces.append(_Piece(part.value, part))
            elif isinstance(part, cst.FormattedStringExpression):
                simple = part.conversion is None and part.format_spec is None
                pieces.extend(_pieces(part.expression, ctx) if simple else [_Piece(UNKNOWN)])
        return pieces
    if isinstance(node, cst.ConcatenatedString):
        return _pieces(node.left, ctx) + _pieces(node.right, ctx)
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        return _pieces(node.left, ctx) + _pieces(node.right, ctx)
    if isinstance(node, cst.Name) and node.value in ctx.constants:
        return [_Piece(ctx.constants[node.value])]
    return [_Piece(UNKNOWN)]


def _is_string_expression(node: cst.CSTNode) -> bool:
    if isinstance(node, _STRING_NODES):
        return True
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        return _is_string_expression(node.left) or _is_string_expression(node.right)
    return False


def _is_outermost(node: cst.CSTNode, ctx: PythonContext) -> bool:
    parent = ctx.parent(node)
    if isinstance(parent, cst.ConcatenatedString):
        return False
    if isinstance(parent, cst.BinaryOperation) and isinstance(parent.operator, cst.Add):
        return not _is_string_expression(parent)
    # A bare string statement is a docstring or a comment in disguise: never touched.
    return not isinstance(parent, cst.Expr)


def _apply(pieces: list[_Piece], edits: tuple[Edit, ...]) -> dict[cst.CSTNode, Replacement]:
    """Node replacements for the edits that fall inside one editable piece each."""
    per_node: dict[cst.CSTNode, list[tuple[int, int, str]]] = {}
    start_of = 0
    bounds = []
    for piece in pieces:
        bounds.append((start_of, start_of + len(piece.text), piece))
        start_of += len(piece.text)
    for edit in edits:
        for begin, end, piece in bounds:
            if piece.node is not None and begin <= edit.start and edit.end <= end:
                at = piece.offset + edit.start - begin
                per_node.setdefault(piece.node, []).append(
                    (at, at + edit.end - edit.start, edit.replacement)
                )
                break
    replacements: dict[cst.CSTNode, Replacement] = {}
    for node, node_edits in per_node.items():
        assert isinstance(node, cst.SimpleString | cst.FormattedStringText)
        value = node.value
        for at, until, text in sorted(node_edits, reverse=True):
            value = value[:at] + text + value[until:]
        replacements[node] = node.with_changes(value=value)
    return replacements


def string_matches(node: cst.CSTNode, ctx: PythonContext) -> Iterator[PythonMatch]:
    """Run every string check on `node` if it is the outermost part of a string expression."""
    if not _is_string_expression(node) or not _is_outermost(node, ctx):
        return
    assert isinstance(node, cst.BaseExpression)
    pieces = _pieces(node, ctx)
    if not any(p.node is not None or p.text != UNKNOWN for p in pieces):
        return
    text = "".join(p.text for p in pieces)
    for check in STRING_CHECKS:
        verdict = check(text, ctx.model_map)
        if verdict is not None:
            replacements = _apply(pieces, verdict.edits) if verdict.edits else {}
            yield PythonMatch(verdict.rule, node, verdict.message, replacements or None)


def string_text(node: cst.BaseExpression, ctx: PythonContext) -> str | None:
    """The text of a string expression with computed parts as `UNKNOWN`, else None."""
    if not _is_string_expression(node):
        return None
    return "".join(p.text for p in _pieces(node, ctx))
