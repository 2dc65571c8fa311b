"""MC103: a version or alias URI whose model name has no catalog and schema."""

from __future__ import annotations

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.finding import Severity
from modelcatalog.rewrite.model_uri import parse_model_uri
from modelcatalog.rewrite.naming import target_for
from modelcatalog.rewrite.registry import Edit, StringMatch, rule, string_check

RULE = rule("MC103", "short-name-model-uri", Severity.ERROR, "Model URI without catalog and schema")


@string_check
def check(text: str, model_map: ModelMap) -> StringMatch | None:
    uri = parse_model_uri(text)
    if uri is None or uri.kind not in ("version", "alias") or not uri.name_known:
        return None
    target = target_for(uri.name, model_map)
    if target.replacement is None:
        return None
    separator = "@" if uri.kind == "alias" else "/"
    return StringMatch(
        RULE,
        f"model name {uri.name!r} has no catalog and schema: use "
        f"models:/{target.replacement}{separator}{uri.suffix}{target.note}.",
        (Edit(*uri.name_span, target.replacement),),
    )
