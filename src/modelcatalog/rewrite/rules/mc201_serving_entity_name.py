"""MC201: a serving endpoint serving a model by its workspace-registry name."""

from __future__ import annotations

from collections.abc import Iterator

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.config_document import ConfigDocument, Mapping, Scalar, Sequence
from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.naming import target_for
from modelcatalog.rewrite.registry import ConfigMatch, config_check, rule

RULE = rule(
    "MC201",
    "serving-entity-name",
    Severity.ERROR,
    "Serving endpoint serves a model without catalog and schema",
)
#: Where endpoint configs list what they serve, and the key holding the model name.
_SERVED = {"served_entities": "entity_name", "served_models": "model_name"}


@config_check
def check(doc: ConfigDocument, model_map: ModelMap) -> Iterator[ConfigMatch]:
    for node in doc.nodes():
        if not isinstance(node, Mapping):
            continue
        for list_key, name_key in _SERVED.items():
            served = node.get(list_key)
            if not isinstance(served, Sequence):
                continue
            for item in served.items:
                name = item.get(name_key) if isinstance(item, Mapping) else None
                if not isinstance(name, Scalar) or not name.is_string:
                    continue
                target = target_for(name.value, model_map)
                if target.replacement is None:
                    continue
                legacy = (
                    " (served_models is the legacy form; served_entities is current)"
                    if list_key == "served_models"
                    else ""
                )
                edit = doc.edit(name, 0, len(name.value), target.replacement)
                yield ConfigMatch(
                    RULE,
                    name.start,
                    f"{name_key} {name.value!r} is a workspace-registry name: serve the catalog "
                    f"model {target.replacement!r}; version numbers are kept by the "
                    f"migration{legacy}{target.note}.",
                    (edit,) if edit else (),
                )
