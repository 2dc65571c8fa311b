"""Jupyter and Databricks source notebooks."""

from __future__ import annotations

import json

import nbformat
import pytest

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.notebooks import NotebookError, fix_notebook, lint_notebook
from modelcatalog.rewrite.python_source import fix_source, lint_source


def notebook(*sources: str, language: str = "python") -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "k", "display_name": "k", "language": language}
    nb.cells.append(nbformat.v4.new_markdown_cell("models:/churn/Production in prose"))
    for source in sources:
        cell = nbformat.v4.new_code_cell(source)
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text="models:/churn/Production\n")
        ]
        cell.execution_count = 7
        nb.cells.append(cell)
    return nbformat.writes(nb) + "\n"


def test_findings_are_cell_relative() -> None:
    text = notebook("x = 1", "%pip install x\nm = load('models:/churn/Production')")
    (found,) = lint_notebook(text, ModelMap.default())
    assert (found.cell, found.finding.line, found.finding.column) == (3, 2, 10)


def test_fix_changes_only_code_sources_and_keeps_magics_and_outputs() -> None:
    text = notebook("!ls\n%time m = 1\nm = load('models:/churn/Production')")
    new, left, fixed = fix_notebook(text, ModelMap.default())
    assert (left, fixed) == ([], 1)
    before, after = json.loads(text), json.loads(new)
    assert "".join(after["cells"][1]["source"]) == (
        "!ls\n%time m = 1\nm = load('models:/main.default.churn@Production')"
    )
    assert after["cells"][1]["outputs"] == before["cells"][1]["outputs"]
    assert after["cells"][0] == before["cells"][0]
    assert after["metadata"] == before["metadata"]
    assert fix_notebook(new, ModelMap.default())[0] == new


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("%%bash\necho models:/churn/Production", id="cell-magic"),
        pytest.param("%sql\nSELECT 'models:/churn/Production'", id="databricks-sql-cell"),
        pytest.param("%md\nmodels:/churn/Production", id="databricks-markdown-cell"),
    ],
)
def test_other_language_cells_are_skipped(source: str) -> None:
    assert lint_notebook(notebook(source), ModelMap.default()) == []


def test_notebook_in_another_language_is_skipped() -> None:
    text = notebook('val u = "models:/churn/Production"', language="scala")
    assert lint_notebook(text, ModelMap.default()) == []


def test_cell_that_does_not_parse_names_the_cell() -> None:
    with pytest.raises(NotebookError, match="cell 3"):
        lint_notebook(notebook("x = 1", "def (:\n  'models:/churn/Production'"), ModelMap.default())


def test_unreadable_notebook_is_an_error() -> None:
    with pytest.raises(NotebookError):
        lint_notebook("{not json", ModelMap.default())


DATABRICKS = (
    "# Databricks notebook source\n"
    "# MAGIC %md models:/churn/Production\n"
    "\n"
    "# COMMAND ----------\n"
    "\n"
    "import mlflow\n"
    "m = mlflow.pyfunc.load_model('models:/churn/Production')\n"
)


def test_databricks_source_notebook_is_python_with_magic_comments_untouched() -> None:
    (found,) = lint_source(DATABRICKS, ModelMap.default())
    assert (found.line, found.column) == (7, 30)
    new = fix_source(DATABRICKS, ModelMap.default())[0]
    assert new == DATABRICKS.replace(
        "'models:/churn/Production'", "'models:/main.default.churn@Production'"
    )
