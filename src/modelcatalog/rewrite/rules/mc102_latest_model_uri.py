"""MC102: `models:/<name>/latest` has no single equivalent once stages are gone."""

from __future__ import annotations

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.model_uri import parse_model_uri
from modelcatalog.rewrite.naming import target_for
from modelcatalog.rewrite.registry import StringMatch, rule, string_check

RULE = rule("MC102", "latest-model-uri", Severity.WARNING, "Model URI that asks for 'latest'")


@string_check
def check(text: str, model_map: ModelMap) -> StringMatch | None:
    uri = parse_model_uri(text)
    if uri is None or uri.kind != "latest":
        return None
    target = target_for(uri.name, model_map)
    production = model_map.alias_for_stage("Production") or "<alias>"
    return StringMatch(
        RULE,
        "'latest' is not resolved by the catalog; choose what this code means: the version "
        f"you serve (an alias, models:/{target.shown}@{production}) or one fixed version "
        f"(models:/{target.shown}/<version>){target.note}.",
    )
