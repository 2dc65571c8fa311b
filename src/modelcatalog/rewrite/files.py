"""Which files the rewriter reads, how it recognises them, and how it writes them safely."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

FileKind = Literal["python", "notebook", "yaml", "json"]

KINDS: dict[str, FileKind] = {
    ".py": "python",
    ".ipynb": "notebook",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
}
#: Folders never searched: tool state, dependencies and caches, not a team's workloads.
SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "venv", "build", "dist"})

#: A file without any of these cannot have a finding, so it is not parsed at all. Every rule's
#: trigger is listed here; keep the two in step when adding a rule.
PYTHON_TRIGGERS = (
    "models:/",
    "registry_uri",
    "REGISTRY_URI",
    "transition",
    "Transition",
    "LatestModelVersions",
    "get_latest_versions",
    "get-latest-versions",
    "current_stage",
    "get_model_version_stages",
    "register_model",
    "registered_model_name",
    "model_registry",
    "webhook",
    "mlflow/comments/",
)
CONFIG_TRIGGERS = PYTHON_TRIGGERS + ("served_entities", "served_models", "models")


def kind_of(path: Path) -> FileKind | None:
    """The kind of a file by its suffix, or None if the rewriter does not read it."""
    return KINDS.get(path.suffix.lower())


def may_have_findings(text: str, kind: FileKind) -> bool:
    """The cheap textual pre-filter run before any parsing."""
    triggers = PYTHON_TRIGGERS if kind in ("python", "notebook") else CONFIG_TRIGGERS
    return any(trigger in text for trigger in triggers)


def discover(paths: Iterable[Path]) -> Iterator[tuple[Path, str | None]]:
    """Files to check under `paths`, each with an error if it cannot be checked."""
    for path in paths:
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
                for name in sorted(names):
                    candidate = Path(root, name)
                    if kind_of(candidate) is not None:
                        yield candidate, None
        elif path.is_file():
            known = kind_of(path) is not None
            yield path, None if known else f"unsupported file type {path.suffix or '(none)'!r}"
        else:
            yield path, "no such file or directory"


def read_text(path: Path) -> str:
    """A file's text with its line endings kept; raises `OSError` or `UnicodeDecodeError`."""
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


def write_atomically(path: Path, text: str) -> None:
    """Replace a file's content so that a crash leaves either the old or the new file."""
    mode = path.stat().st_mode
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
