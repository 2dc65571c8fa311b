"""Running the `modelcatalog` command in tests.

`run_cli` runs it in this process with Click's test runner: the same command tree, the same
environment, stdin, exit code, stdout and stderr as a child process would have, without starting
an interpreter per call. `run_cli_process` starts `python -m modelcatalog` for the tests that are
about the process itself (signals, servers and workers, the entry point, a real stdin).

Both take the whole environment the command runs in (a `RunningServer.env(...)`, say) and give
back a `subprocess.CompletedProcess`, so a test reads `returncode`, `stdout` and `stderr` alike.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import click
from click.testing import CliRunner
from rich.console import Console
from typer.main import get_command

import modelcatalog.cli
from modelcatalog.cli import remote

#: What Click names the program in usage lines, as it does for `python -m modelcatalog`.
PROG_NAME = "python -m modelcatalog"
#: Rich's width when no terminal is attached and COLUMNS is not set.
DEFAULT_COLUMNS = "80"


@functools.cache
def _command() -> click.Command:
    """The command tree of the console script, built once per test process."""
    return get_command(modelcatalog.cli.app)


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """os.environ replaced by `env` for the block, restored afterwards."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _fresh_consoles() -> Iterator[None]:
    """The CLI's Rich consoles made anew, as a new process makes them: from the environment of
    this call (COLUMNS above all), not the one of the first call."""
    saved = remote.stdout, remote.stderr
    remote.stdout = Console(soft_wrap=True)
    remote.stderr = Console(stderr=True, soft_wrap=True)
    try:
        yield
    finally:
        remote.stdout, remote.stderr = saved


def run_cli(
    *args: str, env: Mapping[str, str], stdin: str = "", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`modelcatalog ARGS` run in this process with `env` as its whole environment.

    An exception the command does not turn into an exit code fails the test, where a child
    process would have printed a traceback and exited with 1."""
    environment = {"COLUMNS": DEFAULT_COLUMNS, **env}
    runner = CliRunner()
    with (
        _environment(environment),
        _fresh_consoles(),
        contextlib.chdir(cwd or Path.cwd()),
    ):
        result = runner.invoke(
            _command(), list(args), input=stdin, prog_name=PROG_NAME, catch_exceptions=False
        )
    return subprocess.CompletedProcess(
        ["modelcatalog", *args], result.exit_code, result.stdout, result.stderr
    )


def run_cli_process(
    *args: str,
    env: Mapping[str, str],
    stdin: str | None = "",
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`python -m modelcatalog ARGS` as a child process (stdin None: the test's own)."""
    return subprocess.run(
        [sys.executable, "-m", "modelcatalog", *args],
        env=dict(env),
        input=stdin,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
