"""YAML and JSON documents with the position of every value, so fixes edit text in place.

A fix replaces the characters of one scalar and nothing else, so key order, comments,
anchors and indentation stay as they were.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Literal

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"


class ConfigSyntaxError(ValueError):
    """The document is not valid YAML or JSON."""


@dataclass
class Scalar:
    """A scalar value; `inner` is where its characters start if they can be edited in place."""

    value: str
    start: int
    end: int
    is_string: bool
    inner: int | None = None


@dataclass
class Mapping:
    start: int
    entries: list[tuple[Scalar, Node]] = field(default_factory=list)

    def get(self, key: str) -> Node | None:
        for k, v in self.entries:
            if k.value == key:
                return v
        return None


@dataclass
class Sequence:
    start: int
    items: list[Node] = field(default_factory=list)


Node = Scalar | Mapping | Sequence


@dataclass
class ConfigDocument:
    """One YAML (possibly several documents) or JSON file."""

    text: str
    kind: Literal["yaml", "json"]
    roots: list[Node]

    @classmethod
    def parse(cls, text: str, kind: Literal["yaml", "json"]) -> ConfigDocument:
        """Parse `text`; raises `ConfigSyntaxError`."""
        if kind == "json":
            return cls(text, kind, [_JsonParser(text).document()])
        try:
            roots = [_from_yaml(n, text) for n in yaml.compose_all(text, Loader=_Loader)]
        except yaml.YAMLError as exc:
            raise ConfigSyntaxError(str(exc).replace("\n", " ")) from exc
        return cls(text, kind, [r for r in roots if r is not None])

    def nodes(self) -> Iterator[Node]:
        """Every node, depth first."""
        stack: list[Node] = list(reversed(self.roots))
        while stack:
            node = stack.pop()
            yield node
            if isinstance(node, Mapping):
                stack.extend(reversed([v for _, v in node.entries]))
            elif isinstance(node, Sequence):
                stack.extend(reversed(node.items))

    def strings(self) -> Iterator[Scalar]:
        """Every string value (not keys)."""
        for node in self.nodes():
            if isinstance(node, Scalar) and node.is_string:
                yield node

    def edit(self, scalar: Scalar, start: int, end: int, text: str) -> tuple[int, int, str] | None:
        """A text edit replacing `value[start:end]` of a scalar, or None if not editable."""
        if scalar.inner is None:
            return None
        return scalar.inner + start, scalar.inner + end, text


def _from_yaml(node: yaml.Node | None, text: str) -> Node | None:
    if node is None:
        return None
    start = node.start_mark.index
    if isinstance(node, yaml.MappingNode):
        mapping = Mapping(start)
        for key, value in node.value:
            k, v = _from_yaml(key, text), _from_yaml(value, text)
            if isinstance(k, Scalar) and v is not None:
                mapping.entries.append((k, v))
        return mapping
    if isinstance(node, yaml.SequenceNode):
        items = [_from_yaml(item, text) for item in node.value]
        return Sequence(start, [i for i in items if i is not None])
    end = node.end_mark.index
    raw = text[start:end]
    inner: int | None = None
    if node.style in (None, "") and raw == node.value:
        inner = start
    elif node.style in ("'", '"') and raw[1:-1] == node.value and "\\" not in raw:
        inner = start + 1
    return Scalar(node.value, start, end, node.tag == _STR_TAG, inner)


_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_WS = re.compile(r"[ \t\r\n]*")


class _JsonParser:
    """A JSON parser that remembers where each value is (the standard one does not)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def document(self) -> Node:
        node = self.value()
        self.skip()
        if self.at != len(self.text):
            self.fail("extra data after the document")
        return node

    def fail(self, problem: str) -> None:
        line = self.text.count("\n", 0, self.at) + 1
        column = self.at - (self.text.rfind("\n", 0, self.at) + 1) + 1
        raise ConfigSyntaxError(f"invalid JSON: {problem} at line {line} column {column}")

    def skip(self) -> None:
        self.at = _WS.match(self.text, self.at).end()  # type: ignore[union-attr]

    def value(self) -> Node:
        self.skip()
        start = self.at
        char = self.text[start : start + 1]
        if char == "{":
            return self.mapping()
        if char == "[":
            return self.sequence()
        if char == '"':
            return self.string()
        for literal in ("true", "false", "null"):
            if self.text.startswith(literal, start):
                self.at += len(literal)
                return Scalar(literal, start, self.at, False)
        match = _NUMBER.match(self.text, start)
        if not match or match.end() == start:
            self.fail("expected a value")
            raise AssertionError  # unreachable: fail raises
        self.at = match.end()
        return Scalar(match.group(), start, self.at, False)

    def string(self) -> Scalar:
        start = self.at
        try:
            value, self.at = scanstring(self.text, start + 1)
        except json.JSONDecodeError as exc:
            self.fail(exc.msg)
            raise
        raw = self.text[start + 1 : self.at - 1]
        return Scalar(value, start, self.at, True, start + 1 if raw == value else None)

    def mapping(self) -> Mapping:
        mapping = Mapping(self.at)
        self.at += 1
        self.skip()
        if self.text.startswith("}", self.at):
            self.at += 1
            return mapping
        while True:
            self.skip()
            if not self.text.startswith('"', self.at):
                self.fail("expected a string key")
            key = self.string()
            self.skip()
            if not self.text.startswith(":", self.at):
                self.fail("expected ':'")
            self.at += 1
            mapping.entries.append((key, self.value()))
            self.skip()
            if self.text.startswith(",", self.at):
                self.at += 1
            elif self.text.startswith("}", self.at):
                self.at += 1
                return mapping
            else:
                self.fail("expected ',' or '}'")

    def sequence(self) -> Sequence:
        sequence = Sequence(self.at)
        self.at += 1
        self.skip()
        if self.text.startswith("]", self.at):
            self.at += 1
            return sequence
        while True:
            sequence.items.append(self.value())
            self.skip()
            if self.text.startswith(",", self.at):
                self.at += 1
            elif self.text.startswith("]", self.at):
                self.at += 1
                return sequence
            else:
                self.fail("expected ',' or ']'")
