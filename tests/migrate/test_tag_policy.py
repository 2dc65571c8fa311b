"""Tag keys the catalog refuses are renamed by the stated rule; beyond 50 tags, overflow."""

from __future__ import annotations

import json

import pytest

from modelcatalog.migrate.tag_policy import OVERFLOW_HEADING, apply_tag_policy, fixed_key


@pytest.mark.parametrize(
    ("key", "fixed"),
    [
        pytest.param("mlflow.note", "mlflow_note", id="dot"),
        pytest.param("team-owner", "team_owner", id="hyphen"),
        pytest.param("x/y:z", "x_y_z", id="slash-colon"),
        pytest.param("a=b,c", "a_b_c", id="equals-comma"),
        pytest.param("k" * 300, "k" * 255, id="long"),
        pytest.param("ok_key", "ok_key", id="unchanged"),
        pytest.param("with space", "with space", id="space-allowed"),
    ],
)
def test_fixed_key(key: str, fixed: str) -> None:
    assert fixed_key(key)[0] == fixed
    assert bool(fixed_key(key)[1]) == (key != fixed)


def test_every_rename_is_recorded_and_collisions_get_a_suffix() -> None:
    outcome = apply_tag_policy(
        {"a.b": "1", "a_b": "2", "a-b": "3", "fine": "4"},
        reserved={"migrated_stage": "Production"},
        overflow="tag",
        overflow_tag="migrated_tags",
    )
    assert outcome.tags == {
        "a_b": "2",  # already valid: keeps its name
        "a_b_2": "3",  # renamed ones take suffixes in the order of their original keys
        "a_b_3": "1",
        "fine": "4",
        "migrated_stage": "Production",
    }
    renames = {(r.original, r.renamed) for r in outcome.renames}
    assert renames == {("a-b", "a_b_2"), ("a.b", "a_b_3")}
    assert all("'_'" in r.reason and "taken" in r.reason for r in outcome.renames)


def test_reserved_keys_are_never_taken_by_source_tags() -> None:
    outcome = apply_tag_policy(
        {"migrated_stage": "mine"},
        reserved={"migrated_stage": "Staging"},
        overflow="tag",
        overflow_tag="migrated_tags",
    )
    assert outcome.tags == {"migrated_stage": "Staging", "migrated_stage_2": "mine"}


def test_beyond_fifty_tags_overflow_into_one_json_tag() -> None:
    tags = {f"k{i:02d}": f"v{i}" for i in range(60)}
    outcome = apply_tag_policy(
        tags, reserved={"migrated_stage": "None"}, overflow="tag", overflow_tag="migrated_tags"
    )
    assert len(outcome.tags) == 50
    spilled = json.loads(outcome.tags["migrated_tags"])
    kept = {k: v for k, v in outcome.tags.items() if k not in ("migrated_tags", "migrated_stage")}
    assert {**kept, **spilled} == tags  # nothing dropped
    assert not outcome.description_section


def test_overflow_into_the_description_when_configured() -> None:
    tags = {f"k{i:02d}": f"v{i}" for i in range(55)}
    outcome = apply_tag_policy(tags, reserved={}, overflow="description", overflow_tag="t")
    assert len(outcome.tags) == 50 and "t" not in outcome.tags
    assert outcome.description_section.startswith(OVERFLOW_HEADING)
    body = outcome.description_section.split("```json\n")[1].split("\n```")[0]
    assert {**outcome.tags, **json.loads(body)} == tags


def test_overflow_too_long_for_a_tag_goes_to_the_description_with_a_note() -> None:
    tags = {f"key_{i:02d}": "x" * 900 for i in range(52)}
    tags["huge"] = "y" * 1500  # over the 1000-character value limit on its own
    outcome = apply_tag_policy(tags, reserved={}, overflow="tag", overflow_tag="t")
    assert "t" not in outcome.tags
    assert "huge" not in outcome.tags
    assert '"huge"' in outcome.description_section
    assert any("do not fit" in n for n in outcome.notes)
