"""Which pg_dump and pg_restore a backup and a restore use: the server's major version, found
among several installed side by side; a clear error when none fits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelcatalog.backup import BackupFailed, postgres_tools
from support.cli import run_cli
from support.servers import postgres_database


def _install(folder: Path, name: str, version: str) -> Path:
    """A client program that answers `--version` as PostgreSQL's do."""
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / name
    program.write_text(f"#!/bin/sh\necho '{name} (PostgreSQL) {version} (Debian {version}-1)'\n")
    program.chmod(0o755)
    return program


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Clients 14, 16 and 17 in versioned folders, as Debian lays them out; no PATH copies."""
    for major, minor in [("14", "14.12"), ("16", "16.4"), ("17", "17.1")]:
        for name in ("pg_dump", "pg_restore"):
            _install(tmp_path / "lib" / major / "bin", name, minor)
    monkeypatch.setattr(postgres_tools, "VERSIONED_FOLDERS", (str(tmp_path / "lib/*/bin"),))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    return tmp_path


@pytest.mark.parametrize(
    ("name", "server_major", "chosen"),
    [
        ("pg_dump", 16, "16.4"),
        ("pg_restore", 16, "16.4"),
        ("pg_dump", 14, "14.12"),
        # No pg_dump 15: the nearest newer one, which PostgreSQL supports against older servers.
        ("pg_dump", 15, "16.4"),
    ],
)
def test_the_servers_major_version_is_chosen(
    installed: Path, name: str, server_major: int, chosen: str
) -> None:
    program = postgres_tools.choose(name, server_major, f"{server_major}.0", None)
    assert program.version == chosen
    assert program.path.parent.parent.name == chosen.split(".")[0]


def test_pg_restore_of_another_major_version_is_refused_naming_what_was_found(
    installed: Path,
) -> None:
    with pytest.raises(BackupFailed) as refused:
        postgres_tools.choose("pg_restore", 15, "15.20", None)
    message = str(refused.value)
    assert "no pg_restore for PostgreSQL 15 on this machine (the server runs 15.20" in message
    assert f"16.4 ({installed / 'lib/16/bin/pg_restore'})" in message
    assert "apt-get install postgresql-client-15" in message
    assert "--pg-bin" in message


def test_a_pg_dump_older_than_the_server_is_refused(installed: Path) -> None:
    with pytest.raises(BackupFailed, match="no pg_dump for PostgreSQL 18 or newer"):
        postgres_tools.choose("pg_dump", 18, "18.1", None)


def test_a_wrapper_on_the_path_that_picks_its_own_version_is_left_out(
    installed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrapper = _install(installed / "share", "pg_wrapper", "15.20")
    (installed / "bin").mkdir()
    os.symlink(wrapper, installed / "bin" / "pg_dump")
    _install(installed / "real-bin", "pg_restore", "15.20")
    monkeypatch.setenv("PATH", f"{installed / 'bin'}:{installed / 'real-bin'}")
    # The wrapper says 15.20, but it is not pg_dump 15: the versioned folders hold none.
    assert postgres_tools.choose("pg_dump", 15, "15.20", None).version == "16.4"
    # A real program on the PATH is one candidate among the others.
    chosen = postgres_tools.choose("pg_restore", 15, "15.20", None)
    assert (chosen.version, chosen.path) == ("15.20", installed / "real-bin" / "pg_restore")


def test_pg_bin_names_the_one_folder_looked_in(installed: Path) -> None:
    program = postgres_tools.choose("pg_dump", 17, "17.1", installed / "lib/17/bin")
    assert program.version == "17.1"
    with pytest.raises(BackupFailed, match=r"in .*lib/14/bin .*found: 14\.12"):
        postgres_tools.choose("pg_dump", 16, "16.4", installed / "lib/14/bin")


@pytest.mark.postgres
def test_a_backup_without_a_fitting_pg_dump_fails_clearly_and_writes_nothing(
    tmp_path: Path,
) -> None:
    (tmp_path / "no-clients").mkdir()
    with postgres_database() as uri:
        failed = run_cli(
            "backup", "--to", str(tmp_path / "b"), "--database-uri", uri,
            "--data-dir", str(tmp_path / "data"), "--pg-bin", str(tmp_path / "no-clients"),
            env={k: v for k, v in os.environ.items() if not k.startswith("MODELCATALOG_")},
        )  # fmt: skip
    assert failed.returncode == 1
    assert "no pg_dump for PostgreSQL" in failed.stderr
    assert "found: none" in failed.stderr
    assert not (tmp_path / "b").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".b.")]
