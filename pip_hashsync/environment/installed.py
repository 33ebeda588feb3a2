"""What is installed in the target: read from directory names, not ``importlib.metadata``.

The no-op sync must stay cheap (libraries §8), so :func:`scan` lists the site directories
and the files inside each ``.dist-info``, and reads only the one-line INSTALLER file.
Everything else (provenance, ``direct_url.json``, dependencies) is read on demand.
Installed distributions are matched by canonical name, never by spelling (EC85). Legacy
installs (``.egg-info``, ``.egg-link``, distutils) are reported as such so that nothing
tries to remove them (EC86).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import InvalidName, canonicalize_name

from pip_hashsync import PROVENANCE_FILE
from pip_hashsync.requirements.hashes import InvalidDigest, check_hex

if TYPE_CHECKING:
    from packaging.requirements import Requirement

_SUFFIXES = (".dist-info", ".egg-info", ".egg-link")


@dataclass(frozen=True)
class Provenance:
    """The archive an installed distribution came from (design policy 6)."""

    archive: str
    sha256: str
    url: str | None
    #: The sha256 of the wheel built from ``archive`` when that is an sdist.
    built_wheel: str | None = None

    def to_json(self) -> dict[str, str | None]:
        record = {"archive": self.archive, "sha256": self.sha256, "url": self.url}
        return record if self.built_wheel is None else {**record, "built_wheel": self.built_wheel}


@dataclass(frozen=True)
class InstalledDist:
    """One installed distribution, as found on disk.

    ``name`` keeps the spelling of the directory name (or of METADATA when the name cannot
    be split); ``key`` is what to match on. ``path`` is the ``.dist-info`` or ``.egg-info``
    directory, the distutils ``.egg-info`` file, or for an ``.egg-link`` the project's
    ``.egg-info`` directory it points to.
    """

    name: str
    key: str
    version: str
    path: Path
    legacy: bool
    has_record: bool
    installer: str | None
    requested: bool

    def provenance(self) -> Provenance | None:
        """The recorded archive; None when absent or not in the expected form (then the
        distribution counts as installed from an unknown archive)."""
        data = _read_json(self.path / PROVENANCE_FILE)
        if data is None:
            return None
        archive, sha256, url = data.get("archive"), data.get("sha256"), data.get("url")
        if not (isinstance(archive, str) and archive and isinstance(sha256, str)):
            return None
        if url is not None and not isinstance(url, str):
            return None
        try:
            return Provenance(archive, check_hex("sha256", sha256), url)
        except InvalidDigest:
            return None

    def direct_url(self) -> dict[str, Any] | None:
        """The PEP 610 record of a direct-URL install (EC63), or None."""
        return _read_json(self.path / "direct_url.json")

    def requires(self) -> list[str]:
        """The ``Requires-Dist`` values, markers included; for an egg-info without them,
        its ``requires.txt`` converted the way pip converts it."""
        requires = [
            value for key, value in _headers(self._metadata_file()) if key == "requires-dist"
        ]
        if requires or self.path.suffix != ".egg-info":
            return requires
        return list(_egg_info_requires(self.path / "requires.txt"))

    def _metadata_file(self) -> Path:
        if self.path.suffix == ".dist-info":
            return self.path / "METADATA"
        return self.path / "PKG-INFO" if self.path.is_dir() else self.path


def scan(site_dirs: Iterable[str]) -> dict[str, InstalledDist]:
    """Installed distributions by canonical name. When one project is found twice, the
    first site directory (then the first name in sorted order) wins, as on ``sys.path``."""
    found: dict[str, InstalledDist] = {}
    for site_dir in site_dirs:
        try:
            with os.scandir(site_dir) as listing:
                entries = sorted(
                    (e for e in listing if e.name.endswith(_SUFFIXES)), key=lambda e: e.name
                )
        except OSError:
            continue
        for entry in entries:
            dist = _read_entry(entry)
            if dist is not None:
                found.setdefault(dist.key, dist)
    return found


def _read_entry(entry: os.DirEntry[str]) -> InstalledDist | None:
    """The distribution an entry of a site directory records, or None for anything else."""
    path = Path(entry.path)
    if entry.name.endswith(".dist-info"):
        return _from_info_dir(path, legacy=False) if entry.is_dir() else None
    if entry.name.endswith(".egg-info"):
        if entry.is_dir():
            return _from_info_dir(path, legacy=True)
        # distutils writes its PKG-INFO as a file of this name
        return _make(path, path, legacy=True, files=frozenset()) if entry.is_file() else None
    info = _linked_egg_info(path) if entry.is_file() else None
    return _from_info_dir(info, legacy=True) if info else None


def _from_info_dir(path: Path, legacy: bool) -> InstalledDist | None:
    try:
        files = frozenset(os.listdir(path))
    except OSError:
        return None
    metadata = path / ("PKG-INFO" if legacy else "METADATA")
    return _make(path, metadata, legacy, files)


def _make(path: Path, metadata: Path, legacy: bool, files: frozenset[str]) -> InstalledDist | None:
    """Name and version from the directory name; from the metadata headers when the name
    does not split cleanly (an unescaped ``-`` in it) or carries no version."""
    name, _, version = path.stem.partition("-")
    if legacy:  # name-version-pyX.Y, or just name in a project folder
        version = version.partition("-")[0]
    if not version or "-" in version:
        headers = dict(_headers(metadata))
        name, version = headers.get("name", name), headers.get("version", version)
    try:
        key = canonicalize_name(name, validate=True)
    except InvalidName:  # e.g. a "~name" directory left by an interrupted uninstall
        return None
    installer = None
    if "INSTALLER" in files:
        try:
            installer = (path / "INSTALLER").read_text(encoding="utf-8").strip() or None
        except (OSError, UnicodeDecodeError):
            installer = None
    return InstalledDist(
        name=name,
        key=key,
        version=version,
        path=path,
        legacy=legacy,
        has_record="RECORD" in files,
        installer=installer,
        requested="REQUESTED" in files,
    )


def _linked_egg_info(link: Path) -> Path | None:
    """The ``.egg-info`` of a ``setup.py develop`` install: the link file's first line is
    the project folder (relative to the site directory if not absolute)."""
    try:
        first = link.read_text(encoding="utf-8").splitlines()[0].strip()
        project = link.parent / first
        candidates = sorted(project.glob("*.egg-info"))
    except (OSError, UnicodeDecodeError, IndexError):
        return None
    key = canonicalize_name(link.stem)
    for candidate in candidates:
        if canonicalize_name(candidate.stem.split("-")[0]) == key:
            return candidate
    return None


def _headers(metadata: Path) -> list[tuple[str, str]]:
    """The header fields of an installed core-metadata file (see :func:`header_fields`)."""
    try:
        with metadata.open(encoding="utf-8", errors="replace") as handle:
            return header_fields(handle)
    except OSError:
        return []


def header_fields(lines: Iterable[str]) -> list[tuple[str, str]]:
    """The header fields of a core-metadata document, names lower-cased, in order; folded
    lines joined. The body (the description) is not read. Enough for the fields read here
    (names, versions, requirements), and a tenth of the cost of :mod:`email`'s parser."""
    fields: list[tuple[str, str]] = []
    for line in lines:
        line = line.rstrip("\r\n")
        if not line:
            break
        if line[0] in " \t" and fields:
            key, value = fields[-1]
            fields[-1] = (key, f"{value} {line.strip()}")
        elif ":" in line:
            key, _, value = line.partition(":")
            fields.append((key.strip().lower(), value.strip()))
    return fields


def _egg_info_requires(requires_txt: Path) -> Iterator[str]:
    """``requires.txt`` lines as Requires-Dist values: a ``[extra:marker]`` section header
    becomes ``; (marker) and extra == "extra"`` on each line under it."""
    try:
        lines = requires_txt.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return
    extra = marker = ""
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            extra, _, marker = line[1:-1].partition(":")
            extra = canonicalize_name(extra) if extra else ""
            continue
        conditions = [f"({marker})"] if marker and extra else [marker] if marker else []
        if extra:
            conditions.append(f'extra == "{extra}"')
        yield f"{line} ; {' and '.join(conditions)}" if conditions else line


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def protected_closure(
    protected: Iterable[str],
    installed: Mapping[str, InstalledDist],
    marker_env: Mapping[str, str],
) -> set[str]:
    """The protected names plus everything installed they need on the target (policy 9):
    each ``Requires-Dist`` whose marker holds in ``marker_env``, extras not asked for.
    ``sync``, its no-op check and ``verify`` judge with this one answer, so a project that
    a kept one needs only elsewhere is removed by the first and not reported by the last."""
    keep: set[str] = set()
    todo: list[str] = [canonicalize_name(n) for n in protected]
    while todo:
        key = todo.pop()
        if key in keep:
            continue
        keep.add(key)
        dist = installed.get(key)
        for text in dist.requires() if dist else ():
            name = _needed(text, marker_env)
            if name is not None:
                todo.append(name)
    return keep


def _needed(text: str, marker_env: Mapping[str, str]) -> str | None:
    """The canonical name ``text`` requires where ``marker_env`` holds, else None."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return requirement_name(text)
    if requirement.marker and not requirement.marker.evaluate(dict(marker_env)):
        return None
    return canonicalize_name(requirement.name)


_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def requirement_name(text: str) -> str | None:
    """The canonical name a requirement string starts with, read without parsing it
    (a full parse costs 50 times more); None when it starts with no name."""
    match = _NAME.match(text)
    return canonicalize_name(match.group(1)) if match else None


def own_requirements(site_dirs: Iterable[str]) -> list[Requirement]:
    """pip-hashsync's own ``Requires-Dist`` that hold here (markers evaluated, extras not)
    when it runs from the environment of ``site_dirs`` (one of them is on its import path,
    so changing them changes the tool itself); else none, as when it runs from a source
    tree without metadata."""
    import sys
    from importlib import metadata

    from packaging.requirements import InvalidRequirement, Requirement

    ours = {os.path.realpath(folder) for folder in sys.path if folder}
    if not any(os.path.realpath(folder) in ours for folder in site_dirs):
        return []
    try:
        texts = metadata.requires("pip-hashsync") or []
    except metadata.PackageNotFoundError:
        return []
    requirements = []
    for text in texts:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            requirements.append(requirement)
    return requirements
