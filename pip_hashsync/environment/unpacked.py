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
entry is deleted after the install.

How a member leaves the entry is the cache's link mode (``--link-mode``, uv's names):
``copy`` reads it, hashes it and writes the same bytes; ``clone`` makes a copy-on-write
clone (``FICLONE``, where the filesystem can: Btrfs, XFS, ...; elsewhere a copy) and hashes
the clone; ``hardlink`` links the installed file to the entry's and hashes it. A placed file
that does not hash to RECORD is deleted and written from the archive, so an edit made
through a hard link in one environment reaches the entry but never the next install (EC52:
the link itself is the user's choice; copy and clone share nothing).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import io
import os
import posixpath
import shutil
import stat
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

from installer.records import parse_record_file
from installer.sources import WheelContentElement, WheelFile

from pip_hashsync import DEFAULT_LINK_MODE, LinkMode
from pip_hashsync.environment.members import MAX_MEMBER_SIZE, open_member, read_member
from pip_hashsync.environment.uninstall import is_inside

_FOLDER = "unpacked"

#: Smaller files are copied in the ``clone`` mode (see :meth:`UnpackedCache.places`).
CLONE_FROM = 256 * 1024
#: The Linux ioctl that clones a whole file (``_IOW(0x94, 9, int)``).
_FICLONE = 0x40049409
#: What a filesystem or a pair of folders that cannot clone or link answers.
_CANNOT = frozenset(
    {errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.ENOSYS,
     errno.EPERM, errno.EMLINK}
)  # fmt: skip


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

    def __init__(self, cache_root: Path, link_mode: LinkMode = DEFAULT_LINK_MODE) -> None:
        self.root = cache_root / _FOLDER
        self._tmp = cache_root / "tmp"
        self.link_mode = link_mode
        #: Cloning or linking failed once (the filesystem, or the two folders, cannot):
        #: later members are copied without trying again.
        self.cannot_clone = self.cannot_link = False

    def places(self, size: int) -> bool:
        """Whether a member of ``size`` bytes is linked or cloned rather than copied. A clone
        saves only the write (the clone is read back to be hashed), and on XFS a clone of a
        small file costs more than writing it (ansible's 21,000 files: 2x the time of a copy)."""
        return self.link_mode == "hardlink" or (self.link_mode == "clone" and size >= CLONE_FROM)

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
                source = CopyingSource(opened, existing, filling, self)
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
        yield CopyingSource(opened, None, None, None)


class CopyingSource(WheelFile):
    """installer's wheel source, giving each member's bytes whole: from the unpacked entry
    ``read_from`` when they match RECORD, else from the zip (and then also written into
    ``fill``). With a ``cache`` that clones or links, a member of the entry is given as a
    :class:`CachedFile`, placed by the destination and hashed there."""

    def __init__(
        self,
        archive: zipfile.ZipFile,
        read_from: Path | None,
        fill: Path | None,
        cache: UnpackedCache | None,
    ):
        super().__init__(archive)
        self._archive = archive
        self._read_from = read_from
        self._fill = fill
        self._made: set[str] = set()
        self._placing = cache if cache is not None and cache.link_mode != "copy" else None
        #: Some member of the entry ``read_from`` did not match RECORD.
        self.changed = False
        #: Writing into ``fill`` failed (a full disk, say): the entry is not kept, and the
        #: install goes on, since the cache only makes the next one faster.
        self.fill_failed = False

    @cached_property
    def dist_info_filenames(self) -> list[str]:
        """installer lists them anew on every call, over every member of the archive."""
        return super().dist_info_filenames

    @cached_property
    def _records(self) -> dict[str, tuple[str, str, str]]:
        """RECORD's rows by path, read once (from the archive, whose sha256 was checked)."""
        rows = parse_record_file(self.read_dist_info("RECORD").splitlines())
        return {row[0]: row for row in rows}

    def check_record(self) -> None:
        """Raise ValueError unless RECORD names every member with a hash and a size (and
        itself without), as installer's ``validate_record(validate_contents=False)`` does in
        a third of the time (it calls ``commonpath`` and parses a row for every member);
        signature files may be left out."""
        own = posixpath.join(self.dist_info_dir, "RECORD")
        signatures = {posixpath.join(self.dist_info_dir, f"RECORD.{s}") for s in ("p7s", "jws")}
        issues = []
        for name in self._archive.namelist():
            row = self._records.get(name)
            if name.endswith("/") or (name in signatures and row is None):
                continue
            if row is None:
                issues.append(f"{name} is not mentioned in RECORD")
            elif name == own and (row[1] or row[2]):
                issues.append("RECORD gives a hash or size for itself")
            elif name != own and not (row[1].partition("=")[2] and row[2].isdigit()):
                issues.append(f"RECORD's row for {name} has no hash or no size")
        if issues:
            raise ValueError(f"its RECORD does not match its files: {'; '.join(issues[:5])}")

    def get_contents(self) -> Iterator[WheelContentElement]:
        """Every member, in archive order, with its RECORD row and executable bit."""
        records = dict(self._records)
        scripts = posixpath.join(self.data_dir, "scripts", "")
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
            placed = not item.filename.startswith(scripts)  # a script's #! is rewritten
            with self._load(item, record[1], placed) as loaded:
                yield record, loaded, executable

    def read_dist_info(self, filename: str) -> str:
        """A ``.dist-info`` file, read within bounds (installer's own read inflates a
        member whole, whatever size it declares)."""
        item = self._archive.getinfo(posixpath.join(self.dist_info_dir, filename))
        return read_member(self._archive, item).decode("utf-8")

    def _load(self, item: zipfile.ZipInfo, recorded: str, placed: bool) -> LoadedFile:
        algorithm, _, expected = recorded.partition("=")
        expected = expected if algorithm == "sha256" else ""
        copy = _inside(self._read_from, item.filename) if self._read_from else None
        if copy is not None and expected:
            if placed and self._placing is not None and self._placing.places(item.file_size):
                return CachedFile(self, item, copy, expected)
            data = self._verified(copy, expected)
            if data is not None:
                return LoadedFile(data, expected)
        return self._from_archive(item)

    def _verified(self, copy: str, expected: str) -> bytes | None:
        """The bytes of the entry's ``copy`` of a member if they hash to ``expected``."""
        try:
            with open(copy, "rb") as file:
                data = file.read()
        except OSError:
            return None
        if record_digest(data) == expected:
            return data
        self.changed = True
        return None

    def _from_archive(self, item: zipfile.ZipInfo) -> LoadedFile:
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


class CachedFile(LoadedFile):
    """A member of the entry, to be cloned or linked into place by :meth:`place` rather
    than read; its bytes are proven where they land."""

    def __init__(
        self, source: CopyingSource, item: zipfile.ZipInfo, copy: str, expected: str
    ) -> None:
        super().__init__(b"", expected)
        self._source = source
        self._item = item
        self._copy = copy

    def read(self, size: int | None = -1) -> bytes:
        raise TypeError("a cached member is placed, not read")

    def place(self, destination: str) -> tuple[str, int]:
        """Clone or link the entry's copy to ``destination`` (which must not exist), falling
        back to a copy; return the RECORD sha256 and size of what is there now. Bytes that do
        not hash to RECORD are replaced by the archive's (and the entry is dropped later)."""
        cache = self._source._placing
        assert cache is not None
        placed = False
        if cache.link_mode == "hardlink" and not cache.cannot_link:
            placed = _attempt(os.link, self._copy, destination)
            cache.cannot_link = not placed
        elif cache.link_mode == "clone" and not cache.cannot_clone:
            placed = _attempt(_clone, self._copy, destination)
            cache.cannot_clone = not placed
        if placed:
            with open(destination, "rb") as file:
                data = file.read()
            if record_digest(data) == self.sha256:
                return self.sha256, len(data)
            self._source.changed = True
            os.unlink(destination)  # never written through: it may be the entry's inode
            loaded = self._source._from_archive(self._item)
        else:
            verified = self._source._verified(self._copy, self.sha256)
            loaded = (
                LoadedFile(verified, self.sha256)
                if verified is not None
                else self._source._from_archive(self._item)
            )
        with contextlib.suppress(FileNotFoundError):  # never write through a link
            os.unlink(destination)
        with open(destination, "xb") as file:
            file.write(loaded.data)
        return loaded.sha256, len(loaded.data)


def _attempt(make: Callable[[str, str], None], copy: str, destination: str) -> bool:
    """``make(copy, destination)``; False when the filesystem cannot (nothing is left at
    ``destination`` then), any other failure raised."""
    try:
        try:
            make(copy, destination)
        except FileExistsError:  # a member named twice: the later one wins, as in a copy
            os.unlink(destination)
            make(copy, destination)
    except OSError as exc:
        if exc.errno not in _CANNOT:
            raise
        with contextlib.suppress(FileNotFoundError):
            os.unlink(destination)
        return False
    return True


def _clone(copy: str, destination: str) -> None:
    """A copy-on-write clone of ``copy`` at ``destination``: Linux's ``FICLONE``; other
    systems answer that they cannot."""
    if not sys.platform.startswith("linux"):
        raise OSError(errno.EOPNOTSUPP, "cloning is only tried on Linux")
    import fcntl

    with open(copy, "rb") as source, open(destination, "xb") as target:
        fcntl.ioctl(target.fileno(), _FICLONE, source.fileno())


def _inside(folder: Path, member: str) -> str | None:
    """Where ``member`` lives under ``folder``, or None when its name would lead out."""
    path = os.path.abspath(os.path.join(folder, member))
    return path if is_inside(path, [str(folder)]) else None
