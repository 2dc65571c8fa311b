"""What a Python check may ask about the module around a node.

Receivers are judged by how they were created or imported, never by their names: a
`get_latest_versions` on an object that is not provably an MLflow client is left alone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import libcst as cst

from modelcatalog.migrate.mapping import ModelMap

MLFLOW_CLIENT = frozenset(
    {
        "mlflow.MlflowClient",
        "mlflow.client.MlflowClient",
        "mlflow.tracking.MlflowClient",
        "mlflow.tracking.client.MlflowClient",
    }
)
WORKSPACE_CLIENT = frozenset({"databricks.sdk.WorkspaceClient"})

_CLIENT, _WORKSPACE, _REGISTRY, _OTHER = "client", "workspace", "registry", "other"


def expr_key(node: cst.BaseExpression) -> str | None:
    """A dotted key for a name or attribute chain (`client`, `self.client`), else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = expr_key(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


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


def _dotted(node: cst.BaseExpression | cst.ImportAlias) -> str:
    if isinstance(node, cst.ImportAlias):
        return _dotted(node.name)
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


class ModuleScan(cst.CSTVisitor):
    """One pass collecting imports, module constants, what every name is bound to, and the
    parent of every node (subclasses add their own collection to the same pass)."""

    def __init__(self) -> None:
        self.parents: dict[cst.CSTNode, cst.CSTNode] = {}
        self._stack: list[cst.CSTNode] = []
        self.imports: dict[str, str] = {}
        self.assigned: defaultdict[str, list[cst.BaseExpression | None]] = defaultdict(list)
        self.annotated: dict[str, cst.BaseExpression] = {}
        self.module_strings: dict[str, cst.BaseExpression] = {}
        self._depth = 0

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
            full = _dotted(alias)
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.imports[alias.asname.name.value] = full
            else:
                root = full.split(".")[0]
                self.imports[root] = root

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
            return
        module = _dotted(node.module)
        for alias in node.names:
            local = alias.asname.name if alias.asname is not None else alias.name
            if isinstance(local, cst.Name):
                self.imports[local.value] = f"{module}.{_dotted(alias)}"

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._depth += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._depth -= 1

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._depth += 1

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._depth -= 1

    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression | None) -> None:
        if isinstance(target, cst.Tuple | cst.List):
            for element in target.elements:
                self._bind(element.value, None)
            return
        key = expr_key(target)
        if key is not None:
            self.assigned[key].append(value)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind(target.target, node.value)
        if (
            self._depth == 0
            and len(node.targets) == 1
            and isinstance(node.targets[0].target, cst.Name)
        ):
            self.module_strings[node.targets[0].target.value] = node.value

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target, node.value)
        if isinstance(node.target, cst.Name):
            self.annotated[node.target.value] = node.annotation.annotation
            if self._depth == 0 and node.value is not None:
                self.module_strings[node.target.value] = node.value

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target, None)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target, None)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._bind(node.target, None)

    def visit_AsName(self, node: cst.AsName) -> None:
        if isinstance(node.name, cst.Name | cst.Tuple | cst.List):
            self._bind(node.name, None)

    def visit_Param(self, node: cst.Param) -> None:
        if node.annotation is not None:
            self.annotated[node.name.value] = node.annotation.annotation


@dataclass
class PythonContext:
    """Facts about one module, and the node tree's parent links, for the checks."""

    model_map: ModelMap
    imports: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    parents: dict[cst.CSTNode, cst.CSTNode] = field(default_factory=dict)

    @classmethod
    def build(cls, bindings: ModuleScan, model_map: ModelMap) -> PythonContext:
        """Turn a finished scan of a module into the facts the checks ask about."""
        ctx = cls(model_map=model_map, imports=bindings.imports, parents=bindings.parents)
        for name, value in bindings.module_strings.items():
            text = string_value(value)
            if text is not None and len(bindings.assigned.get(name, ())) == 1:
                ctx.constants[name] = text
        # Workspace clients first: a registry handle is `<workspace client>.model_registry`.
        for key, annotation in bindings.annotated.items():
            kind = ctx._kind_of_type(annotation)
            if kind != _OTHER and all(v is None for v in bindings.assigned.get(key, ())):
                ctx.kinds[key] = kind
        for _ in range(2):
            for key, values in bindings.assigned.items():
                kinds = {ctx._kind_of_value(v) for v in values if v is not None}
                if len(kinds) == 1 and (kind := kinds.pop()) != _OTHER:
                    ctx.kinds[key] = kind
        return ctx

    def qualified_name(self, node: cst.BaseExpression) -> str | None:
        """The imported, dotted name an expression refers to (`mlflow.sklearn.log_model`)."""
        if isinstance(node, cst.Name):
            return self.imports.get(node.value)
        if isinstance(node, cst.Attribute):
            base = self.qualified_name(node.value)
            return f"{base}.{node.attr.value}" if base else None
        return None

    def is_mlflow_client(self, node: cst.BaseExpression) -> bool:
        """True if `node` is provably an `MlflowClient`."""
        return self._kind_of_value(node) == _CLIENT

    def is_workspace_registry(self, node: cst.BaseExpression) -> bool:
        """True if `node` is provably `WorkspaceClient(...).model_registry`."""
        return self._kind_of_value(node) == _REGISTRY

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.parents.get(node)

    def mentions_mlflow(self) -> bool:
        """True if the module imports MLflow at all."""
        return any(q == "mlflow" or q.startswith("mlflow.") for q in self.imports.values())

    def _kind_of_type(self, annotation: cst.BaseExpression) -> str:
        qualified = self.qualified_name(annotation)
        if qualified in MLFLOW_CLIENT:
            return _CLIENT
        if qualified in WORKSPACE_CLIENT:
            return _WORKSPACE
        return _OTHER

    def _kind_of_value(self, node: cst.BaseExpression) -> str:
        if isinstance(node, cst.Call):
            return self._kind_of_type(node.func)
        if isinstance(node, cst.Attribute) and node.attr.value == "model_registry":
            if self._kind_of_value(node.value) == _WORKSPACE:
                return _REGISTRY
        key = expr_key(node)
        return self.kinds.get(key, _OTHER) if key else _OTHER
