"""What `migrate assess` can find: one code per finding, each with one severity.

`modelcatalog migrate rules` prints this table; the report links nothing else. A severity says
what the finding does to the migration: `error`, the version (or the source) does not migrate
as it is; `warning`, it migrates changed, or loses something a person should look at; `info`,
it migrates as described."""

from __future__ import annotations

from dataclasses import dataclass

ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str
    finding: str


_TABLE = (
    # Names and descriptions
    ("MA101", WARNING, "a model name the catalog does not accept (registered normalised)"),
    ("MA102", INFO, "a model name with capitals (stored lower-case)"),
    ("MA103", ERROR, "several source models would become one catalog model"),
    ("MA104", WARNING, "a description longer than the catalog allows (it is cut)"),
    ("MA105", WARNING, "text with characters the catalog refuses (repaired by the plan)"),
    # Tags
    ("MA111", WARNING, "a tag key with characters the catalog refuses (replaced by '_')"),
    ("MA112", WARNING, "more tags than the catalog allows (the rest go into one overflow tag)"),
    ("MA113", WARNING, "a tag value longer than the catalog allows (moved to the description)"),
    ("MA114", WARNING, "a tag with the key the stage policy writes (it is overwritten)"),
    # Aliases
    ("MA121", WARNING, "a source alias the catalog does not accept (not created)"),
    ("MA122", WARNING, "a source alias with the name the stage policy gives a stage"),
    # Versions
    ("MA201", ERROR, "a version without readable files (not migrated)"),
    ("MA202", ERROR, "a version without an MLmodel file (not migrated)"),
    ("MA203", ERROR, "a version without a signature (handled by signatures.policy)"),
    ("MA204", ERROR, "a version whose signature lacks inputs or outputs"),
    ("MA205", WARNING, "a version that is not READY (not migrated)"),
    ("MA206", INFO, "a version without a run (migrated without lineage)"),
    ("MA207", WARNING, "several versions in one stage (only the newest gets its alias)"),
    ("MA208", INFO, "archived versions (tagged, without an alias)"),
    # Activity
    ("MA301", INFO, "comments on a version (copied into its description)"),
    (
        "MA302",
        WARNING,
        "transition requests still pending (approvals only with a linked deployment job)",
    ),
    ("MA303", INFO, "stage changes (recorded in the description)"),
    ("MA304", INFO, "transition requests, all decided (recorded in the description)"),
    # Webhooks
    ("MA311", INFO, "a webhook (it becomes a destination and a trigger)"),
    ("MA312", WARNING, "a webhook whose secret must be supplied again"),
    # Permissions
    ("MA321", INFO, "a permission and the grants it becomes"),
    ("MA322", WARNING, "a permission with no equivalent grant"),
    ("MA323", INFO, "the kinds of principal grants go to (they must exist in the catalog)"),
    # What the source cannot give
    ("MA331", WARNING, "the source's permissions cannot be read"),
    ("MA332", ERROR, "the source's permissions, activity or webhooks could not be read at all"),
    ("MA333", WARNING, "the source's webhooks cannot be read"),
    ("MA334", INFO, "other parts of the source cannot be read (comments, requests, history)"),
)

RULES: dict[str, Rule] = {code: Rule(code, severity, what) for code, severity, what in _TABLE}
