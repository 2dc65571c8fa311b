"""Whole programs in the shapes migrating teams have (a promotion script with an empty-list
branch, a CLI tool with its client on `self`, a scoring module with name constants, an Airflow
DAG, a notebook with a client made in its first cell and `%pip` and `%sql` cells): what lint
finds in each, the exact fixed text (`corpus/fixed/`), and what is left to do by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.engine import process_file

CORPUS = Path(__file__).parent / "corpus"

#: (code, cell, line) of every finding in the original, and of those left after the fix.
PROGRAMS = [
    pytest.param(
        "promote.py",
        [("MC106", None, 10), ("MC106", None, 18), ("MC105", None, 30)],
        [],
        id="promotion-script-with-empty-list-branch",
    ),
    pytest.param(
        "deploy_cli.py",
        [("MC106", None, 16), ("MC106", None, 22), ("MC115", None, 28)],
        [("MC115", None, 43)],
        id="cli-tool-with-client-on-self",
    ),
    pytest.param("scoring.py", [("MC103", None, 7)], [], id="scoring-module-with-name-constants"),
    pytest.param(
        "retrain_dag.py",
        [("MC114", None, 17), ("MC115", None, 24), ("MC106", None, 25), ("MC105", None, 33)],
        [("MC114", None, 32), ("MC115", None, 39), ("MC105", None, 48)],
        id="airflow-dag",
    ),
    pytest.param(
        "promote_notebook.ipynb",
        [("MC104", 2, 4), ("MC106", 5, 1), ("MC105", 5, 5), ("MC101", 6, 1), ("MC109", 6, 2)],
        [("MC109", 6, 2)],
        id="notebook-client-in-first-cell-pip-and-sql-cells",
    ),
]


def _found(result) -> list[tuple[str, int | None, int]]:
    return [(f.code, f.location.cell, f.location.line) for f in result.findings]


@pytest.mark.parametrize(("name", "found", "left"), PROGRAMS)
def test_lint_finds_every_usage(name: str, found: list, left: list) -> None:
    result = process_file(CORPUS / name, "lint", ModelMap.default())
    assert _found(result) == found


@pytest.mark.parametrize(("name", "found", "left"), PROGRAMS)
def test_fix_writes_the_expected_text_and_leaves_what_needs_a_person(
    name: str, found: list, left: list, tmp_path: Path
) -> None:
    program = tmp_path / name
    program.write_bytes((CORPUS / name).read_bytes())
    result = process_file(program, "fix", ModelMap.default())
    assert program.read_text() == (CORPUS / "fixed" / name).read_text()
    assert _found(result) == left
    assert result.fixed == len(found) - len(left)
    again = process_file(program, "fix", ModelMap.default())
    assert not again.changed and _found(again) == left


def test_sql_cell_and_markdown_are_left_as_they_were() -> None:
    before = (CORPUS / "promote_notebook.ipynb").read_text().splitlines()
    after = (CORPUS / "fixed" / "promote_notebook.ipynb").read_text().splitlines()
    unchanged = {line for line in before} & {line for line in after}
    assert any("%sql" in line for line in unchanged)
    assert any("models:/fraud/Staging` becomes Production" in line for line in unchanged)
