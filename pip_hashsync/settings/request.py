"""What the user asked ``sync`` or ``install`` to do, as plain data every step can read
(kept apart so the no-op check can use it without importing the planner)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pip_hashsync.environment.target import Target
    from pip_hashsync.errors import Problem
    from pip_hashsync.requirements.reader import RequirementSet, UrlReader
    from pip_hashsync.requirements.rules import HashMode
    from pip_hashsync.settings.config import Settings

    #: A run's target, pip's settings for it, and the warnings reading them gave.
    Located = tuple[Target, Settings, list[str]]


#: How build dependencies are checked (``--build-hashes``): "require" a hashed pin for each
#: (design policy 11), or "verify" the ones given and build with the others unchecked, as
#: pip and uv do.
BuildHashes = Literal["require", "verify"]


@dataclass(frozen=True)
class SyncRequest:
    """What the user asked for, as parsed from the command line."""

    files: Sequence[str]
    constraints: Sequence[str] = ()
    python: str | None = None
    venv: str | None = None
    #: pip's options as given on the command line, keyed by pip's long name; the
    #: configuration is merged in by :func:`request_settings`.
    pip_options: Mapping[str, Any] = field(default_factory=dict)
    keep: Sequence[str] = ()
    trust_installed: bool = False
    allow_empty: bool = False
    #: ``install`` rather than ``sync``: never remove; outside hash-checking mode resolve
    #: dependencies the files do not list, as pip does.
    additive: bool = False
    #: Requirements given as command-line arguments (``install``).
    arguments: Sequence[str] = ()
    no_deps: bool = False
    upgrade: bool = False
    force_reinstall: bool = False
    #: In hash-checking mode, a dependency that a constraint line pins (with its hashes) may
    #: be installed although no requirement line names it: a build environment's lines name
    #: only what the backend asked for, and the build constraints hold the rest of the closure.
    closure_from_constraints: bool = False
    build_hashes: BuildHashes = "require"
    #: ``--no-build``: never build an sdist (uv's option; pip's ``--only-binary :all:`` is
    #: in the settings).
    no_build: bool = False
    #: ``--extra`` and ``--group``: what to install from a pylock.toml (PEP 751); groups
    #: None: the lock's ``default-groups``.
    extras: Sequence[str] = ()
    groups: Sequence[str] | None = None


def request_settings(request: SyncRequest, site_prefix: str | None) -> tuple[Settings, list[str]]:
    """pip's settings for the run with their warnings: the command line over ``PIP_*`` over
    pip's files, the target's site file included once its ``site_prefix`` is known. The
    command line's ``-c`` files extend the configured ones (``PIP_CONSTRAINT``), as in pip.

    Raises :class:`pip_hashsync.errors.InputError` for an unreadable or invalid setting.
    """
    from pip_hashsync.settings.config import load_settings

    given = {**request.pip_options, "constraint": list(request.constraints)}
    isolated = bool(request.pip_options.get("isolated"))
    return load_settings(given, None, site_prefix=site_prefix, isolated=isolated)


def locate(request: SyncRequest, *, new_venv: bool = False) -> Located:
    """The target and pip's settings for it, with their warnings. The target's site file
    cannot be read before the target is known, so the folder that caches the target's
    facts comes from the other sources. ``new_venv``: ``--venv`` does not exist yet; the
    running interpreter stands for it, and it has no site file.

    Raises :class:`pip_hashsync.errors.HashsyncError` for a bad setting or target.
    """
    import sys

    from pip_hashsync.environment.target import find_target

    before_target = request_settings(request, None)[0]
    venv = None if new_venv else request.venv
    # The running interpreter creates the new venv, whatever VIRTUAL_ENV says.
    python = sys.executable if new_venv else request.python
    target = find_target(python, venv, cache_dir_of(before_target))
    settings, warnings = request_settings(request, None if new_venv else target.prefix)
    return target, settings, warnings


def cache_dir_of(settings: Settings) -> Path | None:
    """pip-hashsync's cache folder, None when caching is off (``--no-cache``, pip's
    ``no-cache-dir``). ``--cache-dir`` names it; a ``cache-dir`` configured for pip holds
    it in a ``pip-hashsync`` folder, apart from pip's own files; else the per-user one."""
    from pip_hashsync.environment.target import default_cache_dir
    from pip_hashsync.errors import COMMAND_LINE

    if settings.no_cache:
        return None
    if settings.cache_dir is None:
        return default_cache_dir()
    if settings.sources.get("cache-dir") == COMMAND_LINE:
        return Path(settings.cache_dir)
    return Path(settings.cache_dir, "pip-hashsync")


#: What this process has read, by the files, arguments, working folder and environment:
#: the full path that follows a failed no-op check parses nothing again, while any file
#: whose bytes changed is read anew.
_READ: dict[tuple[object, ...], RequirementSet] = {}


def file_sha256(path: str) -> str | None:
    """The sha256 of a file's bytes; None when it does not exist (other errors raise)."""
    try:
        with open(path, "rb") as file:
            return hashlib.sha256(file.read()).hexdigest()
    except FileNotFoundError:
        return None


def files_unchanged(files: Mapping[str, str | None]) -> bool:
    """Whether every file still holds the bytes whose sha256 was recorded; False for a
    file that is not local (None) or cannot be read."""
    try:
        return all(
            digest is not None and file_sha256(path) == digest for path, digest in files.items()
        )
    except OSError:
        return False


def read_request(
    request: SyncRequest, settings: Settings, read_url: UrlReader | None = None
) -> tuple[RequirementSet, HashMode, list[Problem]]:
    """The request's files, arguments and constraint files (``settings.constraints``)
    read, and the hash mode decided over them and the ``--require-hashes`` and
    ``--no-require-hashes`` settings (policy 1), with the problems of that decision.
    ``read_url`` fetches files given by ``http(s):`` URL, once the local files read
    without other problems (every problem of a bad file is shown without waiting for the
    network); without it they are problems (the no-op check never touches the network:
    the full path reads them)."""
    from pip_hashsync.requirements.reader import (  # not needed for --version
        LockSelection,
        RequirementsReader,
    )

    selection = LockSelection.given(request.extras, request.groups)
    files = (tuple(request.files), settings.constraints, tuple(request.arguments))
    key = (*files, selection, os.getcwd(), frozenset(os.environ.items()))
    lines = _READ.get(key)
    if lines is None or lines.problems or not files_unchanged(lines.read_files):
        lines = _READ[key] = RequirementsReader(lock_selection=selection).read(*files)
    if read_url is not None and lines.unfetched and len(lines.problems) == len(lines.unfetched):
        reader = RequirementsReader(read_url=read_url, lock_selection=selection)
        lines = _READ[key] = reader.read(*files)
    return (lines, *decide_mode(lines, settings))


def decide_mode(lines: RequirementSet, settings: Settings) -> tuple[HashMode, list[Problem]]:
    """The hash mode over the lines and the settings' ``--require-hashes`` and
    ``--no-require-hashes``, each named by where it was given (``sync`` and ``lint`` alike)."""
    from pip_hashsync.requirements import rules

    return rules.decide_mode(
        lines,
        require_hashes=settings.sources.get("require-hashes") if settings.require_hashes else None,
        no_require_hashes=(
            settings.sources.get("no-require-hashes") if settings.no_require_hashes else None
        ),
    )
