"""Linting and fixing Python source with libcst, so that formatting and comments survive."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.finding import Rule
from modelcatalog.rewrite.python_added import with_added_functions
from modelcatalog.rewrite.python_context import ModuleScan, PythonContext
from modelcatalog.rewrite.python_parse import mask, parse_python, unmask
from modelcatalog.rewrite.python_strings import string_matches
from modelcatalog.rewrite.registry import PYTHON_CHECKS, PythonMatch, Replacement, load_rules

#: Fixes can uncover further fixes (an outer rewrite supersedes an inner one in the same pass).
MAX_FIX_PASSES = 4


@dataclass(frozen=True)
class SourceFinding:
    """A finding in a piece of source; line and column are 1-based."""

    rule: Rule
    line: int
    column: int
    message: str
    fixable: bool


class _Scan(ModuleScan):
    """The module scan, also collecting the nodes some check looks at (one tree walk)."""

    def __init__(self) -> None:
        super().__init__()
        self.candidates: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if type(node) in PYTHON_CHECKS or isinstance(node, _STRINGISH):
            self.candidates.append(node)
        return super().on_visit(node)


_STRINGISH = (cst.SimpleString, cst.FormattedString, cst.ConcatenatedString, cst.BinaryOperation)


class _Apply(cst.CSTTransformer):
    def __init__(self, replacements: dict[cst.CSTNode, Replacement]) -> None:
        self.replacements = replacements

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Replacement:  # type: ignore[override]
        return self.replacements.get(original_node, updated_node)


Parents = dict[cst.CSTNode, cst.CSTNode]


def _matches(module: cst.Module, model_map: ModelMap) -> tuple[list[PythonMatch], Parents]:
    load_rules()
    scan = _Scan()
    module.visit(scan)
    ctx = PythonContext.build(scan, module, model_map)
    matches: list[PythonMatch] = []
    for node in scan.candidates:  # in source order, since the walk is pre-order
        for check in PYTHON_CHECKS.get(type(node), ()):
            matches.extend(check(node, ctx))
        if isinstance(node, _STRINGISH):
            matches.extend(string_matches(node, ctx))
    return matches, scan.parents


def _positions(
    module: cst.Module, nodes: list[cst.CSTNode], parents: dict[cst.CSTNode, cst.CSTNode]
) -> dict[cst.CSTNode, tuple[int, int]]:
    """1-based line and column of each node.

    Position metadata for a whole module costs more than parsing it, so positions are
    computed only inside the top-level statements that hold a finding, each rendered on its
    own, and shifted by the lines that come before that statement.
    """
    by_statement: dict[cst.CSTNode, list[cst.CSTNode]] = {}
    for node in nodes:
        by_statement.setdefault(_top_level(node, module, parents), []).append(node)
    found: dict[cst.CSTNode, tuple[int, int]] = {}
    lines_before = sum(module.code_for_node(line).count("\n") for line in module.header)
    for statement in module.body:
        if statement in by_statement:
            alone = module.with_changes(body=[statement], header=[], footer=[])
            positions = MetadataWrapper(alone, unsafe_skip_copy=True).resolve(PositionProvider)
            for node in by_statement[statement]:
                start = positions[node].start
                found[node] = (lines_before + start.line, start.column + 1)
            if len(found) == len(nodes):
                break
        lines_before += module.code_for_node(statement).count("\n")
    return found


def _findings(
    module: cst.Module, matches: list[PythonMatch], parents: Parents
) -> list[SourceFinding]:
    if not matches:
        return []
    positions = _positions(module, [m.node for m in matches], parents)
    findings = [
        SourceFinding(m.rule, *positions[m.node], m.message, bool(m.replacements)) for m in matches
    ]
    return sorted(findings, key=lambda f: (f.line, f.column, f.rule.code))


def lint_source(source: str, model_map: ModelMap) -> list[SourceFinding]:
    """Findings in `source`; raises `SourceSyntaxError` if it does not parse (magic and shell
    lines are kept out of the parse, so line numbers are the file's own)."""
    module, _ = parse_python(source)
    return _findings(module, *_matches(module, model_map))


def fix_source(source: str, model_map: ModelMap) -> tuple[str, list[SourceFinding], int]:
    """Fixed source, the findings left, and how many were fixed.

    Every pass re-parses what it produced, so a result that would not parse raises instead of
    being returned.
    """
    module, masked = parse_python(source)
    code = mask(source) if masked else source  # what the module's code is, without codegen
    matches, parents = _matches(module, model_map)
    initial = len(matches)
    for _ in range(MAX_FIX_PASSES):
        replacements: dict[cst.CSTNode, Replacement] = {}
        added: dict[str, cst.CSTNode] = {}
        for match in matches:
            # Two fixes claiming the same node: keep the first; the next pass sees the rest.
            if match.replacements and not replacements.keys() & match.replacements.keys():
                replacements.update(match.replacements)
                for name in match.adds:
                    added.setdefault(name, match.node)
        if not replacements:
            break
        fixed = _apply(module, replacements, parents, added)
        if fixed == code:
            break
        code = fixed
        module = cst.parse_module(code)
        matches, parents = _matches(module, model_map)
    found = _findings(module, matches, parents)
    return (unmask(code) if masked else code), found, max(initial - len(matches), 0)


def _apply(
    module: cst.Module,
    replacements: dict[cst.CSTNode, Replacement],
    parents: Parents,
    added: dict[str, cst.CSTNode],
) -> str:
    """The module's code with the replacements made and the functions they call defined.

    Only the top-level statements that hold a replaced node are walked: rebuilding a whole
    module with a transformer costs more than parsing it."""
    touched = {_top_level(node, module, parents) for node in replacements}
    users = {_top_level(node, module, parents) for node in added.values()}
    first_user: int | None = None
    transformer = _Apply(replacements)
    body: list[cst.BaseStatement] = []
    for statement in module.body:
        if statement in users and first_user is None:
            first_user = len(body)
        if statement not in touched:
            body.append(statement)
            continue
        result = statement.visit(transformer)
        if isinstance(result, cst.FlattenSentinel):
            body.extend(result.nodes)
        elif not isinstance(result, cst.RemovalSentinel):
            body.append(result)  # type: ignore[arg-type]
    if added:
        body = with_added_functions(
            body, sorted(added), len(body) if first_user is None else first_user
        )
    return module.with_changes(body=body).code


def _top_level(node: cst.CSTNode, module: cst.Module, parents: Parents) -> cst.CSTNode:
    """The statement directly in the module's body that holds `node`."""
    top = node
    while (parent := parents.get(top)) is not None and parent is not module:
        top = parent
    return top
