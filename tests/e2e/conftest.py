"""Fixtures of the end-to-end tests; `server`, `api` and `schema` come from tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.models import TinyModel, fit_tiny_model
from support.servers import run_moto


@pytest.fixture(scope="module")
def tiny_model() -> TinyModel:
    """One small fitted model per module."""
    return fit_tiny_model()


# moto: a real local S3 endpoint ------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the moto server logs every request it answers (moto.log)."""
    return tmp_path_factory.mktemp("moto")


@pytest.fixture(scope="session")
def moto_endpoint(moto_log_dir: Path) -> Iterator[str]:
    """A moto S3 server on a free port, stopped at the end of the session."""
    with run_moto(moto_log_dir) as endpoint:
        yield endpoint
