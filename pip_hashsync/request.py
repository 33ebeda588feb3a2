"""What the user asked ``sync`` or ``install`` to do, as plain data every step can read
(kept apart so the no-op check can use it without importing the planner)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


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
