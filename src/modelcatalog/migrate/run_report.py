"""What a run tells as it goes (an `Observer`, such as a progress bar) and when it ends
(`RunSummary`, for the summary table, the run log and the exit code)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class Observer(Protocol):
    """Receives progress (a progress bar, or nothing)."""

    def started(self, versions: int, total_bytes: int) -> None: ...
    def advance_bytes(self, count: int) -> None: ...
    def version_done(self, model: str, version: int, outcome: str, planned_bytes: int) -> None: ...


class Silent:
    """An observer that shows nothing."""

    def started(self, versions: int, total_bytes: int) -> None:
        pass

    def advance_bytes(self, count: int) -> None:
        pass

    def version_done(self, model: str, version: int, outcome: str, planned_bytes: int) -> None:
        pass


@dataclass
class RunSummary:
    """What a run did, for the summary table and the exit code."""

    models: int = 0
    versions_planned: int = 0
    copied: int = 0
    resumed: int = 0
    present: int = 0
    failed: int = 0
    skipped_by_plan: int = 0
    files_uploaded: int = 0
    bytes_uploaded: int = 0
    aliases_set: int = 0
    grants_applied: int = 0
    grants_not_applied: int = 0
    grants_note: str = ""
    approvers_set: int = 0
    approvers_not_applied: int = 0
    hooks_converted: int = 0
    hooks_not_converted: int = 0
    #: Why each webhook or subscription was not converted, or why none could be applied.
    hook_notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.failures

    def log_fields(self) -> dict[str, Any]:
        """The summary as the run log's `run_finished` event records it."""
        fields = {k: v for k, v in vars(self).items() if k not in ("failures", "hook_notes")}
        fields["failures"] = list(self.failures)
        fields["hook_notes"] = list(self.hook_notes)
        fields["seconds"] = round(self.seconds, 3)
        return fields
