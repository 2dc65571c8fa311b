"""Parsing `models:/` URIs, including ones with unknown (computed) parts.

Callers hand over the text of a string with every part they cannot know replaced by
`UNKNOWN`; the parse keeps spans so that fixes can edit only literal text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from modelcatalog.migrate.mapping import KNOWN_STAGES

#: Stands for a part of a string computed at run time (an f-string field, a variable).
UNKNOWN = "\ue000"

_URI = re.compile(
    # Registry names may contain spaces ("Churn Model"); a stage or version never does. A YAML
    # block scalar (`uri: |`) keeps one final newline.
    r"^models:/(?P<name>[^/@\s](?:[^/@]*[^/@\s])?)(?:(?P<sep>[/@])(?P<suffix>[^/@\s]+))\n?$",
)

UriKind = Literal["stage", "latest", "version", "alias"]


@dataclass(frozen=True)
class ModelUri:
    """A registry model URI: `models:/<name>/<stage|latest|version>` or `models:/<name>@<alias>`."""

    name: str
    name_span: tuple[int, int]
    kind: UriKind
    suffix: str
    #: Span of the separator and suffix together (`/Production`, `@champion`).
    suffix_span: tuple[int, int]

    @property
    def name_known(self) -> bool:
        return UNKNOWN not in self.name

    @property
    def stage(self) -> str:
        """The canonical stage spelling (only for `kind == "stage"`)."""
        return KNOWN_STAGES[self.suffix.lower()]


def parse_model_uri(text: str) -> ModelUri | None:
    """The URI in `text` if the whole text is one, else None (prose that mentions one is not)."""
    if not text.startswith("models:/"):
        return None
    match = _URI.fullmatch(text)
    if match is None:
        return None
    suffix = match["suffix"]
    if UNKNOWN in suffix:
        return None  # a computed stage or version: nothing certain to say
    kind: UriKind
    if match["sep"] == "@":
        kind = "alias"
    elif suffix.isdigit():
        kind = "version"
    elif suffix.lower() == "latest":
        kind = "latest"
    elif suffix.lower() in KNOWN_STAGES:
        kind = "stage"
    else:
        return None
    return ModelUri(
        name=match["name"],
        name_span=match.span("name"),
        kind=kind,
        suffix=suffix,
        suffix_span=(match.start("sep"), match.end("suffix")),
    )
