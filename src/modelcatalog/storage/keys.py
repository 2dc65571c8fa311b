"""Path confinement: every storage key is built here, and nothing a client sends escapes it.

A key is ``"<model_id>/<version>/<relative path>"``. The relative path comes from a client, so
:func:`confine` accepts only one canonical spelling of it and rejects everything else instead of
"cleaning it up": ``a//b``, ``./a`` and ``a/`` are refused, not rewritten, so that a file has
exactly one key, a manifest path equals its key suffix byte for byte, and no normalisation rule
can be tricked into producing a different path than the one that was checked.

Nothing here decodes anything: ``%2e%2e`` is a file literally named ``%2e%2e``. Decoding URLs
belongs to the HTTP layer, which must hand over the decoded path.
"""

from __future__ import annotations

import re
import unicodedata

MAX_PATH_LENGTH = 1024
"""Longest relative path accepted, in characters."""

MAX_SEGMENT_BYTES = 255
"""Longest path segment, in UTF-8 bytes: the limit of common local file systems, applied to
every store so that a version stored in S3 can always be copied to a local folder."""

RESERVED_SEGMENT_PREFIX = ".modelcatalog-"
"""Segments starting with this belong to the stores themselves (temporary files during a write),
so a client may not use them: the store would hide or sweep such a file."""

_MODEL_ID = re.compile(r"[0-9a-f]{32}")
# Exactly the characters of Unicode categories Cc and Cs, and the backslash.
_REFUSED_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f\\\\\ud800-\udfff]")


class InvalidPath(ValueError):
    """A client-supplied path or a storage key that could leave its confinement."""


def confine(relative_path: str) -> str:
    """Return ``relative_path`` if it is a canonical, confined posix path, else raise InvalidPath.

    Accepted: one or more non-empty segments separated by single ``/``, at most
    :data:`MAX_PATH_LENGTH` characters, no segment ``.`` or ``..``, no backslash, no control
    character, no leading or trailing ``/``. The result is the input itself: rejection, never
    rewriting, keeps one key per file.
    """
    if not isinstance(relative_path, str):
        raise InvalidPath(f"path must be a string, not {type(relative_path).__name__}")
    if relative_path == "":
        raise InvalidPath("path is empty")
    if len(relative_path) > MAX_PATH_LENGTH:
        raise InvalidPath(
            f"path is {len(relative_path)} characters long, the limit is {MAX_PATH_LENGTH}"
        )
    # One scan for every refused character: Cc (NUL, C0, DEL and C1: none of them belongs in a
    # file name, and several of them, NUL and newline, truncate or split paths in logs, headers
    # and C APIs), the backslash (refused rather than taken as a literal: on Windows, and to
    # some tools, it is a separator, so "a\\..\\b" would mean different things to different
    # readers) and Cs (lone surrogates). A regular expression, not a loop per character: every
    # key of every request passes here.
    refused = _REFUSED_CHARACTER.search(relative_path)
    if refused is not None:
        char, position = refused.group(), refused.start()
        if char == "\\":
            raise InvalidPath(f"path contains a backslash at position {position}")
        if unicodedata.category(char) == "Cs":
            raise InvalidPath(f"path contains a lone surrogate at position {position}")
        raise InvalidPath(f"path contains control character {char!r} at position {position}")
    if relative_path.startswith("/"):
        raise InvalidPath(f"path {relative_path!r} is absolute; a relative path is required")
    if relative_path.endswith("/"):
        raise InvalidPath(f"path {relative_path!r} ends with '/'; it must name a file")
    for index, segment in enumerate(relative_path.split("/")):
        if segment == "":
            raise InvalidPath(f"path {relative_path!r} has an empty segment ('//')")
        if segment == "..":
            raise InvalidPath(f"path {relative_path!r} has a '..' segment")
        if segment == ".":
            raise InvalidPath(f"path {relative_path!r} has a '.' segment")
        if segment.startswith(RESERVED_SEGMENT_PREFIX):
            raise InvalidPath(
                f"path {relative_path!r}: segment {index + 1} starts with the reserved "
                f"prefix {RESERVED_SEGMENT_PREFIX!r}"
            )
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise InvalidPath(
                f"path {relative_path!r}: segment {index + 1} is longer than "
                f"{MAX_SEGMENT_BYTES} bytes"
            )
    return relative_path


def confine_prefix(prefix: str) -> str:
    """Return ``prefix`` if it names a confined folder: a confined path followed by ``/``.

    The trailing slash is required so that ``m/1/`` can never match ``m/10/``.
    """
    if not isinstance(prefix, str) or not prefix.endswith("/"):
        raise InvalidPath(f"prefix {prefix!r} must end with '/'")
    confine(prefix[:-1])
    return prefix


def version_prefix(model_id: str, version: int) -> str:
    """Return the folder ``"<model_id>/<version>/"`` that holds one model version's files."""
    if not isinstance(model_id, str) or not _MODEL_ID.fullmatch(model_id):
        raise InvalidPath(f"model id {model_id!r} is not a 32-character lower-case uuid hex")
    # bool is an int subclass; True as a version number is always a bug upstream.
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidPath(f"version {version!r} is not a positive integer")
    return f"{model_id}/{version}/"


def file_key(model_id: str, version: int, relative_path: str) -> str:
    """Return the storage key of ``relative_path`` inside one model version's folder."""
    return version_prefix(model_id, version) + confine(relative_path)


def folders_of(key: str) -> list[str]:
    """The folders ``key`` lies in, outermost first, that a file could occupy.

    A model version's own folder ``<model_id>/<version>`` and the one above it never hold a
    file, so for a version's file key only the folders of its relative path are returned."""
    parts = confine(key).split("/")
    in_version = len(parts) > 2 and _MODEL_ID.fullmatch(parts[0]) and parts[1].isdigit()
    return ["/".join(parts[:end]) for end in range(3 if in_version else 1, len(parts))]
