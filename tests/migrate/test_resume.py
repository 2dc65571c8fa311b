"""A run killed with SIGKILL mid-copy, then run again: every version exactly once, every file
checked, nothing copied twice.

"Copied" is per file: the target writes each file atomically, so a file it holds is complete and
a rerun sends only the files it lacks, whichever request (one file, or a small version's bulk
upload cut off midway) brought the others. Which files those are, the target's own listing of
the PENDING version says; the run log is needed only by targets that cannot list."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelcatalog.migrate.runlog import read_events
from support.migrate import SourceFixture, build_source, migrate

BIG = 48 * 1024 * 1024


@pytest.fixture(scope="module")
def bulky_source(tmp_path_factory: pytest.TempPathFactory) -> SourceFixture:
    return build_source(tmp_path_factory.mktemp("bulky-source"), big_bytes=BIG)


def _wait_for(log: Path, process: subprocess.Popen, found: Any, timeout: float = 120) -> None:
    """Read the run log as it grows until an event matches; fail if the run ends first."""
    deadline = time.monotonic() + timeout
    while not any(found(e) for e in read_events(log)):
        assert process.poll() is None, "the run ended before the awaited event"
        assert time.monotonic() < deadline, "the awaited event never came"
        time.sleep(0.005)  # poll interval, not a guessed duration


def _start_then_kill(server: Any, source: SourceFixture, tmp_path: Path) -> tuple[dict, str, Path]:
    """Plan, start a run, SIGKILL it once the first file of a bulky version is in (its 48 MiB
    weights still to come). Returns the environment, the catalog and the run log."""
    env = server.env(MODELCATALOG_CONFIG_DIR=str(tmp_path / "config"))
    catalog = f"resume_{uuid.uuid4().hex[:8]}"
    migrate(
        "plan",
        "--source",
        source.uri,
        "--target",
        server.url,
        "--catalog",
        catalog,
        "--schema",
        "ml",
        "--out",
        "plan.yaml",
        env=env,
        cwd=tmp_path,
    )
    log = tmp_path / "plan.run.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "modelcatalog", "migrate", "run", "plan.yaml", "--workers", "2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(log, process, lambda e: e["event"] == "file_uploaded" and "bulky" in e["model"])
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    return env, catalog, log


def _files_on_target(api: httpx.Client, catalog: str, model: str, number: int) -> set[str]:
    """Every file path a (PENDING or READY) version holds, from the Files API listing."""
    found: set[str] = set()
    folders = [""]
    while folders:
        folder = folders.pop()
        answer = api.get(f"/api/2.0/fs/directories/Models/{catalog}/ml/{model}/{number}/{folder}")
        if answer.status_code == 404:
            continue
        for entry in answer.json()["contents"]:
            path = f"{folder}{entry['name']}"
            if entry["is_directory"]:
                folders.append(path + "/")
            else:
                found.add(path)
    return found


def test_kill_during_copy_then_rerun_ends_with_each_version_once(
    server: Any, bulky_source: SourceFixture, tmp_path: Path
) -> None:
    env, catalog, log = _start_then_kill(server, bulky_source, tmp_path)
    first = read_events(log)
    assert not any(e["event"] == "run_finished" for e in first)
    copied_before = {(e["model"], e["version"]) for e in first if e["event"] == "version_copied"}

    migrate("run", "plan.yaml", "--workers", "2", env=env, cwd=tmp_path)
    second = read_events(log)[len(first) :]
    finished = second[-1]
    assert finished["event"] == "run_finished" and finished["failed"] == 0
    assert finished["present"] >= len(copied_before)
    assert finished["resumed"] >= 1  # the bulky version the kill interrupted
    assert finished["copied"] + finished["resumed"] + finished["present"] == 9
    # A READY version is never touched again; a file already sent is not sent again.
    again = {(e["model"], e["version"]) for e in second if e["event"] == "version_started"}
    assert not again & copied_before
    uploads = Counter(
        (e["model"], e["version"], e["path"])
        for e in first + second
        if e["event"] == "file_uploaded"
    )
    assert set(uploads.values()) == {1}

    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
        for model, numbers in (
            ("bulky", [1, 2]),
            ("fraud", [1, 5]),
            ("churn_model", [1, 2, 3, 4, 5]),
        ):
            body = api.get(f"/api/2.1/unity-catalog/models/{catalog}.ml.{model}/versions").json()
            found = sorted(int(v["version"]) for v in body["model_versions"])
            expected = numbers if model != "fraud" else [1, 5]
            assert found == expected, model
    result = migrate("verify", "plan.yaml", env=env, cwd=tmp_path)
    assert "Source and target match" in result.stderr


def test_rerun_without_the_run_log_sends_only_what_the_target_lacks(
    server: Any, bulky_source: SourceFixture, tmp_path: Path
) -> None:
    """The run log is lost (a rerun from another machine, say): the target's listing of each
    PENDING version says which files are in, and those are not sent again."""
    env, catalog, log = _start_then_kill(server, bulky_source, tmp_path)
    interrupted = [
        (e["model"].split(".")[-1], e["version"])
        for e in read_events(log)
        if e["event"] == "version_started"
    ]
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
        before = {
            (model, number, path)
            for model, number in interrupted
            for path in _files_on_target(api, catalog, model, number)
        }
    assert any(model == "bulky" for model, _, _ in before)
    log.unlink()

    migrate("run", "plan.yaml", "--workers", "2", "--log", "fresh.jsonl", env=env, cwd=tmp_path)
    events = read_events(tmp_path / "fresh.jsonl")
    assert events[-1]["event"] == "run_finished" and events[-1]["failed"] == 0
    sent = {
        (e["model"].split(".")[-1], e["version"], e["path"])
        for e in events
        if e["event"] == "file_uploaded"
    }
    assert sent and not sent & before
    result = migrate("verify", "plan.yaml", env=env, cwd=tmp_path)
    assert "Source and target match" in result.stderr
