"""Fixtures of the end-to-end tests; `server`, `api` and `schema` come from tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.models import TinyModel, fit_tiny_model
from support.servers import run_moto


@pytest.fixture(scope="module")
def tiny_model() -> TinyModel:
    """One small fitted model per module."""
    return fit_tiny_model()


# moto: a real local S3 endpoint ------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 server on a free port, stopped at the end of the session."""
    with run_moto(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint
