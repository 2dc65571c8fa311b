"""Grants from source permissions, through the one permission map of DESIGN.md.

Each principal gets its level's privileges on the model, `USE CATALOG` and `USE SCHEMA` on the
model's parents, and (for the levels that could move versions between stages) a place among the
model's approvers. Source names that differ in the catalog are renamed by the principal map.
"""

from __future__ import annotations

from typing import Any

from modelcatalog.domain.privileges import permission_map
from modelcatalog.migrate.config import MigrationConfig
from modelcatalog.migrate.plan_model import Grant, Plan, Principal

_PARENT_SECURABLE = {"USE CATALOG": "catalog", "USE SCHEMA": "schema"}


def _value(privilege: Any) -> str:
    return str(getattr(privilege, "value", privilege))


def _permissions(plan: Plan, config: MigrationConfig, extras: Any) -> list[tuple[str, ...]]:
    """(source model, principal, kind, level) from the source's extras and the config."""
    found = []
    sources = {m.source for m in plan.models}
    for model, grants in sorted((getattr(extras, "permissions", None) or {}).items()):
        for g in grants:
            kind = _value(g.kind)
            found.append((model, g.principal, kind, _value(g.level)))
    for p in config.permissions:
        found.append((p.model, p.principal, p.kind, p.level))
    return [f for f in found if f[0] in sources]


def plan_grants(plan: Plan, config: MigrationConfig, extras: Any) -> None:
    """Fill the plan's grants, principals and approvers."""
    by_source = {m.source: m for m in plan.models}
    model_grants: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
    parents: dict[tuple[str, str, str], set[str]] = {}
    principals: dict[str, str] = {}
    for model_name, source_principal, kind, level in _permissions(plan, config, extras):
        model = by_source[model_name]
        mapped = permission_map(level)
        principal = config.principals.get(source_principal, source_principal)
        if mapped is None:
            model.notes.append(f"{source_principal}: level {level} grants nothing; no grant")
            continue
        principals.setdefault(principal, kind)
        privileges, levels = model_grants.setdefault((model.source, principal), (set(), set()))
        privileges.update(_value(p) for p in mapped.privileges)
        levels.add(mapped.level)
        catalog, schema, _ = model.target.split(".")
        for privilege in mapped.parent_privileges:
            text = _value(privilege)
            securable_type = _PARENT_SECURABLE[text]
            securable = catalog if securable_type == "catalog" else f"{catalog}.{schema}"
            parents.setdefault((principal, securable_type, securable), set()).add(text)
        if mapped.approver and principal not in model.approvers:
            model.approvers.append(principal)
    for (source, principal), (privileges, levels) in sorted(model_grants.items()):
        model = by_source[source]
        model.grants.append(
            Grant(
                principal,
                "registered_model",
                model.target,
                tuple(sorted(privileges)),
                ", ".join(sorted(levels)),
            )
        )
    for model in plan.models:
        model.grants.sort(key=lambda g: g.principal)
        model.approvers.sort()
    plan.grants = [
        Grant(principal, securable_type, securable, tuple(sorted(privileges)))
        for (principal, securable_type, securable), privileges in sorted(parents.items())
    ]
    plan.principals = [Principal(n, k) for n, k in sorted(principals.items())]
