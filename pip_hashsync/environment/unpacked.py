"""Wheels kept unpacked in the cache, so that a warm install copies files instead of
inflating them again (issue 6: inflating is half of an install's time).

Layout, next to the archive cache::

    unpacked/<sha256[:2]>/<sha256>/<member>     a wheel's members, as its zip names them

An entry is written the first time its archive is installed, from the bytes being installed,
into a private folder that is renamed into place once the install succeeded; it is keyed by
the sha256 of the archive those bytes came from.

Nothing in an entry is trusted. A member is taken from it only when its bytes hash to the
sha256 that the wheel's own RECORD gives, and RECORD is read from the archive, whose sha256
this run has just checked against the allowed hashes. So every byte installed is still
proven by the requirements file, whatever happened to the cache. A member that is missing,
changed, too large, or not hashed in RECORD is read from the archive instead, and a changed
entry is deleted after the install. Members are copied, never linked (EC52).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import posixpath
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from installer.records import parse_record_file
from installer.sources import WheelContentElement, WheelFile

from pip_hashsync.environment.members import MAX_MEMBER_SIZE, open_member, read_member
from pip_hashsync.environment.uninstall import is_inside

_FOLDER = "unpacked"


class LoadedFile(io.BytesIO):
    """A member's bytes, read whole, with their sha256 in RECORD's form, so that the writer
    need not hash them again."""

    def __init__(self, data: bytes, sha256: str) -> None:
        super().__init__(data)
        self.data = data
        self.sha256 = sha256


def record_digest(data: bytes | memoryview) -> str:
    """sha256 in RECORD's form: urlsafe base64 without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


class UnpackedCache:
    """The ``unpacked`` folder of a cache root; safe to share between threads and
    processes, since entries only ever appear by a rename of a complete folder."""

    def __init__(self, cache_root: Path) -> None:
        self.root = cache_root / _FOLDER
        self._tmp = cache_root / "tmp"

    def entry(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    @contextmanager
    def source(self, archive: Path, sha256: str) -> Iterator[CopyingSource]:
        """A wheel source for ``archive`` (whose sha256 the caller checked), reading members
        from its entry when there is one, else filling a new entry as it is read. The new
        entry is kept only when the block succeeds; a changed entry is deleted."""
        entry = self.entry(sha256)
        existing = entry if entry.is_dir() else None
        filling = None
        if existing is None:
            with contextlib.suppress(OSError):  # an unwritable cache only costs speed
                self._tmp.mkdir(parents=True, exist_ok=True)
                filling = Path(tempfile.mkdtemp(dir=self._tmp, prefix="unpack-"))
        try:
            with zipfile.ZipFile(archive) as opened:
                source = CopyingSource(opened, existing, filling)
                yield source
            if source.changed and existing is not None:
                shutil.rmtree(existing, ignore_errors=True)
            if filling is not None and not source.fill_failed:
                with contextlib.suppress(OSError):  # another run put it in place first
                    entry.parent.mkdir(parents=True, exist_ok=True)
                    os.rename(filling, entry)
        finally:
            if filling is not None:
                shutil.rmtree(filling, ignore_errors=True)


@contextmanager
def open_source(archive: Path, sha256: str, cache: UnpackedCache | None) -> Iterator[CopyingSource]:
    """The source to install ``archive`` from: through ``cache``, or straight from the zip
    when there is none (``--no-cache``)."""
    if cache is not None:
        with cache.source(archive, sha256) as source:
            yield source
        return
    with zipfile.ZipFile(archive) as opened:
        yield CopyingSource(opened, None, None)


class CopyingSource(WheelFile):
    """installer's wheel source, giving each member's bytes whole: from the unpacked entry
    ``read_from`` when they match RECORD, else from the zip (and then also written into
    ``fill``)."""

    def __init__(self, archive: zipfile.ZipFile, read_from: Path | None, fill: Path | None):
        super().__init__(archive)
        self._archive = archive
        self._read_from = read_from
        self._fill = fill
        self._made: set[str] = set()
        #: Some member of the entry ``read_from`` did not match RECORD.
        self.changed = False
        #: Writing into ``fill`` failed (a full disk, say): the entry is not kept, and the
        #: install goes on, since the cache only makes the next one faster.
        self.fill_failed = False

    def get_contents(self) -> Iterator[WheelContentElement]:
        """Every member, in archive order, with its RECORD row and executable bit."""
        rows = parse_record_file(self.read_dist_info("RECORD").splitlines())
        records = {row[0]: row for row in rows}
        for item in self._archive.infolist():
            if item.filename.endswith("/"):
                continue
            record = records.pop(item.filename, (item.filename, "", ""))
            mode = item.external_attr >> 16
            executable = bool(mode and stat.S_ISREG(mode) and mode & 0o111)
            if item.file_size > MAX_MEMBER_SIZE:  # streamed, and not kept unpacked
                with open_member(self._archive, item) as stream:
                    yield record, stream, executable
                continue
            with self._load(item, record[1]) as loaded:
                yield record, loaded, executable

    def read_dist_info(self, filename: str) -> str:
        """A ``.dist-info`` file, read within bounds (installer's own read inflates a
        member whole, whatever size it declares)."""
        item = self._archive.getinfo(posixpath.join(self.dist_info_dir, filename))
        return read_member(self._archive, item).decode("utf-8")

    def _load(self, item: zipfile.ZipInfo, recorded: str) -> LoadedFile:
        algorithm, _, expected = recorded.partition("=")
        expected = expected if algorithm == "sha256" else ""
        copy = _inside(self._read_from, item.filename) if self._read_from else None
        if copy is not None and expected:
            try:
                with open(copy, "rb") as file:
                    data = file.read()
            except OSError:
                data = None
            if data is not None and record_digest(data) == expected:
                return LoadedFile(data, expected)
            self.changed = self.changed or data is not None
        data = read_member(self._archive, item)
        digest = record_digest(data)
        if self._fill is not None and not self.fill_failed:
            self._keep_copy(item.filename, data)
        return LoadedFile(data, digest)

    def _keep_copy(self, member: str, data: bytes) -> None:
        target = _inside(self._fill, member) if self._fill else None
        if target is None:
            return  # a name leading out: the install refuses it anyway
        try:
            folder = os.path.dirname(target)
            if folder not in self._made:
                os.makedirs(folder, exist_ok=True)
                self._made.add(folder)
            with open(target, "wb") as file:
                file.write(data)
        except OSError:
            self.fill_failed = True


def _inside(folder: Path, member: str) -> str | None:
    """Where ``member`` lives under ``folder``, or None when its name would lead out."""
    path = os.path.abspath(os.path.join(folder, member))
    return path if is_inside(path, [str(folder)]) else None
