"""Reading an uncompressed tar stream member by member, without holding it in memory.

Only what a folder of model files needs is accepted: regular files and directories, named by
ustar, GNU long-name or pax headers. Links, devices, FIFOs, sparse files and compressed streams
are refused with :class:`TarFormatError`, which says which member and why. Names are returned as
they are written; confining them is the caller's job (:func:`modelcatalog.storage.keys.confine`).

Unlike :mod:`tarfile`, no header payload is read without a bound (:data:`MAX_HEADER_BYTES`), so a
forged pax header cannot make the reader buffer gigabytes, and member data is handed out in
chunks straight from the stream.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

BLOCK = 512
MAX_HEADER_BYTES = 1 << 20
"""Largest pax or GNU long-name payload accepted."""

FILE, DIRECTORY = "file", "directory"

_REFUSED_TYPES = {
    tarfile.LNKTYPE: "a hard link",
    tarfile.SYMTYPE: "a symbolic link",
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
    tarfile.FIFOTYPE: "a FIFO",
    tarfile.GNUTYPE_SPARSE: "a sparse file",
}
_FILE_TYPES = {tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE}
_COMPRESSED = {b"\x1f\x8b": "gzip", b"BZ": "bzip2", b"\xfd7": "xz", b"\x28\xb5": "zstd"}


class TarFormatError(ValueError):
    """The stream is not an acceptable tar archive; the message names the member at fault."""


@dataclass(frozen=True)
class TarMember:
    """One member: its name as written in the archive, its kind and its size in bytes."""

    index: int
    """1 for the first member (extended headers are not counted)."""
    name: str
    kind: str
    size: int


class TarReader:
    """Iterates over the members of a tar stream; read each file's data with :meth:`chunks`
    before moving on (data left unread is skipped)."""

    def __init__(self, stream: BinaryIO, chunk_size: int = 1 << 20) -> None:
        self._stream = stream
        self._chunk_size = chunk_size
        self._unread = 0  # data bytes (with padding) of the current member still in the stream
        self._current: TarMember | None = None

    def __iter__(self) -> Iterator[TarMember]:
        index = 0
        pending_name: str | None = None
        pending_size: int | None = None
        first = True
        while True:
            self._skip(self._unread)
            self._unread = 0
            block = self._read_exact(BLOCK, "a header", allow_eof=True)
            if first:
                first = False
                self._refuse_compressed(block)
            if not block or block == bytes(BLOCK):
                self._drain_end(block)
                return
            info = self._header(block, index + 1)
            kind = info.type
            if kind in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME):
                payload = self._payload(info, index + 1)
                if kind == tarfile.XHDTYPE:
                    records = _pax_records(payload, index + 1)
                    pending_name = records.get("path", pending_name)
                    if "size" in records:
                        pending_size = _pax_size(records["size"], index + 1)
                elif kind == tarfile.GNUTYPE_LONGNAME:
                    pending_name = _decode(payload.rstrip(b"\0"), index + 1)
                continue  # a global pax header describes no member of ours
            if kind == tarfile.GNUTYPE_LONGLINK:
                self._payload(info, index + 1)
                continue  # the link it names is refused with its member
            index += 1
            name = pending_name if pending_name is not None else info.name
            size = pending_size if pending_size is not None else info.size
            pending_name = pending_size = None
            if kind in _REFUSED_TYPES:
                raise TarFormatError(
                    f"member {index} '{name}' is {_REFUSED_TYPES[kind]}; only regular files "
                    "and directories are accepted"
                )
            if kind == tarfile.DIRTYPE:
                member = TarMember(index, name.rstrip("/"), DIRECTORY, 0)
                self._unread = _padded(size)
            elif kind in _FILE_TYPES:
                member = TarMember(index, name, FILE, size)
                self._unread = _padded(size)
            else:
                raise TarFormatError(
                    f"member {index} '{name}' has tar type {kind!r}, which is not accepted; "
                    "only regular files and directories are"
                )
            self._current = member
            yield member

    def chunks(self, member: TarMember) -> Iterator[bytes]:
        """The data of the member just yielded, in chunks; raises if the stream ends early."""
        if member is not self._current:
            raise ValueError("chunks() is only for the member the reader is on")
        left = member.size
        while left:
            chunk = self._stream.read(min(self._chunk_size, left))
            if not chunk:
                raise TarFormatError(
                    f"the stream ended inside member {member.index} '{member.name}' "
                    f"({member.size - left} of {member.size} bytes)"
                )
            left -= len(chunk)
            self._unread -= len(chunk)
            yield chunk

    # -- internals -------------------------------------------------------------------------

    def _header(self, block: bytes, index: int) -> tarfile.TarInfo:
        try:
            return tarfile.TarInfo.frombuf(block, "utf-8", "strict")
        except (tarfile.HeaderError, UnicodeDecodeError) as exc:
            raise TarFormatError(
                f"the header of member {index} is not a valid tar header: {exc}"
            ) from None

    def _payload(self, info: tarfile.TarInfo, index: int) -> bytes:
        if info.size > MAX_HEADER_BYTES:
            raise TarFormatError(
                f"the extended header before member {index} is {info.size} bytes long; the "
                f"limit is {MAX_HEADER_BYTES}"
            )
        data = self._read_exact(_padded(info.size), f"the extended header before member {index}")
        return data[: info.size]

    def _refuse_compressed(self, block: bytes) -> None:
        kind = _COMPRESSED.get(block[:2])
        if kind is not None and block[257:262] != b"ustar":
            raise TarFormatError(
                f"the stream looks {kind}-compressed; send an uncompressed tar archive"
            )

    def _drain_end(self, block: bytes) -> None:
        # After the end-of-archive blocks only zero padding may follow (tar pads to a record).
        while block:
            if block.strip(b"\0"):
                raise TarFormatError("there is data after the end-of-archive marker")
            block = self._stream.read(self._chunk_size)

    def _read_exact(self, size: int, what: str, *, allow_eof: bool = False) -> bytes:
        parts = []
        left = size
        while left:
            data = self._stream.read(left)
            if not data:
                if allow_eof and left == size:
                    return b""
                raise TarFormatError(f"the stream ended inside {what}")
            parts.append(data)
            left -= len(data)
        return b"".join(parts)

    def _skip(self, size: int) -> None:
        while size:
            data = self._stream.read(min(size, self._chunk_size))
            if not data:
                raise TarFormatError("the stream ended inside a member's data")
            size -= len(data)


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _decode(raw: bytes, index: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TarFormatError(f"the name of member {index} is not UTF-8") from None


def _pax_records(payload: bytes, index: int) -> dict[str, str]:
    """Parse `"<length> <key>=<value>\\n"` records (POSIX pax extended header)."""
    records: dict[str, str] = {}
    position = 0
    while position < len(payload):
        length_text, space, _ = payload[position : position + 24].partition(b" ")
        if not space or not length_text.isdigit():
            raise TarFormatError(f"the pax header of member {index} is malformed")
        length = int(length_text)
        record = payload[position : position + length]
        if length <= len(length_text) + 1 or len(record) != length or not record.endswith(b"\n"):
            raise TarFormatError(f"the pax header of member {index} is malformed")
        key, equals, value = record[len(length_text) + 1 : -1].partition(b"=")
        if not equals:
            raise TarFormatError(f"the pax header of member {index} is malformed")
        records[_decode(key, index)] = _decode(value, index)
        position += length
    return records


def _pax_size(value: str, index: int) -> int:
    if not value.isascii() or not value.isdigit():
        raise TarFormatError(f"the pax header of member {index} has a malformed size {value!r}")
    return int(value)
