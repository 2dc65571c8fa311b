"""What a Python check may ask about the module around a node.

Receivers are judged by what they hold at that point of that function, never by their names:
a parameter annotated `MlflowClient` is a client whatever else a name of that spelling holds
elsewhere; `self.client` is what the class's methods assign to it; a `get_latest_versions` on
an object that is not provably an MLflow client is left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.python_scope import Bindings, Origin

MLFLOW_CLIENT = frozenset(
    {
        "mlflow.MlflowClient",
        "mlflow.client.MlflowClient",
        "mlflow.tracking.MlflowClient",
        "mlflow.tracking.client.MlflowClient",
    }
)
WORKSPACE_CLIENT = frozenset({"databricks.sdk.WorkspaceClient"})
_CLIENT_TYPES = MLFLOW_CLIENT | WORKSPACE_CLIENT

_CLIENT, _WORKSPACE, _REGISTRY, _OTHER = "client", "workspace", "registry", "other"
#: How far a value is followed through names (`a = b`, `b = c`, ...).
_MAX_DEPTH = 6


def string_value(node: cst.BaseExpression) -> str | None:
    """The value of a plain (non-bytes, non-f) string literal or implicit concatenation."""
    if isinstance(node, cst.SimpleString):
        if "b" in node.prefix.lower():
            return None
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    if isinstance(node, cst.ConcatenatedString):
        left, right = string_value(node.left), string_value(node.right)
        return left + right if left is not None and right is not None else None
    return None


@dataclass(frozen=True)
class StringSource:
    """Where the string an expression holds comes from."""

    value: str
    #: The literal that holds it (the expression itself, or the one a name was assigned).
    literal: cst.BaseExpression
    #: The assignment it came through, when it came through a name.
    origin: Origin | None = None


class ModuleScan(cst.CSTVisitor):
    """One pass collecting the parent of every node and which modules are
    imported (subclasses add their own collection to the same pass)."""

    def __init__(self) -> None:
        self.parents: dict[cst.CSTNode, cst.CSTNode] = {}
        self._stack: list[cst.CSTNode] = []
        self.imported_roots: set[str] = set()
        #: Local name -> dotted name, of every import anywhere in the module (by name only: a
        #: cheap first test before the scope analysis confirms it).
        self.imports: dict[str, str] = {}

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self._stack:
            self.parents[node] = self._stack[-1]
        self._stack.append(node)
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        super().on_leave(original_node)
        self._stack.pop()

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            self.imported_roots.add(_root(alias.name))
            full = _dotted(alias.name)
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.imports[alias.asname.name.value] = full
            else:
                self.imports[full.split(".")[0]] = full.split(".")[0]

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None:
            return
        self.imported_roots.add(_root(node.module))
        if isinstance(node.names, cst.ImportStar):
            return
        module = _dotted(node.module)
        for alias in node.names:
            local = alias.asname.name if alias.asname is not None else alias.name
            if isinstance(local, cst.Name):
                self.imports[local.value] = f"{module}.{_dotted(alias.name)}"


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return node.value if isinstance(node, cst.Name) else ""


#: The only libraries whose names a check asks about; other names skip the scope analysis.
WATCHED_MODULES = frozenset({"mlflow", "databricks", "mlflow_provider", "os", "typing"})


def _root(node: cst.BaseExpression) -> str:
    while isinstance(node, cst.Attribute):
        node = node.value
    return node.value if isinstance(node, cst.Name) else ""


@dataclass
class PythonContext:
    """Facts about one module for the checks; scope analysis runs on the first question."""

    model_map: ModelMap
    bindings: Bindings
    imported_roots: set[str] = field(default_factory=set)
    imports: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, scan: ModuleScan, module: cst.Module, model_map: ModelMap) -> PythonContext:
        """The context of a module after its scan."""
        bindings = Bindings(module, scan.parents)
        return cls(model_map, bindings, scan.imported_roots, scan.imports)

    @property
    def parents(self) -> dict[cst.CSTNode, cst.CSTNode]:
        return self.bindings.parents

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.bindings.parents.get(node)

    def qualified_name(
        self, node: cst.BaseExpression, among: Callable[[str], bool] | None = None
    ) -> str | None:
        """The imported, dotted name an expression refers to (`mlflow.sklearn.log_model`), if
        it is one `among` accepts.

        Spelling first (cheap), then the scope analysis confirms it: a name of a watched
        library that is shadowed where it is read refers to something else. `among` keeps the
        scope analysis for the names a check is about."""
        by_name = self._by_name(node)
        if by_name is None or by_name.split(".")[0] not in WATCHED_MODULES:
            return None
        if among is not None and not among(by_name):
            return None
        return self.bindings.imported_name(node)

    def _by_name(self, node: cst.BaseExpression) -> str | None:
        if isinstance(node, cst.Name):
            return self.imports.get(node.value)
        if isinstance(node, cst.Attribute):
            base = self._by_name(node.value)
            return f"{base}.{node.attr.value}" if base else None
        return None

    def mentions_mlflow(self) -> bool:
        """True if the module imports MLflow at all."""
        return "mlflow" in self.imported_roots

    def is_mlflow_client(self, node: cst.BaseExpression) -> bool:
        """True if `node` is provably an `MlflowClient` where it is."""
        return self._kind_of_value(node, 0) == _CLIENT

    def is_workspace_registry(self, node: cst.BaseExpression) -> bool:
        """True if `node` is provably `WorkspaceClient(...).model_registry`."""
        return self._kind_of_value(node, 0) == _REGISTRY

    def string_source(self, node: cst.BaseExpression, depth: int = 0) -> StringSource | None:
        """The string `node` provably holds: a literal, or a name with one string assigned."""
        value = string_value(node)
        if value is not None:
            return StringSource(value, node)
        if not isinstance(node, cst.Name) or depth > _MAX_DEPTH:
            return None
        origins = self.bindings.origins(node)
        if not origins or len(origins) != 1 or origins[0].value is None:
            return None
        found = self.string_source(origins[0].value, depth + 1)
        if found is None:
            return None
        return StringSource(found.value, found.literal, found.origin or origins[0])

    def outside_source(self, node: cst.BaseExpression) -> str:
        """Where a value that is not written in this code comes from, in words."""
        if isinstance(node, cst.Name):
            origins = self.bindings.origins(node) or []
            if any(o.param is not None for o in origins):
                return f"the parameter {node.value!r}"
            values = [o.value for o in origins if o.value is not None]
            if len(values) == 1 and not isinstance(values[0], cst.Name):
                return f"{node.value!r}, set from {_describe(values[0])}"
            return f"the variable {node.value!r}"
        return _describe(node)

    def _kind_of_type(self, node: cst.BaseExpression | None) -> str:
        if node is None:
            return _OTHER
        if isinstance(node, cst.Subscript) and len(node.slice) == 1:  # Optional[X]
            inner = node.slice[0].slice
            optional = self.qualified_name(node.value, "typing.Optional".__eq__)
            if optional == "typing.Optional" and isinstance(inner, cst.Index):
                return self._kind_of_type(inner.value)
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
            sides = [node.left, node.right]  # X | None
            kinds = {self._kind_of_type(s) for s in sides if not _is_none(s)}
            return kinds.pop() if len(kinds) == 1 else _OTHER
        qualified = self.qualified_name(node, _CLIENT_TYPES.__contains__)
        if qualified in MLFLOW_CLIENT:
            return _CLIENT
        if qualified in WORKSPACE_CLIENT:
            return _WORKSPACE
        return _OTHER

    def _kind_of_value(self, node: cst.BaseExpression, depth: int) -> str:
        if depth > _MAX_DEPTH or not self.imported_roots:
            return _OTHER
        if isinstance(node, cst.Call):
            return self._kind_of_type(node.func)
        if isinstance(node, cst.BooleanOperation):  # `client or MlflowClient()`
            return _agree(self._kind_of_value(v, depth + 1) for v in (node.left, node.right))
        if isinstance(node, cst.IfExp):
            return _agree(self._kind_of_value(v, depth + 1) for v in (node.body, node.orelse))
        if isinstance(node, cst.Attribute):
            if node.attr.value == "model_registry":
                if self._kind_of_value(node.value, depth + 1) == _WORKSPACE:
                    return _REGISTRY
            values = self.bindings.self_attribute(node)
            if not values:
                return _OTHER
            return _agree(
                self._kind_of_value(v, depth + 1) if v is not None else _OTHER for v in values
            )
        if isinstance(node, cst.Name):
            origins = self.bindings.origins(node)
            if not origins:
                return _OTHER
            return _agree(self._kind_of_origin(o, depth) for o in origins)
        return _OTHER

    def _kind_of_origin(self, origin: Origin, depth: int) -> str:
        if origin.param is not None:
            annotation = origin.param.annotation
            return self._kind_of_type(annotation.annotation if annotation else None)
        if origin.value is not None:
            return self._kind_of_value(origin.value, depth + 1)
        return _OTHER


def _agree(kinds: object) -> str:
    found = set(kinds)  # type: ignore[call-overload]
    return found.pop() if len(found) == 1 else _OTHER


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def _describe(node: cst.BaseExpression) -> str:
    """A few words on an expression whose value comes from outside."""
    code = cst.Module(body=[]).code_for_node(node)
    if "environ" in code or "getenv" in code:
        return f"the environment ({code})"
    if isinstance(node, cst.Subscript):
        return f"configuration ({code})"
    if isinstance(node, cst.Call):
        return f"a call ({code})"
    return code
