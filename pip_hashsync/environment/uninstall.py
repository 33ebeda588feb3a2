"""Which files removing an installed distribution takes, read from its RECORD, with containment.

RECORD is the only trustworthy list of a distribution's files: without it nothing is
removed (EC82), and legacy installs are refused rather than guessed at (EC86). A RECORD row
is honoured only when it lies inside the target's scheme directories, judged on its resolved
form (:class:`Containment`: a folder linked out of the environment does not count as
inside); rows pointing elsewhere are reported and left alone (EC87). RECORD lists files: a
row naming a folder (another distribution's package, or site-packages itself as ``.``) is
reported and left alone too, since a folder may hold files of others. Bytecode is found by
the target's cache tag for every optimisation level, since it is usually not in RECORD
(EC84).

This module only plans; :mod:`transaction` moves the files into its stash, so that a failed
run can put every one of them back.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pip_hashsync.environment.installed import InstalledDist
from pip_hashsync.environment.target import Target
from pip_hashsync.errors import ExitCode, HashsyncError


class UninstallRefused(HashsyncError):
    """A distribution cannot be removed safely (exit 5)."""

    exit_code = ExitCode.ENVIRONMENT


@dataclass(frozen=True)
class Removal:
    """Everything removing ``dist`` deletes, and the RECORD rows it will not touch."""

    dist: InstalledDist
    files: tuple[Path, ...]
    #: RECORD rows outside the target (EC87): never touched, to be warned about.
    skipped: tuple[str, ...]
    #: RECORD rows naming a folder inside the target: never touched, to be warned about.
    folders: tuple[str, ...] = ()


def scheme_roots(target: Target) -> tuple[str, ...]:
    """The directories files may be removed from. ``headers`` and not ``include``: in a venv
    ``include`` is the base interpreter's folder, which is not the environment's to change."""
    keys = ("purelib", "platlib", "scripts", "data", "headers")
    return tuple(dict.fromkeys(os.path.normpath(target.paths[key]) for key in keys))


def is_inside(path: str, roots: Iterable[str]) -> bool:
    """``path`` (normalised, absolute) is strictly below one of ``roots``."""
    return any(path.startswith(os.path.join(root, "")) for root in roots)


def is_folder(path: str) -> bool:
    """``path`` is a folder itself, not a link to one (a link is removed as a link)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


class Containment:
    """Whether paths lie inside ``roots`` once the links on their way are followed (policy
    12): a folder of site-packages that is a link to another place leads out, whatever its
    name. The last component is not followed, since a link is itself moved or replaced,
    never written or deleted through. Resolved folders are remembered: a RECORD names
    thousands of files in a few folders."""

    def __init__(self, roots: Iterable[str]) -> None:
        self.roots = tuple(dict.fromkeys(os.path.realpath(root) for root in roots))
        self._below = tuple(os.path.join(root, "") for root in self.roots)
        self._folders: dict[str, str] = {}

    def __contains__(self, path: str) -> bool:
        """``path`` (absolute, normalised) is strictly below a root once resolved (as
        :func:`is_inside` says, without joining the roots again for every file)."""
        return self.resolve(path).startswith(self._below)

    def resolve(self, path: str) -> str:
        """``path`` (absolute, normalised) with the links of its folder followed."""
        folder, name = os.path.split(path)
        return os.path.join(self._resolve_folder(folder), name)

    def _resolve_folder(self, folder: str) -> str:
        """The folder's resolved parent joined with its name, unless it is a link: one
        ``lstat`` per new folder instead of one per part of its path."""
        known = self._folders.get(folder)
        if known is not None:
            return known
        parent, name = os.path.split(folder)
        if not name:
            resolved = folder  # the file system's root
        elif os.path.islink(folder):
            resolved = os.path.realpath(folder)
        else:
            resolved = os.path.join(self._resolve_folder(parent), name)
        self._folders[folder] = resolved
        return resolved


def link_out_of(path: str, root: str) -> tuple[str, str]:
    """The first link on the way from ``root`` down to ``path`` that leads out of ``root``,
    and where it leads, to name in a message (``path`` itself if the links changed since)."""
    real_root = os.path.realpath(root)
    folder = root
    for part in os.path.relpath(os.path.dirname(path), root).split(os.sep):
        folder = os.path.join(folder, part)
        if not is_inside(os.path.realpath(folder), [real_root]):
            return folder, os.path.realpath(folder)
    return path, os.path.realpath(path)


def plan_removal(target: Target, dist: InstalledDist) -> Removal:
    """The files of ``dist`` that exist: its RECORD rows inside the target, the bytecode of
    its modules, every file under its ``.dist-info``, and the bytecode left alone in a
    ``__pycache__`` of a package folder the removal empties (so that folder can go too).

    Raises :class:`UninstallRefused` for a legacy install or a missing RECORD.
    """
    if dist.legacy:
        raise UninstallRefused(
            f"{dist.name} {dist.version} is a legacy install ({_legacy_kind(target, dist)}, "
            f"{dist.path}); pip-hashsync does not remove those. Remove it with the tool that "
            "installed it, then run again."
        )
    if not dist.has_record:
        tool = f"by {dist.installer}" if dist.installer else "by an unknown tool"
        raise UninstallRefused(
            f"{dist.name} {dist.version} has no RECORD file in {dist.path}, so which files "
            f"belong to it is unknown and it cannot be removed or replaced. It was installed "
            f"{tool}; use that tool to change it."
        )
    site = str(dist.path.parent)
    roots = scheme_roots(target)
    contained = Containment(roots)
    files: dict[str, None] = {}
    skipped: list[str] = []
    folders: list[str] = []
    modules: dict[str, list[str]] = {}
    for row in _record_paths(dist.path / "RECORD"):
        path = os.path.normpath(os.path.join(site, row))
        if not is_inside(path, roots) or path not in contained:
            skipped.append(row)
            continue
        if is_folder(path):
            folders.append(row)
            continue
        files[path] = None
        if path.endswith(".py"):
            head, name = os.path.split(path)
            modules.setdefault(head, []).append(name[:-3])
    if target.cache_tag:
        for head, stems in modules.items():
            files.update(dict.fromkeys(_bytecode(head, stems, target.cache_tag)))
    for folder, _, names in os.walk(dist.path):
        files.update(dict.fromkeys(os.path.join(folder, name) for name in names))
    existing = [path for path in files if os.path.lexists(path)]
    site_roots = {os.path.normpath(target.paths[key]) for key in ("purelib", "platlib")}
    existing += _bytecode_left_alone(set(existing), site_roots)
    # The .dist-info walk and the bytecode searches follow links too: judge what they found.
    inside = [path for path in existing if path in contained]
    return Removal(dist, tuple(Path(p) for p in inside), tuple(skipped), tuple(folders))


def prune_empty_dirs(target: Target, dirs: Iterable[Path]) -> None:
    """Remove the empty ones among ``dirs`` and their parents, deepest first, only below
    purelib and platlib (never those folders themselves). Scripts, data and headers are
    left alone: pruning up the data scheme reaches the environment's root (libraries §9.3).
    """
    roots = {os.path.normpath(target.paths[key]) for key in ("purelib", "platlib")}
    chains: set[str] = set()
    for directory in dirs:
        path = os.path.normpath(directory)
        while is_inside(path, roots):
            chains.add(path)
            path = os.path.dirname(path)
    contained = Containment(roots)
    chains = {path for path in chains if path in contained}
    for path in sorted(chains, key=lambda p: p.count(os.sep), reverse=True):
        with contextlib.suppress(OSError):  # not empty, or already gone
            os.rmdir(path)


def _record_paths(record: Path) -> list[str]:
    """The path column of RECORD."""
    try:
        with record.open(encoding="utf-8", newline="") as handle:
            return [row[0] for row in csv.reader(handle) if row and row[0]]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UninstallRefused(f"Cannot read {record}: {exc}") from None


def _bytecode(head: str, stems: list[str], cache_tag: str) -> list[str]:
    """``__pycache__/<stem>.<cache_tag>[.opt-N].pyc`` of the modules ``stems`` in ``head``,
    from one listing of the folder."""
    cache = os.path.join(head, "__pycache__")
    try:
        names = os.listdir(cache)
    except OSError:
        return []
    alternatives = "|".join(re.escape(stem) for stem in stems)
    pattern = re.compile(rf"(?:{alternatives})\.{re.escape(cache_tag)}(?:\.opt-\d+)?\.pyc")
    return [os.path.join(cache, name) for name in names if pattern.fullmatch(name)]


def _bytecode_left_alone(files: set[str], roots: set[str]) -> list[str]:
    """Files in ``__pycache__`` folders that would be all that is left of a package folder
    once ``files`` are gone (bytecode of other Pythons, of deleted modules). Removing them
    with the rest lets the folder be pruned, and keeps them restorable on rollback."""
    folders: set[str] = set()
    for path in files:
        folder = os.path.dirname(path)
        while is_inside(folder, roots) and folder not in folders:
            folders.add(folder)
            folder = os.path.dirname(folder)
    emptied: set[str] = set()
    extra: list[str] = []
    for folder in sorted(folders, key=lambda p: p.count(os.sep), reverse=True):
        if os.path.basename(folder) == "__pycache__":
            continue  # judged with the folder it is in
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        caches = [
            e.path for e in entries if e.name == "__pycache__" and e.is_dir(follow_symlinks=False)
        ]
        rest = [e.path for e in entries if e.path not in caches]
        if any(p not in files and p not in emptied for p in rest):
            continue
        for cache in caches:
            for sub, _, names in os.walk(cache):
                extra += [p for p in (os.path.join(sub, n) for n in names) if p not in files]
        emptied.add(folder)
    return extra


def _legacy_kind(target: Target, dist: InstalledDist) -> str:
    if dist.path.is_file():
        return "distutils"
    if str(dist.path.parent) not in target.site_dirs():
        return "setup.py develop, .egg-link"
    return "setuptools .egg-info"
