"""Jupyter notebooks (`.ipynb`, through nbformat) and Databricks source notebooks.

Only code cells' sources change; outputs, metadata and other cells are left as they are.
IPython line magics and shell escapes are hidden from the parser as comments and restored
afterwards, and cells in another language (`%%bash`, `%sql`, ...) are skipped.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import libcst as cst
import nbformat

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.python_source import SourceFinding, fix_source, lint_source

DATABRICKS_HEADER = "# Databricks notebook source"
_MASK = "#\ue001"
#: A cell starting with one of these is not Python (Databricks' language magics included).
_OTHER_LANGUAGE = ("%%", "%sql", "%md", "%scala", "%r ", "%r\n", "%sh", "%fs")


class NotebookError(ValueError):
    """The notebook (or one of its cells) cannot be read or parsed."""


@dataclass(frozen=True)
class CellFinding:
    """A finding inside a cell; `cell` is 1-based over all cells, `line` within the cell."""

    cell: int
    finding: SourceFinding


def _mask(source: str) -> str:
    lines = source.split("\n")
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            lines[i] = line[: len(line) - len(stripped)] + _MASK + stripped
    return "\n".join(lines)


def _unmask(source: str) -> str:
    return source.replace(_MASK, "")


def _python_cells(nb: nbformat.NotebookNode) -> list[tuple[int, nbformat.NotebookNode]]:
    language = (
        nb.metadata.get("kernelspec", {}).get("language")
        or nb.metadata.get("language_info", {}).get("name")
        or "python"
    )
    if str(language).lower() != "python":
        return []
    cells = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type == "code" and not cell.source.lstrip().startswith(_OTHER_LANGUAGE):
            cells.append((number, cell))
    return cells


def _read(text: str) -> nbformat.NotebookNode:
    try:
        with warnings.catch_warnings():
            # Missing cell ids and similar schema nits are the notebook's business, not ours.
            warnings.simplefilter("ignore")
            return nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for a bad file
        raise NotebookError(f"not a readable notebook: {exc}") from exc


def _parse_error(number: int, exc: cst.ParserSyntaxError) -> NotebookError:
    return NotebookError(
        f"cell {number} could not be parsed: {exc.message} (line {exc.raw_line}, "
        f"column {exc.raw_column})"
    )


def lint_notebook(text: str, model_map: ModelMap) -> list[CellFinding]:
    """Findings in an `.ipynb` notebook's Python cells; raises `NotebookError`."""
    nb = _read(text)
    found: list[CellFinding] = []
    for number, cell in _python_cells(nb):
        try:
            findings = lint_source(_mask(cell.source), model_map)
        except cst.ParserSyntaxError as exc:
            raise _parse_error(number, exc) from exc
        found.extend(CellFinding(number, f) for f in findings)
    return found


def fix_notebook(text: str, model_map: ModelMap) -> tuple[str, list[CellFinding], int]:
    """The fixed notebook text, the findings left and how many were fixed."""
    nb = _read(text)
    left: list[CellFinding] = []
    fixed_total = 0
    for number, cell in _python_cells(nb):
        try:
            new_source, findings, fixed = fix_source(_mask(cell.source), model_map)
        except cst.ParserSyntaxError as exc:
            raise _parse_error(number, exc) from exc
        left.extend(CellFinding(number, f) for f in findings)
        if fixed:
            cell.source = _unmask(new_source)
            fixed_total += fixed
    if not fixed_total:
        return text, left, 0
    new_text = nbformat.writes(nb)
    return (new_text + "\n" if text.endswith("\n") else new_text), left, fixed_total
