"""Reading a zip member in bounded memory, whatever its headers claim (issue 13, item 5).

A member yields at most the size it declares: it is inflated with ``max_length`` set just
above what is still owed, so a stream that goes on (a decompression bomb: 1,000 bytes
declared, gigabytes inflated) is refused after one extra byte instead of being inflated
whole first, as :meth:`zipfile.ZipFile.read` does. A member whose declared size is absurd
for its compressed size is refused from its headers alone, before anything is inflated.
Every refusal is a :class:`BadMember`: an integrity failure (exit 3).

Only stored and deflated members are read (what wheels use); other methods (bzip2, lzma),
which :mod:`zipfile` inflates without a bound, and encrypted members are refused.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, BinaryIO, cast

from pip_hashsync.errors import ExitCode, HashsyncError

if TYPE_CHECKING:
    from zlib import _Decompress as Decompress

#: Larger members are streamed, never held whole in memory.
MAX_MEMBER_SIZE = 64 * 1024 * 1024
#: Deflate cannot pass about 1032:1, and only a run of one repeated byte comes near it;
#: code, text and native libraries stay below 20:1. So a member declaring more than this
#: many bytes per compressed byte is a bomb (or its size a lie) ...
MAX_RATIO = 1000
#: ... once it declares more than this: a small member costs nothing, whatever its ratio.
RATIO_FLOOR = 16 * 1024 * 1024
#: Compressed bytes read, and inflated bytes made, per step of a streamed member.
_STEP = 1024 * 1024

_LOCAL_HEADER = struct.Struct("<4s22xHH")


class BadMember(HashsyncError, zipfile.BadZipFile):
    """A member whose bytes do not match its headers (size, CRC, ratio): exit 3."""

    exit_code = ExitCode.HASH_FAILURE


def read_member(archive: zipfile.ZipFile, item: zipfile.ZipInfo) -> bytes:
    """A member's bytes, checked against its size and CRC. A member of up to a step of
    compressed bytes (nearly all) is read and inflated in one call: a loop of small reads,
    as :mod:`zipfile` does, costs 15% more on a typical wheel."""
    if item.file_size > MAX_MEMBER_SIZE:
        raise BadMember(
            f"{item.filename} declares {item.file_size} bytes, more than the "
            f"{MAX_MEMBER_SIZE} a metadata file or a member read whole may have"
        )
    if item.compress_size > _STEP:
        return b"".join(_inflate(archive, item, item.file_size))
    data = _open(archive, item).read(item.compress_size)
    if item.compress_type == zipfile.ZIP_DEFLATED:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        data = _bounded(item, inflater, data, item.file_size, item.file_size)
    _check_end(item, item.file_size - len(data), zlib.crc32(data))
    return data


def open_member(archive: zipfile.ZipFile, item: zipfile.ZipInfo) -> BinaryIO:
    """A member as a stream, inflated a step at a time, with the checks of
    :func:`read_member` (the last read raises when the CRC does not match)."""
    raw = _Pieces(_inflate(archive, item, _STEP))
    return cast(BinaryIO, io.BufferedReader(raw, _STEP))


def _open(archive: zipfile.ZipFile, item: zipfile.ZipInfo) -> IO[bytes]:
    """The archive's file, at the member's first stored byte, once its headers are judged."""
    name, size = item.filename, item.file_size
    if item.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise BadMember(
            f"{name} uses compression method {item.compress_type}: only stored and deflated "
            "members are read (zipfile inflates others without a bound)"
        )
    if item.flag_bits & 0x1:
        raise BadMember(f"{name} is encrypted")
    if size > RATIO_FLOOR and size > MAX_RATIO * item.compress_size:
        raise BadMember(
            f"{name} declares {size} bytes in {item.compress_size}: a compression ratio "
            f"above {MAX_RATIO}:1 is a decompression bomb"
        )
    if item.compress_type == zipfile.ZIP_STORED and item.compress_size != size:
        raise BadMember(f"{name} is stored in {item.compress_size} bytes but declares {size}")
    file = archive.fp
    if file is None:
        raise ValueError("the archive is closed")
    file.seek(item.header_offset)
    signature, name_length, extra_length = _LOCAL_HEADER.unpack(file.read(_LOCAL_HEADER.size))
    if signature != b"PK\x03\x04":
        raise BadMember(f"{name}: bad local file header")
    file.seek(item.header_offset + _LOCAL_HEADER.size + name_length + extra_length)
    return file


def _bounded(
    item: zipfile.ZipInfo, inflater: Decompress, data: bytes, owed: int, step: int
) -> bytes:
    """Inflate up to ``step`` bytes of ``data``; more than the ``owed`` bytes the member still
    declares is a bomb, refused one byte past it."""
    try:
        piece = inflater.decompress(data, min(owed, step) + 1)
    except zlib.error as exc:
        raise BadMember(f"{item.filename}: {exc}") from None
    if len(piece) > owed:
        raise BadMember(
            f"{item.filename} inflates to more than the {item.file_size} bytes it declares"
        )
    return piece


def _check_end(item: zipfile.ZipInfo, owed: int, crc: int) -> None:
    if owed or crc != item.CRC:
        raise BadMember(f"{item.filename}: bad CRC or size")


def _inflate(archive: zipfile.ZipFile, item: zipfile.ZipInfo, step: int) -> Iterator[bytes]:
    """The member's bytes in pieces of at most about ``step``, reading a step of compressed
    bytes at a time; refused as soon as they exceed the declared size."""
    file = _open(archive, item)
    position, unread, owed = file.tell(), item.compress_size, item.file_size
    deflated = item.compress_type == zipfile.ZIP_DEFLATED
    inflater = zlib.decompressobj(-zlib.MAX_WBITS) if deflated else None
    crc, pending = 0, b""
    while True:
        if not pending and unread:
            file.seek(position)  # another reader of the archive may have moved it
            pending = file.read(min(unread, max(step, _STEP)))
            if not pending:
                raise BadMember(f"{item.filename}: the archive ends inside it")
            position += len(pending)
            unread -= len(pending)
        if inflater is None:  # stored: _open made sure it holds what it declares
            piece, pending = pending, b""
        else:
            piece = _bounded(item, inflater, pending, owed, step)
            pending = inflater.unconsumed_tail
        owed -= len(piece)
        crc = zlib.crc32(piece, crc)
        if piece:
            yield piece
        elif not pending and not unread:
            break
        if inflater is not None and inflater.eof:
            break
    _check_end(item, owed, crc)


class _Pieces(io.RawIOBase):
    """A raw stream over pieces of bytes."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._rest = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if not self._rest:
            self._rest = memoryview(next(self._pieces, b""))
        count = min(len(buffer), len(self._rest))
        buffer[:count] = self._rest[:count]
        self._rest = self._rest[count:]
        return count
