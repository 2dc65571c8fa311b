"""Fixtures of the migration tests: a source registry built with MLflow, shared by a module."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from migrate_support import SourceFixture, build_source  # noqa: E402


@pytest.fixture(scope="session")
def source_registry(tmp_path_factory: pytest.TempPathFactory) -> SourceFixture:
    """The reference source registry (never changed by a test)."""
    return build_source(tmp_path_factory.mktemp("source"))
