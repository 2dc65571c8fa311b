"""Linting and fixing Python source with libcst, so that formatting and comments survive."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.finding import Rule
from modelcatalog.rewrite.python_context import PythonContext
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


class _Walker(cst.CSTVisitor):
    def __init__(self, ctx: PythonContext) -> None:
        self.ctx = ctx
        self.matches: list[PythonMatch] = []
        self._stack: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self._stack:
            self.ctx.parents[node] = self._stack[-1]
        self._stack.append(node)
        for check in PYTHON_CHECKS.get(type(node), ()):
            self.matches.extend(check(node, self.ctx))
        if isinstance(node, cst.BaseExpression):
            self.matches.extend(string_matches(node, self.ctx))
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self._stack.pop()


class _Apply(cst.CSTTransformer):
    def __init__(self, replacements: dict[cst.CSTNode, Replacement]) -> None:
        self.replacements = replacements

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Replacement:  # type: ignore[override]
        return self.replacements.get(original_node, updated_node)


def _matches(module: cst.Module, model_map: ModelMap) -> list[PythonMatch]:
    load_rules()
    ctx = PythonContext.build(module, model_map)
    walker = _Walker(ctx)
    module.visit(walker)
    return walker.matches


def _findings(module: cst.Module, matches: list[PythonMatch]) -> list[SourceFinding]:
    if not matches:
        return []
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    findings = []
    for match in matches:
        start = positions[match.node].start
        findings.append(
            SourceFinding(
                match.rule, start.line, start.column + 1, match.message, bool(match.replacements)
            )
        )
    return sorted(findings, key=lambda f: (f.line, f.column, f.rule.code))


def lint_source(source: str, model_map: ModelMap) -> list[SourceFinding]:
    """Findings in `source`; raises `libcst.ParserSyntaxError` if it does not parse."""
    module = cst.parse_module(source)
    return _findings(module, _matches(module, model_map))


def fix_source(source: str, model_map: ModelMap) -> tuple[str, list[SourceFinding], int]:
    """Fixed source, the findings left, and how many were fixed.

    Every pass re-parses what it produced, so a result that would not parse raises
    `libcst.ParserSyntaxError` instead of being returned.
    """
    module = cst.parse_module(source)
    matches = _matches(module, model_map)
    initial = len(matches)
    for _ in range(MAX_FIX_PASSES):
        replacements: dict[cst.CSTNode, Replacement] = {}
        for match in matches:
            # Two fixes claiming the same node: keep the first; the next pass sees the rest.
            if match.replacements and not replacements.keys() & match.replacements.keys():
                replacements.update(match.replacements)
        if not replacements:
            break
        code = module.visit(_Apply(replacements)).code
        if code == module.code:
            break
        module = cst.parse_module(code)
        matches = _matches(module, model_map)
    return module.code, _findings(module, matches), max(initial - len(matches), 0)
