"""What a person watching a run sees: progress bars (versions and bytes) and summary tables."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from modelcatalog.migrate.run_report import RunSummary
from modelcatalog.migrate.verify import VerifyReport


class RichProgress:
    """Two bars on stderr: versions done (of those planned) and bytes uploaded."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<8}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._versions: TaskID | None = None
        self._bytes: TaskID | None = None
        self._began = time.monotonic()

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def started(self, versions: int, total_bytes: int) -> None:
        self._total_versions, self._total_bytes = versions, total_bytes
        self._done_versions, self._done_bytes = 0, 0
        self._versions = self._progress.add_task("versions", total=versions or 1, detail="")
        self._bytes = self._progress.add_task("bytes", total=total_bytes or 1, detail="")
        self._refresh()

    def advance_bytes(self, count: int) -> None:
        self._done_bytes += count
        if self._bytes is not None:
            self._progress.advance(self._bytes, count)
        self._refresh()

    def version_done(self, model: str, version: int, outcome: str, planned_bytes: int) -> None:
        self._done_versions += 1
        if self._versions is not None:
            self._progress.advance(self._versions)
        self._refresh()

    def _refresh(self) -> None:
        if self._versions is None or self._bytes is None:
            return
        seconds = max(time.monotonic() - self._began, 1e-6)
        self._progress.update(
            self._versions,
            detail=f"{self._done_versions}/{self._total_versions} "
            f"({self._done_versions / seconds:,.1f}/s)",
        )
        mib, total = self._done_bytes / (1 << 20), self._total_bytes / (1 << 20)
        self._progress.update(
            self._bytes, detail=f"{mib:,.1f}/{total:,.1f} MiB ({mib / seconds:,.1f} MiB/s)"
        )


def summary_table(summary: RunSummary) -> Table:
    """The end-of-run table."""
    table = Table(title="migration run", show_edge=False, header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    rate = summary.versions_planned / summary.seconds if summary.seconds else 0.0
    mib = summary.bytes_uploaded / (1 << 20)
    rows = [
        ("models", summary.models),
        ("versions planned", summary.versions_planned),
        ("copied", summary.copied),
        ("resumed (interrupted before)", summary.resumed),
        ("already present", summary.present),
        ("failed", summary.failed),
        ("skipped by the plan", summary.skipped_by_plan),
        ("files uploaded", summary.files_uploaded),
        ("MiB uploaded", f"{mib:,.1f}"),
        ("aliases set", summary.aliases_set),
        ("grants applied", summary.grants_applied),
        ("grants not applied", summary.grants_not_applied),
        ("approvers set", summary.approvers_set),
        ("webhooks converted", summary.hooks_converted),
        ("webhooks not converted", summary.hooks_not_converted),
        ("seconds", f"{summary.seconds:,.1f}"),
        ("versions/s", f"{rate:,.1f}"),
        ("MiB/s", f"{mib / summary.seconds:,.1f}" if summary.seconds else "0"),
    ]
    for what, count in rows:
        table.add_row(what, str(count))
    return table


def verify_table(report: VerifyReport) -> Table:
    """Every difference verify found."""
    table = Table(title="differences", show_edge=False, header_style="bold")
    for header in ("where", "what", "expected", "found"):
        table.add_column(header, overflow="fold")
    for d in report.differences:
        table.add_row(*(Text(str(part)) for part in (d.where(), d.what, d.expected, d.found)))
    return table
