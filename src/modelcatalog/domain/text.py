"""What text the catalog accepts: one table of fields, and the characters each kind may hold.

Every string a request carries (path, query parameters, JSON keys and values) is checked against
this table, whatever the dialect, before it reaches the database, so SQLite and PostgreSQL see the
same text and answer the same way. NUL, unpaired surrogates and other control characters are
refused everywhere. Tab, newline and carriage return are allowed in prose (descriptions, comments,
tag values) only; names, keys, aliases and ids are single lines. Nothing heavy is imported here:
the migration's assessment and the CLI read the same table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelcatalog.errors import InvalidParameter

LINE = "line"
"""Names, keys, aliases, ids, addresses: printable characters only."""

PROSE = "prose"
"""Descriptions, comments, tag values: printable characters, tab, newline and carriage return."""

MAX_COMMENT = 65_536


@dataclass(frozen=True)
class TextField:
    """How one field's text is checked: its kind, its longest length, whether it may be blank."""

    kind: str = LINE
    max_length: int | None = None
    blank: bool = True


FIELDS: dict[str, TextField] = {
    # Prose: the only fields that may span lines.
    "comment": TextField(PROSE, MAX_COMMENT),
    "description": TextField(PROSE, MAX_COMMENT),
    "value": TextField(PROSE, 1000),  # a tag's value
    "signature_waiver": TextField(PROSE, MAX_COMMENT),  # why a signature was waived
    "definition": TextField(PROSE, 1_048_576),  # a deployment job's YAML document
    "command": TextField(PROSE),  # a job task's command: `python -c` takes a program of lines
    # Single lines with a length the catalog stores.
    "key": TextField(LINE, 255, blank=False),  # a tag's key
    "remove": TextField(LINE, 255, blank=False),  # a tag key to remove
    "alias": TextField(LINE, 255, blank=False),
    "run_id": TextField(LINE, 64),
    "logged_model_id": TextField(LINE, 64),
    "model_id": TextField(LINE, 64),
    "run_tracking_server_id": TextField(LINE, 255),
    "source": TextField(LINE, 4096),
    "path": TextField(LINE, 1024),
    "principal": TextField(LINE, 255),
    "owner": TextField(LINE, 255),
    "member": TextField(LINE, 255),
}
"""Every field whose text is not a plain single line of any length; any other field is `LINE`."""

DEFAULT = TextField()

MAPS: dict[str, TextField] = {"tags": FIELDS["value"], "env": DEFAULT, "parameters": DEFAULT}
"""Objects whose keys are data rather than field names (a migrated version's tags, a deployment
job's parameters and a task's environment): their values are read by this rule, whatever the
key."""

# C0 controls other than tab, newline and carriage return; DEL and the C1 controls; unpaired
# surrogates (which no UTF-8 database column can hold); NUL is among the C0 controls.
_NEVER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"[\t\n\r]")


def field_rule(field: str) -> TextField:
    """The rule for a field, by its name as requests spell it (last part of a dotted path)."""
    return FIELDS.get(field.rsplit(".", 1)[-1].split("[", 1)[0], DEFAULT)


def problem(value: str, rule: TextField) -> str | None:
    """What is wrong with `value` under `rule`, in words, or None when it is acceptable."""
    bad = _NEVER.search(value)
    if bad is not None:
        return f"contains {_describe(bad.group())} at position {bad.start()}; {_allowed(rule)}"
    if rule.kind == LINE:
        bad = _LINE_BREAKS.search(value)
        if bad is not None:
            return f"contains {_describe(bad.group())} at position {bad.start()}; {_allowed(rule)}"
    if not rule.blank and not value.strip():
        return "is blank; it needs at least one visible character"
    if rule.max_length is not None and len(value) > rule.max_length:
        return f"is {len(value):,} characters long; at most {rule.max_length:,} are allowed"
    return None


def checked(value: str, field: str, rule: TextField | None = None) -> str:
    """`value` if it is acceptable text for `field`, else InvalidParameter naming the field."""
    found = problem(value, rule or field_rule(field))
    if found is not None:
        raise InvalidParameter(f"'{field}' {found}.", field)
    return value


def repaired(value: str, rule: TextField) -> str:
    """`value` made acceptable under `rule`: refused characters dropped (line breaks become
    spaces in single lines), surrounding blanks kept, cut to the longest length allowed.

    Used by the migration to say, and do, how a source value the catalog refuses is repaired."""
    text = _NEVER.sub("", value)
    if rule.kind == LINE:
        text = _LINE_BREAKS.sub(" ", text)
    if rule.max_length is not None:
        text = text[: rule.max_length]
    return text


def _allowed(rule: TextField) -> str:
    if rule.kind == PROSE:
        return "only printable characters, tab, newline and carriage return are allowed"
    return "only printable characters on a single line are allowed"


def _describe(char: str) -> str:
    code = ord(char)
    if code == 0:
        return "a NUL character (U+0000)"
    if 0xD800 <= code <= 0xDFFF:
        return f"an unpaired surrogate (U+{code:04X})"
    if char in "\t\n\r":
        return {"\t": "a tab", "\n": "a newline", "\r": "a carriage return"}[char]
    return f"a control character (U+{code:04X})"


def characters_rule(field: str) -> TextField:
    """The part of a field's rule that holds wherever the field appears: which characters it may
    contain. Lengths and blanks are judged by the operation, which knows what the field means."""
    return TextField(field_rule(field).kind)


def first_problem(
    value: object, field: str, depth: int = 0, max_depth: int = 64, rule: TextField | None = None
) -> str | None:
    """The first string anywhere in a decoded JSON value holding characters its field may not,
    as a message naming the field by its path, or None. Keys are single lines; each string is
    checked by its field (or by `rule`, for the values of a map in `MAPS`)."""
    if depth > max_depth:
        return f"'{field}' is nested deeper than {max_depth} levels."
    if isinstance(value, str):
        found = problem(value, TextField(rule.kind) if rule else characters_rule(field))
        return None if found is None else f"'{field}' {found}."
    if isinstance(value, dict):
        mapped = MAPS.get(field.rsplit(".", 1)[-1]) if field else None
        for key, item in value.items():
            where = f"{field}.{key}" if field else str(key)
            found = problem(str(key), DEFAULT)
            if found is not None:
                return f"The field name {where!r} {found}."
            found_in = first_problem(item, where, depth + 1, max_depth, mapped)
            if found_in is not None:
                return found_in
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found_in = first_problem(item, f"{field}[{i}]", depth + 1, max_depth, rule)
            if found_in is not None:
                return found_in
    return None
