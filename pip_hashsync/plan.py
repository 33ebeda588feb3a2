"""Installed versus wanted: keep, install, replace, reinstall or remove, each with its reason.

An installed distribution satisfies its line only when its recorded provenance hash is
allowed now (policy 6, EC49), unless the user trusts installed distributions. Projects that
no applying line names are removed (EC23, EC28), except the protected set and what it needs
(policy 9, EC59).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PackagingRequirement
from packaging.utils import canonicalize_name

from pip_hashsync.hashes import AllowedHashes
from pip_hashsync.index import FileLink
from pip_hashsync.installed import InstalledDist
from pip_hashsync.provider import Candidate


@dataclass(frozen=True)
class Action:
    """One step of the plan; ``file`` is the archive to install, best first among allowed."""

    action: str
    name: str
    version: str | None
    installed_version: str | None
    file: FileLink | None
    reason: str


def protected_closure(protected: Iterable[str], installed: Mapping[str, InstalledDist]) -> set[str]:
    """The protected names plus everything installed they depend on."""
    keep: set[str] = set()
    todo = [canonicalize_name(n) for n in protected]
    while todo:
        key = todo.pop()
        if key in keep:
            continue
        keep.add(key)
        dist = installed.get(key)
        for text in dist.requires() if dist else ():
            try:
                todo.append(canonicalize_name(PackagingRequirement(text).name))
            except InvalidRequirement:
                continue
    return keep


def make_plan(
    resolved: Mapping[str, Candidate],
    installed: Mapping[str, InstalledDist],
    *,
    allowed: Mapping[str, AllowedHashes],
    hash_mode: bool,
    protected: set[str],
    marker_false: Mapping[str, str],
    trust_installed: bool = False,
) -> list[Action]:
    """The actions that make ``installed`` match ``resolved``, sorted by name."""
    actions = [
        _action_for(candidate, installed.get(key), allowed.get(key), hash_mode, trust_installed)
        for key, candidate in resolved.items()
    ]
    for key, dist in installed.items():
        if key in resolved:
            continue
        if key in protected:
            actions.append(Action("keep", dist.name, dist.version, dist.version, None, "protected"))
            continue
        reason = (
            f"its line does not apply to the target ({marker_false[key]})"
            if key in marker_false
            else "not in the requirements file"
        )
        actions.append(Action("remove", dist.name, None, dist.version, None, reason))
    return sorted(actions, key=lambda a: canonicalize_name(a.name))


def _action_for(
    candidate: Candidate,
    dist: InstalledDist | None,
    allowed: AllowedHashes | None,
    hash_mode: bool,
    trust_installed: bool,
) -> Action:
    version = str(candidate.version)
    best = candidate.files[0]
    if dist is None:
        return Action("install", candidate.name, version, None, best, "not installed")
    if dist.version != version:
        return Action(
            "replace", candidate.name, version, dist.version, best, f"installed {dist.version}"
        )
    provenance = dist.provenance()
    if trust_installed or not (hash_mode or allowed):
        return Action("keep", candidate.name, version, version, None, "already installed")
    if provenance and allowed and allowed.allows({"sha256": provenance.sha256}):
        reason = f"installed from {provenance.archive}, an allowed file"
        return Action("keep", candidate.name, version, version, None, reason)
    reason = (
        f"installed from {provenance.archive}, whose hash is not allowed now"
        if provenance
        else f"installed by {dist.installer or 'another tool'} without a recorded archive hash"
    )
    return Action("reinstall", candidate.name, version, version, best, reason)
