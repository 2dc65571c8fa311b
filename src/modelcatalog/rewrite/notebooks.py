"""Jupyter notebooks (`.ipynb`): read with nbformat, analysed as one program, edited in place.

A notebook's Python cells run one after the other in one interpreter, so they are analysed as
one module, in cell order: a client made in the first cell is a client in the last. The cells
are joined with a separator comment line between them, so every finding maps back to its cell
and its line in that cell, and a fixed program splits back into cells. IPython magics and shell
lines (`%pip`, `!ls`) are kept out of the parse as comments (`python_parse`); cells in another
language (`%%bash`, `%sql`, ...) are left out.

Writing edits the text of the changed cells' `source` and nothing else: the other cells,
outputs, metadata, ids (present or missing) and the file's JSON layout stay byte for byte.
"""

from __future__ import annotations

import json
import warnings
from bisect import bisect_right
from dataclasses import dataclass, replace

import nbformat

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.config_document import ConfigDocument, Mapping, Scalar, Sequence
from modelcatalog.rewrite.python_parse import CELL_SEPARATOR, SourceSyntaxError
from modelcatalog.rewrite.python_source import SourceFinding, fix_source, lint_source

DATABRICKS_HEADER = "# Databricks notebook source"
DATABRICKS_CELL = "# COMMAND ----------"
#: A cell starting with one of these is not Python (Databricks' language magics included).
_OTHER_LANGUAGE = ("%%", "%sql", "%md", "%scala", "%r ", "%r\n", "%sh", "%fs")


class NotebookError(ValueError):
    """The notebook cannot be read, or one of its cells cannot be parsed."""

    def __init__(self, message: str, cell: int | None = None, line: int = 1, column: int = 1):
        super().__init__(message)
        self.cell, self.line, self.column = cell, line, column


@dataclass(frozen=True)
class CellFinding:
    """A finding inside a cell; `cell` is 1-based over all cells, `line` within the cell."""

    cell: int
    finding: SourceFinding


@dataclass(frozen=True)
class _Cell:
    number: int
    source: str
    #: Line of the joined program where the cell's first line is.
    first_line: int


def _read(text: str) -> nbformat.NotebookNode:
    try:
        with warnings.catch_warnings():
            # Missing cell ids and similar schema nits are the notebook's business, not ours.
            warnings.simplefilter("ignore")
            return nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for a bad file
        raise NotebookError(f"not a readable notebook: {exc}") from exc


def _python_cells(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    language = (
        nb.metadata.get("kernelspec", {}).get("language")
        or nb.metadata.get("language_info", {}).get("name")
        or "python"
    )
    if str(language).lower() != "python":
        return []
    return [
        (number, cell.source)
        for number, cell in enumerate(nb.cells, start=1)
        if cell.cell_type == "code" and not cell.source.lstrip().startswith(_OTHER_LANGUAGE)
    ]


def _program(cells: list[tuple[int, str]]) -> tuple[str, list[_Cell]]:
    """The cells joined into one module, and where each starts in it."""
    parts: list[str] = []
    placed: list[_Cell] = []
    line = 1
    for number, source in cells:
        parts.append(f"{CELL_SEPARATOR} {number}\n")
        body = source if source.endswith("\n") or not source else source + "\n"
        parts.append(body)
        placed.append(_Cell(number, source, line + 1))
        line += 1 + body.count("\n")
    return "".join(parts), placed


def _in_cell(cells: list[_Cell], line: int) -> tuple[_Cell, int]:
    at = bisect_right([c.first_line for c in cells], line) - 1
    cell = cells[max(at, 0)]
    return cell, line - cell.first_line + 1


def _cell_findings(cells: list[_Cell], findings: list[SourceFinding]) -> list[CellFinding]:
    found = []
    for finding in findings:
        cell, line = _in_cell(cells, finding.line)
        found.append(CellFinding(cell.number, replace(finding, line=line)))
    return found


def _parse_error(cells: list[_Cell], exc: SourceSyntaxError) -> NotebookError:
    cell, line = _in_cell(cells, exc.line)
    text = f": {exc.text.strip()!r}" if exc.text.strip() else ""
    message = str(exc).split(" (line ")[0]
    return NotebookError(
        f"cell {cell.number} could not be parsed: {message} (line {line}, column {exc.column}"
        f"{text})",
        cell.number,
        line,
        exc.column,
    )


def lint_notebook(text: str, model_map: ModelMap) -> list[CellFinding]:
    """Findings in an `.ipynb` notebook's Python cells; raises `NotebookError`."""
    program, cells = _program(_python_cells(_read(text)))
    if not cells:
        return []
    try:
        return _cell_findings(cells, lint_source(program, model_map))
    except SourceSyntaxError as exc:
        raise _parse_error(cells, exc) from exc


def _placed(program: str) -> list[_Cell]:
    """Where each cell starts in a (fixed) program, from its separator lines."""
    return [
        _Cell(int(line[len(CELL_SEPARATOR) :]), "", number + 1)
        for number, line in enumerate(program.splitlines(), start=1)
        if line.startswith(CELL_SEPARATOR)
    ]


def _split(program: str, cells: list[_Cell]) -> dict[int, str]:
    """Each cell's source in a fixed program."""
    sources: dict[int, list[str]] = {}
    current: list[str] | None = None
    for line in program.splitlines(keepends=True):
        if line.startswith(CELL_SEPARATOR):
            current = sources.setdefault(int(line[len(CELL_SEPARATOR) :].strip()), [])
        elif current is not None:
            current.append(line)
    split = {}
    for cell in cells:
        source = "".join(sources.get(cell.number, []))
        if not cell.source.endswith("\n") and source.endswith("\n"):
            source = source[:-1]
        split[cell.number] = source
    return split


def fix_notebook(text: str, model_map: ModelMap) -> tuple[str, list[CellFinding], int]:
    """The fixed notebook text, the findings left and how many were fixed."""
    nb = _read(text)
    program, cells = _program(_python_cells(nb))
    if not cells:
        return text, [], 0
    try:
        new_program, findings, fixed = fix_source(program, model_map)
    except SourceSyntaxError as exc:
        raise _parse_error(cells, exc) from exc
    left = _cell_findings(_placed(new_program), findings)
    if not fixed or new_program == program:
        return text, left, fixed
    changed = {
        number: source
        for number, source in _split(new_program, cells).items()
        if source != next(c.source for c in cells if c.number == number)
    }
    return _with_sources(text, nb, changed), left, fixed


def _with_sources(text: str, nb: nbformat.NotebookNode, changed: dict[int, str]) -> str:
    """The notebook's text with the sources of some cells replaced, nothing else touched."""
    root = ConfigDocument.parse(text, "json").roots[0]
    raw_cells = root.get("cells") if isinstance(root, Mapping) else None
    if not isinstance(raw_cells, Sequence) or len(raw_cells.items) != len(nb.cells):
        for number, source in changed.items():  # an older format: nbformat converts it
            nb.cells[number - 1].source = source
        written = nbformat.writes(nb)
        return written + "\n" if text.endswith("\n") else written
    edits = []
    for number, source in changed.items():
        cell = raw_cells.items[number - 1]
        value = cell.get("source") if isinstance(cell, Mapping) else None
        if value is not None:
            edits.append(_source_edit(text, value, source))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _source_edit(
    text: str, value: Scalar | Mapping | Sequence, source: str
) -> tuple[int, int, str]:
    """Where a cell's `source` is in the text and what replaces it, in the same JSON style."""
    if isinstance(value, Scalar):
        ascii_only = "\\u" in text[value.start : value.end]
        return value.start, value.end, json.dumps(source, ensure_ascii=ascii_only)
    assert isinstance(value, Sequence)
    items = value.items
    end = text.index("]", items[-1].end if items else value.start) + 1  # type: ignore[union-attr]
    ascii_only = "\\u" in text[value.start : end]
    lines = [json.dumps(line, ensure_ascii=ascii_only) for line in source.splitlines(True)]
    if not items:
        return value.start, end, "[" + ", ".join(lines) + "]"
    first = items[0].start  # type: ignore[union-attr]
    indent = text[value.start + 1 : first]
    closing = text[items[-1].end : end - 1]  # type: ignore[union-attr]
    return value.start, end, "[" + indent + ("," + indent).join(lines) + closing + "]"


def databricks_cell(text: str, line: int) -> int | None:
    """The 1-based cell of a line of a Databricks source notebook (None for other files)."""
    if not text.startswith(DATABRICKS_HEADER):
        return None
    lines = text.split("\n", line)[: line - 1]
    return 1 + sum(1 for each in lines if each.rstrip() == DATABRICKS_CELL)
