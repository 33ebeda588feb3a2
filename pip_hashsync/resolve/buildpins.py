"""Build dependencies are dependencies (design policy 11, EC54): what may go into the
environment that builds an sdist.

Every requirement a build asks for (``build-system.requires``, then what the backend's
``get_requires_for_build_wheel`` returns) must be satisfied by a pinned, hashed line: of a
``--build-constraint`` file, or of the requirements files themselves (pip-compile's
``--allow-unsafe`` locks list setuptools and wheel). A requirement no pin satisfies is
reported before anything is built, per project with the sdists that need it and
paste-ready lines made from the index pages alone: no download, no code run.
``--build-hashes verify`` is pip's and uv's behaviour: hashes are checked where a pin gives
them, anything else is installed unchecked, with a warning each.

>>> pins, problems, warnings = read_build_pins(["build.txt"], lines, applies)  # doctest: +SKIP
>>> needs = pin_build_requires(["setuptools>=61"], pins, env, sdist="foo-1.0.tar.gz",
...                            why="build-system.requires")  # doctest: +SKIP
>>> needs.lines  # doctest: +SKIP
('setuptools==75.1.0 --hash=sha256:…',)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PackagingRequirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from pip_hashsync.errors import Problem, Source
from pip_hashsync.index.candidates import Candidate
from pip_hashsync.index.http import NetworkError
from pip_hashsync.index.metadata import Metadata
from pip_hashsync.index.pages import FileLink
from pip_hashsync.requirements import rules
from pip_hashsync.requirements.reader import (
    FileOptions,
    Kind,
    Requirement,
    RequirementSet,
    RequirementsReader,
)
from pip_hashsync.resolve.diagnostics import paste_ready
from pip_hashsync.resolve.provider import HashAwareProvider, Policy, TargetFacts, Want
from pip_hashsync.settings.request import BuildHashes

#: The problem kind of everything this module reports (exit 2, see ``diagnostics``).
KIND = "build-dependency"


@dataclass(frozen=True)
class BuildPins:
    """The lines that may supply a build environment, by canonical project name: every
    applying pinned line of the build constraints files for a project they name, else the
    requirements files' pinned, hashed lines for it. Several lines of one project narrow
    each other, as in the requirements files."""

    pins: Mapping[str, tuple[Requirement, ...]]

    def fingerprint(self) -> str:
        """sha256 over every pin and its hashes: the build-constraint part of a built
        wheel's cache key (a changed pin may build a different wheel)."""
        text = "\n".join(
            f"{key} {line.specifier} {' '.join(sorted(str(d) for d in line.hashes))}"
            for key in sorted(self.pins)
            for line in self.pins[key]
        )
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class MissingBuildPin:
    """A build requirement that no pin satisfies (``pinned_by``: the pin that does not)."""

    key: str
    name: str
    requirement: str
    specifier: SpecifierSet
    sdist: str
    why: str
    source: Source | None = None
    pinned_by: Requirement | None = None


@dataclass(frozen=True)
class BuildRequires:
    """What one step of one build needs, settled against the pins.

    ``lines`` are requirements-file lines for pip-hashsync's own install into the build
    environment: ``name[extras]==V --hash=…`` for each pin used, the requirement as written
    (marker evaluated and dropped) for one passed through unchecked in "verify" mode. Run
    that install with ``--require-hashes`` in "require" mode and ``--no-require-hashes``
    ("verify where given") in "verify" mode. ``missing`` goes to
    :func:`explain_missing_build_pins`, collected over every build of the run.
    """

    lines: tuple[str, ...] = ()
    missing: tuple[MissingBuildPin, ...] = ()
    problems: tuple[Problem, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.missing and not self.problems


def read_build_pins(
    build_constraints: Sequence[str],
    lines: RequirementSet,
    applies: rules.Applies,
    mode: BuildHashes = "require",
    *,
    reader: RequirementsReader | None = None,
) -> tuple[BuildPins, list[Problem], list[str]]:
    """The pins of the ``build_constraints`` files (``Settings.build_constraints``) and of
    the requirements ``lines``, with the problems and warnings of reading them.

    Build constraints files are constraints files, checked as such (named, no extras, no
    editables; lines of one project must agree). In "require" mode each of their lines that
    applies must be pinned and hashed, as a hashed requirement must be; in "verify" mode
    only pinned lines are pins, hashed or not. ``applies`` is the target's marker test: a
    build environment is made from the target's interpreter.
    """
    read = (reader or RequirementsReader()).read([], build_constraints)
    problems = [*read.problems, *rules.check(read, rules.HashMode(mode == "require"), applies)]
    warnings = list(read.warnings)
    if read.options != FileOptions():
        warnings.append(
            f"options in build constraints files ({', '.join(build_constraints)}) have no "
            "effect: build dependencies come from the run's indexes"
        )
    pins: dict[str, list[Requirement]] = {}
    for line in read.constraints:
        if not line.key or not applies(line):
            continue
        if line.pinned_version and (line.hashes or mode == "verify"):
            pins.setdefault(line.key, []).append(line)
        elif line.hashes:
            continue  # hashed but not pinned: rules.check has said so
        elif mode == "require":
            problems.append(Problem(KIND, _unhashed_constraint(line), line.source, line.key))
        else:
            warnings.append(
                f"{line.source}: {line.text} is not pinned with ==; only pinned build "
                "constraints are used"
            )
    from_constraints = set(pins)
    for line in lines.requirements:
        if line.key and line.key not in from_constraints and _hashed_pin(line) and applies(line):
            pins.setdefault(line.key, []).append(line)
    return BuildPins({key: tuple(found) for key, found in pins.items()}), problems, warnings


def _hashed_pin(line: Requirement) -> bool:
    """A requirement line that can stand for a build dependency: from an index, pinned,
    hashed."""
    return line.kind is Kind.INDEX and bool(line.pinned_version and line.hashes)


def _unhashed_constraint(line: Requirement) -> str:
    return (
        f"{line.text}: a build constraint must pin one version with == and list a --hash "
        "for each file it may be installed from (--build-hashes require, the default)"
    )


def pin_build_requires(
    requires: Sequence[str],
    pins: BuildPins,
    marker_env: Mapping[str, str],
    *,
    sdist: str,
    why: str,
    mode: BuildHashes = "require",
    source: Source | None = None,
) -> BuildRequires:
    """Settle ``requires`` (PEP 508 strings a build asks for) against ``pins``.

    ``marker_env`` is the build environment's (the target interpreter's,
    ``target.marker_env("")``); ``sdist`` names the archive and ``why`` the step
    (``"build-system.requires"``, ``"get_requires_for_build_wheel"``) in messages;
    ``source`` is the line that chose the sdist. A requirement is satisfied when a pin's
    version is in its specifier; its extras are carried onto the pin's line. A pin whose
    version is outside the specifier is missing in both modes (the build could not get
    what it asks for); a requirement without a pin is missing in "require" mode and passed
    through unchecked, with a warning, in "verify" mode.
    """
    lines: list[str] = []
    missing: list[MissingBuildPin] = []
    problems: list[Problem] = []
    warnings: list[str] = []
    for text in requires:
        try:
            requirement = PackagingRequirement(text)
        except InvalidRequirement as exc:
            message = f"{sdist}: {why} lists {text!r}, which is not a valid requirement: {exc}"
            problems.append(Problem(KIND, message, source))
            continue
        if requirement.marker is not None and not requirement.marker.evaluate(dict(marker_env)):
            continue
        requirement.marker = None
        key = canonicalize_name(requirement.name)
        found = pins.pins.get(key, ())
        pin = found[0].pinned_version if found else None
        if pin is not None and not requirement.url:
            if rules.pin_satisfies(pin, requirement.specifier):
                lines.extend(_pinned_line(line, requirement.extras) for line in found)
                warnings.extend(
                    f"{line.text} ({why} of {sdist}) at {line.source} has no --hash: "
                    "installed without hash checking"
                    for line in found
                    if not line.hashes
                )
                continue
        elif mode == "verify":
            lines.append(str(requirement))
            warnings.append(
                f"{requirement} ({why} of {sdist}) is installed without hash checking: no "
                "build constraint pins it (--build-hashes verify)"
            )
            continue
        missing.append(
            MissingBuildPin(
                key, requirement.name, str(requirement), requirement.specifier, sdist, why,
                source, found[0] if found else None,
            )
        )  # fmt: skip
    return BuildRequires(tuple(lines), tuple(missing), tuple(problems), tuple(warnings))


def _pinned_line(line: Requirement, extras: set[str]) -> str:
    """A pin as a line of its own, with the extras a build asks for."""
    (spec,) = line.specifier
    extras_text = f"[{','.join(sorted(extras))}]" if extras else ""
    hashes = "".join(f" --hash={digest}" for digest in line.hashes)
    return f"{line.name}{extras_text}{spec.operator}{spec.version}{hashes}"


def suggest_build_pins(
    requirement: str, files_of: Callable[[str], Sequence[FileLink]], target: TargetFacts
) -> list[str]:
    """Paste-ready lines pinning ``requirement``: ``name==V`` with the advertised sha256 of
    every file of V, the version the index would give the target (the provider's own
    choice: best version satisfying the specifier, no pre-release unless asked for, no
    yanked file, one file at least that suits the target). Read from the index pages only:
    a file whose page advertises no sha256 is named in a comment line, not downloaded.
    """
    wanted = PackagingRequirement(requirement)
    key = canonicalize_name(wanted.name)
    provider = HashAwareProvider(
        files_of=files_of,
        metadata_of=_no_metadata,
        target=target,
        policy=Policy(),
        allowed={},
        constraints={},
        closed=False,
        listed=frozenset(),
        no_deps=True,
    )
    want = Want(key, frozenset(), wanted.specifier)
    matches = provider.find_matches(key, {key: iter([want])}, {key: iter([])})
    if not matches:
        return [f"# no version of {wanted.name} on the configured indexes satisfies "
                f"{requirement!r} on this target"]  # fmt: skip
    best = matches[0]
    files = [f for f in files_of(key) if f.version == best.version and f.yanked is None]
    paste = paste_ready(wanted.name, str(best.version), files)
    unhashed = [
        f"# {f.filename}: {f.origin} advertises no sha256; download it and add its --hash"
        for f in files
        if "sha256" not in f.hashes
    ]
    return [*paste.splitlines(), *unhashed]


def _no_metadata(candidate: Candidate) -> Metadata:
    raise AssertionError("choosing a version to suggest reads no metadata")


def explain_missing_build_pins(
    missing: Sequence[MissingBuildPin],
    files_of: Callable[[str], Sequence[FileLink]],
    target: TargetFacts,
) -> list[Problem]:
    """One problem per project: the sdists that need it and what for, and paste-ready lines
    for a version that satisfies all of them, naming ``--build-constraint``."""
    by_project: dict[str, list[MissingBuildPin]] = {}
    for item in missing:
        by_project.setdefault(item.key, []).append(item)
    problems = []
    for key, items in by_project.items():
        lines = [
            f"{items[0].name} is needed to build these sdists, but no --build-constraint file "
            "or hashed line of the requirements files pins a version they accept:"
        ]
        for item in items:
            pinned = item.pinned_by
            conflict = (
                f"; {pinned.source} pins {pinned.text}, which does not satisfy it" if pinned else ""
            )
            lines.append(f"        {item.sdist}: {item.requirement} ({item.why}){conflict}")
        specifier = SpecifierSet()
        for item in items:
            specifier &= item.specifier
        try:
            suggested = suggest_build_pins(f"{items[0].name}{specifier}", files_of, target)
        except NetworkError as exc:
            suggested = [f"# the index could not be read to suggest a version: {exc}"]
        lines.append(
            "    Pin it with its hashes in a build constraints file (--build-constraint FILE) "
            "or in the requirements file, e.g.:"
        )
        lines.extend(f"        {line}" for line in suggested)
        problems.append(Problem(KIND, "\n".join(lines), items[0].source, key))
    return problems
