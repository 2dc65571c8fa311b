"""Source permission levels read through the catalog's permission map into the extras' Level."""

from __future__ import annotations

import pytest

from modelcatalog.domain.privileges import NO_ACCESS_LEVELS, normalise_level
from modelcatalog.migrate.extras.levels import DENY, NO_ACCESS, granted_level
from modelcatalog.migrate.extras.model import Level


@pytest.mark.parametrize(
    ("spelling", "level"),
    [
        ("CAN_READ", Level.CAN_READ),
        ("CAN_EDIT", Level.CAN_EDIT),
        ("CAN_MANAGE_STAGING_VERSIONS", Level.CAN_MANAGE_STAGING_VERSIONS),
        ("CAN_MANAGE_PRODUCTION_VERSIONS", Level.CAN_MANAGE_PRODUCTION_VERSIONS),
        ("CAN_MANAGE", Level.CAN_MANAGE),
        ("READ", Level.CAN_READ),
        ("USE", Level.CAN_READ),
        ("EDIT", Level.CAN_EDIT),
        ("MANAGE", Level.CAN_MANAGE),
        (" manage ", Level.CAN_MANAGE),
    ],
)
def test_each_spelling_that_grants_something_gives_its_level(spelling: str, level: Level) -> None:
    assert granted_level(spelling) is level


@pytest.mark.parametrize(
    "spelling", ["NO_PERMISSIONS", "CAN_NO_ACCESS", "DENY", "deny", "CAN_OWN", "", None]
)
def test_levels_that_grant_nothing_or_are_unknown_give_no_level(spelling: str) -> None:
    assert granted_level(spelling) is None


def test_every_extras_level_is_a_level_of_the_permission_map() -> None:
    assert {normalise_level(level.value) for level in Level} == {level.value for level in Level}


def test_deny_is_kept_apart_from_the_levels_that_mean_no_grant() -> None:
    assert DENY in NO_ACCESS_LEVELS and DENY not in NO_ACCESS
    assert NO_ACCESS | {DENY} == NO_ACCESS_LEVELS
