"""What the user asked ``sync`` or ``install`` to do, as plain data every step can read
(kept apart so the no-op check can use it without importing the planner)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pip_hashsync.errors import Problem
    from pip_hashsync.hashmode import HashMode
    from pip_hashsync.reqfile import RequirementSet


@dataclass(frozen=True)
class SyncRequest:
    """What the user asked for, as parsed from the command line."""

    files: Sequence[str]
    constraints: Sequence[str] = ()
    python: str | None = None
    venv: str | None = None
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


def read_request(request: SyncRequest) -> tuple[RequirementSet, HashMode, list[Problem]]:
    """The request's files and arguments read, and the hash mode decided over them and the
    command line's switches (policy 1), with the problems of that decision."""
    from pip_hashsync import hashmode  # the reader's imports are not needed for --version
    from pip_hashsync.reqfile import RequirementsReader

    lines = RequirementsReader().read(request.files, request.constraints, request.arguments)
    mode, problems = hashmode.decide_mode(
        lines,
        require_hashes=bool(request.pip_options.get("require-hashes")),
        no_require_hashes=bool(request.pip_options.get("no-require-hashes")),
    )
    return lines, mode, problems
