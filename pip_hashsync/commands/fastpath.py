"""The already-synced check: decide, without network, resolver or heavy imports, whether a
sync would change nothing (EC64, design "Speed is designed in").

It reads only the requirements files, the cached facts of the target, the ``.dist-info``
names, their provenance records and the ``Requires-Dist`` of the installed distributions.
It answers "synced" only when every applying line is installed at its pinned version from
an archive whose recorded hash is allowed now, every dependency of those is listed, and
nothing else that is not protected is installed, and no transaction is unfinished (a run
killed before its commit: the full path recovers it). Any doubt sends the run down the full
path, which explains itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PackagingRequirement
from packaging.utils import canonicalize_name

from pip_hashsync import WORK_DIR
from pip_hashsync.commands.receipt import write_receipt
from pip_hashsync.environment.installed import (
    InstalledDist,
    protected_closure,
    requirement_name,
    scan,
)
from pip_hashsync.environment.target import Target, protected_names
from pip_hashsync.errors import HashsyncError
from pip_hashsync.requirements import rules
from pip_hashsync.requirements.hashes import AllowedHashes
from pip_hashsync.requirements.reader import Kind, Requirement, RequirementSet, only_for_extra
from pip_hashsync.settings.request import SyncRequest, locate, read_request

#: A requirement without a URL: a name, extras and version specifiers, nothing else.
_PLAIN = re.compile(
    r"\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*\(?[\s<>=!~,.*+A-Za-z0-9_-]*\)?\s*"
)


def already_synced(
    lines: RequirementSet,
    mode: rules.HashMode,
    target: Target,
    installed: Mapping[str, InstalledDist],
    protected: Iterable[str],
    *,
    trust_installed: bool = False,
) -> bool:
    """True when a sync of ``lines`` into ``target`` would change nothing."""
    if lines.problems or (lines.options.require_hashes and not mode.enabled):
        return False
    applies = rules.applies_in(target.marker_env(""))
    wanted = [r for r in lines.requirements if applies(r)]
    if not wanted or rules.lock_problems(lines, target.marker_env("")):
        return False
    allowed = rules.allowed_hashes(lines, applies)
    for line in wanted:
        dist = installed.get(line.key or "")
        if dist is None or not _satisfies(line, dist, allowed, mode, trust_installed):
            return False
    listed = {r.key for r in wanted}
    if not _closed(wanted, installed, listed, target):
        return False
    keep = listed | protected_closure(protected, installed, target.marker_env(""))
    return all(key in keep for key in installed)


def _satisfies(
    line: Requirement,
    dist: InstalledDist,
    allowed: Mapping[str, AllowedHashes],
    mode: rules.HashMode,
    trust_installed: bool,
) -> bool:
    if line.kind is not Kind.INDEX or line.editable or line.pinned_version is None:
        return False  # URLs, paths and ranges are judged by the full path
    if line.specifier and not line.specifier.contains(dist.version, prereleases=True):
        return False
    hashes = allowed.get(line.key or "")
    if trust_installed or not (mode.enabled or hashes):
        return True
    provenance = dist.provenance()
    return bool(provenance and hashes and hashes.allows({"sha256": provenance.sha256}))


def _unlisted_dependencies(
    dist: InstalledDist,
    extras: Iterable[str],
    target: Target,
    listed: set[str | None],
    verdicts: dict[tuple[str, frozenset[str]], bool],
) -> bool | None:
    """Whether ``dist`` (with ``extras``) needs, on the target, a project that is not
    listed; None if its metadata cannot be read. Only requirements on unlisted names are
    looked at (a full parse of every Requires-Dist costs more than the rest of a no-op),
    and a plain one's marker is judged once per run (``verdicts``), since the same few
    markers recur across projects."""
    wanted_extras = frozenset(canonicalize_name(e) for e in extras)
    for text in dist.requires():
        name = requirement_name(text)
        if name is None:
            return None
        if name in listed:
            continue
        extra = only_for_extra(text)
        if extra is not None and extra not in wanted_extras:
            continue  # an extra not asked for: no need to parse it
        requirement_part, _, marker = text.partition(";")
        key = (marker.strip(), wanted_extras)
        plain = _PLAIN.fullmatch(requirement_part) is not None
        if not plain or key not in verdicts:
            try:
                requirement = PackagingRequirement(text)
            except InvalidRequirement:
                return None
            envs = [target.marker_env(e) for e in ("", *wanted_extras)]
            marker_of = requirement.marker
            applies = marker_of is None or any(marker_of.evaluate(e) for e in envs)
            if not plain:
                if applies:
                    return True
                continue
            verdicts[key] = applies
        if verdicts[key]:
            return True
    return False


def _closed(
    wanted: Iterable[Requirement],
    installed: Mapping[str, InstalledDist],
    listed: set[str | None],
    target: Target,
) -> bool:
    """Every dependency of every wanted line is itself a line (the file is the closure)."""
    verdicts: dict[tuple[str, frozenset[str]], bool] = {}
    return all(
        _unlisted_dependencies(installed[line.key or ""], line.extras, target, listed, verdicts)
        is False
        for line in wanted
    )


def synced_count(request: SyncRequest, *, just_changed: bool = False) -> int | None:
    """The number of distributions already matching ``request``, or None when the full path
    must run (something to change, something to report, or a doubt). ``just_changed``: a
    sync asks once its changes are in, for the receipt (see :func:`write_receipt`)."""
    venv = Path(request.venv) if request.venv else None
    if venv is not None and not venv.exists():
        return None
    try:
        target, settings, warnings = locate(request)
    except HashsyncError:
        return None
    if settings.no_cache:
        return None  # the full path runs, and writes nothing to a cache
    if os.path.lexists(os.path.join(target.prefix, WORK_DIR)):
        return None  # unfinished: the full path recovers it (transaction.unfinished)
    lines, mode, problems = read_request(request, settings)
    if warnings or problems or lines.problems or lines.warnings:
        return None
    installed = scan(target.site_dirs())
    protected = protected_names(target, request.keep)
    if already_synced(
        lines, mode, target, installed, protected, trust_installed=request.trust_installed
    ):
        write_receipt(
            request,
            lines.read_files,
            settings.config_files,
            target.executable,
            target.site_dirs(),
            len(installed),
            just_changed=just_changed,
        )
        return len(installed)
    return None
