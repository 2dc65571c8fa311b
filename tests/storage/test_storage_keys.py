"""Path confinement: tables of relative paths that must be accepted and that must be refused."""

from __future__ import annotations

import posixpath

import pytest

from modelcatalog.storage.keys import (
    MAX_PATH_LENGTH,
    InvalidPath,
    confine,
    confine_prefix,
    file_key,
    version_prefix,
)

MODEL = "0123456789abcdef0123456789abcdef"

ACCEPTED = [
    pytest.param("MLmodel", id="plain"),
    pytest.param("data/model.pkl", id="nested"),
    pytest.param("a/b/c/d/e/f.txt", id="deep"),
    pytest.param(".hidden", id="dotfile"),
    pytest.param("...", id="three-dots"),
    pytest.param("..a", id="dotdot-prefix"),
    pytest.param("a..", id="dotdot-suffix"),
    pytest.param("a/.../b", id="three-dots-segment"),
    pytest.param("%2e%2e", id="url-encoded-dotdot-is-a-literal-name"),
    pytest.param("%2e%2e/%2fetc", id="url-encoded-slash-is-a-literal-name"),
    pytest.param("..%2f..%2fetc", id="mixed-encoded-literal"),
    pytest.param("a b/c d.txt", id="spaces"),
    pytest.param("modèle/données.bin", id="non-ascii"),
    pytest.param("C:", id="drive-letter-is-a-name-on-posix"),
    pytest.param("~", id="tilde-is-not-expanded"),
    pytest.param("$HOME", id="dollar-is-not-expanded"),
    pytest.param("a" * 255, id="longest-segment"),
    pytest.param("/".join(["abcdefg"] * 128), id="exactly-1024-chars"),
    pytest.param("modelcatalog-tmp-x", id="reserved-name-without-dot"),
]

REJECTED = [
    pytest.param("", "empty", id="empty"),
    pytest.param("/", "absolute", id="root"),
    pytest.param("/etc/passwd", "absolute", id="absolute"),
    pytest.param("//server/share", "absolute", id="unc-like"),
    pytest.param("..", "'..' segment", id="dotdot"),
    pytest.param("../x", "'..' segment", id="leading-dotdot"),
    pytest.param("a/..", "'..' segment", id="trailing-dotdot"),
    pytest.param("a/../b", "'..' segment", id="inner-dotdot"),
    pytest.param("a/../../b", "'..' segment", id="escaping-dotdot"),
    pytest.param(".", "'.' segment", id="dot"),
    pytest.param("./a", "'.' segment", id="leading-dot"),
    pytest.param("a/./b", "'.' segment", id="inner-dot"),
    pytest.param("a/.", "'.' segment", id="trailing-dot"),
    pytest.param("a//b", "empty segment", id="double-slash"),
    pytest.param("a/", "ends with '/'", id="trailing-slash"),
    pytest.param("a\\b", "backslash", id="backslash"),
    pytest.param("..\\..\\x", "backslash", id="windows-dotdot"),
    pytest.param("C:\\x", "backslash", id="windows-absolute"),
    pytest.param("a\0b", "control character", id="nul"),
    pytest.param("a\nb", "control character", id="newline"),
    pytest.param("a\rb", "control character", id="carriage-return"),
    pytest.param("a\tb", "control character", id="tab"),
    pytest.param("a\x1bb", "control character", id="escape"),
    pytest.param("a\x7fb", "control character", id="delete"),
    pytest.param("a\x85b", "control character", id="c1-next-line"),
    pytest.param("a\ud800b", "surrogate", id="lone-surrogate"),
    pytest.param("x" * (MAX_PATH_LENGTH + 1), "1025 characters", id="too-long"),
    pytest.param("a" * 256, "255 bytes", id="segment-too-long"),
    pytest.param("é" * 128, "255 bytes", id="segment-too-long-in-utf8"),
    pytest.param(".modelcatalog-tmp-x", "reserved prefix", id="reserved-temp-name"),
    pytest.param("a/.modelcatalog-x/b", "reserved prefix", id="reserved-folder"),
]


@pytest.mark.parametrize("path", ACCEPTED)
def test_confine_accepts_canonical_relative_paths(path: str) -> None:
    assert confine(path) == path


@pytest.mark.parametrize("path", ACCEPTED)
def test_accepted_paths_stay_inside_the_version_folder(path: str) -> None:
    prefix = version_prefix(MODEL, 3)
    joined = posixpath.normpath(posixpath.join("/root", file_key(MODEL, 3, path)))
    assert joined.startswith(f"/root/{prefix}")


@pytest.mark.parametrize(("path", "reason"), REJECTED)
def test_confine_rejects_with_a_precise_message(path: str, reason: str) -> None:
    with pytest.raises(InvalidPath, match=reason):
        confine(path)


@pytest.mark.parametrize(("path", "reason"), REJECTED)
def test_file_key_rejects_what_confine_rejects(path: str, reason: str) -> None:
    with pytest.raises(InvalidPath, match=reason):
        file_key(MODEL, 1, path)


def test_invalid_path_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        confine("../x")


def test_confine_rejects_non_strings() -> None:
    with pytest.raises(InvalidPath, match="must be a string"):
        confine(b"a")  # type: ignore[arg-type]


def test_version_prefix_and_file_key() -> None:
    assert version_prefix(MODEL, 7) == f"{MODEL}/7/"
    assert file_key(MODEL, 7, "data/x") == f"{MODEL}/7/data/x"


@pytest.mark.parametrize(
    "model_id",
    ["", "../x", MODEL.upper(), MODEL[:-1], MODEL + "0", "0123456789abcdef0123456789abcdeg"],
)
def test_version_prefix_rejects_malformed_model_ids(model_id: str) -> None:
    with pytest.raises(InvalidPath, match="model id"):
        version_prefix(model_id, 1)


@pytest.mark.parametrize("version", [0, -1, True, "1", 1.0])
def test_version_prefix_rejects_non_positive_or_non_int_versions(version: object) -> None:
    with pytest.raises(InvalidPath, match="version"):
        version_prefix(MODEL, version)  # type: ignore[arg-type]


@pytest.mark.parametrize("prefix", [f"{MODEL}/1/", "a/", "a/b/"])
def test_confine_prefix_accepts_folders(prefix: str) -> None:
    assert confine_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["", "/", "a", f"{MODEL}/1", "../", "a//", "/a/", "a/../"])
def test_confine_prefix_rejects_non_folders(prefix: str) -> None:
    with pytest.raises(InvalidPath):
        confine_prefix(prefix)
