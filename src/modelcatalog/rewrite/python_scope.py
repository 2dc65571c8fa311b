"""What a name holds at the point where it is read, from libcst's scope analysis.

libcst's `ScopeProvider` knows every assignment of a name in a scope but not their order.
This adds the order that matters for straight-line code: inside one function, the assignment
read is the last one before the read whose block encloses it (the ones in branches before it
are added, since either may have run). A name read from an enclosing scope (a module global in
a function) may hold any of its assignments there. Attributes of `self` are what the class's
methods assign to them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import libcst as cst
from libcst.metadata import (
    Assignment,
    ImportAssignment,
    MetadataWrapper,
    QualifiedNameSource,
    Scope,
    ScopeProvider,
)

_BLOCKS = (cst.IndentedBlock, cst.SimpleStatementSuite)


@dataclass(frozen=True)
class Origin:
    """One thing a name may hold where it is read."""

    #: The expression assigned, when the assignment has a single value (`x = <value>`).
    value: cst.BaseExpression | None = None
    #: The parameter the name is, when it is one.
    param: cst.Param | None = None
    #: The dotted name imported, when the name comes from an import.
    imported: str | None = None
    #: The name node written by the assignment (its references are the name's readers).
    target: cst.CSTNode | None = None
    #: The libcst assignment, for its references.
    assignment: Assignment | None = None


class Bindings:
    """Scope facts about one module, computed once on first use."""

    def __init__(
        self,
        module: cst.Module,
        parents: dict[cst.CSTNode, cst.CSTNode],
    ) -> None:
        self.module = module
        self.parents = parents

        self._partial: dict[cst.CSTNode | None, dict[cst.CSTNode, Scope | None]] = {}

    @cached_property
    def order(self) -> dict[cst.CSTNode, int]:
        """Every node's place in source order (pre-order), counted when first needed."""
        counter = _Order()
        self.module.visit(counter)
        return counter.order

    @cached_property
    def _all_scopes(self) -> dict[cst.CSTNode, Scope | None]:
        """Scopes of the whole module: needed to know every reader of a name."""
        wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
        return dict(wrapper.resolve(ScopeProvider))

    def _scope_of(self, node: cst.CSTNode) -> Scope | None:
        """The scope of a node, from an analysis of its own top-level function or class with
        the module's other functions and classes reduced to their names (what a name holds at
        one point depends on nothing in them; the analysis costs as much as what it reads)."""
        top = self._top_level(node)
        key = top if isinstance(top, cst.FunctionDef | cst.ClassDef) else None
        scopes = self._partial.get(key)
        if scopes is None:
            body = [
                _stub(s) if s is not top and isinstance(s, cst.FunctionDef | cst.ClassDef) else s
                for s in self.module.body
            ]
            reduced = self.module.with_changes(body=body)
            scopes = dict(MetadataWrapper(reduced, unsafe_skip_copy=True).resolve(ScopeProvider))
            self._partial[key] = scopes
        return scopes.get(node)

    def _top_level(self, node: cst.CSTNode) -> cst.CSTNode:
        while (parent := self.parents.get(node)) is not None and parent is not self.module:
            node = parent
        return node

    def imported_name(self, node: cst.BaseExpression) -> str | None:
        """The dotted import a name or attribute chain refers to (`mlflow.MlflowClient`), as
        libcst's `QualifiedNameProvider` computes it (asked of the scope directly: the
        provider would compute it for every node of the module)."""
        scope = self._scope_of(node)
        if scope is None:
            return None
        imported = {
            q.name
            for q in scope.get_qualified_names_for(node)
            if q.source is QualifiedNameSource.IMPORT
        }
        return imported.pop() if len(imported) == 1 else None

    def origins(self, name: cst.Name) -> list[Origin] | None:
        """What `name` may hold where it is read; None if something unknown may reach it
        (a builtin, a global of another module, a deleted or unbound name)."""
        scope = self._scope_of(name)
        if scope is None:
            return None
        referents: set[object] = set()
        for access in scope.accesses[name]:
            if access.node is name:
                referents |= set(access.referents)
        assignments = [a for a in referents if isinstance(a, Assignment)]
        if not assignments or len(assignments) != len(referents):
            return None
        local = [a for a in assignments if a.scope is scope]
        if local and len(local) == len(assignments):
            assignments = self._reaching(name, local)
        found = [origin for a in assignments if (origin := self._origin(a)) is not None]
        return found if len(found) == len(assignments) else None

    def _reaching(self, name: cst.Name, assignments: list[Assignment]) -> list[Assignment]:
        """The assignments in the reader's own scope that can reach it."""
        at = self.order.get(name, 0)
        before = sorted(
            (a for a in assignments if self.order.get(a.node, at) < at),
            key=lambda a: self.order.get(a.node, 0),
            reverse=True,
        )
        reader_blocks = set(self._blocks(name))
        reaching = []
        for assignment in before:
            reaching.append(assignment)
            if next(self._blocks(assignment.node), None) in reader_blocks:
                return reaching  # runs on every path to the reader: earlier ones are overwritten
        return assignments  # may be unbound or come from a later loop iteration: any of them

    def _blocks(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        """The blocks that hold `node`, innermost first (the module counts as one)."""
        current: cst.CSTNode | None = node
        while current is not None:
            if isinstance(current, (*_BLOCKS, cst.Module)):
                yield current
            current = self.parents.get(current)

    def _origin(self, assignment: Assignment) -> Origin | None:
        node = assignment.node
        if isinstance(assignment, ImportAssignment):
            return Origin(imported=self._import_of(assignment), assignment=assignment)
        if isinstance(node, cst.Param):
            return Origin(param=node, target=node.name, assignment=assignment)
        parent = self.parents.get(node)
        value: cst.BaseExpression | None = None
        if isinstance(parent, cst.AssignTarget):
            statement = self.parents.get(parent)
            if isinstance(statement, cst.Assign):
                value = statement.value
        elif isinstance(parent, cst.AnnAssign | cst.NamedExpr) and parent.target is node:
            value = parent.value
        elif isinstance(node, cst.FunctionDef | cst.ClassDef):
            return Origin(target=node, assignment=assignment)
        return Origin(value=value, target=node, assignment=assignment)

    def _import_of(self, assignment: ImportAssignment) -> str | None:
        names = assignment.get_qualified_names_for(assignment.name)
        found = {q.name for q in names}
        return found.pop() if len(found) == 1 else None

    def readers(self, origin: Origin) -> Sequence[cst.CSTNode] | None:
        """Every node in the module that reads the name an assignment wrote (None if
        unknown)."""
        if origin.assignment is None:
            return None
        written = origin.assignment.node
        scope = self._all_scopes.get(written)
        if scope is None:
            return None
        for assignment in scope.assignments[origin.assignment.name]:
            if isinstance(assignment, Assignment) and assignment.node is written:
                return [access.node for access in assignment.references]
        return None

    @cached_property
    def _self_attributes(self) -> dict[tuple[cst.ClassDef, str], list[cst.BaseExpression | None]]:
        """`self.<attr> = value` in every method of every class, by class and attribute."""
        found: defaultdict[tuple[cst.ClassDef, str], list[cst.BaseExpression | None]]
        found = defaultdict(list)
        collector = _SelfAttributes(self, found)
        self.module.visit(collector)
        return dict(found)

    def self_attribute(self, node: cst.Attribute) -> list[cst.BaseExpression | None] | None:
        """The values assigned to `self.<attr>` in its class, if `node` reads one."""
        if not isinstance(node.value, cst.Name):
            return None
        method = self.enclosing_method(node)
        if method is None or node.value.value != _first_param(method[0]):
            return None
        return self._self_attributes.get((method[1], node.attr.value))

    def enclosing_method(self, node: cst.CSTNode) -> tuple[cst.FunctionDef, cst.ClassDef] | None:
        """The method holding `node` and its class (the nearest function, if in a class)."""
        current = self.parents.get(node)
        while current is not None and not isinstance(current, cst.FunctionDef):
            current = self.parents.get(current)
        if current is None:
            return None
        owner = self.parents.get(self.parents.get(current) or current)
        return (current, owner) if isinstance(owner, cst.ClassDef) else None


def _stub(definition: cst.FunctionDef | cst.ClassDef) -> cst.FunctionDef | cst.ClassDef:
    """A function or class with its body reduced to `pass` (it still binds its name)."""
    body = cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Pass()])])
    return definition.with_changes(body=body)


def _first_param(function: cst.FunctionDef) -> str | None:
    params = function.params.posonly_params or function.params.params
    return params[0].name.value if params else None


class _Order(cst.CSTVisitor):
    def __init__(self) -> None:
        self.order: dict[cst.CSTNode, int] = {}

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.order[node] = len(self.order)
        return True


class _SelfAttributes(cst.CSTVisitor):
    def __init__(
        self,
        bindings: Bindings,
        found: defaultdict[tuple[cst.ClassDef, str], list[cst.BaseExpression | None]],
    ) -> None:
        self.bindings = bindings
        self.found = found

    def _record(self, target: cst.BaseExpression, value: cst.BaseExpression | None) -> None:
        if isinstance(target, cst.Tuple | cst.List):
            for element in target.elements:
                self._record(element.value, None)
            return
        if not isinstance(target, cst.Attribute) or not isinstance(target.value, cst.Name):
            return
        method = self.bindings.enclosing_method(target)
        if method is not None and target.value.value == _first_param(method[0]):
            self.found[(method[1], target.attr.value)].append(value)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._record(target.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._record(node.target, node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._record(node.target, None)
