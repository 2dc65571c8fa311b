"""MC001: a file that could not be read or parsed, so nothing in it was checked.

It is a finding, not a usage error: the rest of the run goes on, the exit status is 1, and the
position is the line that stopped the parser (a magic line that is not Python names itself).
"""

from __future__ import annotations

from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.registry import rule

RULE = rule(
    "MC001",
    "file-not-checked",
    Severity.ERROR,
    "File could not be read or parsed, so it was not checked",
)
