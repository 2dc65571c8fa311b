"""`modelcatalog server` refuses bad settings at start, with the flag named and no secret shown."""

import subprocess
import sys
from pathlib import Path

import pytest


def start(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "modelcatalog", "server", "--data-dir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--database-uri", "foo://bar"], "--database-uri foo://bar: Can't load plugin"),
        (["--database-uri", "nonsense"], "--database-uri 'nonsense': Could not parse"),
        (
            ["--database-uri", "postgresql+psycopg://user:s3cret@127.0.0.1:1/db"],
            "--database-uri postgresql+psycopg://user:***@127.0.0.1:1/db: connection failed",
        ),
        (["--storage-root", "ftp://host/x"], "unsupported artifact location 'ftp://host/x'"),
        (["--url-lifetime", "5"], "--url-lifetime"),
        (["--log-level", "loud"], "--log-level"),
    ],
    ids=["unknown-dialect", "not-a-uri", "unreachable-postgres", "bad-storage", "lifetime", "log"],
)
def test_bad_setting_stops_the_server_with_exit_2(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    done = start(tmp_path, *args)
    assert done.returncode == 2, done.stderr
    message = " ".join(done.stderr.replace("│", " ").split())
    assert expected in message
    assert "s3cret" not in done.stderr + done.stdout
