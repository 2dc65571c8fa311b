"""Small functions a fix adds to a module, once, when the catalog's API does not give back what
the stage-based call gave on every path.

`get_latest_versions(name, stages=[stage])` returned `[]` when no version was in the stage;
`get_model_version_by_alias` raises instead. `_versions_with_alias` returns `[]` exactly when
the lookup says "does not exist" and the model exists (so the alias is what is missing), and
raises whatever else went wrong, as the old call did for a missing model; `if not versions:`,
`versions[0]` and `try/except` around the call behave as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from modelcatalog.rewrite.python_names import VERSIONS_WITH_ALIAS
from modelcatalog.rewrite.python_parse import CELL_SEPARATOR

ADDED_FUNCTIONS: dict[str, str] = {
    VERSIONS_WITH_ALIAS: f'''def {VERSIONS_WITH_ALIAS}(client, name, alias):
    """[the version that holds `alias`], or [] when the model exists and no version holds it:
    what get_latest_versions(name, stages=[stage]) returned for a stage (added by modelcatalog
    code fix)."""
    from mlflow.exceptions import MlflowException

    try:
        return [client.get_model_version_by_alias(name, alias)]
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        client.get_registered_model(name)  # a model that does not exist still raises
        return []
''',
}


def _defined(body: list[cst.BaseStatement], name: str) -> bool:
    return any(isinstance(s, cst.FunctionDef) and s.name.value == name for s in body)


_CONSTANTS = (cst.SimpleString, cst.ConcatenatedString, cst.Integer, cst.Float)


def _is_preamble(statement: cst.BaseStatement) -> bool:
    """A docstring, an import or a constant: what stays above an added function."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    return all(
        isinstance(small, cst.Import | cst.ImportFrom)
        or (isinstance(small, cst.Expr) and isinstance(small.value, cst.SimpleString))
        or (isinstance(small, cst.Assign | cst.AnnAssign) and isinstance(small.value, _CONSTANTS))
        for small in statement.body
    )


def _split_leading(
    lines: Sequence[cst.EmptyLine],
) -> tuple[list[cst.EmptyLine], list[cst.EmptyLine]]:
    """Leading lines up to a notebook's cell separator (they stay above the added function, so
    it lands in the cell of the statement it precedes) and the rest."""
    lines = list(lines)
    cut = 0
    for i, line in enumerate(lines):
        if line.comment is not None and line.comment.value.startswith(CELL_SEPARATOR):
            cut = i + 1
    rest = lines[cut:]
    while rest and rest[0].comment is None:
        rest.pop(0)
    return lines[:cut], rest


def with_added_functions(
    body: list[cst.BaseStatement], names: list[str], first_user: int
) -> list[cst.BaseStatement]:
    """`body` with each function in `names` defined (unless it already is) after the imports and
    constants, and before the first statement that uses it."""
    missing = [n for n in names if not _defined(body, n)]
    if not missing:
        return body
    at = 0
    while at < min(first_user, len(body)) and _is_preamble(body[at]):
        at += 1
    blank = [cst.EmptyLine(), cst.EmptyLine()] if at else []
    above: list[cst.EmptyLine] = []
    new_body = list(body)
    if at < len(body):
        following = body[at]
        assert isinstance(following, cst.SimpleStatementLine | cst.BaseCompoundStatement)
        above, rest = _split_leading(following.leading_lines)
        new_body[at] = following.with_changes(
            leading_lines=[cst.EmptyLine(), cst.EmptyLine()] + rest
        )
    if above:
        blank = []  # first in a notebook cell
    for number, name in enumerate(missing):
        function = cst.parse_statement(ADDED_FUNCTIONS[name])
        leading = (above if number == 0 else []) + blank
        new_body.insert(at + number, function.with_changes(leading_lines=leading))
    return new_body
