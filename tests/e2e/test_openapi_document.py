"""/openapi.json states the text rules and the body limit the server enforces: the character
classes it writes refuse what domain/text.py refuses, every string a request carries is held to
its field's rule, and every operation with a JSON body documents 413."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from modelcatalog.api import openapi_text
from modelcatalog.domain import text
from support.servers import RunningServer

# Every character up to the last white space (U+3000) and past it a sample of each plane;
# surrogates have no UTF-8 form and never reach a rule.
CHARACTERS = [
    chr(code)
    for code in [*range(0x3100), 0xFEFF, 0xFFFD, 0x1F600, 0xE0001, 0x10FFFF]
    if not 0xD800 <= code <= 0xDFFF
]


@pytest.mark.parametrize("kind", [text.LINE, text.PROSE])
def test_the_refused_characters_are_those_the_text_rules_refuse(kind: str) -> None:
    refused = re.compile(openapi_text.REFUSED[kind])
    rule = text.TextField(kind)
    for character in CHARACTERS:
        assert bool(refused.search(character)) == (text.problem(character, rule) is not None), (
            f"U+{ord(character):04X}"
        )


def test_the_blanks_are_what_strip_removes_from_a_single_line() -> None:
    blank = re.compile(openapi_text.BLANK)
    for character in CHARACTERS:
        kept = text.problem(character, text.DEFAULT) is None
        assert bool(blank.fullmatch(character)) == (kept and not character.strip()), (
            f"U+{ord(character):04X}"
        )


@pytest.fixture(scope="module")
def document(server: RunningServer) -> dict[str, Any]:
    return httpx.get(f"{server.url}/openapi.json").json()


def test_every_string_a_request_carries_is_held_to_its_text_rule(document: dict) -> None:
    unheld = []
    for where, schema in _request_schemas(document):
        for path, string in _strings(schema, where):
            if not ({"format", "enum", "const"} & set(string) or _bars_controls(string)):
                unheld.append(path)
    assert not unheld, unheld


def test_every_json_body_documents_the_size_limit(document: dict) -> None:
    missing = [
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
        and operation["responses"].get("413", {}).get("content", {}).get("application/json")
        != {"schema": {"$ref": "#/components/schemas/Error"}}
    ]
    assert not missing, missing


def _request_schemas(document: dict) -> Iterator[tuple[str, dict]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                yield f"{where} {parameter['name']}", parameter["schema"]
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                yield f"{where} body", content["application/json"]["schema"]
    yield "UnreadValue", document["components"]["schemas"][openapi_text.UNREAD_NAME]


def _strings(schema: object, where: str) -> Iterator[tuple[str, dict]]:
    """Every schema that admits strings, with where it is."""
    if not isinstance(schema, dict):
        return
    kinds = schema.get("type")
    if kinds == "string" or (isinstance(kinds, list) and "string" in kinds):
        yield where, schema
    for keyword in ("anyOf", "oneOf", "allOf"):
        for i, branch in enumerate(schema.get(keyword, [])):
            yield from _strings(branch, f"{where}/{keyword}[{i}]")
    for keyword in ("items", "additionalProperties", "propertyNames"):
        yield from _strings(schema.get(keyword), f"{where}/{keyword}")
    for name, field in schema.get("properties", {}).items():
        yield from _strings(field, f"{where}.{name}")


def _bars_controls(schema: dict) -> bool:
    bars = [schema.get("not", {})] + [b.get("not", {}) for b in schema.get("allOf", [])]
    return any(bar.get("pattern") in openapi_text.REFUSED.values() for bar in bars)
