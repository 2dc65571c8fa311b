"""How findings speak about target names, so that every message says the same thing."""

from __future__ import annotations

from dataclasses import dataclass

from modelcatalog.migrate.mapping import ModelMap, is_full_name
from modelcatalog.rewrite.model_uri import UNKNOWN

UNKNOWN_SHOWN = "{…}"


@dataclass(frozen=True)
class Target:
    """The catalog name a source name becomes, as shown in a message."""

    #: The full name to write, or the source text (with computed parts shown) if unknown.
    shown: str
    #: The name to write into the code, or None when it is already right or cannot be known.
    replacement: str | None
    #: A sentence to append to the message (defaults used, or name to check by hand).
    note: str


def default_namespace_note(model_map: ModelMap) -> str:
    return f" (default catalog and schema {model_map.namespace}; set yours with --map or --plan)"


def target_for(name: str, model_map: ModelMap) -> Target:
    """The target for a source name that may contain computed parts."""
    if UNKNOWN in name:
        return Target(
            name.replace(UNKNOWN, UNKNOWN_SHOWN),
            None,
            "; make sure the computed name is a full catalog.schema.model name",
        )
    if is_full_name(name):
        return Target(name, None, "")
    target = model_map.target_name(name)
    uses_default = model_map.default_namespace and not model_map.is_explicit(name)
    return Target(target, target, default_namespace_note(model_map) if uses_default else "")


def name_argument(
    node_code: str, value: str | None, literal: bool, model_map: ModelMap
) -> tuple[str | None, str]:
    """For a model-name argument: the full name to write (if it is a literal), and a note.

    `value` is the argument's string value when known (a literal, or a module constant
    named `node_code`).
    """
    if value is None:
        return None, "; make sure the name passed is the full catalog.schema.model name"
    target = target_for(value, model_map)
    if target.replacement is None:
        return None, ""
    if literal:
        return target.replacement, target.note
    return None, (
        f"; {node_code} is {value!r}, which has no catalog and schema: make it "
        f"{target.replacement!r}{target.note}"
    )
