"""PEP 751 lock files (``pylock.toml``, ``pylock.<name>.toml``), read into the lines a
hashed requirements file gives, so everything after reading is shared with those.

A package of the lock becomes one requirement line: ``name==version`` whose allowed hashes
are those of all its files, with the files themselves (:class:`LockedFile`) offered in
place of an index page; an ``archive`` becomes a ``name @ URL`` line with its hashes, a
``directory`` or ``vcs`` a line of that kind (refused in hash-checking mode, as in a
requirements file). The package's ``marker`` is evaluated for the target with the
``extras`` and ``dependency_groups`` the run selects (:class:`LockMarker`); what the lock
says of the whole file (``requires-python``, ``environments``) is checked once the target
is known (:class:`LockScope`). Parsing and validation are ``packaging.pylock``'s.

>>> lines = RequirementsReader().read(["pylock.toml"])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import re
import sys
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.markers import Marker
from packaging.pylock import (
    Package,
    PackageArchive,
    PackageDirectory,
    PackageSdist,
    PackageVcs,
    PackageWheel,
    Pylock,
    PylockUnsupportedVersionError,
    PylockValidationError,
)
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from pip_hashsync.errors import Problem, Source
from pip_hashsync.requirements.hashes import HEX_LENGTHS, Digest, InvalidDigest, check_hex
from pip_hashsync.requirements.reader import (
    Kind,
    LockSelection,
    Requirement,
    RequirementSet,
    is_url,
)
from pip_hashsync.urls import path_to_url

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the standard library has it from 3.11
    import tomli as tomllib

#: packaging logs a lock-version it does not know to the root's last resort (a bare line on
#: stderr); the reader says it as a warning of its own instead.
logging.getLogger(Pylock.__module__).addHandler(logging.NullHandler())
#: The newest lock-version whose keys this reader knows (PEP 751).
KNOWN_VERSION = Version("1.0")


class LockMarker(Marker):
    """A package's ``marker``, evaluated as PEP 751 says: in the lock-file context, with
    ``extras`` and ``dependency_groups`` the sets this run selected, whatever environment
    the caller passes (a target's marker environment)."""

    __slots__ = ("_extras", "_groups")

    def __init__(self, marker: str, extras: frozenset[str], groups: frozenset[str]) -> None:
        super().__init__(marker)
        self._extras = extras
        self._groups = groups

    def evaluate(
        self, environment: Mapping[str, Any] | None = None, context: str = "lock_file"
    ) -> bool:
        """The marker's value; ``context`` is ignored: a lock's marker is always read in
        the lock-file context."""
        chosen = {"extras": self._extras, "dependency_groups": self._groups}
        return super().evaluate({**(environment or {}), **chosen}, context="lock_file")


@dataclass(frozen=True)
class LockedFile:
    """One wheel or sdist a lock lists for a package: where it is, and its digests."""

    filename: str
    url: str
    digests: tuple[Digest, ...]
    requires_python: str | None = None


@dataclass(frozen=True)
class LockScope:
    """What a lock says of the environments it was made for, checked against a target."""

    source: Source
    requires_python: SpecifierSet | None = None
    environments: tuple[Marker, ...] = field(default=())

    def refusal(self, environment: Mapping[str, str]) -> str | None:
        """Why the lock does not apply to a target with this marker ``environment``; None
        when it does."""
        python = environment.get("python_full_version", "")
        if self.requires_python is not None and not self.requires_python.contains(
            python, prereleases=True
        ):
            return (
                f"the lock requires Python {self.requires_python}, and the target runs {python}; "
                "lock again for this Python or choose another target"
            )
        if self.environments and not any(
            marker.evaluate(dict(environment), context="requirement")
            for marker in self.environments
        ):
            listed = "; ".join(str(m) for m in self.environments)
            return (
                f"the target is none of the lock's environments ({listed}); lock again for "
                "this platform or choose another target"
            )
        return None


def read_lock(
    data: bytes,
    path: str,
    result: RequirementSet,
    *,
    constraint: bool,
    selection: LockSelection,
) -> None:
    """Add the lock's packages to ``result`` as lines of ``path`` (every problem found is
    added; none stops the others)."""
    try:
        text = data.decode("utf-8")
        lock = Pylock.from_dict(tomllib.loads(text))
    except PylockUnsupportedVersionError as exc:
        message = f"{exc}: this pip-hashsync reads lock-version 1.x; upgrade it to read this lock"
        result.problems.append(Problem("file", f"Could not read lock file {path}: {message}"))
        return
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, PylockValidationError) as exc:
        reason = f"not a valid PEP 751 lock: {exc}"
        result.problems.append(Problem("file", f"Could not read lock file {path}: {reason}"))
        return
    chosen = _selected(lock, path, selection, result)
    if chosen is None:
        return
    extras, groups = chosen
    if lock.lock_version > KNOWN_VERSION:
        result.warnings.append(
            f"{path}: lock-version {lock.lock_version} is newer than {KNOWN_VERSION}, the newest "
            "this pip-hashsync knows; keys it does not know are ignored"
        )
    result.lock_scopes.append(
        LockScope(Source(path, 1), lock.requires_python, tuple(lock.environments or ()))
    )
    lines = _package_lines(text, [p.name for p in lock.packages])
    # Relative ``path`` keys are read against the lock: its URL, or its folder.
    base = path if is_url(path) else os.path.dirname(os.path.abspath(path))
    for package, line in zip(lock.packages, lines, strict=True):
        source = Source(path, line)
        try:
            requirement = _requirement(package, source, base, extras, groups)
        except (InvalidDigest, ValueError) as exc:
            result.problems.append(Problem("syntax", f"{package.name}: {exc}", source))
            continue
        result.problems.extend(_uncheckable(package, requirement))
        (result.constraints if constraint else result.requirements).append(requirement)
    result.problems.extend(_dependency_gaps(lock, path, lines))


def _uncheckable(package: Package, requirement: Requirement) -> list[Problem]:
    """A package whose files carry hashes, none of an algorithm this tool can check: its
    line has no hash, so no other rule would stop it (a weak one is the rules' to refuse)."""
    hashed = [*_distributions(package), *([package.archive] if package.archive else [])]
    if not hashed or requirement.hashes:
        return []
    algorithms = ", ".join(sorted({name for a in hashed for name in a.hashes}))
    message = (
        f"{requirement.text} has no hash this tool can check (only {algorithms}); lock it "
        "again with a tool that writes sha256"
    )
    return [Problem("missing-hash", message, requirement.source, package.name)]


def _selected(
    lock: Pylock, path: str, selection: LockSelection, result: RequirementSet
) -> tuple[frozenset[str], frozenset[str]] | None:
    """The extras and dependency groups selected, by their normalized names; None (with a
    problem) when ``--extra`` or ``--group`` names one the lock does not declare."""
    declared = {
        canonicalize_name(g)
        for g in [*(lock.dependency_groups or ()), *(lock.default_groups or ())]
    }
    extras = frozenset(canonicalize_name(e) for e in selection.extras)
    groups = frozenset(
        canonicalize_name(g)
        for g in (lock.default_groups or () if selection.groups is None else selection.groups)
    )
    unknown = [
        *(f"extra {e!r}" for e in sorted(extras - set(lock.extras or ()))),
        *(f"group {g!r}" for g in sorted(groups - declared)),
    ]
    if unknown:
        offered = ", ".join([*(lock.extras or ()), *sorted(declared)]) or "none"
        result.problems.append(
            Problem(
                "file",
                f"{path} declares no {' and no '.join(unknown)} (it declares: {offered})",
            )
        )
        return None
    return extras, groups


def _package_lines(text: str, names: Sequence[str]) -> list[int]:
    """The line of each package's ``name = "..."`` key, in order, for messages (TOML
    parsers keep no positions); a package not found there is named at line 1."""
    rows = text.splitlines()
    numbers, start = [], 0
    for name in names:
        pattern = re.compile(rf"""^\s*name\s*=\s*["']{re.escape(name)}["']""")
        found = next((i for i in range(start, len(rows)) if pattern.match(rows[i])), None)
        numbers.append(found + 1 if found is not None else 1)
        start = found + 1 if found is not None else start
    return numbers


def _digests(hashes: Mapping[str, str]) -> list[Digest]:
    """The digests of algorithms this tool can check; others (a lock may name any of
    hashlib's) are left out, so a file with no other is refused as unhashed."""
    return [
        Digest(name, check_hex(name, value))
        for name, value in sorted(hashes.items())
        if name in HEX_LENGTHS
    ]


def _location(url: str | None, path: str | None, base: str) -> str:
    """A file's URL: the lock's ``url``, else its ``path`` read against ``base`` (the lock's
    URL, or its folder)."""
    if url:
        return url
    assert path is not None  # packaging's validation: a file has a url or a path
    if is_url(base):
        return urllib.parse.urljoin(base, path)
    return path_to_url(os.path.normpath(os.path.join(base, path)))


def _requirement(
    package: Package,
    source: Source,
    base: str,
    extras: frozenset[str],
    groups: frozenset[str],
) -> Requirement:
    marker = LockMarker(str(package.marker), extras, groups) if package.marker else None
    common: dict[str, Any] = {"source": source, "name": package.name, "marker": marker}
    direct = package.archive or package.directory or package.vcs
    if direct is not None:
        url, kind = _direct_url(direct, base)
        hashes = _digests(direct.hashes) if isinstance(direct, PackageArchive) else []
        editable = isinstance(direct, PackageDirectory) and bool(direct.editable)
        text = f"{'-e ' if editable else ''}{package.name} @ {url}"
        return Requirement(
            text=text,
            specifier=SpecifierSet(),
            extras=frozenset(),
            url=url,
            kind=kind,
            editable=editable,
            hashes=tuple(hashes),
            **common,
        )
    python = str(package.requires_python) if package.requires_python else None
    files = tuple(
        LockedFile(a.filename, _location(a.url, a.path, base), tuple(_digests(a.hashes)), python)
        for a in _distributions(package)
    )
    version = package.version or _version_of(files[0].filename)
    digests = {d: None for file in files for d in file.digests}
    return Requirement(
        text=f"{package.name}=={version}",
        specifier=SpecifierSet(f"=={version}"),
        extras=frozenset(),
        url=None,
        kind=Kind.INDEX,
        hashes=tuple(digests),
        locked_files=files,
        **common,
    )


def _distributions(package: Package) -> list[PackageWheel | PackageSdist]:
    """A package's wheels, then its sdist."""
    return [*(package.wheels or ()), *([package.sdist] if package.sdist else [])]


def _direct_url(
    direct: PackageArchive | PackageDirectory | PackageVcs, base: str
) -> tuple[str, Kind]:
    """The requirement-line URL of an ``archive``, ``directory`` or ``vcs`` entry."""
    subdirectory = f"#subdirectory={direct.subdirectory}" if direct.subdirectory else ""
    if isinstance(direct, PackageArchive):
        return _location(direct.url, direct.path, base) + subdirectory, Kind.ARCHIVE
    if isinstance(direct, PackageDirectory):
        return _location(None, direct.path, base) + subdirectory, Kind.DIRECTORY
    where = _location(direct.url, direct.path, base)
    return f"{direct.type}+{where}@{direct.commit_id}{subdirectory}", Kind.VCS


def _version(text: object) -> Version | None:
    """A ``dependencies`` entry's version; None (matching no package's) when invalid."""
    try:
        return Version(str(text))
    except InvalidVersion:
        return None


def _version_of(filename: str) -> Version:
    if filename.endswith(".whl"):
        return parse_wheel_filename(filename)[1]
    return parse_sdist_filename(filename)[1]


def _dependency_gaps(lock: Pylock, path: str, lines: Sequence[int]) -> list[Problem]:
    """Each ``dependencies`` entry that names no package of the lock: the lock is the whole
    closure, as a hashed requirements file is."""
    versions: dict[str, set[Version | None]] = {}
    for package in lock.packages:
        versions.setdefault(package.name, set()).add(package.version)
    problems = []
    for package, line in zip(lock.packages, lines, strict=True):
        for entry in package.dependencies or ():
            if not isinstance(entry.get("name"), str):
                continue  # identified by other keys: the metadata check still covers it
            name = canonicalize_name(entry["name"])
            wanted = entry.get("version")
            if name in versions and (wanted is None or _version(wanted) in versions[name]):
                continue
            parent = f"{package.name} {package.version}" if package.version else package.name
            what = f"{name} {wanted}" if wanted else name
            problems.append(
                Problem(
                    "missing-dependency",
                    f"{parent} depends on {what}, which the lock does not list; lock again",
                    Source(path, line),
                    name,
                )
            )
    return problems
