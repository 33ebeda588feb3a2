"""The content-addressed archive cache: archives stored under their sha256 (design policy 7).

Layout, under the per-user cache folder
(:func:`pip_hashsync.environment.target.default_cache_dir`)::

    archives/<sha256[:2]>/<sha256>/<filename>     the archive, exactly as downloaded
    archives/<sha256[:2]>/<sha256>/origin.json    {"filename", "url" (redacted), "origin"}
    tmp/                                          downloads in progress, one private file each

A name is only as good as the bytes behind it, so every hit is hashed again before it is
returned and an entry whose bytes changed is deleted (EC51). Only verified downloads are put
here, and always by renaming a complete file into place (EC53), so a reader never sees half an
archive. Installers must copy out of the cache, never hardlink or symlink: an edit in
site-packages would otherwise change the cached archive for every later environment (EC52).
A cache folder that cannot be written (read-only, full, not a folder) only costs speed: the
run goes on in a private temporary folder, and :attr:`ArchiveCache.notice` says so once.

>>> cache = ArchiveCache(default_cache_dir())
>>> hit = cache.get(sha256)  # None, or an archive whose ``digests`` were computed just now
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import string
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from pip_hashsync.requirements.hashes import file_digests
from pip_hashsync.urls import redact

_ORIGIN = "origin.json"
_BUILT = "built.json"
_HEX = frozenset(string.hexdigits.lower())

T = TypeVar("T")


@dataclass(frozen=True)
class CachedArchive:
    """An archive in the cache; ``digests`` (sha256 and whatever else was asked for) come
    from the read that found it, not from what was recorded when it was stored."""

    path: Path
    filename: str
    url: str | None
    origin: str | None
    digests: Mapping[str, str]


class ArchiveCache:
    """Archives by sha256 under ``root``; safe to share between threads and processes.

    ``root=None`` (``--no-cache``) keeps archives in a private temporary folder that
    :meth:`close` removes, so the fetcher works the same way with and without a cache.
    """

    def __init__(self, root: Path | None) -> None:
        self._temporary = root is None
        self._use(Path(tempfile.mkdtemp(prefix="pip-hashsync-")) if root is None else root)
        self._verified: dict[str, tuple[tuple[int, int], CachedArchive]] = {}
        self._lock = threading.Lock()
        #: Why the cache folder was given up for a private one, once that happened.
        self.notice: str | None = None

    def _use(self, root: Path) -> None:
        self.root = root
        self._archives = root / "archives"
        self._tmp = root / "tmp"
        self._listed: dict[str, frozenset[str]] = {}

    def give_up(self, failed_root: Path, error: OSError) -> None:
        """Go on in a private temporary folder, as with ``--no-cache``, after ``failed_root``
        could not store something; raise ``error`` when that folder was the private one."""
        with self._lock:
            if self.root != failed_root:
                return  # another thread gave it up already
            if self._temporary:
                raise error
            self.notice = (
                f"the cache folder {failed_root} cannot be written "
                f"({error.strerror or error}); going on without it"
            )
            self._temporary = True
            self._use(Path(tempfile.mkdtemp(prefix="pip-hashsync-")))

    def get(self, sha256: str, algorithms: Iterable[str] = ()) -> CachedArchive | None:
        """The archive whose sha256 is ``sha256``, re-hashed by this run with sha256 and
        ``algorithms``; None when there is none or its bytes no longer match (the entry is
        then deleted).

        Only the algorithms a caller judges by are computed (sha512 costs twice sha256). A run
        hashes each entry once: planning and fetching ask for the same archive, and a second
        answer is given from memory while the file's size and mtime are unchanged.
        """
        if len(sha256) != 64 or not set(sha256) <= _HEX:
            return None  # an index's advertised value is not trusted to be a path part
        if sha256 not in self._listing(sha256[:2]):
            return None
        entry = self._entry(sha256)
        try:
            record = json.loads((entry / _ORIGIN).read_text(encoding="utf-8"))
            filename = record["filename"]
            path = entry / _checked_filename(filename)
            stamp = _stamp(path)
            wanted = {"sha256", *algorithms}
            known = self._verified.get(sha256)
            if known is not None and known[0] == stamp and wanted <= known[1].digests.keys():
                return known[1]
            digests = file_digests(str(path), sorted(wanted))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # missing, half written by a killed run, or not ours: a miss
        if digests["sha256"] != sha256:
            shutil.rmtree(entry, ignore_errors=True)
            return None
        hit = CachedArchive(path, filename, record.get("url"), record.get("origin"), digests)
        self._verified[sha256] = (stamp, hit)
        return hit

    def new_temp(self) -> tuple[BinaryIO, Path]:
        """A new private file for a download in progress, on the cache's filesystem so that
        :meth:`put` can rename it; never reused (EC74). The caller deletes it on failure."""
        return self._stored(self._new_temp)

    def _new_temp(self) -> tuple[BinaryIO, Path]:
        self._tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self._tmp, suffix=".part")
        return os.fdopen(fd, "wb"), Path(name)

    def put(
        self,
        temp: Path,
        filename: str,
        digests: Mapping[str, str],
        url: str | None,
        origin: str | None,
    ) -> CachedArchive:
        """Move the verified download ``temp`` into place under ``digests["sha256"]``.

        ``digests`` must be the digests of ``temp``'s bytes: the caller hashed them while
        downloading. Concurrent puts of one sha256 are harmless: the bytes are the same.
        The record is written first and the archive moved last, so that ``temp`` is still
        there when a step fails (an entry without its archive is a miss).
        """
        record = {"filename": filename, "url": url and redact(url), "origin": origin}

        def store() -> CachedArchive:
            entry = self._entry(digests["sha256"])
            entry.mkdir(parents=True, exist_ok=True)
            self._listed.pop(digests["sha256"][:2], None)
            path = entry / _checked_filename(filename)
            record_file, record_temp = self._new_temp()
            try:
                with record_file:
                    record_file.write(json.dumps(record, indent=1).encode())
                _replace(record_temp, entry / _ORIGIN)
            except BaseException:
                record_temp.unlink(missing_ok=True)
                raise
            _replace(temp, path)
            return CachedArchive(path, filename, record["url"], origin, dict(digests))

        return self._stored(store)

    def _stored(self, store: Callable[[], T]) -> T:
        """``store()`` in the cache folder, or, when that fails, once more in the private
        folder the cache is given up for."""
        root = self.root
        try:
            return store()
        except OSError as error:
            self.give_up(root, error)
            return store()

    def close(self) -> None:
        """Remove the temporary folder of a ``root=None`` cache; a real cache stays."""
        if self._temporary:
            shutil.rmtree(self.root, ignore_errors=True)

    def _entry(self, sha256: str) -> Path:
        return self._archives / sha256[:2] / sha256

    def _listing(self, prefix: str) -> frozenset[str]:
        """The entries under one two-letter folder, listed once per run: a lock file names
        a thousand archives for other platforms, and one listing is cheaper than a thousand
        failed opens. An entry another process adds meanwhile is only a missed hit."""
        listed = self._listed.get(prefix)
        if listed is None:
            try:
                listed = frozenset(os.listdir(self._archives / prefix))
            except OSError:
                listed = frozenset()
            self._listed[prefix] = listed
        return listed


def _checked_filename(filename: str) -> str:
    """``filename`` if it names a file inside an entry folder, else ValueError: a name read
    from an index or from disk must not lead out of the cache."""
    if filename in ("", ".", "..", _ORIGIN) or "/" in filename or "\\" in filename:
        raise ValueError(f"not a usable archive file name: {filename!r}")
    return filename


def _replace(source: Path, destination: Path) -> None:
    """Rename atomically. Windows refuses to replace a file another thread has open; the one
    already there holds the same bytes, so it is kept. A download moved from a cache folder
    given up to the private one may cross filesystems: it is copied then."""
    try:
        os.replace(source, destination)
    except PermissionError:
        if not destination.exists():
            raise
        source.unlink()
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        shutil.move(source, destination)


def _stamp(path: Path) -> tuple[int, int]:
    """What changes when a file is rewritten: its size and modification time."""
    status = path.stat()
    return status.st_size, status.st_mtime_ns


@dataclass(frozen=True)
class BuiltWheel:
    """A wheel built from an sdist, and its own sha256 (for provenance; computed by the read
    that found it, or while it was stored)."""

    path: Path
    sha256: str


class BuiltWheelCache:
    """Wheels built from sdists (design policy 7, EC50), under ``root``::

        builds/<sdist sha256[:2]>/<sdist sha256>/<settings key>/<wheel>
        builds/<sdist sha256[:2]>/<sdist sha256>/<settings key>/built.json  {"wheel", "sha256"}

    Keyed by the sdist's sha256, so a hit is only as trusted as that hash: the caller uses it
    only once the sdist's bytes were checked against an allowed hash. An entry appears whole
    (a folder renamed into place) and its wheel is hashed again before it is returned. A
    cache that cannot be written only costs the next run a build: :meth:`put` then leaves
    the wheel where it is. ``root=None`` (``--no-cache``) keeps nothing.
    """

    def __init__(self, root: Path | None) -> None:
        self._builds = None if root is None else root / "builds"

    def get(self, sdist_sha256: str, settings_key: str) -> BuiltWheel | None:
        """The wheel built from ``sdist_sha256`` with ``settings_key``; None when there is
        none, or its bytes no longer match (the entry is then deleted)."""
        entry = self._entry(sdist_sha256, settings_key)
        if entry is None:
            return None
        try:
            record = json.loads((entry / _BUILT).read_text(encoding="utf-8"))
            path = entry / _checked_filename(record["wheel"])
            sha256 = file_digests(str(path), ["sha256"])["sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if sha256 != record["sha256"]:
            shutil.rmtree(entry, ignore_errors=True)
            return None
        return BuiltWheel(path, sha256)

    def put(self, sdist_sha256: str, settings_key: str, wheel: Path) -> BuiltWheel:
        """Store the freshly built ``wheel`` (moved, not copied); return where it is now."""
        sha256 = file_digests(str(wheel), ["sha256"])["sha256"]
        entry = self._entry(sdist_sha256, settings_key)
        if entry is None or self._builds is None:
            return BuiltWheel(wheel, sha256)
        record = {"wheel": _checked_filename(wheel.name), "sha256": sha256}
        try:
            staging = Path(tempfile.mkdtemp(dir=_made(self._builds / "tmp")))
            try:
                _replace(wheel, staging / wheel.name)
                (staging / _BUILT).write_text(json.dumps(record, indent=1), encoding="utf-8")
                entry.parent.mkdir(parents=True, exist_ok=True)
                os.rename(staging, entry)
            except OSError:
                if (staging / wheel.name).exists():
                    _replace(staging / wheel.name, wheel)
                shutil.rmtree(staging, ignore_errors=True)
                raise
        except OSError:
            # Another process stored this build first (its folder stays), or the cache
            # cannot be written: either way the wheel just built is used as it is.
            return BuiltWheel(wheel, sha256)
        return BuiltWheel(entry / wheel.name, sha256)

    def _entry(self, sdist_sha256: str, settings_key: str) -> Path | None:
        if self._builds is None:
            return None
        for part in (sdist_sha256, settings_key):
            if len(part) != 64 or not set(part) <= _HEX:
                raise ValueError(f"not a sha256 hex digest: {part!r}")
        return self._builds / sdist_sha256[:2] / sdist_sha256 / settings_key


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder
