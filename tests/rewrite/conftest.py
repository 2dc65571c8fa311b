"""Helpers shared by the rewriter's tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.python_source import fix_source, lint_source


def fixed(source: str, model_map: ModelMap | None = None) -> str:
    return fix_source(source, model_map or ModelMap.default())[0]


def codes(source: str, model_map: ModelMap | None = None) -> list[str]:
    return [f.rule.code for f in lint_source(source, model_map or ModelMap.default())]


def modelcatalog_command() -> list[str]:
    script = Path(sys.executable).with_name("modelcatalog")
    return [str(script)] if script.exists() else [sys.executable, "-m", "modelcatalog"]


@pytest.fixture
def run_cli():
    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*modelcatalog_command(), "code", *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=120,
        )

    return run
