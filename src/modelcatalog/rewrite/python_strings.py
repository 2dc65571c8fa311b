"""Strings in Python source as checkable text: literals, f-strings, concatenations, names.

A string expression becomes a list of pieces. Literal text is editable; a name that provably
holds one string (`name = "fraud"` earlier in the function, a module constant) contributes its
value, editable where it was assigned only when the edit replaces the whole value and the name
is read nowhere but where a model name is expected; anything computed becomes `UNKNOWN`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from modelcatalog.rewrite.model_uri import UNKNOWN
from modelcatalog.rewrite.python_calls import code_of
from modelcatalog.rewrite.python_context import PythonContext, StringSource
from modelcatalog.rewrite.python_names import used_only_as_model_name
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
    #: For a name's value: where the name got it (editable only as a whole, see `_apply`).
    source: StringSource | None = None
    #: The expression a computed part comes from.
    expression: cst.BaseExpression | None = None


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


def _name_piece(node: cst.BaseExpression, ctx: PythonContext, resolve: bool) -> _Piece:
    source = ctx.string_source(node) if resolve else None
    if source is None or "\\" in code_of(source.literal):
        return _Piece(UNKNOWN, expression=node)
    literal = source.literal
    if isinstance(literal, cst.SimpleString) and "b" not in literal.prefix.lower():
        head = len(literal.prefix) + len(literal.quote)
        return _Piece(source.value, literal, head, source)
    return _Piece(source.value, source=source)


def _pieces(node: cst.BaseExpression, ctx: PythonContext, resolve: bool = True) -> list[_Piece]:
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
                expression = part.expression
                pieces.extend(
                    _pieces(expression, ctx, resolve)
                    if simple
                    else [_Piece(UNKNOWN, expression=expression)]
                )
        return pieces
    if isinstance(node, cst.ConcatenatedString):
        return _pieces(node.left, ctx, resolve) + _pieces(node.right, ctx, resolve)
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        return _pieces(node.left, ctx, resolve) + _pieces(node.right, ctx, resolve)
    if isinstance(node, cst.Name):
        return [_name_piece(node, ctx, resolve)]
    return [_Piece(UNKNOWN, expression=node)]


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


def _editable(piece: _Piece, start: int, end: int, ctx: PythonContext) -> bool:
    """A name's value is edited where it was assigned, only as a whole and only if every reader
    of the name takes a model name."""
    if piece.node is None:
        return False
    if piece.source is None:
        return True
    return (start, end) == (0, len(piece.text)) and used_only_as_model_name(piece.source, ctx)


def _apply(
    pieces: list[_Piece], edits: tuple[Edit, ...], ctx: PythonContext
) -> dict[cst.CSTNode, Replacement]:
    """Node replacements for the edits that fall inside one editable piece each."""
    per_node: dict[cst.CSTNode, list[tuple[int, int, str]]] = {}
    start_of = 0
    bounds = []
    for piece in pieces:
        bounds.append((start_of, start_of + len(piece.text), piece))
        start_of += len(piece.text)
    for edit in edits:
        for begin, end, piece in bounds:
            inside = begin <= edit.start and edit.end <= end
            if inside and _editable(piece, edit.start - begin, edit.end - begin, ctx):
                assert piece.node is not None
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
    pieces = _pieces(node, ctx, resolve=False)
    if not any(p.node is not None for p in pieces):
        return  # no literal text: a name alone is checked where it was assigned
    if any(p.expression is not None for p in pieces) and _may_be_checked(pieces):
        pieces = _pieces(node, ctx)
    text = "".join(p.text for p in pieces)
    for check in STRING_CHECKS:
        verdict = check(text, ctx.model_map)
        if verdict is not None:
            replacements = _apply(pieces, verdict.edits, ctx) if verdict.edits else {}
            yield PythonMatch(verdict.rule, node, verdict.message, replacements or None)


def _may_be_checked(pieces: list[_Piece]) -> bool:
    """Following names costs a scope analysis: only for text a string check looks at."""
    literal = "".join(p.text for p in pieces if p.node is not None)
    return "models:/" in literal or "mlflow/" in literal or "current_stage" in literal


def computed_parts(
    node: cst.BaseExpression, ctx: PythonContext, resolve: bool = True
) -> list[tuple[str, cst.BaseExpression | None]]:
    """The text of a string expression with computed parts as `UNKNOWN`, each with the
    expression it comes from (names followed to their values if `resolve`)."""
    return [(p.text, p.expression) for p in _pieces(node, ctx, resolve)]


def string_text(node: cst.BaseExpression, ctx: PythonContext) -> str | None:
    """The text of a string expression with computed parts as `UNKNOWN`, else None."""
    if not _is_string_expression(node):
        return None
    return "".join(p.text for p in _pieces(node, ctx))
