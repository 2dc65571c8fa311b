"""Linting and fixing YAML and JSON job, bundle and serving-endpoint configs."""

from __future__ import annotations

from bisect import bisect_right
from typing import Literal

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.config_document import ConfigDocument
from modelcatalog.rewrite.python_source import MAX_FIX_PASSES, SourceFinding
from modelcatalog.rewrite.registry import CONFIG_CHECKS, STRING_CHECKS, ConfigMatch, load_rules

ConfigKind = Literal["yaml", "json"]


def _matches(doc: ConfigDocument, model_map: ModelMap) -> list[ConfigMatch]:
    load_rules()
    matches: list[ConfigMatch] = []
    for scalar in doc.strings():
        for check in STRING_CHECKS:
            verdict = check(scalar.value, model_map)
            if verdict is None:
                continue
            edits = [doc.edit(scalar, e.start, e.end, e.replacement) for e in verdict.edits]
            matches.append(
                ConfigMatch(
                    verdict.rule, scalar.start, verdict.message, tuple(e for e in edits if e)
                )
            )
    for config_check in CONFIG_CHECKS:
        matches.extend(config_check(doc, model_map))
    return matches


def _findings(text: str, matches: list[ConfigMatch]) -> list[SourceFinding]:
    line_starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    findings = []
    for match in matches:
        line = bisect_right(line_starts, match.offset)
        column = match.offset - line_starts[line - 1] + 1
        findings.append(
            SourceFinding(match.rule, line, column, match.message, bool(match.scalar_edits))
        )
    return sorted(findings, key=lambda f: (f.line, f.column, f.rule.code))


def lint_config(text: str, kind: ConfigKind, model_map: ModelMap) -> list[SourceFinding]:
    """Findings in a config; raises `ConfigSyntaxError` if it does not parse."""
    return _findings(text, _matches(ConfigDocument.parse(text, kind), model_map))


def fix_config(
    text: str, kind: ConfigKind, model_map: ModelMap
) -> tuple[str, list[SourceFinding], int]:
    """Fixed text, the findings left, and how many were fixed (every result is re-parsed)."""
    doc = ConfigDocument.parse(text, kind)
    matches = _matches(doc, model_map)
    initial = len(matches)
    for _ in range(MAX_FIX_PASSES):
        edits: dict[tuple[int, int], str] = {}
        for match in matches:
            for start, end, new in match.scalar_edits:
                edits.setdefault((start, end), new)
        if not edits:
            break
        new_text, last_start = doc.text, len(doc.text) + 1
        for (start, end), new in sorted(edits.items(), reverse=True):
            if end <= last_start:  # overlapping edits wait for the next pass
                new_text = new_text[:start] + new + new_text[end:]
                last_start = start
        if new_text == doc.text:
            break
        doc = ConfigDocument.parse(new_text, kind)
        matches = _matches(doc, model_map)
    return doc.text, _findings(doc.text, matches), max(initial - len(matches), 0)
