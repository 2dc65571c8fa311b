"""Parsing Python that may hold IPython and Databricks magics, with errors that say where.

A line that starts with `%` or `!` (`%pip install`, `!ls`, `%run ./setup`) is not Python. It is
hidden from the parser as a comment on the same line, so no line number moves, and shown again
in the text a fix writes. Source is first parsed as it is: a valid file is never masked.
"""

from __future__ import annotations

import ast
import re

import libcst as cst

MASK = "#\ue001"
#: The comment line put between a notebook's cells when they are parsed as one module.
CELL_SEPARATOR = "#\ue002"
_MAGIC = re.compile(r"^([ \t]*)(?=[%!])", re.MULTILINE)
_ERROR_AT = re.compile(r"error at (\d+):(\d+)")


class SourceSyntaxError(ValueError):
    """Python source that does not parse; `line` and `column` are 1-based."""

    def __init__(self, message: str, line: int, column: int, text: str) -> None:
        self.line, self.column, self.text = line, column, text
        shown = f": {text.strip()!r}" if text.strip() else ""
        super().__init__(f"{message} (line {line}, column {column}{shown})")


def mask(source: str) -> str:
    """The source with magic and shell lines turned into comments."""
    return _MAGIC.sub(lambda m: m.group(1) + MASK, source)


def unmask(source: str) -> str:
    """The source with masked lines shown again."""
    return source.replace(MASK, "")


def _error(source: str, exc: cst.ParserSyntaxError) -> SourceSyntaxError:
    # libcst's raw_line is one past the line its own message names; the message is right.
    found = _ERROR_AT.search(exc.message)
    if found:
        line, column = int(found[1]), int(found[2])
    else:  # a tokenizer error names no position: Python's own parser finds it
        line, column = _python_position(source) or (exc.raw_line, exc.raw_column)
    column = max(column, 1)
    lines = source.splitlines()
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    message = _ERROR_AT.sub("error", exc.message).removeprefix("parser error: ")
    return SourceSyntaxError(unmask(message), line, column, unmask(text))


def _python_position(source: str) -> tuple[int, int] | None:
    try:
        compile(source, "<source>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        return (exc.lineno or 1, exc.offset or 1)
    except (ValueError, OverflowError):
        return None
    return None


def parse_python(source: str) -> tuple[cst.Module, bool]:
    """The module, and whether magic lines were masked to parse it (then its code must be
    unmasked before it is written); raises `SourceSyntaxError`."""
    try:
        return cst.parse_module(source), False
    except cst.ParserSyntaxError as exc:
        masked = mask(source)
        if masked == source:
            raise _error(source, exc) from None
    try:
        return cst.parse_module(masked), True
    except cst.ParserSyntaxError as exc:
        raise _error(masked, exc) from None
