"""Core metadata of a candidate, for its dependencies: from a PEP 658 file when the index
serves one (checked against its advertised hash, EC48), else from the archive itself.

An archive read here is judged like any download: the caller's ``archive_of`` fetches it
into the verified archive cache, where the install finds it again, and in hash-checking mode
its bytes must be allowed before they are read, else the next file of the version is tried
(EC44). A metadata file is read whole, so it is refused past the size a member read whole
may have.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from pip_hashsync.environment.installed import header_fields
from pip_hashsync.environment.members import MAX_MEMBER_SIZE, BadMember, read_member
from pip_hashsync.errors import ExitCode, HashsyncError
from pip_hashsync.index.candidates import Candidate
from pip_hashsync.index.pages import FileLink
from pip_hashsync.requirements.reader import TAR_EXTENSIONS
from pip_hashsync.urls import url_to_path


class IntegrityError(HashsyncError):
    """Bytes that do not match what they must match: exit 3. ``project`` names the project
    whose files failed, so the failure can be tied to its line."""

    exit_code = ExitCode.HASH_FAILURE

    def __init__(self, message: str, project: str | None = None) -> None:
        super().__init__(message)
        self.project = project


@dataclass(frozen=True)
class Metadata:
    """The parts of core metadata resolution needs, and the name and version they are of
    (checked against the wheel that is installed, see :func:`wheel_contradictions`)."""

    requires_dist: tuple[str, ...] = ()
    requires_python: str | None = None
    name: str | None = None
    version: str | None = None


class _Response(Protocol):
    @property
    def content(self) -> bytes: ...


class _Client(Protocol):
    def get(
        self, url: str, headers: Mapping[str, str] | None = None, *, limit: int = ...
    ) -> _Response: ...


def parse_metadata(data: bytes) -> Metadata:
    """Requires-Dist and Requires-Python of a METADATA / PKG-INFO document."""
    fields = header_fields(io.StringIO(data.decode("utf-8", errors="replace")))
    return Metadata(
        requires_dist=tuple(value for key, value in fields if key == "requires-dist"),
        requires_python=next((value for key, value in fields if key == "requires-python"), None),
        name=next((value for key, value in fields if key == "name"), None),
        version=next((value for key, value in fields if key == "version"), None),
    )


def metadata_from_archive(filename: str, data: bytes | BinaryIO) -> bytes:
    """The METADATA of a wheel, or the PKG-INFO of an sdist, from its bytes or an open file.
    Bytes that are not a readable archive (a broken or substituted file) raise
    :class:`IntegrityError`, so the next file is tried instead of a traceback."""
    try:
        found = _metadata_member(filename, io.BytesIO(data) if isinstance(data, bytes) else data)
    except BadMember as exc:
        raise IntegrityError(f"{filename}: {exc}") from None
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError) as exc:
        raise IntegrityError(f"{filename} is not a readable archive ({exc})") from None
    if found is None:
        raise IntegrityError(f"{filename} has no metadata file where one must be")
    return found


def wheel_contradictions(
    filename: str, data: BinaryIO, key: str, planned: Metadata | None
) -> list[str]:
    """How a verified wheel contradicts what it is installed as: its filename names another
    project than its line (``key``); its ``.dist-info`` folder or its METADATA another name
    or version than its filename (installed, it would never settle); or its METADATA is not
    what the plan was made from (``planned``, say an index's PEP 658 file: its dependencies
    would not be the ones resolved). One line per contradiction; none: an empty list."""
    name, version = parse_wheel_filename(filename)[:2]
    found = []
    if name != key:
        found.append(f"it is a wheel of {name}, but its line asks for {key}")
    try:
        with zipfile.ZipFile(data) as archive:
            folders = {m.split("/", 1)[0] for m in archive.namelist() if ".dist-info/" in m}
            own = _wheel_metadata(archive)
    except zipfile.BadZipFile as exc:  # BadMember included
        return [f"its metadata cannot be read ({exc})"]
    if own is None:
        return ["it has no .dist-info/METADATA"]
    for folder in sorted(f for f in folders if f.endswith(".dist-info")):
        folder_name, _, folder_version = folder.removesuffix(".dist-info").rpartition("-")
        if (canonicalize_name(folder_name), _version(folder_version)) != (name, version):
            found.append(f"its folder {folder} is not of {name} {version}, as its filename says")
    actual = parse_metadata(own)
    if canonicalize_name(actual.name or "") != name or _version(actual.version) != version:
        found.append(
            f"its METADATA says {actual.name} {actual.version}, its filename {name} {version}"
        )
    if planned is not None:
        found.extend(_differences(planned, actual))
    return found


def _differences(planned: Metadata, actual: Metadata) -> Iterator[str]:
    """The fields in which the wheel's own METADATA is not what the plan was made from
    (none when the texts are the same: the usual case costs no parse)."""
    if planned == actual:
        return
    pairs = [
        ("Name", canonicalize_name(planned.name or ""), canonicalize_name(actual.name or "")),
        ("Version", _version(planned.version), _version(actual.version)),
        ("Requires-Dist", _requirements(planned), _requirements(actual)),
        ("Requires-Python", _specifiers(planned), _specifiers(actual)),
    ]
    for field_name, was, is_now in pairs:
        if was != is_now:
            yield (
                f"{field_name}: the metadata the plan was made from says {_shown(was)}, "
                f"the wheel's own says {_shown(is_now)}"
            )


def _shown(value: object) -> str:
    if isinstance(value, list):
        value = ", ".join(value)
    return str(value) if value else "nothing"


def _version(text: str | None) -> Version | str | None:
    try:
        return Version(text or "")
    except InvalidVersion:
        return text


def _requirements(metadata: Metadata) -> list[str]:
    """Requires-Dist, normalized (spacing, order) so that only a real difference counts."""
    normalized = []
    for text in metadata.requires_dist:
        try:
            normalized.append(str(Requirement(text)))
        except InvalidRequirement:
            normalized.append(text.strip())
    return sorted(normalized)


def _specifiers(metadata: Metadata) -> SpecifierSet | str | None:
    text = metadata.requires_python
    try:
        return None if text is None else SpecifierSet(text)
    except InvalidSpecifier:
        return text


def _wheel_metadata(archive: zipfile.ZipFile) -> bytes | None:
    for member in archive.namelist():
        parts = member.split("/")
        if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
            return read_member(archive, archive.getinfo(member))
    return None


def _metadata_member(filename: str, data: BinaryIO) -> bytes | None:
    """A wheel's METADATA, or the PKG-INFO at the top folder of an sdist in any format."""
    name = filename.lower()
    if name.endswith(".whl"):
        with zipfile.ZipFile(data) as archive:
            return _wheel_metadata(archive)
    elif name.endswith(".zip"):
        with zipfile.ZipFile(data) as archive:
            for member in archive.infolist():
                if member.filename.count("/") == 1 and member.filename.endswith("/PKG-INFO"):
                    return read_member(archive, member)
    elif name.endswith(TAR_EXTENSIONS):
        with tarfile.open(fileobj=data) as archive:
            for tar_member in archive:
                if tar_member.name.count("/") == 1 and tar_member.name.endswith("/PKG-INFO"):
                    if tar_member.size > MAX_MEMBER_SIZE:
                        raise BadMember(f"{tar_member.name} declares {tar_member.size} bytes")
                    extracted = archive.extractfile(tar_member)
                    if extracted is not None:
                        return extracted.read()
    return None


#: ``archive_of(key, file)``: the path of ``file``'s bytes, verified (in hash-checking
#: mode: allowed) before anyone reads them; IntegrityError when they fail.
ArchiveOf = Callable[[str, FileLink], str]


@dataclass
class MetadataFetcher:
    """Reads metadata for the provider, each file at most once per run; :meth:`prefetch`
    reads many at once, so that the resolver later finds them read."""

    client: _Client
    #: Where an archive read for its METADATA comes from (no PEP 658 file): the verified
    #: archive cache, so the archive is downloaded once for the plan and the install.
    archive_of: ArchiveOf
    #: URLs of local archives whose bytes this run has verified already (cache hits).
    verified: Container[str] = frozenset()
    #: URLs of installed distributions' METADATA files (kept as they are, read directly).
    installed: Container[str] = frozenset()
    notices: list[str] = field(default_factory=list)
    #: URL -> why: files whose bytes failed the check, never to be chosen (EC44).
    failed: dict[str, str] = field(default_factory=dict)
    _cache: dict[str, Metadata] = field(default_factory=dict)
    #: URLs of ``failed`` whose failure is in ``notices`` already.
    _told: set[str] = field(default_factory=set)

    def known(self, candidate: Candidate) -> Metadata | None:
        """The metadata read for ``candidate`` so far (None: not read, e.g. ``--no-deps``)."""
        return next((self._cache[f.url] for f in candidate.files if f.url in self._cache), None)

    def prefetch(self, candidates: Iterable[Candidate], workers: int = 8) -> None:
        """Read the metadata of ``candidates`` in parallel (files over the network are most
        of a cold plan's time). What fails here is told, in order, when the resolver asks."""
        pending = {c.files[0].url: c for c in candidates if c.files and not self.known(c)}
        if len(pending) < 2:
            return
        with ThreadPoolExecutor(max_workers=min(workers, len(pending))) as pool:
            for _ in pool.map(self._read_ahead, pending.values()):
                pass

    def _read_ahead(self, candidate: Candidate) -> None:
        with contextlib.suppress(Exception):  # raised again by the resolver's own call
            self._first_readable(candidate)

    def __call__(self, candidate: Candidate) -> Metadata:
        try:
            return self._first_readable(candidate)
        finally:
            for file in candidate.files:
                if file.url in self.failed and file.url not in self._told:
                    self._told.add(file.url)
                    self.notices.append(f"{self.failed[file.url]}; trying the next allowed file")

    def _first_readable(self, candidate: Candidate) -> Metadata:
        """The metadata of the first file of ``candidate`` that can be read, each file read
        at most once; IntegrityError listing every file that failed when none can."""
        failures = []
        for file in candidate.files:
            if file.url in self._cache:
                return self._cache[file.url]
            if file.url not in self.failed:
                try:
                    self._cache[file.url] = self._read(candidate.key, file)
                    return self._cache[file.url]
                except IntegrityError as exc:
                    self.failed[file.url] = str(exc)
            failures.append(self.failed[file.url])
        raise IntegrityError("\n".join(failures), candidate.key)

    def _read(self, key: str, file: FileLink) -> Metadata:
        if file.url in self.installed:
            with open(url_to_path(file.url), "rb") as installed:
                return parse_metadata(installed.read())
        if file.url in self.verified:
            # an archive this run has just re-hashed in the cache: only its METADATA is read
            path = url_to_path(file.url)
        elif file.metadata_hashes is not None:
            data = self.client.get(file.url + ".metadata", limit=MAX_MEMBER_SIZE).content
            expected = file.metadata_hashes.get("sha256")
            if expected and hashlib.sha256(data).hexdigest() != expected:
                raise IntegrityError(
                    f"the metadata file of {file.filename} from {file.origin} does not match "
                    "the hash its index advertises"
                )
            return parse_metadata(data)
        else:
            path = self.archive_of(key, file)
        with open(path, "rb") as archive:
            return parse_metadata(metadata_from_archive(file.filename, archive))
