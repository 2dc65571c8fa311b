"""Checking and fixing many files: dispatch by kind, pre-filter, process pool, safe writes."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Literal

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.config_document import ConfigSyntaxError
from modelcatalog.rewrite.config_source import fix_config, lint_config
from modelcatalog.rewrite.files import (
    discover,
    kind_of,
    may_have_findings,
    read_text,
    write_atomically,
)
from modelcatalog.rewrite.finding import FileResult, Finding, Location
from modelcatalog.rewrite.notebooks import (
    NotebookError,
    databricks_cell,
    fix_notebook,
    lint_notebook,
)
from modelcatalog.rewrite.python_parse import SourceSyntaxError
from modelcatalog.rewrite.python_source import SourceFinding, fix_source, lint_source
from modelcatalog.rewrite.registry import load_rules

Mode = Literal["lint", "fix", "diff"]
#: Below this many files, starting worker processes costs more than it saves.
POOL_THRESHOLD = 64


def _located(
    path: str, found: SourceFinding, cell: int | None = None, line_in_cell: bool = True
) -> Finding:
    location = Location(path, found.line, found.column, cell, line_in_cell)
    return Finding(found.rule, location, found.message, found.fixable)


def _check(
    text: str, path: Path, mode: Mode, model_map: ModelMap
) -> tuple[list[Finding], str, int]:
    """Findings left, the new text and the number fixed, for a file of any kind.

    A Databricks source notebook (`.py`) is plain Python whose cells are marked by comments,
    so it goes through the Python path as one program; its findings name their cell, and
    their lines are the file's own.
    """
    shown, kind = str(path), kind_of(path)
    fixing = mode != "lint"
    if kind == "notebook":
        if fixing:
            new, cell_findings, fixed = fix_notebook(text, model_map)
        else:
            new, cell_findings, fixed = text, lint_notebook(text, model_map), 0
        return [_located(shown, c.finding, c.cell) for c in cell_findings], new, fixed
    if kind in ("yaml", "json"):
        assert kind is not None
        if fixing:
            new, findings, fixed = fix_config(text, kind, model_map)
        else:
            new, findings, fixed = text, lint_config(text, kind, model_map), 0
    elif fixing:
        new, findings, fixed = fix_source(text, model_map)
    else:
        new, findings, fixed = text, lint_source(text, model_map), 0
    return [_located(shown, f, databricks_cell(new, f.line), False) for f in findings], new, fixed


def _not_checked(
    path: str, why: str, line: int = 1, column: int = 1, cell: int | None = None
) -> Finding:
    rule = load_rules()["MC001"]
    return Finding(rule, Location(path, line, column, cell), why, False)


_YAML_AT = re.compile(r"line (\d+),? column (\d+)")


def process_file(path: Path, mode: Mode, model_map: ModelMap) -> FileResult:
    """Lint, fix or diff one file; never raises for a bad file, it reports it as MC001."""
    result = FileResult(str(path))
    kind = kind_of(path)
    try:
        text = read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        result.findings = [_not_checked(str(path), f"could not be read: {exc}")]
        return result
    if kind is None or not may_have_findings(text, kind):
        return result
    try:
        result.findings, new_text, result.fixed = _check(text, path, mode, model_map)
    except SourceSyntaxError as exc:
        result.findings = [
            _not_checked(str(path), f"could not be parsed: {exc}", exc.line, exc.column)
        ]
        return result
    except NotebookError as exc:
        finding = _not_checked(
            str(path), f"could not be parsed: {exc}", exc.line, exc.column, exc.cell
        )
        result.findings = [finding]
        return result
    except ConfigSyntaxError as exc:
        at = _YAML_AT.search(str(exc))
        line, column = (int(at[1]), int(at[2])) if at else (1, 1)
        result.findings = [_not_checked(str(path), f"could not be parsed: {exc}", line, column)]
        return result
    if new_text != text:
        result.changed = True
        if mode == "diff":
            result.diff = "".join(
                difflib.unified_diff(
                    text.splitlines(keepends=True),
                    new_text.splitlines(keepends=True),
                    # git's a/ b/ prefixes; an absolute path keeps a single slash
                    fromfile=f"a/{str(path).lstrip('/')}",
                    tofile=f"b/{str(path).lstrip('/')}",
                )
            )
        elif mode == "fix":
            try:
                write_atomically(path, new_text)
            except OSError as exc:
                result.error = f"could not be written: {exc}"
                result.changed = False
    return result


def default_jobs() -> int:
    """Worker processes to use: one per available CPU."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run(
    paths: Iterable[Path], mode: Mode, model_map: ModelMap, jobs: int | None = None
) -> list[FileResult]:
    """Process every file under `paths`; results are in path order."""
    results: list[FileResult] = []
    todo: list[Path] = []
    for path, error in discover(paths):
        if error:
            results.append(FileResult(str(path), error=error, usage_error=True))
        else:
            todo.append(path)
    work = partial(process_file, mode=mode, model_map=model_map)
    workers = jobs or default_jobs()
    if workers > 1 and len(todo) >= POOL_THRESHOLD:
        chunk = max(1, min(256, len(todo) // (workers * 8)))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results.extend(pool.map(work, todo, chunksize=chunk))
    else:
        results.extend(map(work, todo))
    return sorted(results, key=lambda r: r.path)
