"""Rendering results as text, JSON or SARIF 2.1.0."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from modelcatalog import __version__
from modelcatalog.rewrite.finding import FileResult, Rule, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


class OutputFormat(StrEnum):
    """How findings are printed."""

    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"


def summary(results: Sequence[FileResult]) -> dict[str, int]:
    """Counts for the closing line and the JSON report."""
    findings = [f for r in results for f in r.findings]
    return {
        "files_checked": len(results),
        "findings": len(findings),
        "fixable": sum(f.fixable for f in findings),
        "fixed": sum(r.fixed for r in results),
        "files_changed": sum(r.changed for r in results),
        "errors": sum(r.error is not None for r in results),
    }


def render_text(results: Sequence[FileResult], mode: str) -> str:
    """One line per finding (`path:line:col: CODE severity message`), errors, and a summary."""
    lines = []
    for result in results:
        if result.error:
            lines.append(f"{result.path}: error: {result.error}")
        for f in result.findings:
            fix = " [fixable]" if f.fixable and mode == "lint" else ""
            in_file = f.location.cell is not None and not f.location.line_in_cell
            cell = f" (cell {f.location.cell})" if in_file else ""
            lines.append(f"{f.location}: {f.code} {f.severity} {f.message}{fix}{cell}")
    counts = summary(results)
    tail = (
        f"{counts['findings']} finding(s) ({counts['fixable']} fixable) in "
        f"{counts['files_checked']} file(s)"
    )
    if mode == "fix":
        tail = (
            f"fixed {counts['fixed']} finding(s) in {counts['files_changed']} file(s); "
            f"{counts['findings']} left that need a manual change"
        )
    elif mode == "diff":
        tail = (
            f"would fix {counts['fixed']} finding(s) in {counts['files_changed']} file(s); "
            f"{counts['findings']} would need a manual change"
        )
    if counts["errors"]:
        tail += f"; {counts['errors']} file(s) could not be checked"
    lines.append(tail)
    return "\n".join(lines) + "\n"


def render_json(results: Sequence[FileResult], mode: str) -> str:
    """Every finding with all its fields, every error, and the summary."""
    document = {
        "mode": mode,
        "findings": [
            {
                "code": f.code,
                "rule": f.rule.name,
                "severity": str(f.severity),
                "path": f.location.path,
                "cell": f.location.cell,
                "line": f.location.line,
                "column": f.location.column,
                "message": f.message,
                "fixable": f.fixable,
            }
            for r in results
            for f in r.findings
        ],
        "errors": [{"path": r.path, "message": r.error} for r in results if r.error],
        "summary": summary(results),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render_sarif(results: Sequence[FileResult], rules: Mapping[str, Rule]) -> str:
    """A SARIF 2.1.0 log with one run, the rule metadata and one result per finding."""
    ordered = sorted(rules.values(), key=lambda r: r.code)
    index = {rule.code: i for i, rule in enumerate(ordered)}
    sarif_results: list[dict[str, Any]] = []
    for r in results:
        for f in r.findings:
            region: dict[str, Any] = {
                "startLine": f.location.line,
                "startColumn": f.location.column,
            }
            entry: dict[str, Any] = {
                "ruleId": f.code,
                "ruleIndex": index[f.code],
                "level": _SARIF_LEVEL[f.severity],
                "message": {"text": f.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": f.location.path},
                            "region": region,
                        }
                    }
                ],
                "properties": {"fixable": f.fixable},
            }
            if f.location.cell is not None and f.location.line_in_cell:
                # SARIF has no notebook cells: the line is relative to the cell named here.
                entry["properties"]["cell"] = f.location.cell
                entry["message"]["text"] = f"cell {f.location.cell}: {f.message}"
            sarif_results.append(entry)
    notifications = [
        {
            "level": "error",
            "message": {"text": r.error},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": r.path}}}],
        }
        for r in results
        if r.error
    ]
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "modelcatalog code",
                        "version": __version__,
                        "rules": [
                            {
                                "id": rule.code,
                                "name": rule.name,
                                "shortDescription": {"text": rule.summary},
                                "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
                            }
                            for rule in ordered
                        ],
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": not notifications,
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "results": sarif_results,
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
