"""Reading a YAML document field by field, so every mistake names its field and what is allowed."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any, TypeVar

from modelcatalog.migrate.mapping import MappingError

T = TypeVar("T")


class Fields:
    """One mapping of a YAML document, with the dotted path that leads to it.

    Its readers are named after the types they return (`str`, `int`, `bool`), so the
    annotations below them spell those types `builtins.str` and so on."""

    def __init__(self, source: str, where: str, doc: object) -> None:
        if not isinstance(doc, dict):
            raise MappingError(source, where, "must be a mapping")
        self.source = source
        self.where = where
        self.doc: dict[str, Any] = doc

    def path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.where}[{key}]"
        return f"{self.where}.{key}" if self.where else key

    def error(self, key: str | int, problem: str, allowed: str = "") -> MappingError:
        return MappingError(self.source, self.path(key), problem, allowed)

    def only(self, *allowed: str) -> Fields:
        """Refuse any key not in `allowed` (a typo must not be ignored)."""
        for key in self.doc:
            if key not in allowed:
                raise self.error(
                    str(key), "is not a known field", f"allowed: {', '.join(sorted(allowed))}"
                )
        return self

    def has(self, key: str) -> bool:
        return key in self.doc

    def str(self, key: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self.doc.get(key, default)
        if value is None:
            if required:
                raise self.error(key, "is missing")
            return None
        if not isinstance(value, str):
            raise self.error(key, f"is {value!r}", "expected a string")
        return value

    def choice(
        self, key: builtins.str, choices: tuple[builtins.str, ...], default: builtins.str
    ) -> builtins.str:
        value = self.doc.get(key, default)
        if value not in choices:
            raise self.error(key, f"is {value!r}", f"allowed: {', '.join(choices)}")
        return value

    def int(self, key: builtins.str, *, minimum: builtins.int = 0) -> builtins.int:
        value = self.doc.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(key, f"is {value!r}", f"expected a whole number >= {minimum}")
        return value

    def bool(self, key: builtins.str, default: builtins.bool) -> builtins.bool:
        value = self.doc.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"is {value!r}", "expected true or false")
        return value

    def mapping(self, key: builtins.str) -> Fields:
        value = self.doc.get(key)
        return Fields(self.source, self.path(key), {} if value is None else value)

    def items(self, key: builtins.str) -> list[Fields]:
        value = self.doc.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(key, "must be a list")
        return [Fields(self.source, f"{self.path(key)}[{i}]", v) for i, v in enumerate(value)]

    def str_list(self, key: builtins.str) -> list[builtins.str]:
        value = self.doc.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, "must be a list of strings")
        return list(value)

    def str_map(
        self,
        key: builtins.str,
        check: Callable[[builtins.str, builtins.str], builtins.str | None] | None = None,
    ) -> dict:
        """A mapping of strings to strings; `check(key, value)` returns a problem or None."""
        value = self.doc.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(key, "must be a mapping of strings")
        result: dict[str, str] = {}
        for k, v in value.items():
            where = f"{self.path(key)}.{k}"
            if not isinstance(v, str | int | float) or isinstance(v, bool):
                raise MappingError(self.source, where, f"is {v!r}", "expected a string")
            problem = check(str(k), str(v)) if check else None
            if problem:
                raise MappingError(self.source, where, problem)
            result[str(k)] = str(v)
        return result
