"""MC101: `models:/<name>/<Stage>` loads whatever version sits in a stage; stages are gone."""

from __future__ import annotations

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.model_uri import parse_model_uri
from modelcatalog.rewrite.naming import target_for
from modelcatalog.rewrite.registry import Edit, StringMatch, rule, string_check

RULE = rule("MC101", "stage-model-uri", Severity.ERROR, "Model URI that names a registry stage")


@string_check
def check(text: str, model_map: ModelMap) -> StringMatch | None:
    uri = parse_model_uri(text)
    if uri is None or uri.kind != "stage":
        return None
    target = target_for(uri.name, model_map)
    alias = model_map.alias_for_stage(uri.stage)
    if alias is None:
        tag = f" (its versions carry the tag {model_map.stage_tag})" if model_map.stage_tag else ""
        return StringMatch(
            RULE,
            f"stage {uri.stage} has no alias in the catalog{tag}: load a pinned version "
            f"(models:/{target.shown}/<version>) or give that version an alias "
            f"(models:/{target.shown}@<alias>){target.note}.",
        )
    edits = [Edit(*uri.suffix_span, f"@{alias}")]
    if target.replacement:
        edits.append(Edit(*uri.name_span, target.replacement))
    return StringMatch(
        RULE,
        f"stages do not exist in the catalog: use the alias that replaced {uri.stage}, "
        f"models:/{target.shown}@{alias}{target.note}.",
        tuple(edits),
    )
