"""The settings every process of the catalog reads, and the context built from them.

The server's command line resolves the settings once and hands them to its worker processes as
MODELCATALOG_* variables; what those processes read back must be what the command line meant."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelcatalog.app import prepare
from modelcatalog.config import ServerSettings, default_public_url, job_settings
from modelcatalog.errors import Unauthenticated
from modelcatalog.jobs.engine import Wakeup
from modelcatalog.service import sessions
from modelcatalog.service.caller import Caller
from modelcatalog.service.deployments.settings import CELERY, JobSettings
from modelcatalog.service.session_lifetimes import SessionLifetimes
from modelcatalog.wiring import build_context


def _unusual_settings(data_dir: Path) -> ServerSettings:
    """Settings in which no value is its default."""
    jobs = JobSettings(
        queue=CELERY,
        workers=0,
        broker_url="redis://127.0.0.1:6379/3",
        lease_seconds=12.5,
        poll_seconds=0.05,
        public_url="https://catalog.example.com",
        allow_http_webhooks=True,
        allow_private_webhooks=True,
        delivery_attempts=3,
        delivery_backoff_seconds=0.25,
    )
    return ServerSettings.resolve(
        data_dir=str(data_dir),
        database_uri=f"sqlite:///{data_dir / 'elsewhere.db'}",
        storage_root=str(data_dir / "files"),
        url_lifetime_seconds=30,
        max_request_bytes=128 * 1024,
        auth_failures_per_minute=0,
        jobs=jobs,
        sessions=SessionLifetimes(idle_seconds=600, max_seconds=7200),
        tracking_ui_url="https://mlflow.example.com/",
    )


def test_settings_written_to_the_environment_read_back_the_same(tmp_path: Path) -> None:
    settings = _unusual_settings(tmp_path)
    assert ServerSettings.from_environment(settings.to_environment()) == settings


def test_default_settings_read_back_the_same(tmp_path: Path) -> None:
    settings = ServerSettings.resolve(data_dir=str(tmp_path))
    assert ServerSettings.from_environment(settings.to_environment()) == settings


def test_command_line_values_win_over_the_environment() -> None:
    env = {
        "MODELCATALOG_JOB_WORKERS": "7",
        "MODELCATALOG_JOB_POLL_SECONDS": "0.2",
        "MODELCATALOG_PUBLIC_URL": "http://from-env:1/",
    }
    jobs = job_settings(env, workers=3, public_url="http://given:2/")
    assert (jobs.workers, jobs.poll_seconds, jobs.public_url) == (3, 0.2, "http://given:2")


def test_an_unreadable_number_names_its_variable() -> None:
    with pytest.raises(ValueError, match="MODELCATALOG_DELIVERY_ATTEMPTS is 'six'"):
        job_settings({"MODELCATALOG_DELIVERY_ATTEMPTS": "six"})


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "http://127.0.0.1:8080"),
        ("0.0.0.0", "http://127.0.0.1:8080"),
        ("::", "http://127.0.0.1:8080"),
        ("catalog.internal", "http://catalog.internal:8080"),
    ],
)
def test_tasks_reach_a_server_listening_on_every_address_through_this_machine(
    host: str, expected: str
) -> None:
    assert default_public_url(host, 8080) == expected
    assert job_settings({"MODELCATALOG_HOST": host}).public_url == expected


@pytest.fixture
def prepared(tmp_path: Path) -> ServerSettings:
    settings = ServerSettings.resolve(data_dir=str(tmp_path / "catalog"))
    prepare(settings)
    return settings


def test_a_context_reads_the_secret_key_only_when_a_secret_is_first_sealed(
    prepared: ServerSettings,
) -> None:
    prepared.secret_key_file.unlink()
    ctx = build_context(prepared)
    try:
        assert ctx.secrets is not None
        assert not prepared.secret_key_file.exists()
        sealed = ctx.secrets.seal("hunter2")
        assert prepared.secret_key_file.exists()
        assert ctx.secrets.open(sealed) == "hunter2"
    finally:
        ctx.db.dispose()


def test_a_context_wakes_the_engine_it_was_built_with(prepared: ServerSettings) -> None:
    wakeup = Wakeup()
    ctx = build_context(prepared, waker=wakeup)
    try:
        ctx.wake_engine()
        assert wakeup.tasks.is_set() and wakeup.deliveries.is_set()
    finally:
        ctx.db.dispose()


@pytest.mark.parametrize(
    ("idle", "most", "problem"),
    [(30, 3600, "at least 60"), (7200, 3600, "at least its idle lifetime")],
)
def test_session_lifetimes_out_of_range_are_refused_with_the_rule(
    idle: int, most: int, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        SessionLifetimes(idle_seconds=idle, max_seconds=most)


def test_a_tracking_ui_url_that_is_not_http_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        ServerSettings.resolve(data_dir=str(tmp_path), tracking_ui_url="javascript:alert(1)")


def test_a_deployment_tasks_token_cannot_start_a_browser_session(tmp_path: Path) -> None:
    settings = ServerSettings.resolve(data_dir=str(tmp_path))
    prepare(settings)
    ctx = build_context(settings)
    task = Caller("owner", 1, scope_model_id="0" * 32)
    with pytest.raises(Unauthenticated, match="deployment task"):
        sessions.start(ctx, task)
