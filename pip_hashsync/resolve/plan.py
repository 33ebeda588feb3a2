"""Installed versus wanted: keep, install, replace, reinstall or remove, each with its reason.

An installed distribution satisfies its line only when its recorded provenance hash is
allowed now (policy 6, EC49), unless the user trusts installed distributions. Projects that
no applying line names are removed (EC23, EC28), except the protected set and what it needs
(policy 9, EC59).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from pip_hashsync.environment.installed import InstalledDist
from pip_hashsync.index.candidates import Candidate
from pip_hashsync.index.pages import FileLink
from pip_hashsync.requirements.hashes import AllowedHashes


@dataclass(frozen=True)
class Action:
    """One step of the plan. ``files`` are the acceptable archives, best first: the first
    is the one planned, the others are fallbacks if its bytes fail the check (EC44)."""

    action: str
    name: str
    version: str | None
    installed_version: str | None
    files: tuple[FileLink, ...]
    reason: str

    @property
    def key(self) -> str:
        return canonicalize_name(self.name)

    @property
    def file(self) -> FileLink | None:
        return self.files[0] if self.files else None

    @property
    def changes(self) -> bool:
        return self.action != "keep"


@dataclass(frozen=True)
class PlanRules:
    """How installed distributions are judged: ``sync`` removes what is unlisted; ``install``
    (``additive``) never removes and keeps what already satisfies, like pip."""

    hash_mode: bool
    protected: frozenset[str] = frozenset()
    marker_false: Mapping[str, str] = field(default_factory=dict)
    trust_installed: bool = False
    additive: bool = False
    upgrade: bool = False
    force_reinstall: bool = False
    #: The specifier each project's lines ask for (``install`` keeps what satisfies it).
    wanted: Mapping[str, SpecifierSet] = field(default_factory=dict)
    #: Installed projects that do not stand for their line whatever their version, and why
    #: (a local project or checkout installed from another source, or rebuilt differently).
    stale: Mapping[str, str] = field(default_factory=dict)


def make_plan(
    resolved: Mapping[str, Candidate],
    installed: Mapping[str, InstalledDist],
    allowed: Mapping[str, AllowedHashes],
    rules: PlanRules,
) -> list[Action]:
    """The actions that make ``installed`` match ``resolved``, sorted by name."""
    actions = [
        _action_for(candidate, installed.get(key), allowed.get(key), rules)
        for key, candidate in resolved.items()
    ]
    for key, dist in installed.items():
        if key in resolved or rules.additive:
            continue
        if key in rules.protected:
            actions.append(Action("keep", dist.name, dist.version, dist.version, (), "protected"))
            continue
        reason = (
            f"its line does not apply to the target ({rules.marker_false[key]})"
            if key in rules.marker_false
            else "not in the requirements file"
        )
        actions.append(Action("remove", dist.name, None, dist.version, (), reason))
    return sorted(actions, key=lambda a: canonicalize_name(a.name))


def _action_for(
    candidate: Candidate,
    dist: InstalledDist | None,
    allowed: AllowedHashes | None,
    rules: PlanRules,
) -> Action:
    version = str(candidate.version)
    files = candidate.files
    if dist is None:
        return Action("install", candidate.name, version, None, files, "not installed")
    proven, why = _proven(dist, allowed, rules)
    if rules.force_reinstall or candidate.key in rules.stale:
        kind = "reinstall" if dist.version == version else "replace"
        why = "--force-reinstall" if rules.force_reinstall else rules.stale[candidate.key]
        return Action(kind, candidate.name, version, dist.version, files, why)
    wanted = rules.wanted.get(candidate.key, SpecifierSet())
    keeps = rules.additive and not rules.upgrade and proven
    if keeps and wanted.contains(dist.version, prereleases=True):
        return Action("keep", dist.name, dist.version, dist.version, (), "already satisfied")
    if dist.version != version:
        reason = f"installed {dist.version}"
        return Action("replace", candidate.name, version, dist.version, files, reason)
    if proven:
        return Action("keep", candidate.name, version, version, (), why)
    return Action("reinstall", candidate.name, version, version, files, why)


def _proven(
    dist: InstalledDist, allowed: AllowedHashes | None, rules: PlanRules
) -> tuple[bool, str]:
    """Whether an installed distribution may stand for its line (policy 6), and why."""
    if rules.trust_installed or not (rules.hash_mode or allowed):
        return True, "already installed"
    provenance = dist.provenance()
    if provenance and allowed and allowed.allows({"sha256": provenance.sha256}):
        return True, f"installed from {provenance.archive}, an allowed file"
    if provenance:
        return False, f"installed from {provenance.archive}, whose hash is not allowed now"
    return False, f"installed by {dist.installer or 'another tool'} without a recorded archive hash"
