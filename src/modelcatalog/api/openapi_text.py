"""The text rules of `domain/text.py`, written into /openapi.json.

The server checks every string a request carries (path, query, JSON keys and values) by the rule
of the field that holds it, whatever the route; `with_text_rules` writes the same rule into the
schema of each of those strings: no control character (tab, newline and carriage return allowed
in prose), the field's longest length, and at least one visible character where blanks are
refused. Unpaired surrogates, also refused, are not characters a schema's pattern can name
(JSON spells them only as `\\ud800`-style escapes).

Fields a route does not read are described by `UNREAD`: any JSON value whose keys and strings are
single lines (a key that happens to name a field of `text.FIELDS`, such as `comment`, is held to
that field's rule)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelcatalog.domain import text

JSON = dict[str, Any]

REFUSED = {
    text.LINE: r"[\x00-\x1f\x7f-\x9f]",
    text.PROSE: r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]",
}
"""The characters each kind of text refuses, as a character class (surrogates aside)."""

# What `str.strip()` removes and a single line may hold; no white space lies past U+3000.
_BLANKS = [
    c for c in map(chr, range(0x3001)) if c.isspace() and text.problem(c, text.DEFAULT) is None
]


def _character_class(characters: list[str]) -> str:
    """`[...]` of these characters, runs of consecutive ones written as ranges."""
    runs: list[list[int]] = []
    for code in sorted(map(ord, characters)):
        if runs and code == runs[-1][1] + 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    spelled = (f"\\u{a:04x}" + (f"-\\u{b:04x}" if b > a else "") for a, b in runs)
    return "[" + "".join(spelled) + "]"


BLANK = _character_class(_BLANKS)
"""A character class of the blanks a server-side `strip()` removes from a single line."""
NOT_BLANK = {"not": {"pattern": f"^{BLANK}*$"}}
"""At least one character a server-side `strip()` keeps (said as a bar, which stays cheap to
check whatever the field's longest length)."""

UNREAD_NAME = "UnreadValue"
UNREAD = {"$ref": f"#/components/schemas/{UNREAD_NAME}"}


def line(description: str | None = None) -> JSON:
    """Any single line of printable characters."""
    schema: JSON = {"type": "string", "not": {"pattern": REFUSED[text.LINE]}}
    if description:
        schema["description"] = description
    return schema


UNREAD_SCHEMA: JSON = {
    "description": "A field the route does not read: any JSON value whose keys and strings are "
    "single lines of printable characters (a key naming a field the catalog knows, such as "
    "`comment`, follows that field's rule), nested at most 64 levels.",
    "anyOf": [
        {"type": ["null", "boolean", "number"]},
        line(),
        {"type": "array", "items": UNREAD},
        {"type": "object", "propertyNames": line(), "additionalProperties": UNREAD},
    ],
}


def with_text_rules(schema: JSON, name: str) -> JSON:
    """`schema` (a copy) of the field `name` (a query parameter, or "" for a whole body) with
    that field's text rule on its strings and, inside objects, each field's own."""
    return _walk(schema, name, text.field_rule(name), text.field_rule)


def in_path(schema: JSON) -> JSON:
    """A path parameter's schema: the server holds every path segment to the single-line rule."""
    return _walk(schema, "", text.DEFAULT, lambda name: text.DEFAULT)


def _walk(
    schema: JSON | bool, name: str, rule: text.TextField, rule_of: Callable[[str], text.TextField]
) -> Any:
    if not isinstance(schema, dict) or "$ref" in schema:  # `false`, `true`, a reference
        return schema
    out = dict(schema)
    for keyword in ("anyOf", "oneOf", "allOf"):
        if keyword in out:
            out[keyword] = [_walk(branch, name, rule, rule_of) for branch in out[keyword]]
    kinds = out.get("type")
    kinds = set(kinds) if isinstance(kinds, list) else {kinds}
    if "string" in kinds and "enum" not in out and "const" not in out:
        _hold_string(out, rule)
    if "array" in kinds and isinstance(out.get("items"), dict):
        # A list's strings are read by the name of the field that holds the list.
        out["items"] = _walk(out["items"], name, rule, rule_of)
    if "properties" in out:
        out["properties"] = {
            key: _walk(field, key, rule_of(key), rule_of)
            for key, field in out["properties"].items()
        }
    if "object" in kinds:  # a whole object, not one branch's word on some of its fields
        extra = out.get("additionalProperties", True)
        if extra is True:
            out["additionalProperties"] = UNREAD
        elif isinstance(extra, dict):
            # A map's values (a migrated version's tags) are read by one field's rule.
            mapped = text.MAPS.get(name, text.DEFAULT)
            out["additionalProperties"] = _walk(extra, "", mapped, rule_of)
        if extra is not False:
            out["propertyNames"] = _walk(
                out.get("propertyNames", line()), "", text.DEFAULT, rule_of
            )
    return out


def _hold_string(schema: JSON, rule: text.TextField) -> None:
    if "format" in schema:
        # A format names the values the field takes (an existing principal, a page token...):
        # text the rules accept, which the fuzzer draws from what the server has.
        return
    refused: JSON = {"pattern": REFUSED[rule.kind]}
    if schema.get("type") != "string":  # `not` of a bare pattern would refuse numbers too
        refused = {"type": "string", **refused}
    if "not" in schema and schema["not"] != refused:
        schema.setdefault("allOf", []).append({"not": refused})
    else:
        schema["not"] = refused
    if rule.max_length is not None:
        schema["maxLength"] = min(schema.get("maxLength", rule.max_length), rule.max_length)
    if not rule.blank:
        schema["allOf"] = [*schema.get("allOf", []), NOT_BLANK]
