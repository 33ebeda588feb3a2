"""The resolvelib provider: every policy about which file may be installed lives here.

For each project the provider reads the offered files once and sorts them into candidates
and evidence. A file is out when its wheel tags do not suit the target, its Requires-Python
excludes the target, a format option excludes it, it is yanked without being the only way
to honour a pin, or its advertised digest (in an algorithm the allowed set uses) is not
allowed (policy 4, EC37). Every rejected file keeps its reason, so when nothing is left the
diagnostics can say exactly why (EC39–EC42) before anything was downloaded.

For ``sync`` the requirements file is the whole closure: a dependency that no line names is
recorded as a gap with the chain that needs it, and not resolved (EC17, EC19, EC62).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import overload

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PackagingRequirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import canonicalize_name
from packaging.version import Version
from resolvelib import AbstractProvider
from resolvelib.structs import RequirementInformation

from pip_hashsync.errors import HashsyncError, Source
from pip_hashsync.index.candidates import Candidate, identifier_of
from pip_hashsync.index.metadata import Metadata
from pip_hashsync.index.pages import FileLink
from pip_hashsync.requirements.hashes import AllowedHashes
from pip_hashsync.requirements.reader import Requirement, only_for_extra

#: Reads the core metadata of a candidate (PEP 658 file or the archive's METADATA).
MetadataReader = Callable[[Candidate], Metadata]
#: Requires-Dist entries, each as written and parsed.
_Parsed = list[tuple[str, PackagingRequirement]]


@dataclass(frozen=True)
class Want:
    """A requirement as the resolver sees it: from a file line, or a dependency."""

    key: str
    extras: frozenset[str]
    specifier: SpecifierSet
    url: str | None = None
    line: Requirement | None = None
    parent: Candidate | None = None

    @property
    def identifier(self) -> str:
        return identifier_of(self.key, self.extras)

    def describe(self) -> str:
        extras = f"[{','.join(sorted(self.extras))}]" if self.extras else ""
        return self.line.text if self.line else f"{self.key}{extras}{self.specifier}"


@dataclass(frozen=True)
class Rejected:
    """A file that was offered but cannot be used, and why (``kind`` groups reasons)."""

    file: FileLink
    kind: str
    reason: str


@dataclass(frozen=True)
class Gap:
    """A dependency the hashed file does not list (EC17), with the chain that needs it."""

    key: str
    requirement: str
    chain: tuple[str, ...]
    source: Source | None


class InvalidMetadata(HashsyncError):
    """A candidate taken without its metadata checked turned out unreadable: exit 2."""


@dataclass(frozen=True)
class Policy:
    """The settings that decide which files are acceptable."""

    only_binary: frozenset[str] = frozenset()
    no_binary: frozenset[str] = frozenset()
    prefer_binary: bool = False
    #: ``--all-releases`` (and ``--pre``, as ``:all:``) and ``--only-final``: names or ``:all:``.
    pre: frozenset[str] = frozenset()
    final_only: frozenset[str] = frozenset()
    #: ``--no-build``: no sdist is acceptable, whatever the project.
    no_build: bool = False

    def excluded_format(self, key: str, file: FileLink) -> str | None:
        if file.is_wheel and (":all:" in self.no_binary or key in self.no_binary):
            return "--no-binary"
        if not file.is_wheel and self.no_build:
            return "--no-build"
        if not file.is_wheel and (":all:" in self.only_binary or key in self.only_binary):
            return "--only-binary"
        return None

    def allows_prereleases(self, key: str) -> bool | None:
        """True or False when the settings decide, None for packaging's default (a
        pre-release only when the specifier names one or nothing else matches); the
        project's own setting wins over ``:all:``, as in pip."""
        for name in (key, ":all:"):
            if name in self.pre:
                return True
            if name in self.final_only:
                return False
        return None


@dataclass(frozen=True)
class TargetFacts:
    """What the provider needs to know about the target interpreter."""

    python_version: Version
    tag_ranks: Mapping[Tag, int]
    marker_env: Callable[[str], dict[str, str]]


@dataclass
class HashAwareProvider(AbstractProvider):  # type: ignore[type-arg]
    """resolvelib provider; see the module docstring for the policy it applies."""

    files_of: Callable[[str], Sequence[FileLink]]
    metadata_of: MetadataReader
    target: TargetFacts
    policy: Policy
    allowed: Mapping[str, AllowedHashes]
    constraints: Mapping[str, SpecifierSet]
    #: True when the file must be the whole closure (``sync``): unlisted dependencies are gaps.
    closed: bool
    listed: frozenset[str]
    #: ``install --no-deps``: dependencies are neither resolved nor checked (EC18).
    no_deps: bool = False
    #: The archive URL a constraint line names for its project: pip installs that file.
    constraint_urls: Mapping[str, str] = field(default_factory=dict)
    #: The file of each direct URL that is not an archive: the wheel built from a local
    #: project or checkout (see :mod:`~pip_hashsync.resolve.local`).
    direct_files: Mapping[str, FileLink] = field(default_factory=dict)
    #: For each identifier (project and extras), who first required it: (parent candidate,
    #: line) — a line for the roots. Keyed with extras, because an extra is asked for by
    #: whoever names it, not by the project's own line (EC19).
    required_by: dict[str, tuple[Candidate | None, Source | None]] = field(default_factory=dict)
    evidence: dict[str, list[Rejected]] = field(default_factory=dict)
    gaps: list[Gap] = field(default_factory=list)
    #: Versions skipped because a Requires-Dist entry cannot be read, as pip skips them:
    #: (project, version) -> what is wrong.
    invalid: dict[tuple[str, Version], str] = field(default_factory=dict)
    #: Each candidate's dependencies that its extras may need, as written and parsed (once).
    _requires: dict[tuple[str, Version, frozenset[str]], _Parsed | str] = field(
        default_factory=dict
    )

    # -- resolvelib's five methods --------------------------------------------------------

    def identify(self, requirement_or_candidate: Want | Candidate) -> str:
        return requirement_or_candidate.identifier

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[RequirementInformation[Want, Candidate]]],
        backtrack_causes: Sequence[RequirementInformation[Want, Candidate]],
    ) -> tuple[bool, bool, str]:
        """Direct URLs and pins first (they leave no choice), then by name for stable runs."""
        wants = [info.requirement for info in information[identifier]]
        direct = any(w.url for w in wants)
        pinned = any(str(s.operator) in ("==", "===") for w in wants for s in w.specifier)
        return (not direct, not pinned, identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Want]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> Sequence[Candidate]:
        wants = list(requirements[identifier])
        banned = {c.version for c in incompatibilities[identifier]}
        key, extras = wants[0].key, frozenset().union(*(w.extras for w in wants))
        specifier = self.constraints.get(key, SpecifierSet())
        for want in wants:
            specifier &= want.specifier
        url = next((w.url for w in wants if w.url), None) or self.constraint_urls.get(key)
        if url and url != self.constraint_urls.get(key, url):
            return []  # a requirement's URL that the constraint's excludes
        if url:
            offered = [self.direct_files.get(url) or _link_for_url(url, key)]
        else:
            offered = list(self.files_of(key))
        by_version = self._sort(key, specifier, offered)
        candidates = [
            Candidate(key, files[0].name, version, tuple(files), extras, url)
            for version, files in by_version
            if version not in banned
        ]
        return candidates if self.no_deps else _Checked(candidates, self._readable)

    def is_satisfied_by(self, requirement: Want, candidate: Candidate) -> bool:
        if requirement.url:
            return candidate.url == requirement.url
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Want]:
        wants = []
        if candidate.extras:
            pin = SpecifierSet(f"=={candidate.version}")
            wants.append(Want(candidate.key, frozenset(), pin, candidate.url, parent=candidate))
            self.required_by.setdefault(candidate.key, (candidate, None))
        if self.no_deps:
            return wants
        dependencies = self._dependencies(candidate)
        if isinstance(dependencies, str):
            raise InvalidMetadata(f"{candidate.describe()}: {dependencies}")
        for text, dependency in dependencies:
            if not self._applies(dependency, candidate.extras):
                continue
            key = canonicalize_name(dependency.name)
            want = Want(
                key,
                frozenset(dependency.extras),
                dependency.specifier,
                dependency.url,
                None,
                candidate,
            )
            if self.closed and key not in self.listed:
                self.gaps.append(Gap(key, text, *self._chain(candidate)))
                continue
            self.required_by.setdefault(want.identifier, (candidate, None))
            wants.append(want)
        return wants

    def usable(self, key: str, file: FileLink) -> bool:
        """Whether ``file`` could be taken for the target, its version aside."""
        return self._reject(key, file) is None

    # -- policy -------------------------------------------------------------------------------

    def _dependencies(self, candidate: Candidate) -> _Parsed | str:
        """The Requires-Dist entries of ``candidate`` that its extras may need, as written
        and parsed; or what is wrong with the first that cannot be read. Entries only for
        other extras are not parsed (most entries of popular projects are: parsing them
        costs more than the rest of resolving)."""
        memo = (candidate.key, candidate.version, candidate.extras)
        if memo not in self._requires:
            extras = {canonicalize_name(extra) for extra in candidate.extras}
            parsed: _Parsed = []
            problem = None
            for text in self.metadata_of(candidate).requires_dist:
                extra = only_for_extra(text)
                if extra is not None and extra not in extras:
                    continue
                try:
                    parsed.append((text, PackagingRequirement(text)))
                except InvalidRequirement as exc:
                    problem = f"Requires-Dist {text!r}: {str(exc).splitlines()[0]}"
                    break
            self._requires[memo] = parsed if problem is None else problem
        return self._requires[memo]

    def _readable(self, candidate: Candidate) -> bool:
        """Whether ``candidate``'s metadata can be read; if not, the version is skipped as pip
        skips it, and its files are evidence of why."""
        problem = self._dependencies(candidate)
        if not isinstance(problem, str):
            return True
        self.invalid[(candidate.key, candidate.version)] = problem
        reason = f"invalid metadata: {problem}"
        evidence = self.evidence.setdefault(candidate.key, [])
        evidence.extend(Rejected(f, "metadata", reason) for f in candidate.files)
        return False

    def _chain(self, candidate: Candidate) -> tuple[tuple[str, ...], Source | None]:
        """The candidates from ``candidate`` up to a line of the file, and that line."""
        chain = [candidate.describe()]
        parent, source = self.required_by.get(candidate.identifier, (None, None))
        seen = {candidate.identifier}
        while parent is not None and parent.identifier not in seen:
            seen.add(parent.identifier)
            chain.append(parent.describe())
            parent, source = self.required_by.get(parent.identifier, (None, None))
        return tuple(chain), source

    def _applies(self, dependency: PackagingRequirement, extras: frozenset[str]) -> bool:
        if dependency.marker is None:
            return not extras  # plain dependencies belong to the plain candidate
        if extras:
            return any(dependency.marker.evaluate(self.target.marker_env(e)) for e in extras)
        return dependency.marker.evaluate(self.target.marker_env(""))

    def _sort(
        self, key: str, specifier: SpecifierSet, offered: Iterable[FileLink]
    ) -> list[tuple[Version, list[FileLink]]]:
        """Acceptable files grouped by version, best version and best file first; every
        other file of a wanted version goes to :attr:`evidence` with its reason."""
        versions = {f.version for f in offered}
        allow_pre = self.policy.allows_prereleases(key)
        wanted = set(specifier.filter(versions, prereleases=allow_pre))
        rejected: list[Rejected] = []
        acceptable: list[FileLink] = []
        for file in offered:
            if file.version not in wanted:
                if allow_pre is False and specifier.contains(file.version, prereleases=True):
                    reason = "a pre-release, which --only-final refuses"
                    rejected.append(Rejected(file, "pre-release", reason))
                continue
            problem = self._reject(key, file)
            if problem:
                rejected.append(Rejected(file, *problem))
            else:
                acceptable.append(file)
        acceptable = self._apply_yank_policy(specifier, acceptable, rejected)
        self.evidence[key] = rejected
        groups: dict[Version, list[FileLink]] = {}
        # pip sorts ascending (a stable sort) and walks the result backwards: of files that
        # rank the same, the one offered last comes first.
        for file in reversed(sorted(acceptable, key=lambda f: self._rank(key, f))):
            groups.setdefault(file.version, []).append(file)
        return sorted(groups.items(), key=lambda item: self._rank(key, item[1][0]), reverse=True)

    def _reject(self, key: str, file: FileLink) -> tuple[str, str] | None:
        if file.is_wheel and not any(tag in self.target.tag_ranks for tag in file.tags):
            tags = ", ".join(sorted(str(t) for t in file.tags)[:3])
            return "tags", f"not compatible with the target ({tags})"
        if file.requires_python and not _python_ok(file.requires_python, self.target):
            return "requires-python", f"requires Python {file.requires_python}"
        excluded = self.policy.excluded_format(key, file)
        if excluded:
            return "format", f"excluded by {excluded}"
        allowed = self.allowed.get(key)
        if allowed and _advertised_disagrees(file, allowed):
            return "hash", "hash not allowed"
        return None

    def _apply_yank_policy(
        self, specifier: SpecifierSet, files: list[FileLink], rejected: list[Rejected]
    ) -> list[FileLink]:
        """PEP 592 as pip applies it: a yanked file only honours an exact pin, and only when
        nothing else would (EC46)."""
        fresh = [f for f in files if f.yanked is None]
        pinned = len(specifier) == 1 and any(
            s.operator == "===" or (s.operator == "==" and "*" not in s.version) for s in specifier
        )
        if fresh or not pinned:
            rejected.extend(
                Rejected(f, "yanked", f"yanked{': ' + f.yanked if f.yanked else ''}")
                for f in files
                if f.yanked is not None
            )
            return fresh
        return files

    def _rank(self, key: str, file: FileLink) -> tuple[bool, bool, bool, Version, int, object]:
        """pip's preference: allowed-hash match, not yanked, prefer-binary, version, tag
        priority, build tag — larger is better."""
        allowed = self.allowed.get(key)
        matched = bool(allowed) and allowed is not None and allowed.allows(file.hashes)
        tag_rank = min((self.target.tag_ranks.get(t, 10**6) for t in file.tags), default=10**6)
        return (
            matched,
            file.yanked is None,
            self.policy.prefer_binary and file.is_wheel,
            file.version,
            -tag_rank if file.is_wheel else -(10**7),
            file.build,
        )


def _advertised_disagrees(file: FileLink, allowed: AllowedHashes) -> bool:
    """True when the index advertises a digest in an algorithm the allowed set uses and the
    set does not allow it. No comparable digest means "unknown": download and verify (EC36)."""
    comparable = {a: h for a, h in file.hashes.items() if a in allowed.algorithms}
    return bool(comparable) and not allowed.allows(comparable)


def _python_ok(requires_python: str, target: TargetFacts) -> bool:
    try:
        return SpecifierSet(requires_python).contains(target.python_version, prereleases=True)
    except InvalidSpecifier:
        return True  # pip ignores a malformed Requires-Python


def _link_for_url(url: str, key: str) -> FileLink:
    """A direct URL's archive as a file link (its digests come from the file, not an index)."""
    plain_url = url.split("#", 1)[0]
    filename = plain_url.rstrip("/").rsplit("/", 1)[-1]
    try:
        return FileLink.of_archive(filename, plain_url, "direct URL")
    except ValueError:
        return FileLink(filename, plain_url, "direct URL", key, Version("0"))


def read_next(matches: Sequence[Candidate]) -> Candidate | None:
    """The candidate whose metadata is read when the first of ``matches`` is asked for
    (None: none to read), so that the caller can read it ahead."""
    return matches.unchecked() if isinstance(matches, _Checked) else None


class _Checked(Sequence[Candidate]):
    """Candidates best first, each checked only when reached, as pip checks its found
    candidates: a version whose metadata cannot be read is left out. Checking reads the
    metadata, so it is done no further than the resolver looks."""

    def __init__(self, candidates: Iterable[Candidate], readable: Callable[[Candidate], bool]):
        self._candidates = list(candidates)
        self._position = 0
        self._readable = readable
        self._checked: list[Candidate] = []

    def unchecked(self) -> Candidate | None:
        """The candidate the next check reads, not read yet (None: all checked)."""
        return next(iter(self._candidates[self._position : self._position + 1]), None)

    def _reach(self, count: int | None) -> None:
        """Check candidates until ``count`` are readable (None: all of them)."""
        while count is None or len(self._checked) < count:
            candidate = self.unchecked()
            if candidate is None:
                return
            self._position += 1
            if self._readable(candidate):
                self._checked.append(candidate)

    @overload
    def __getitem__(self, index: int) -> Candidate: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Candidate]: ...
    def __getitem__(self, index: int | slice) -> Candidate | Sequence[Candidate]:
        if isinstance(index, slice) or index < 0:
            self._reach(None)
        else:
            self._reach(index + 1)
        return self._checked[index]

    def __len__(self) -> int:
        self._reach(None)
        return len(self._checked)

    def __iter__(self) -> Iterator[Candidate]:
        position = 0
        while True:
            self._reach(position + 1)
            if position == len(self._checked):
                return
            yield self._checked[position]
            position += 1

    def __bool__(self) -> bool:
        self._reach(1)
        return bool(self._checked)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]
