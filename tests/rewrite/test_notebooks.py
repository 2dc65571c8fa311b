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


def _raw_notebook(*sources: str) -> str:
    """A notebook as Jupyter writes it before cell ids (format 4.4): no `id` on any cell."""
    nb = nbformat.v4.new_notebook()
    nb.nbformat_minor = 4
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "P", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    for cell in nb.cells:
        cell.pop("id", None)
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


CLIENT_CELLS = (
    "%pip install mlflow",
    "from mlflow import MlflowClient\nclient = MlflowClient()",
    "x = 1",
    "client.transition_model_version_stage('fraud', 3, 'Production')",
)


def test_a_client_made_in_one_cell_is_known_in_later_cells() -> None:
    (found,) = lint_notebook(_raw_notebook(*CLIENT_CELLS), ModelMap.default())
    assert (found.cell, found.finding.line, found.finding.rule.code) == (4, 1, "MC105")


def test_fix_edits_only_changed_cells_and_adds_no_ids() -> None:
    text = _raw_notebook(*CLIENT_CELLS)
    new, left, fixed = fix_notebook(text, ModelMap.default())
    assert (left, fixed) == ([], 1)
    assert '"id"' not in new
    before, after = text.splitlines(), new.splitlines()
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert len(changed) == 1 and "set_registered_model_alias" in after[changed[0]]
    assert fix_notebook(new, ModelMap.default())[0] == new


def test_source_as_a_list_of_lines_keeps_its_layout() -> None:
    nb = json.loads(_raw_notebook(*CLIENT_CELLS))
    nb["cells"][3]["source"] = [
        "# promote\n",
        "client.transition_model_version_stage('m', 1, 'Staging')",
    ]
    text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    new = fix_notebook(text, ModelMap.default())[0]
    source = json.loads(new)["cells"][3]["source"]
    assert source[0] == "# promote\n"
    assert source[1].startswith("client.set_registered_model_alias(name='main.default.m'")
    assert '    "# promote\\n",\n    "client.set_registered_model_alias(' in new


def test_the_added_function_lands_before_its_first_use_and_the_empty_list_branch_stays() -> None:
    text = _raw_notebook(
        "import mlflow\nfrom mlflow import MlflowClient",
        "client = MlflowClient()",
        "vs = client.get_latest_versions('fraud', stages=['Staging'])\n"
        "if not vs:\n    print('no model in Staging yet')",
    )
    new, left, fixed = fix_notebook(text, ModelMap.default())
    assert (left, fixed) == ([], 1)
    cells = ["".join(c["source"]) for c in json.loads(new)["cells"]]
    assert cells[0] == "import mlflow\nfrom mlflow import MlflowClient"
    assert cells[1].startswith("def _versions_with_alias(client, name, alias):")
    assert cells[1].endswith("\n\n\nclient = MlflowClient()")
    assert cells[2] == (
        "vs = _versions_with_alias(client, 'main.default.fraud', alias='Staging')\n"
        "if not vs:\n    print('no model in Staging yet')"
    )


def test_a_cell_that_does_not_parse_is_named_with_its_line() -> None:
    text = _raw_notebook("x = 1", "import mlflow\nmlflow.set_registry_uri(\n")
    with pytest.raises(NotebookError) as caught:
        lint_notebook(text, ModelMap.default())
    assert (caught.value.cell, caught.value.line) == (2, 3)


def test_databricks_source_cells_are_one_program_and_findings_name_their_cell() -> None:
    from modelcatalog.rewrite.notebooks import databricks_cell

    source = (
        "# Databricks notebook source\n"
        "# MAGIC %pip install mlflow\n"
        "\n# COMMAND ----------\n\n"
        "from mlflow import MlflowClient\nclient = MlflowClient()\n"
        "\n# COMMAND ----------\n\n"
        "client.transition_model_version_stage('m', 1, 'Staging')\n"
    )
    (found,) = lint_source(source, ModelMap.default())
    assert (found.rule.code, found.line) == ("MC105", 11)
    assert databricks_cell(source, found.line) == 3
