"""The privilege model: what can be granted where, what each action needs, and how a stage-based
registry's permission levels translate.

This module is the table DESIGN.md describes; each service operation declares which of its
actions it needs (`service/operations.py`), and `service/access.py` enforces it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from modelcatalog.errors import InvalidParameter


class Privilege(StrEnum):
    """Privileges, spelled as the Unity Catalog REST dialect spells them (with spaces)."""

    CREATE_CATALOG = "CREATE CATALOG"
    USE_CATALOG = "USE CATALOG"
    CREATE_SCHEMA = "CREATE SCHEMA"
    USE_SCHEMA = "USE SCHEMA"
    CREATE_MODEL = "CREATE MODEL"
    EXECUTE = "EXECUTE"
    CREATE_MODEL_VERSION = "CREATE MODEL VERSION"
    APPLY_TAG = "APPLY TAG"
    MANAGE = "MANAGE"
    ALL_PRIVILEGES = "ALL PRIVILEGES"


P = Privilege

#: Securable types from the top of the hierarchy down.
METASTORE, CATALOG, SCHEMA, MODEL = "metastore", "catalog", "schema", "registered_model"
SECURABLE_TYPES = (METASTORE, CATALOG, SCHEMA, MODEL)
METASTORE_ID = "metastore"

_MODEL_LEVEL = (P.EXECUTE, P.CREATE_MODEL_VERSION, P.APPLY_TAG, P.MANAGE)
#: What may be granted on each securable type. A grant on a container also covers the
#: privileges of the same name on its children, present and future.
GRANTABLE: Mapping[str, tuple[Privilege, ...]] = MappingProxyType(
    {
        METASTORE: (P.CREATE_CATALOG,),
        CATALOG: (P.USE_CATALOG, P.CREATE_SCHEMA, P.USE_SCHEMA, P.CREATE_MODEL, *_MODEL_LEVEL),
        SCHEMA: (P.USE_SCHEMA, P.CREATE_MODEL, *_MODEL_LEVEL),
        MODEL: _MODEL_LEVEL,
    }
)


@dataclass(frozen=True)
class Rule:
    """What an action needs: a privilege on the securable it acts on (None: owner or MANAGE only).

    Owners and MANAGE holders of the securable or of a container above it pass every rule; a
    metastore admin passes everything. Every action below a catalog (or schema) also needs
    USE CATALOG (and USE SCHEMA) on the parents, or their ownership."""

    on: str
    privilege: Privilege | None
    summary: str


#: The action table of DESIGN.md, one row per kind of operation.
ACTIONS: Mapping[str, Rule] = MappingProxyType(
    {
        "create_catalog": Rule(METASTORE, P.CREATE_CATALOG, "create a catalog"),
        "read_catalog": Rule(CATALOG, P.USE_CATALOG, "read a catalog"),
        "create_schema": Rule(CATALOG, P.CREATE_SCHEMA, "create a schema"),
        "tag_catalog": Rule(CATALOG, P.APPLY_TAG, "set or delete a catalog's tags"),
        "manage_catalog": Rule(CATALOG, None, "edit, delete or change grants of a catalog"),
        "read_schema": Rule(SCHEMA, P.USE_SCHEMA, "read a schema"),
        "create_model": Rule(SCHEMA, P.CREATE_MODEL, "create a model"),
        "tag_schema": Rule(SCHEMA, P.APPLY_TAG, "set or delete a schema's tags"),
        "manage_schema": Rule(SCHEMA, None, "edit, delete or change grants of a schema"),
        "read_model": Rule(
            MODEL,
            P.EXECUTE,
            "read model or version metadata, resolve an alias, download artifacts",
        ),
        "create_version": Rule(MODEL, P.CREATE_MODEL_VERSION, "create a version"),
        "tag_model": Rule(MODEL, P.APPLY_TAG, "set or delete a tag"),
        "manage_model": Rule(
            MODEL,
            None,
            "set or delete an alias, edit a description, rename, delete, change grants, "
            "link a deployment job",
        ),
    }
)

#: Privileges that let a principal see an object exists (beyond ownership).
VISIBLE_WITH: Mapping[str, frozenset[Privilege]] = MappingProxyType(
    {
        CATALOG: frozenset(GRANTABLE[CATALOG]),
        SCHEMA: frozenset(GRANTABLE[SCHEMA]),
        MODEL: frozenset(GRANTABLE[MODEL]),
    }
)


def expand(privileges: Iterable[Privilege], securable_type: str) -> frozenset[Privilege]:
    """Privileges with ALL PRIVILEGES spelled out (it never includes MANAGE, as in Unity
    Catalog: the right to manage others' access is granted on its own)."""
    found = set(privileges)
    if P.ALL_PRIVILEGES in found:
        found.discard(P.ALL_PRIVILEGES)
        found.update(p for p in GRANTABLE[securable_type] if p is not P.MANAGE)
    return frozenset(found)


def parse_privilege(value: object, securable_type: str, field: str = "privileges") -> Privilege:
    """A privilege named on the wire (`USE CATALOG` or `USE_CATALOG`, any case)."""
    text = value.strip().upper().replace("_", " ") if isinstance(value, str) else None
    allowed = (*GRANTABLE[securable_type], P.ALL_PRIVILEGES)
    for privilege in allowed:
        if privilege.value == text:
            return privilege
    names = ", ".join(p.value for p in allowed)
    raise InvalidParameter(
        f"'{field}' has {value!r}, which cannot be granted on a {securable_type}; "
        f"allowed: {names}.",
        field,
    )


@dataclass(frozen=True)
class MappedPermission:
    """What a source registry's permission level becomes in the catalog."""

    level: str
    #: Privileges on the registered model itself.
    privileges: tuple[Privilege, ...]
    #: Privileges on the model's parents, so the grantee can reach it.
    parent_privileges: tuple[Privilege, ...]
    #: Whether the grantee may approve in the model's deployment job.
    approver: bool


_PARENTS = (P.USE_CATALOG, P.USE_SCHEMA)
_LEVELS: Mapping[str, tuple[tuple[Privilege, ...], bool]] = MappingProxyType(
    {
        "CAN_READ": ((P.EXECUTE,), False),
        "CAN_EDIT": ((P.EXECUTE, P.CREATE_MODEL_VERSION, P.APPLY_TAG), False),
        "CAN_MANAGE_STAGING_VERSIONS": ((P.EXECUTE, P.APPLY_TAG), True),
        "CAN_MANAGE_PRODUCTION_VERSIONS": ((P.EXECUTE, P.APPLY_TAG), True),
        "CAN_MANAGE": ((P.MANAGE,), True),
    }
)
# MLflow's own auth app names its levels differently; they land on the same rows.
_ALIASES = MappingProxyType(
    {"READ": "CAN_READ", "USE": "CAN_READ", "EDIT": "CAN_EDIT", "MANAGE": "CAN_MANAGE"}
)
#: Source levels that grant nothing (the grantee simply gets no grant).
NO_ACCESS_LEVELS = frozenset({"NO_PERMISSIONS", "DENY", "CAN_NO_ACCESS"})


def normalise_level(level: object) -> str | None:
    """A source's spelling of a permission level (any case; MLflow auth's READ/USE/EDIT/MANAGE
    or Databricks' `CAN_*`) as the permission map names it: a `CAN_*` level, a level of
    NO_ACCESS_LEVELS, or None if the level is not known."""
    key = level.strip().upper() if isinstance(level, str) else ""
    key = _ALIASES.get(key, key)
    return key if key in _LEVELS or key in NO_ACCESS_LEVELS else None


def permission_map(level: str) -> MappedPermission | None:
    """The catalog grants for one source permission level (Databricks `CAN_*` or MLflow auth
    `READ/USE/EDIT/MANAGE`); None for levels that grant nothing.

    Can Read → EXECUTE; Can Edit → CREATE MODEL VERSION + APPLY TAG; Can Manage Staging /
    Production Versions → APPLY TAG + approval in the deployment job; Can Manage → MANAGE.
    Every grantee also gets USE CATALOG and USE SCHEMA, and each level keeps EXECUTE so the
    grantee can still read the model it could read before."""
    key = normalise_level(level)
    if key is None:
        known = ", ".join([*_LEVELS, *_ALIASES, *sorted(NO_ACCESS_LEVELS)])
        raise InvalidParameter(
            f"Permission level {level!r} is not known; expected one of {known}.", "level"
        )
    if key in NO_ACCESS_LEVELS:
        return None
    privileges, approver = _LEVELS[key]
    return MappedPermission(key, privileges, _PARENTS, approver)
