"""MC202: an asset bundle that declares workspace-registry models."""

from __future__ import annotations

from collections.abc import Iterator

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.config_document import ConfigDocument, Mapping
from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.registry import ConfigMatch, config_check, rule

RULE = rule(
    "MC202",
    "bundle-registry-model",
    Severity.ERROR,
    "Asset bundle declares a model outside the catalog",
)


@config_check
def check(doc: ConfigDocument, model_map: ModelMap) -> Iterator[ConfigMatch]:
    for root in doc.roots:
        resources = root.get("resources") if isinstance(root, Mapping) else None
        if not isinstance(resources, Mapping):
            continue
        legacy = resources.get("models")
        if isinstance(legacy, Mapping):
            for key, _ in legacy.entries:
                yield ConfigMatch(
                    RULE,
                    key.start,
                    f"resources.models.{key.value} is a workspace-registry model: declare it "
                    "under resources.registered_models with catalog_name and schema_name "
                    f"(e.g. {model_map.catalog} and {model_map.schema}).",
                )
        registered = resources.get("registered_models")
        if isinstance(registered, Mapping):
            for key, model in registered.entries:
                if not isinstance(model, Mapping):
                    continue
                missing = [k for k in ("catalog_name", "schema_name") if model.get(k) is None]
                if missing:
                    yield ConfigMatch(
                        RULE,
                        key.start,
                        f"resources.registered_models.{key.value} has no "
                        f"{' and no '.join(missing)}: set them (e.g. catalog_name: "
                        f"{model_map.catalog}, schema_name: {model_map.schema}).",
                    )
