"""The login file: where it lives, who can read it, how it is written and read."""

import json
import os
import stat
from pathlib import Path

import pytest

from modelcatalog.client import credentials


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv("MODELCATALOG_CONFIG_DIR", str(folder))
    monkeypatch.delenv("MODELCATALOG_TOKEN", raising=False)
    monkeypatch.delenv("MODELCATALOG_URL", raising=False)
    return folder


def test_file_lives_in_the_configured_folder(config_dir: Path) -> None:
    assert credentials.credentials_path() == config_dir / "credentials.json"


def test_default_folder_is_under_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MODELCATALOG_CONFIG_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert credentials.credentials_path() == tmp_path / ".config/modelcatalog/credentials.json"


def test_saved_file_is_readable_by_owner_only(config_dir: Path) -> None:
    path = credentials.remember_token("http://127.0.0.1:8080", "secret-1")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_saving_over_a_loose_file_tightens_its_mode(config_dir: Path) -> None:
    config_dir.mkdir(parents=True)
    path = config_dir / "credentials.json"
    path.write_text("{}")
    path.chmod(0o644)
    credentials.remember_token("http://127.0.0.1:8080", "secret-1")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_saved_file_holds_token_per_server_and_default(config_dir: Path) -> None:
    credentials.remember_token("http://a:1", "token-a")
    credentials.remember_token("http://b:2", "token-b")
    data = json.loads(credentials.credentials_path().read_text())
    assert data == {
        "default_url": "http://b:2",
        "servers": {"http://a:1": {"token": "token-a"}, "http://b:2": {"token": "token-b"}},
    }


def test_failed_write_leaves_previous_file_and_no_temporary(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = credentials.remember_token("http://a:1", "old")
    before = path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        credentials.remember_token("http://a:1", "new")
    assert path.read_bytes() == before
    assert sorted(p.name for p in config_dir.iterdir()) == ["credentials.json"]


def test_urls_are_compared_in_one_spelling(config_dir: Path) -> None:
    credentials.remember_token("HTTP://LocalHost:8080/", "t")
    assert credentials.load().token_for("http://localhost:8080") == "t"


@pytest.mark.parametrize("bad", ["localhost:8080", "ftp://h:1", "http://"])
def test_non_http_urls_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="server URL"):
        credentials.normalize_url(bad)


def test_forget_removes_token_and_default(config_dir: Path) -> None:
    credentials.remember_token("http://a:1", "t")
    assert credentials.forget_token("http://a:1") is True
    assert credentials.load() == credentials.Credentials()
    assert credentials.forget_token("http://a:1") is False


def test_token_from_environment_wins_over_file(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials.remember_token("http://a:1", "from-file")
    assert credentials.resolve_token("http://a:1") == "from-file"
    monkeypatch.setenv("MODELCATALOG_TOKEN", "from-env")
    assert credentials.resolve_token("http://a:1") == "from-env"


def test_token_is_looked_up_for_that_server_only(config_dir: Path) -> None:
    credentials.remember_token("http://a:1", "token-a")
    assert credentials.resolve_token("http://b:2") is None


def test_url_resolution_order(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert credentials.resolve_url() == "http://127.0.0.1:8080"
    credentials.remember_token("http://logged-in:9", "t")
    assert credentials.resolve_url() == "http://logged-in:9"
    monkeypatch.setenv("MODELCATALOG_URL", "http://from-env:7")
    assert credentials.resolve_url() == "http://from-env:7"
    assert credentials.resolve_url("http://explicit:5") == "http://explicit:5"


def test_corrupt_file_is_reported_with_its_path(config_dir: Path) -> None:
    config_dir.mkdir(parents=True)
    (config_dir / "credentials.json").write_text("{not json")
    with pytest.raises(credentials.CredentialsFileError, match="credentials.json"):
        credentials.load()
