"""Hash-checking mode: whether it is on, and what it demands of every line.

The mode is decided once over everything read and the command line, never from the state
of an environment (design policy 1, EC1–EC4). :func:`check` applies policy 2 and 3 to the
lines and returns every problem at once (EC57), each tied to its ``file:line``.

Lines whose markers differ are compared only when a target decides which lines apply
(``applies``); without one (``lint``), two lines conflict only when their markers are the
same or one has none, since a universal lock may pin a project differently per platform.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import combinations

from packaging.specifiers import Specifier, SpecifierSet
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from pip_hashsync.errors import COMMAND_LINE, Problem, Source
from pip_hashsync.requirements.hashes import AllowedHashes, Digest
from pip_hashsync.requirements.reader import (
    Kind,
    Requirement,
    RequirementSet,
    is_lock_file,
    url_filename,
)

#: Decides whether a line applies to the target (its marker is true there).
Applies = Callable[[Requirement], bool]


def applies_in(environment: dict[str, str]) -> Applies:
    """The lines whose marker is true in a target's marker ``environment`` (EC21, EC22)."""
    return lambda line: line.marker is None or line.marker.evaluate(environment)


def lock_problems(lines: RequirementSet, environment: dict[str, str]) -> list[Problem]:
    """A lock file that is not for the target (its ``requires-python`` or
    ``environments``, PEP 751) is refused as a whole."""
    return [
        Problem("lock", why, scope.source)
        for scope in lines.lock_scopes
        if (why := scope.refusal(environment))
    ]


@dataclass(frozen=True)
class HashMode:
    """Whether hash-checking mode is on, and why, in words for messages."""

    enabled: bool
    reason: str | None = None
    #: Set when ``--no-require-hashes`` turned off a mode that hashes would have switched on.
    reduced_by: str | None = None


def _where(source: Source | str | None) -> str:
    if isinstance(source, Source):
        return f"at {source}"
    return "on the command line" if source in (None, COMMAND_LINE) else f"in {source}"


def decide_mode(
    lines: RequirementSet,
    *,
    require_hashes: str | None = None,
    no_require_hashes: str | None = None,
) -> tuple[HashMode, list[Problem]]:
    """Decide the mode for the whole run from every file read and the switches given
    outside them: ``require_hashes`` and ``no_require_hashes`` name where each was given,
    as :attr:`pip_hashsync.settings.config.Settings.sources` does (``"command line"``,
    ``"PIP_REQUIRE_HASHES"``, ``"/etc/pip.conf [install]"``), or are None.

    Any ``--hash`` on a requirement or constraint line, or ``--require-hashes`` anywhere,
    turns it on; a ``--hash`` alone on an option line does not (EC5).
    ``--no-require-hashes`` keeps it off and means "verify where given" (EC4).
    """
    opts = lines.options
    require_at = require_hashes or opts.require_hashes
    no_require_at = no_require_hashes or opts.no_require_hashes
    if require_at and no_require_at:
        problem = Problem(
            "options",
            "--require-hashes and --no-require-hashes are mutually exclusive "
            f"(--require-hashes {_where(require_at)}, --no-require-hashes {_where(no_require_at)})",
            next((s for s in (require_at, no_require_at) if isinstance(s, Source)), None),
        )
        return HashMode(False), [problem]
    first_hashed = next((r for r in lines.all_lines() if r.hashes), None)
    if no_require_at:
        reduced = f"--no-require-hashes {_where(no_require_at)}" if first_hashed else None
        return HashMode(False, reduced_by=reduced), []
    if require_at:
        return HashMode(True, f"--require-hashes {_where(require_at)}"), []
    if first_hashed:
        given = "hashes of a lock" if is_lock_file(first_hashed.source.path) else "--hash"
        return HashMode(True, f"{given} at {first_hashed.source}"), []
    return HashMode(False), []


#: Problems that hash-checking mode raises: their report names what switched the mode on.
MODE_PROBLEMS = frozenset({"editable", "vcs", "directory", "unpinned", "missing-hash"})


def check(lines: RequirementSet, mode: HashMode, applies: Applies | None = None) -> list[Problem]:
    """Every problem the lines have under ``mode``, in file order within each kind.

    ``applies`` selects the lines that apply to the target (EC22); without it every line is
    checked, as ``lint`` does for a file meant for several platforms.
    """
    wanted = [r for r in lines.requirements if applies is None or applies(r)]
    constraints = [c for c in lines.constraints if applies is None or applies(c)]
    overlap = _always if applies is not None else _may_overlap
    by_project: dict[str, list[Requirement]] = defaultdict(list)
    for line in [*wanted, *constraints]:
        if line.key:
            by_project[line.key].append(line)

    problems: list[Problem] = []
    for constraint in constraints:
        problems.extend(_constraint_problems(constraint))
    # A lock's package whose hashes the reader could not use is refused there already.
    refused = {p.source for p in lines.problems if p.kind == "missing-hash"}
    for line in [*wanted, *constraints]:
        if line.source not in refused:
            project = by_project.get(line.key or "", [])
            problems.extend(_line_problems(line, mode, project, overlap))
    if mode.enabled:
        problems.extend(
            Problem("stray-hash", "--hash on an option line does not apply to any requirement; "
                    "join it to its requirement with a trailing backslash", source)
            for source in lines.stray_hashes
        )  # fmt: skip
    for group in by_project.values():
        problems.extend(_conflicts(group, overlap))
    return problems


def _always(a: Requirement, b: Requirement) -> bool:
    return True


def _may_overlap(a: Requirement, b: Requirement) -> bool:
    """Without a target: lines may both apply unless they carry different markers."""
    return a.marker is None or b.marker is None or str(a.marker) == str(b.marker)


def _constraint_problems(line: Requirement) -> Iterable[Problem]:
    if line.editable:
        yield Problem(
            "constraint", "Editable requirements are not allowed as constraints", line.source
        )
    elif not line.name:
        yield Problem(
            "constraint", "Unnamed requirements are not allowed as constraints", line.source
        )
    elif line.extras:
        yield Problem("constraint", f"Constraints cannot have extras: {line.text}", line.source)


def _strong(digests: Iterable[Digest]) -> list[Digest]:
    return [d for d in digests if d.is_strong]


def _line_problems(
    line: Requirement,
    mode: HashMode,
    project: list[Requirement],
    overlap: Callable[[Requirement, Requirement], bool],
) -> Iterable[Problem]:
    """Policy 2 for one line: the kinds that cannot be hashed, pins, and hashes."""
    source = line.source
    hashed = bool(line.hashes)
    if line.editable:
        if mode.enabled:
            yield Problem(
                "editable",
                f"The editable requirement {line.text} cannot be installed when requiring "
                "hashes, because there is no single file to hash.",
                source,
                line.name,
            )
        return
    if line.kind is Kind.VCS and (mode.enabled or hashed):
        yield Problem(
            "vcs",
            f"{line.describe()}: a version control checkout has no single file to hash; "
            "require an archive of the commit instead (e.g. "
            "https://github.com/OWNER/REPO/archive/COMMIT.tar.gz) with --hash",
            source,
            line.name,
        )
        return
    if line.kind is Kind.DIRECTORY and (mode.enabled or hashed):
        yield Problem(
            "directory",
            f"{line.describe()}: a directory has no single file to hash; build an sdist or "
            "wheel from it and require that archive with --hash",
            source,
            line.name,
        )
        return
    yield from _fragment_conflicts(line)
    yield from _wheel_of_another_project(line)
    if line.constraint and not hashed:
        return
    others = [other for other in project if other is not line and overlap(line, other)]
    needs_pin = line.kind is Kind.INDEX and (mode.enabled or hashed)
    # Another line's ``==`` or archive URL (a URL constraint: pip installs that file) pins.
    pinned = line.pinned_version or any(c.pinned_version or c.kind is Kind.ARCHIVE for c in others)
    if needs_pin and not pinned:
        yield Problem("unpinned", _unpinned_message(line), source, line.name)
        return
    if mode.enabled and not line.constraint:
        own = bool(_strong(line.hashes) or _strong(line.url_hashes))
        covered = own or any(c.hashes or _strong(c.url_hashes) for c in others)
        if not covered:
            yield Problem("missing-hash", _missing_message(line), source, line.name)


def _unpinned_message(line: Requirement) -> str:
    spec = str(line.specifier)
    if "*" in spec:
        why = "== with a wildcard names many versions"
    elif len(line.specifier) > 1:
        why = "a pin must be a single == or === clause"
    else:
        why = "a hash names one file of one version"
    hashed = " has --hash but" if line.hashes else ""
    return (
        f"{line.text}{hashed} is not pinned with == or === ({why}); "
        f"pin it, e.g. {line.name}==VERSION"
    )


def _missing_message(line: Requirement) -> str:
    if is_lock_file(line.source.path):
        return (
            f"{line.describe()} has no sha256, sha384 or sha512 hash in the lock; lock it "
            "again with a tool that writes one"
        )
    weak = [d for d in line.url_hashes if not d.is_strong]
    if weak:
        return (
            f"{line.describe()} has only a #{weak[0].algorithm} fragment, which is checked "
            "but too weak to count in hash-checking mode; add --hash=sha256:…"
        )
    return (
        f"{line.describe()} has no --hash; "
        "add one --hash=sha256:… per file it may be installed from"
    )


def _fragment_conflicts(line: Requirement) -> Iterable[Problem]:
    """A URL's fragment and its ``--hash`` options must agree per algorithm (EC13)."""
    for fragment in line.url_hashes:
        same = [d for d in line.hashes if d.algorithm == fragment.algorithm]
        if same and fragment not in same:
            yield Problem(
                "conflict",
                f"Conflicting hashes for {line.url}: the URL says {fragment} but --hash allows "
                f"only {', '.join(str(d) for d in same)}",
                line.source,
            )


def _wheel_of_another_project(line: Requirement) -> Iterable[Problem]:
    """``name @ URL`` whose wheel's filename names another project (pip and uv refuse it
    too): the line contradicts itself, and nothing needs downloading to say so. Other
    archives are checked on their METADATA once verified (exit 3)."""
    filename = url_filename(line.url) if line.url and line.key else ""
    if not filename.endswith(".whl"):
        return
    try:
        project = parse_wheel_filename(filename)[0]
    except InvalidWheelFilename:
        return  # the fetch reports it
    if project != line.key:
        yield Problem(
            "conflict",
            f"{line.name} @ …/{filename}: the URL names a wheel of {project}, not of {line.name}",
            line.source,
            line.key,
        )


def _conflicts(
    group: list[Requirement], overlap: Callable[[Requirement, Requirement], bool]
) -> Iterable[Problem]:
    """Lines for one project that no single version or file can satisfy (EC25–EC27)."""
    for a, b in combinations(group, 2):
        if overlap(a, b) and _pins_exclude(a, b):
            yield Problem(
                "conflict",
                f"{b.text} conflicts with {a.text} at {a.source}: no version satisfies both",
                b.source,
            )
    reported: set[tuple[Source, ...]] = set()
    for cluster in _clusters(group, overlap):
        culprits = _hash_contradiction(cluster)
        key = tuple(line.source for line in culprits)
        if culprits and key not in reported:
            reported.add(key)
            *first, last = (str(line.source) for line in culprits)
            both = "both" if len(first) == 1 else "all of"
            yield Problem(
                "conflict",
                f"no file is allowed by {both} {', '.join(first)} and {last}: their --hash "
                "sets have nothing in common",
                culprits[-1].source,
            )


def _clusters(
    group: list[Requirement], overlap: Callable[[Requirement, Requirement], bool]
) -> list[list[Requirement]]:
    """The sets of lines that may apply together: with a target, the whole group; without
    one, the lines of each marker together with the lines that have no marker."""
    if overlap is _always:
        return [group]
    markers = {str(line.marker) for line in group if line.marker} or {""}
    return [[line for line in group if not line.marker or str(line.marker) == m] for m in markers]


def _hash_contradiction(lines: list[Requirement]) -> list[Requirement]:
    """The fewest of ``lines`` whose --hash sets no one file satisfies (found by dropping
    every line the contradiction survives without); empty when some file may."""

    def contradictory(subset: list[Requirement]) -> bool:
        allowed = AllowedHashes()
        for line in subset:
            allowed = allowed.narrowed(_strong(line.hashes))
        return allowed.contradictory

    if not contradictory(lines):
        return []
    culprits = list(lines)
    for line in lines:
        rest = [other for other in culprits if other is not line]
        if contradictory(rest):
            culprits = rest
    return culprits


def _pins_exclude(a: Requirement, b: Requirement) -> bool:
    """Whether no version satisfies both lines. Decided by the pins: a pinned version that
    satisfies the other line satisfies both (``==1.0`` admits ``==1.0+cpu``'s pin, EC9)."""
    pinned = [(x.pinned_version, y) for x, y in ((a, b), (b, a)) if x.pinned_version]
    return bool(pinned) and not any(pin_satisfies(pin, line.specifier) for pin, line in pinned)


def pin_satisfies(pin: str, specifier: SpecifierSet) -> bool:
    """Whether the pinned version ``pin`` satisfies every clause of ``specifier``."""
    try:
        version: Version | None = Version(pin)
    except InvalidVersion:
        version = None
    return all(_contains(spec, pin, version) for spec in specifier)


def _contains(spec: Specifier, pin: str, version: Version | None) -> bool:
    """PEP 440 containment; ``===`` compares strings, and a version that is not PEP 440 can
    satisfy nothing else (EC7)."""
    if spec.operator == "===":
        return spec.version.lower() == pin.lower()
    return version is not None and spec.contains(version, prereleases=True)


def allowed_hashes(lines: RequirementSet, applies: Applies) -> dict[str, AllowedHashes]:
    """The allowed set of each project: every applying line's ``--hash`` options as one
    clause of alternatives, and each digest of a URL fragment as a clause of its own (all
    must match, EC13). The same sets choose files and verify downloads (policy 3)."""
    allowed: dict[str, AllowedHashes] = {}
    for line in lines.all_lines():
        if not line.key or not applies(line):
            continue
        narrowed = allowed.get(line.key, AllowedHashes()).narrowed(line.hashes)
        for digest in line.url_hashes:
            narrowed = narrowed.narrowed([digest])
        allowed[line.key] = narrowed
    return allowed
