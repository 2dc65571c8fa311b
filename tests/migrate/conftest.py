"""Fixtures of the migration tests: a source registry built with MLflow, shared by a module."""

from __future__ import annotations

import pytest

from support.migrate import SourceFixture, build_source


@pytest.fixture(scope="session")
def source_registry(tmp_path_factory: pytest.TempPathFactory) -> SourceFixture:
    """The reference source registry (never changed by a test)."""
    return build_source(tmp_path_factory.mktemp("source"))
