"""The builds a plan needs, settled before anything is built or changed (issue 14).

An action whose chosen file is an sdist becomes a build: its archive is fetched and
verified like any other (so ``--dry-run`` and the real sync download it once, into the
same cache), its ``pyproject.toml`` is read from the archive without running any of its
code, and every ``build-system.requires`` entry must be pinned and hashed
(:mod:`~pip_hashsync.resolve.buildpins`). So ``--dry-run`` and ``--check`` report a
missing build constraint exactly as ``sync`` does. What the backend asks for at build time
(``get_requires_for_build_wheel``) can only be known by running it; it meets the same pins
then, still before the environment changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pip_hashsync.archives.cache import ArchiveCache
from pip_hashsync.archives.fetch import Archive, FetchRequest, fetch
from pip_hashsync.archives.sdist import build_system_of_sdist
from pip_hashsync.errors import ExitCode, HashsyncError, Problem
from pip_hashsync.index.http import HttpClient
from pip_hashsync.index.pages import FileLink
from pip_hashsync.requirements.hashes import AllowedHashes
from pip_hashsync.requirements.reader import Requirement
from pip_hashsync.resolve.buildpins import (
    BuildPins,
    MissingBuildPin,
    explain_missing_build_pins,
    pin_build_requires,
)
from pip_hashsync.resolve.plan import Action
from pip_hashsync.resolve.provider import TargetFacts
from pip_hashsync.settings.request import BuildHashes


@dataclass(frozen=True)
class PlannedBuild:
    """One sdist to build: its verified archive and what its build environment gets first."""

    sdist: Archive
    backend: str
    #: Lines installed into the build environment for ``build-system.requires``.
    requires: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "sdist": self.sdist.filename,
            "sha256": self.sdist.digests.get("sha256"),
            "backend": self.backend,
            "requires": list(self.requires),
        }


def write_pins(pins: BuildPins, path: Path) -> Path:
    """Every pin as a constraints file, hashes included, for pip-hashsync's own install
    into a build environment: the build constraints complete its closure."""
    path.write_text(
        "".join(
            f"{line.text} {' '.join(f'--hash={d}' for d in line.hashes)}\n"
            for group in pins.pins.values()
            for line in group
        ),
        encoding="utf-8",
    )
    return path


@dataclass(frozen=True)
class BuildSettings:
    """What every build of a run shares."""

    pins: BuildPins
    mode: BuildHashes
    marker_env: Mapping[str, str]
    target: TargetFacts
    files_of: Callable[[str], Sequence[FileLink]]


def plan_builds(
    actions: Sequence[Action],
    lines: Mapping[str, Requirement],
    allowed: Mapping[str, AllowedHashes],
    settings: BuildSettings,
    *,
    client: HttpClient,
    cache: ArchiveCache,
    offline: bool,
) -> tuple[dict[str, PlannedBuild], list[Problem], list[str]]:
    """A :class:`PlannedBuild` for every changing action whose chosen file is an sdist, by
    project; the problems that stop the run (a download or verification failure, build
    requirements no pin satisfies) and warnings ("verify" mode's unchecked requirements)."""
    wanted = [a for a in actions if a.changes and a.file is not None and not a.file.is_wheel]
    if not wanted:
        return {}, [], []
    requests = [
        FetchRequest(a.key, tuple(f for f in a.files if not f.is_wheel), allowed.get(a.key))
        for a in wanted
    ]
    try:
        archives, notices = fetch(requests, client, cache, offline=offline)
    except HashsyncError as exc:
        kind = "integrity" if exc.exit_code == ExitCode.HASH_FAILURE else "network"
        return {}, [Problem(kind, str(exc))], []
    builds: dict[str, PlannedBuild] = {}
    problems: list[Problem] = []
    warnings = list(notices)
    missing: list[MissingBuildPin] = []
    for action in wanted:
        archive = archives[action.key]
        try:
            system = build_system_of_sdist(archive.path)
        except HashsyncError as exc:
            problems.append(Problem("integrity", str(exc), name=action.key))
            continue
        line = lines.get(action.key)
        needs = pin_build_requires(
            system.requires,
            settings.pins,
            settings.marker_env,
            sdist=archive.filename,
            why="build-system.requires",
            mode=settings.mode,
            source=line.source if line else None,
        )
        missing.extend(needs.missing)
        problems.extend(needs.problems)
        warnings.extend(needs.warnings)
        builds[action.key] = PlannedBuild(archive, system.backend, needs.lines)
    problems.extend(explain_missing_build_pins(missing, settings.files_of, settings.target))
    return builds, problems, warnings
