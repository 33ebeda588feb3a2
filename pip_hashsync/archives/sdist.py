"""Reading and unpacking source distributions, without running any of their code.

An sdist reaches this module only after its bytes matched an allowed hash (EC55), but a hash
proves only that the bytes are the ones the lock names, not that they are a sane archive:
a member named ``../x`` or ``/etc/x``, a link leading out, a device or a decompression bomb
is still refused here (design policy 12), as an integrity failure (exit 3) naming the
archive. Every format pip accepts is read: ``.tar.gz``, ``.tgz``, ``.tar.bz2``, ``.tar.xz``,
``.tar`` and ``.zip``.

>>> build_system_of_sdist(archive)            # for planning: nothing is written to disk
>>> root = unpack_sdist(archive, into)        # the project folder, ready for the backend
>>> read_build_system(root)
"""

from __future__ import annotations

import bz2
import copy
import gzip
import io
import lzma
import os
import posixpath
import shutil
import stat
import sys
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import IO, Any

from packaging.requirements import InvalidRequirement, Requirement

from pip_hashsync.environment.members import BadMember, open_member, read_member
from pip_hashsync.environment.uninstall import is_inside
from pip_hashsync.errors import ExitCode, HashsyncError
from pip_hashsync.index.metadata import IntegrityError
from pip_hashsync.requirements.reader import TAR_EXTENSIONS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the tests run on one interpreter
    import tomli as tomllib

#: What pip assumes for a project without ``[build-system]`` (or without pyproject.toml).
LEGACY_REQUIRES = ("setuptools>=40.8.0",)
LEGACY_BACKEND = "setuptools.build_meta:__legacy__"

#: Bounds on what one sdist may unpack to: far above real sdists, far below a bomb.
MAX_UNPACKED_BYTES = 2 * 1024 * 1024 * 1024
MAX_MEMBERS = 100_000
MAX_PYPROJECT_BYTES = 1024 * 1024

#: What tarfile's ``data`` filter raises for a member it refuses (where it has one).
_REFUSED_BY_FILTER: tuple[type[Exception], ...] = (
    (tarfile.FilterError,) if hasattr(tarfile, "FilterError") else ()
)
_DEVICE_OR_PIPE = (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK)


class UnsafeSdist(IntegrityError):
    """An sdist that is no sane archive (a member leading out, a device, a bomb, bytes that
    do not decompress): exit 3, like any other bytes that are not what they must be."""


class BadBuildSystem(HashsyncError):
    """``pyproject.toml`` cannot be read or its ``[build-system]`` is not valid: the project
    cannot be built (exit 5, as a failed build)."""

    exit_code = ExitCode.ENVIRONMENT


class UnpackFailed(HashsyncError):
    """The sdist could not be read or written out for a reason of the machine's (a full
    disk, a folder not writable): exit 5, an environment failure."""

    exit_code = ExitCode.ENVIRONMENT


@dataclass(frozen=True)
class BuildSystem:
    """How to build a project (PEP 517/518), as its ``pyproject.toml`` says or pip assumes."""

    #: ``build-system.requires`` as written (PEP 508 strings).
    requires: tuple[str, ...]
    backend: str
    #: In-tree backend folders, relative to the project root.
    backend_path: tuple[str, ...]
    #: No pyproject.toml, or no ``[build-system]`` table in it: pip's defaults apply.
    legacy: bool


def read_build_system(project_dir: Path) -> BuildSystem:
    """The build system of the project in ``project_dir``."""
    path = project_dir / "pyproject.toml"
    try:
        text = path.read_bytes() if path.is_file() else None
    except OSError as exc:
        raise BadBuildSystem(f"Cannot read {path}: {exc.strerror or exc}") from None
    has_setup_py = (project_dir / "setup.py").is_file()
    return parse_build_system(text, str(path), str(project_dir), has_setup_py)


def build_system_of_sdist(archive: Path) -> BuildSystem:
    """The build system of the sdist ``archive``, read from the archive itself (bounded
    reads, nothing written); every member is judged as :func:`unpack_sdist` judges it."""
    with _opened(archive) as members:
        top = _single_top([member.name for member in members])
        files = {member.name: member for member in members if member.is_file}
        wanted = f"{top}/pyproject.toml" if top else "pyproject.toml"
        found = files.get(wanted)
        text = None if found is None else found.read(MAX_PYPROJECT_BYTES)
        has_setup_py = (f"{top}/setup.py" if top else "setup.py") in files
    return parse_build_system(text, f"{archive.name}:{wanted}", archive.name, has_setup_py)


def parse_build_system(
    text: bytes | None, where: str, project: str, has_setup_py: bool
) -> BuildSystem:
    """The build system ``pyproject.toml`` holding ``text`` (None: no such file) declares,
    with pip's defaults and checks; ``where`` names the file, ``project`` the project
    (folder or sdist), in messages."""
    if text is None:
        if not has_setup_py:
            raise BadBuildSystem(
                f"{project} does not appear to be a Python project: "
                "neither setup.py nor pyproject.toml is there"
            )
        return BuildSystem(LEGACY_REQUIRES, LEGACY_BACKEND, (), legacy=True)
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadBuildSystem(f"{where} is not valid TOML: {exc}") from None
    table = data.get("build-system")
    if table is None:
        return BuildSystem(LEGACY_REQUIRES, LEGACY_BACKEND, (), legacy=True)
    if not isinstance(table, dict):
        raise BadBuildSystem(f"{where}: [build-system] is not a table")
    requires = table.get("requires")
    if requires is None:
        raise BadBuildSystem(f"{where}: [build-system] has no 'requires' key (PEP 518)")
    requires = _strings(requires, where, "requires")
    for requirement in requires:
        try:
            Requirement(requirement)
        except InvalidRequirement as exc:
            raise BadBuildSystem(
                f"{where}: build-system.requires holds {requirement!r}, not a valid "
                f"requirement: {exc}"
            ) from None
    backend = table.get("build-backend", LEGACY_BACKEND)
    if not isinstance(backend, str) or not backend.strip():
        raise BadBuildSystem(f"{where}: build-system.build-backend is not a string")
    backend_path = _strings(table.get("backend-path", []), where, "backend-path")
    for folder in backend_path:
        if PureWindowsPath(folder).anchor or posixpath.isabs(folder) or _leads_out(folder):
            raise BadBuildSystem(
                f"{where}: build-system.backend-path {folder!r} leads out of the project"
            )
    return BuildSystem(requires, backend.strip(), backend_path, legacy=False)


def _strings(value: object, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadBuildSystem(f"{where}: build-system.{key} is not a list of strings")
    return tuple(value)


def unpack_sdist(archive: Path, into: Path) -> Path:
    """Unpack the sdist ``archive`` into the empty or new folder ``into``; return the
    project root: the archive's single top folder, else ``into`` itself (as pip does).

    Every member is judged before it is written, so a hostile archive leaves nothing outside
    ``into`` (what it left inside is the caller's to remove: a temporary folder).
    """
    with _opened(archive) as members:
        into.mkdir(parents=True, exist_ok=True)
        top = _single_top([member.name for member in members])
        for member in members:
            member.extract(into)
    _check_links(archive, into)
    return into / top if top else into


@dataclass
class _Member:
    """One judged member of an sdist, of either archive format."""

    name: str
    is_dir: bool
    is_file: bool
    tar: tarfile.TarFile | None
    tar_info: tarfile.TarInfo | None
    zip: zipfile.ZipFile | None
    zip_info: zipfile.ZipInfo | None

    def read(self, limit: int) -> bytes:
        """The member's bytes, at most ``limit`` of them (more is refused)."""
        if self.zip is not None and self.zip_info is not None:
            if self.zip_info.file_size > limit:
                raise UnsafeSdist(f"{self.name} is larger than {limit} bytes")
            return read_member(self.zip, self.zip_info)
        assert self.tar is not None and self.tar_info is not None
        if self.tar_info.size > limit:
            raise UnsafeSdist(f"{self.name} is larger than {limit} bytes")
        stream = self.tar.extractfile(self.tar_info)
        return b"" if stream is None else stream.read()

    def extract(self, into: Path) -> None:
        if self.tar is not None and self.tar_info is not None:
            if hasattr(tarfile, "data_filter"):
                self.tar.extract(self.tar_info, into, filter="data")
            else:  # Python before 3.10.12 and 3.11.4: the checks of _Judge and _check_links
                self.tar.extract(_owned(self.tar_info), into)
            return
        assert self.zip is not None and self.zip_info is not None
        destination = into / self.name
        if self.is_dir:
            destination.mkdir(parents=True, exist_ok=True)
            return
        destination.parent.mkdir(parents=True, exist_ok=True)
        with open_member(self.zip, self.zip_info) as source, destination.open("wb") as out:
            shutil.copyfileobj(source, out)
        if (self.zip_info.external_attr >> 16) & 0o111:
            destination.chmod(0o755)


@contextmanager
def _opened(archive: Path) -> Iterator[list[_Member]]:
    """The judged members of ``archive``; any fault of the archive is an :class:`UnsafeSdist`
    naming it."""
    name = archive.name
    try:
        if name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as opened:
                yield _zip_members(opened)
        elif name.lower().endswith(TAR_EXTENSIONS):
            # "r:": the stream is decompressed (and capped) already; tarfile must not
            # inflate a second layer on its own, uncapped.
            with (
                _decompressed(archive) as stream,
                tarfile.open(fileobj=stream, mode="r:") as opened,
            ):
                yield _tar_members(opened)
        else:
            raise UnsafeSdist(f"{name} is not an sdist format pip accepts")
    except UnsafeSdist as exc:
        raise UnsafeSdist(f"{name} is not a safe sdist: {exc}") from None
    except BadMember as exc:
        raise UnsafeSdist(f"{name} is not a safe sdist: {exc}") from None
    except (
        tarfile.TarError,
        zipfile.BadZipFile,
        gzip.BadGzipFile,
        EOFError,
        zlib.error,
        lzma.LZMAError,
    ) as exc:
        verdict = "safe" if isinstance(exc, _REFUSED_BY_FILTER) else "readable"
        raise UnsafeSdist(f"{name} is not a {verdict} sdist: {exc}") from None
    except OSError as exc:  # the archive unreadable, a full disk: not the archive's fault
        raise UnpackFailed(f"Cannot unpack {name}: {exc}") from None


@contextmanager
def _decompressed(archive: Path) -> Iterator[IO[bytes]]:
    """The archive's tar stream, decompressed by its magic bytes, capped at
    :data:`MAX_UNPACKED_BYTES` so that a bomb is refused before it is inflated whole."""
    with archive.open("rb") as raw, _decompressing(raw) as stream:
        yield _Capped(stream)  # type: ignore[misc]  # file-like, as tarfile wants


def _decompressing(raw: io.BufferedReader) -> io.BufferedIOBase:
    magic = raw.peek(6)[:6]
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(raw)
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw)
    return raw


class _Capped(io.RawIOBase):
    """A seekable stream that refuses to go past :data:`MAX_UNPACKED_BYTES`."""

    def __init__(self, stream: io.BufferedIOBase) -> None:
        super().__init__()
        self._stream = stream

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._stream.read(-1 if size is None else size)
        self._check(self._stream.tell())
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self._check(offset)  # before a compressed stream inflates its way there
        return self._check(self._stream.seek(offset, whence))

    def tell(self) -> int:
        return self._stream.tell()

    @staticmethod
    def _check(position: int) -> int:
        if position > MAX_UNPACKED_BYTES:
            raise UnsafeSdist(f"it unpacks to more than {MAX_UNPACKED_BYTES} bytes")
        return position


def _tar_members(opened: tarfile.TarFile) -> list[_Member]:
    members: list[_Member] = []
    judge = _Judge()
    while (info := opened.next()) is not None:
        name = judge.path(info.name)
        if not (info.isfile() or info.isdir() or info.issym() or info.islnk()):
            raise UnsafeSdist(f"{info.name} is a device, a pipe or another special file")
        if info.issym():
            judge.link(name, info.linkname)
        elif info.islnk():
            judge.hardlink(name, info.linkname)
        judge.member(name, info.size if info.isfile() else 0)
        members.append(_Member(name, info.isdir(), info.isfile(), opened, info, None, None))
    judge.finish()
    return members


def _zip_members(opened: zipfile.ZipFile) -> list[_Member]:
    members: list[_Member] = []
    judge = _Judge()
    for info in opened.infolist():
        name = judge.path(info.filename)
        if stat.S_IFMT(info.external_attr >> 16) in _DEVICE_OR_PIPE:
            raise UnsafeSdist(f"{info.filename} is a device, a pipe or another special file")
        judge.member(name, info.file_size)
        is_dir = info.is_dir()
        members.append(_Member(name, is_dir, not is_dir, None, None, opened, info))
    judge.finish()
    return members


class _Judge:
    """The checks every member passes, from its header alone, before anything is written:
    a relative name that stays inside, links that stay inside, no member reached through a
    link (its target is judged only lexically), bounded count and size."""

    def __init__(self) -> None:
        self._count = 0
        self._size = 0
        self._names: set[str] = set()
        self._links: set[str] = set()

    def path(self, raw: str) -> str:
        name = raw.replace("\\", "/")
        while name.startswith("./"):
            name = name[2:]
        name = name.rstrip("/")
        if not name or name.startswith("/") or PureWindowsPath(name).drive:
            raise UnsafeSdist(f"member {raw!r} has an absolute path")
        if any(part in ("..", "") for part in name.split("/")) or "\0" in name:
            raise UnsafeSdist(f"member {raw!r} leads out of the archive's folder")
        return name

    def link(self, name: str, target: str) -> None:
        where = posixpath.join(posixpath.dirname(name), target)
        if posixpath.isabs(target) or os.path.isabs(target) or _leads_out(where):
            raise UnsafeSdist(f"link {name} -> {target} leads out of the archive's folder")
        self._links.add(name.casefold())

    def hardlink(self, name: str, target: str) -> None:
        target = self.path(target)
        if target.casefold() not in self._names or target.casefold() in self._links:
            raise UnsafeSdist(f"hard link {name} -> {target} names no earlier file member")
        self._links.add(name.casefold())

    def member(self, name: str, size: int) -> None:
        self._count += 1
        self._size += size
        if self._count > MAX_MEMBERS:
            raise UnsafeSdist(f"it has more than {MAX_MEMBERS} members")
        if self._size > MAX_UNPACKED_BYTES:
            raise UnsafeSdist(f"it unpacks to more than {MAX_UNPACKED_BYTES} bytes")
        key = name.casefold()
        if key in self._links and key in self._names:
            raise UnsafeSdist(f"{name} is given twice, once as a link")
        self._names.add(key)

    def finish(self) -> None:
        for name in self._names:
            parts = name.split("/")
            for depth in range(1, len(parts)):
                if "/".join(parts[:depth]) in self._links:
                    raise UnsafeSdist(f"{name} would be written through a link")


def _leads_out(relative: str) -> bool:
    """Whether the relative path ``relative`` climbs above its starting folder."""
    depth = 0
    for part in relative.replace("\\", "/").split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def _single_top(names: list[str]) -> str:
    """The folder every member lies in, when there is one (an sdist's ``name-version``)."""
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) != 1:
        return ""
    top = tops.pop()
    return top if any("/" in name for name in names) else ""


def _check_links(archive: Path, into: Path) -> None:
    """Every link unpacked resolves inside ``into``, however links chain (a link judged
    lexically could climb through another link)."""
    root = os.path.realpath(into)
    for folder, dirs, files in os.walk(into):
        for entry in (*dirs, *files):
            path = os.path.join(folder, entry)
            if not os.path.islink(path):
                continue
            resolved = os.path.realpath(path)
            if resolved != root and not is_inside(resolved, [root]):
                raise UnsafeSdist(
                    f"{archive.name} is not a safe sdist: link {os.path.relpath(path, into)} "
                    "leads out of the archive's folder"
                )


def _owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """``info`` as the data filter would extract it: owned by whoever unpacks, no set-id
    bits, no writable-by-others."""
    info = copy.copy(info)
    info.uname = info.gname = ""
    if hasattr(os, "getuid"):
        info.uid, info.gid = os.getuid(), os.getgid()
    info.mode &= 0o755
    return info
