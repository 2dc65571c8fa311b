"""PostgreSQL's own client programs, pg_dump and pg_restore, in the version a server needs.

A machine may hold several versions side by side (`/usr/lib/postgresql/15/bin`, ...), and the
`pg_dump` on the PATH may be a wrapper that picks one by its own rules. pg_dump refuses servers
newer than itself and pg_restore cannot read archives of a newer pg_dump, while a newer
pg_restore writes commands an older server may not know. So the version is chosen from the
server's own `server_version_num`: the same major version, else (pg_dump only, which PostgreSQL
supports against older servers) the nearest newer one.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from modelcatalog.backup.folder import BackupFailed

#: Where packages put versioned PostgreSQL clients: Debian and Ubuntu, the PGDG RPMs, Homebrew,
#: Postgres.app.
VERSIONED_FOLDERS = (
    "/usr/lib/postgresql/*/bin",
    "/usr/pgsql-*/bin",
    "/opt/homebrew/opt/postgresql@*/bin",
    "/usr/local/opt/postgresql@*/bin",
    "/Applications/Postgres.app/Contents/Versions/*/bin",
)
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class Program:
    """One installed client program and its version."""

    path: Path
    major: int
    version: str


def program_version(path: Path) -> Program | None:
    """The program at `path` with its version, or None if it does not run or say one."""
    try:
        answer = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    found = _VERSION.search(answer.stdout)
    if answer.returncode != 0 or found is None:
        return None
    version = found.group(1) + (f".{found.group(2)}" if found.group(2) else "")
    return Program(path, int(found.group(1)), version)


def candidates(name: str, bin_dir: Path | None) -> list[Program]:
    """Every runnable `name` found: in `bin_dir` alone when given, else in the versioned
    folders and on the PATH (a wrapper that chooses a version by itself left out)."""
    if bin_dir is not None:
        paths = [bin_dir / name]
    else:
        paths = [
            Path(folder) / name for pattern in VERSIONED_FOLDERS for folder in glob.glob(pattern)
        ]
        on_path = shutil.which(name)
        if on_path and Path(os.path.realpath(on_path)).name == name:
            paths.append(Path(on_path))
    found: dict[Path, Program] = {}
    for path in paths:
        if path.is_file() and os.access(path, os.X_OK):
            program = program_version(path)
            if program is not None:
                found.setdefault(Path(os.path.realpath(path)), program)
    return sorted(found.values(), key=lambda p: (p.major, p.version))


def choose(name: str, server_major: int, server_version: str, bin_dir: Path | None) -> Program:
    """The `name` to use against a server of `server_major`, or BackupFailed saying what was
    found and how to get the right one."""
    found = candidates(name, bin_dir)
    exact = [p for p in found if p.major == server_major]
    if exact:
        return exact[-1]
    if name == "pg_dump":
        newer = [p for p in found if p.major > server_major]
        if newer:
            return newer[0]
    seen = ", ".join(f"{p.version} ({p.path})" for p in found) or "none"
    where = f"in {bin_dir}" if bin_dir is not None else "on this machine"
    wanted = f"{server_major}" if name != "pg_dump" else f"{server_major} or newer"
    raise BackupFailed(
        f"no {name} for PostgreSQL {wanted} {where} (the server runs {server_version}; found: "
        f"{seen}). Install PostgreSQL {server_major}'s client programs (Debian and Ubuntu: "
        f"apt-get install postgresql-client-{server_major}) or name their folder with --pg-bin"
    )


def libpq_target(database_uri: str) -> tuple[str, dict[str, str]]:
    """The connection string for pg_dump and pg_restore, and the environment that carries the
    password: a password on a command line is visible to every user of the machine."""
    url: URL = make_url(database_uri)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env
