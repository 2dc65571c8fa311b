"""The migration's permission map (DESIGN.md), one function, checked level by level."""

from __future__ import annotations

import pytest

from modelcatalog.domain.privileges import (
    Privilege,
    expand,
    normalise_level,
    parse_privilege,
    permission_map,
)
from modelcatalog.errors import InvalidParameter

P = Privilege
PARENTS = (P.USE_CATALOG, P.USE_SCHEMA)


@pytest.mark.parametrize(
    ("level", "privileges", "approver"),
    [
        ("CAN_READ", {P.EXECUTE}, False),
        ("CAN_EDIT", {P.EXECUTE, P.CREATE_MODEL_VERSION, P.APPLY_TAG}, False),
        ("CAN_MANAGE_STAGING_VERSIONS", {P.EXECUTE, P.APPLY_TAG}, True),
        ("CAN_MANAGE_PRODUCTION_VERSIONS", {P.EXECUTE, P.APPLY_TAG}, True),
        ("CAN_MANAGE", {P.MANAGE}, True),
        # MLflow's auth app spells its levels differently; they land on the same rows.
        ("READ", {P.EXECUTE}, False),
        ("USE", {P.EXECUTE}, False),
        ("EDIT", {P.EXECUTE, P.CREATE_MODEL_VERSION, P.APPLY_TAG}, False),
        ("MANAGE", {P.MANAGE}, True),
        ("can_edit", {P.EXECUTE, P.CREATE_MODEL_VERSION, P.APPLY_TAG}, False),
    ],
)
def test_each_source_level_maps_to_its_grants(level: str, privileges: set, approver: bool) -> None:
    mapped = permission_map(level)
    assert mapped is not None
    assert set(mapped.privileges) == privileges
    assert mapped.parent_privileges == PARENTS
    assert mapped.approver is approver


@pytest.mark.parametrize("level", ["NO_PERMISSIONS", "DENY", "CAN_NO_ACCESS"])
def test_levels_that_grant_nothing_map_to_nothing(level: str) -> None:
    assert permission_map(level) is None


@pytest.mark.parametrize(
    ("spelling", "level"),
    [
        ("CAN_EDIT", "CAN_EDIT"),
        (" can_edit ", "CAN_EDIT"),
        ("USE", "CAN_READ"),
        ("manage", "CAN_MANAGE"),
        ("DENY", "DENY"),
        ("no_permissions", "NO_PERMISSIONS"),
        ("CAN_OWN", None),
        ("", None),
        (None, None),
    ],
)
def test_a_level_is_normalised_to_the_name_the_map_uses(spelling: object, level: str) -> None:
    assert normalise_level(spelling) == level


@pytest.mark.parametrize("level", ["CAN_OWN", "", "SUPERUSER"])
def test_an_unknown_level_is_refused_with_the_known_ones(level: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        permission_map(level)
    assert "CAN_MANAGE_PRODUCTION_VERSIONS" in refused.value.message


def test_all_privileges_never_includes_manage() -> None:
    assert P.MANAGE not in expand([P.ALL_PRIVILEGES], "registered_model")
    assert P.EXECUTE in expand([P.ALL_PRIVILEGES], "catalog")


@pytest.mark.parametrize("spelling", ["USE CATALOG", "USE_CATALOG", "use catalog", " use_catalog "])
def test_privileges_are_read_in_either_dialect_spelling(spelling: str) -> None:
    assert parse_privilege(spelling, "catalog") is P.USE_CATALOG


def test_a_privilege_that_does_not_apply_is_refused_with_what_does() -> None:
    with pytest.raises(InvalidParameter) as refused:
        parse_privilege("USE CATALOG", "registered_model")
    assert "EXECUTE" in refused.value.message and "registered_model" in refused.value.message
