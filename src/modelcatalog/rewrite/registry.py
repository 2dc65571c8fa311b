"""Where rules register themselves, in pyupgrade's manner: each rule module adds its checks here.

Three kinds of check exist, by what they look at:
- string checks see the text of a string (a Python literal, f-string or concatenation, or a
  YAML/JSON scalar) with computed parts marked, and propose edits of that text;
- Python checks see one libcst node of a given type and propose node replacements;
- config checks see a whole YAML or JSON document.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import libcst as cst

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite import rules
from modelcatalog.rewrite.finding import Rule

if TYPE_CHECKING:
    from modelcatalog.rewrite.config_document import ConfigDocument
    from modelcatalog.rewrite.python_context import PythonContext


@dataclass(frozen=True)
class Edit:
    """Replace `text[start:end]` of a string's value."""

    start: int
    end: int
    replacement: str


@dataclass(frozen=True)
class StringMatch:
    """A string check's verdict: what is wrong and the edits that fix it (none if unsafe)."""

    rule: Rule
    message: str
    edits: tuple[Edit, ...] = ()


Replacement = cst.CSTNode | cst.FlattenSentinel[Any] | cst.RemovalSentinel


@dataclass(frozen=True)
class PythonMatch:
    """A Python check's verdict: the node to report and the node replacements that fix it."""

    rule: Rule
    node: cst.CSTNode
    message: str
    replacements: Mapping[cst.CSTNode, Replacement] | None = None
    #: Module-level functions the replacements call (`python_added.ADDED_FUNCTIONS`), added once.
    adds: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConfigMatch:
    """A config check's verdict: a character offset to report and string edits that fix it."""

    rule: Rule
    offset: int
    message: str
    #: (start offset, end offset, new value) of scalars to replace in the document's text.
    scalar_edits: tuple[tuple[int, int, str], ...] = ()


StringCheck = Callable[[str, ModelMap], StringMatch | None]
NodeT = TypeVar("NodeT", bound=cst.CSTNode)
PythonCheck = Callable[[Any, "PythonContext"], Iterable[PythonMatch]]
ConfigCheck = Callable[["ConfigDocument", ModelMap], Iterable[ConfigMatch]]

RULES: dict[str, Rule] = {}
STRING_CHECKS: list[StringCheck] = []
PYTHON_CHECKS: defaultdict[type[cst.CSTNode], list[PythonCheck]] = defaultdict(list)
CONFIG_CHECKS: list[ConfigCheck] = []


def rule(code: str, name: str, severity: Any, summary: str) -> Rule:
    """Declare a rule (once per code)."""
    declared = Rule(code=code, name=name, severity=severity, summary=summary)
    RULES[code] = declared
    return declared


def string_check(func: StringCheck) -> StringCheck:
    """Register a check run on every string's text."""
    STRING_CHECKS.append(func)
    return func


def python_check(
    node_type: type[NodeT],
) -> Callable[[Callable[[NodeT, PythonContext], Iterable[PythonMatch]]], PythonCheck]:
    """Register a check run on every libcst node of `node_type`."""

    def register(
        func: Callable[[NodeT, PythonContext], Iterable[PythonMatch]],
    ) -> PythonCheck:
        PYTHON_CHECKS[node_type].append(func)
        return func

    return register


def config_check(func: ConfigCheck) -> ConfigCheck:
    """Register a check run on every YAML or JSON document."""
    CONFIG_CHECKS.append(func)
    return func


_loaded = False


def load_rules() -> Mapping[str, Rule]:
    """Import every rule module once, so that each registers its checks."""
    global _loaded
    if not _loaded:
        for info in sorted(pkgutil.iter_modules(rules.__path__), key=lambda i: i.name):
            importlib.import_module(f"{rules.__name__}.{info.name}")
        _loaded = True
    return RULES
