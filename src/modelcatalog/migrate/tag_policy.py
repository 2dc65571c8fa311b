"""Tags the catalog would refuse, made acceptable by a stated rule, with nothing dropped.

Keys with `. , - = / :` (or longer than 255 characters) are renamed, each rename recorded.
Beyond 50 tags per object, and values over 1000 characters, the rest overflow into one JSON tag
or, when that does not fit or is so configured, into a section of the description.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from modelcatalog.domain import text
from modelcatalog.domain.rules import MAX_TAG_KEY, MAX_TAG_VALUE, MAX_TAGS
from modelcatalog.migrate.plan_model import TagRename

_FORBIDDEN = re.compile(r"[.,\-=/:]")
OVERFLOW_HEADING = "## Migrated tags"


@dataclass
class TagOutcome:
    """Tags the catalog accepts, what was renamed, and what overflowed."""

    tags: dict[str, str]
    renames: list[TagRename] = field(default_factory=list)
    #: Tags that did not fit, by their original key; empty if none.
    overflow: dict[str, str] = field(default_factory=dict)
    #: Markdown for the description when the overflow goes there; empty otherwise.
    description_section: str = ""
    notes: list[str] = field(default_factory=list)


def fixed_key(key: str) -> tuple[str, str]:
    """The key the catalog accepts for `key`, and why it changed ('' if it did not)."""
    reasons = []
    fixed = text.repaired(key, text.FIELDS["key"]).strip()
    if fixed != key:
        reasons.append("characters the catalog refuses (controls, line breaks) removed")
    if _FORBIDDEN.search(fixed):
        chars = " ".join(sorted(set(_FORBIDDEN.findall(fixed))))
        fixed = _FORBIDDEN.sub("_", fixed)
        reasons.append(f"'{chars}' replaced by '_'")
    if len(fixed) > MAX_TAG_KEY:
        fixed = fixed[:MAX_TAG_KEY]
        reasons.append(f"cut to {MAX_TAG_KEY} characters")
    if not fixed:
        fixed = "_"
        reasons.append("an empty key became '_'")
    return fixed, "; ".join(reasons)


def _unique(key: str, taken: set[str]) -> str:
    if key.lower() not in taken:
        return key
    n = 2
    while True:
        suffix = f"_{n}"
        candidate = key[: MAX_TAG_KEY - len(suffix)] + suffix
        if candidate.lower() not in taken:
            return candidate
        n += 1


def apply_tag_policy(
    tags: dict[str, str],
    *,
    reserved: dict[str, str],
    overflow: str,
    overflow_tag: str,
) -> TagOutcome:
    """Fit source tags plus the migration's own `reserved` tags into the catalog's limits."""
    taken = {k.lower() for k in reserved}
    accepted: dict[str, str] = {}
    renames: list[TagRename] = []
    spilled: dict[str, str] = {}
    # Keys that are fine keep their names; only the ones being renamed can get a suffix.
    notes: list[str] = []
    for key in sorted(tags, key=lambda k: (fixed_key(k)[0] != k, k)):
        value = tags[key]
        if len(value) <= MAX_TAG_VALUE:  # a longer one moves to the description, repaired there
            value = text.repaired(value, text.FIELDS["value"])
            if value != tags[key]:
                notes.append(f"value of {key!r}: characters the catalog refuses removed")
        if len(value) > MAX_TAG_VALUE:
            spilled[key] = value
            continue
        fixed, reason = fixed_key(key)
        unique = _unique(fixed, taken | {overflow_tag.lower()})
        if unique != fixed:
            reason = (reason + "; " if reason else "") + f"'{fixed}' was taken, so '{unique}'"
        if unique != key:
            renames.append(TagRename(key, unique, reason))
        taken.add(unique.lower())
        accepted[unique] = value
    room = MAX_TAGS - len(reserved)
    if len(accepted) > room or spilled:
        # One slot goes to the overflow tag itself when the overflow is kept as a tag.
        keep = room - 1 if overflow == "tag" else room
        kept_keys = sorted(accepted)[: max(keep, 0)]
        original = {r.renamed: r.original for r in renames}
        for key in sorted(accepted):
            if key not in kept_keys:
                spilled[original.get(key, key)] = accepted.pop(key)
        renames = [r for r in renames if r.renamed in accepted]
    outcome = TagOutcome(
        tags=dict(sorted({**accepted, **reserved}.items())), renames=renames, notes=notes
    )
    if not spilled:
        return outcome
    outcome.overflow = dict(sorted(spilled.items()))
    document = json.dumps(outcome.overflow, sort_keys=True, ensure_ascii=False)
    if overflow == "tag" and len(document) <= MAX_TAG_VALUE:
        outcome.tags[overflow_tag] = document
        outcome.tags = dict(sorted(outcome.tags.items()))
        outcome.notes.append(f"{len(spilled)} tag(s) kept as JSON in tag '{overflow_tag}'")
        return outcome
    if overflow == "tag":
        outcome.notes.append(
            f"{len(spilled)} tag(s) do not fit in one tag of {MAX_TAG_VALUE} characters; "
            "they are in the description under 'Migrated tags'"
        )
    else:
        outcome.notes.append(f"{len(spilled)} tag(s) are in the description under 'Migrated tags'")
    pretty = json.dumps(outcome.overflow, sort_keys=True, ensure_ascii=False, indent=2)
    outcome.description_section = f"{OVERFLOW_HEADING}\n\n```json\n{pretty}\n```"
    return outcome
