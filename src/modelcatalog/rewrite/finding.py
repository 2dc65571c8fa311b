"""What the rewriter reports: rules, findings and the result of checking one file."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    """How much a finding matters once the registry has moved."""

    ERROR = "error"  # breaks against the catalog
    WARNING = "warning"  # behaves differently; needs a decision
    INFO = "info"  # worth knowing; keeps working


@dataclass(frozen=True)
class Rule:
    """A kind of finding, with a stable code."""

    code: str
    name: str
    severity: Severity
    summary: str


@dataclass(frozen=True)
class Location:
    """Where a finding is; `cell` is the 1-based notebook cell. In `.ipynb` files the line is
    within the cell; in Databricks source notebooks (`.py`) it is the file's own line."""

    path: str
    line: int
    column: int
    cell: int | None = None
    line_in_cell: bool = True

    def __str__(self) -> str:
        cell = f"cell {self.cell}:" if self.cell is not None and self.line_in_cell else ""
        return f"{self.path}:{cell}{self.line}:{self.column}"


@dataclass(frozen=True)
class Finding:
    """One place that still depends on the stage-based registry."""

    rule: Rule
    location: Location
    message: str
    fixable: bool

    @property
    def code(self) -> str:
        return self.rule.code

    @property
    def severity(self) -> Severity:
        return self.rule.severity


@dataclass
class FileResult:
    """The outcome of linting or fixing one file."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    #: Why the path could not be checked or the fix not written (an unreadable or unparsable
    #: file is a finding, MC001, instead); such a file is never written.
    error: str | None = None
    #: The path given cannot be checked at all (missing, or not a kind the rewriter reads).
    usage_error: bool = False
    #: Findings fixed (fix mode only); `findings` then holds what is left.
    fixed: int = 0
    changed: bool = False
    diff: str | None = None
