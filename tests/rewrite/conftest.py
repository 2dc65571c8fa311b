"""Helpers shared by the rewriter's tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.python_source import fix_source, lint_source
from support.cli import run_cli as run_modelcatalog


def fixed(source: str, model_map: ModelMap | None = None) -> str:
    return fix_source(source, model_map or ModelMap.default())[0]


def codes(source: str, model_map: ModelMap | None = None) -> list[str]:
    return [f.rule.code for f in lint_source(source, model_map or ModelMap.default())]


@pytest.fixture
def run_cli():
    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return run_modelcatalog("code", *args, env=os.environ, cwd=cwd)

    return run
