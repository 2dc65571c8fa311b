"""The tar stream reader: what a folder of model files may hold, and every refusal, named."""

from __future__ import annotations

import io
import tarfile

import pytest

from modelcatalog.storage.tar_stream import (
    DIRECTORY,
    FILE,
    MAX_HEADER_BYTES,
    TarFormatError,
    TarReader,
)


def _archive(*members: tarfile.TarInfo | tuple[str, bytes], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                tar.addfile(info, io.BytesIO(member[1]))
    return buffer.getvalue()


def _special(name: str, kind: bytes, **fields: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in fields.items():
        setattr(info, key, value)
    return info


class Trickle(io.RawIOBase):
    """A stream that hands out at most `step` bytes per read, as a network body does."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._position, self._step = data, 0, step

    def read(self, size: int = -1) -> bytes:
        size = self._step if size < 0 else min(size, self._step)
        chunk = self._data[self._position : self._position + size]
        self._position += len(chunk)
        return chunk


def _read_all(data: bytes, step: int = 1 << 20) -> list[tuple[str, str, bytes]]:
    reader = TarReader(Trickle(data, step), chunk_size=4096)
    return [(m.name, m.kind, b"".join(reader.chunks(m))) for m in reader]


LONG_NAME = "deep/" * 30 + "名前-ñ.bin"

ACCEPTED = [
    pytest.param([("MLmodel", b"flavors: {}\n")], [("MLmodel", FILE, b"flavors: {}\n")], id="one"),
    pytest.param([("empty", b"")], [("empty", FILE, b"")], id="empty-file"),
    pytest.param(
        [_special("data", tarfile.DIRTYPE), ("data/x.bin", b"\x00" * 1500)],
        [("data", DIRECTORY, b""), ("data/x.bin", FILE, b"\x00" * 1500)],
        id="folder-and-file",
    ),
    pytest.param([(LONG_NAME, b"long")], [(LONG_NAME, FILE, b"long")], id="pax-long-utf8-name"),
    pytest.param(
        [("a", b"1" * 512), ("b", b"2" * 513)],
        [("a", FILE, b"1" * 512), ("b", FILE, b"2" * 513)],
        id="block-boundaries",
    ),
]


@pytest.mark.parametrize(("members", "expected"), ACCEPTED)
@pytest.mark.parametrize("step", [1 << 20, 7], ids=["whole", "trickled"])
def test_accepted_archives_read_back_exactly(
    members: list, expected: list[tuple[str, str, bytes]], step: int
) -> None:
    assert _read_all(_archive(*members), step) == expected


def test_gnu_long_names_are_read() -> None:
    data = _archive((LONG_NAME, b"gnu"), fmt=tarfile.GNU_FORMAT)
    assert _read_all(data) == [(LONG_NAME, FILE, b"gnu")]


def test_unread_data_is_skipped() -> None:
    reader = TarReader(io.BytesIO(_archive(("a", b"x" * 5000), ("b", b"y"))))
    assert [m.name for m in reader] == ["a", "b"]


REFUSED = [
    pytest.param(
        _archive(("ok", b"1"), _special("link", tarfile.SYMTYPE, linkname="/etc/passwd")),
        "member 2 'link' is a symbolic link",
        id="symlink",
    ),
    pytest.param(
        _archive(("ok", b"1"), _special("hard", tarfile.LNKTYPE, linkname="ok")),
        "member 2 'hard' is a hard link",
        id="hard-link",
    ),
    pytest.param(
        _archive(_special("dev", tarfile.CHRTYPE)), "member 1 'dev' is a character device", id="chr"
    ),
    pytest.param(
        _archive(_special("blk", tarfile.BLKTYPE)), "member 1 'blk' is a block device", id="blk"
    ),
    pytest.param(
        _archive(_special("pipe", tarfile.FIFOTYPE)), "member 1 'pipe' is a FIFO", id="fifo"
    ),
    pytest.param(b"not a tar archive at all" * 40, "member 1 is not a valid tar header", id="junk"),
    pytest.param(
        b"\x1f\x8b\x08\x00" + bytes(1020), "looks gzip-compressed; send an uncompressed", id="gzip"
    ),
    pytest.param(
        _archive(("weights", b"w" * 2000))[:1024],
        "the stream ended inside member 1 'weights' (512 of 2000 bytes)",
        id="truncated-data",
    ),
    pytest.param(
        _archive(("weights", b"w"))[:300], "the stream ended inside a header", id="truncated-header"
    ),
    pytest.param(
        _archive(("a", b"1")) + b"trailing garbage",
        "there is data after the end-of-archive marker",
        id="trailing-data",
    ),
]


@pytest.mark.parametrize(("data", "message"), REFUSED)
def test_refused_archives_name_the_member_and_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(TarFormatError) as refused:
        _read_all(data)
    assert message in str(refused.value)


def test_an_oversized_extended_header_is_refused_before_it_is_read() -> None:
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = MAX_HEADER_BYTES + 1
    stream = io.BytesIO(header.tobuf(tarfile.USTAR_FORMAT))  # no payload follows at all
    with pytest.raises(TarFormatError, match="extended header before member 1 is 1048577 bytes"):
        list(TarReader(stream))
