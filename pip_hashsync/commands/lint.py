"""``lint``: check requirements files offline, as a pre-commit hook or CI step would.

Reads the files, decides the hash mode and applies its rules to every line (markers are not
evaluated: a file may be meant for several platforms), and reports the result as text or
as one JSON object whose documented keys stay stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pip_hashsync.errors import Problem
from pip_hashsync.requirements import rules
from pip_hashsync.requirements.reader import (
    LockSelection,
    Requirement,
    RequirementSet,
    RequirementsReader,
)
from pip_hashsync.settings.request import SyncRequest, decide_mode, request_settings
from pip_hashsync.urls import redact


@dataclass(frozen=True)
class LintReport:
    """What ``lint`` found; ``ok`` is False when any problem was found."""

    lines: RequirementSet
    mode: rules.HashMode
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def warnings(self) -> list[str]:
        notices = list(self.lines.warnings)
        if self.mode.reduced_by:
            notices.append(
                f"hash checking is reduced by {self.mode.reduced_by}: hashes that are given "
                "are verified, lines without hashes are installed unchecked"
            )
        return notices

    def to_json(self) -> dict[str, Any]:
        """``lint``'s own keys of the documented report (the CLI adds the problems and
        warnings, which every command's report has)."""
        return {
            "hash_mode": self.mode.enabled,
            "hash_mode_reason": self.mode.reason,
            "requirements": [requirement_json(r) for r in self.lines.requirements],
            "constraints": [requirement_json(r) for r in self.lines.constraints],
            "options": self.lines.options.to_json(),
        }

    def summary(self) -> str:
        counts = (
            f"{len(self.lines.requirements)} requirement(s), "
            f"{len(self.lines.constraints)} constraint(s)"
        )
        mode = (
            f"hash-checking mode on ({self.mode.reason})"
            if self.mode.enabled
            else "hash-checking mode off"
        )
        verdict = "no problems" if self.ok else f"{len(self.problems)} problem(s)"
        return f"{counts}, {mode}: {verdict}"


def lint(
    files: Sequence[str],
    constraints: Sequence[str] = (),
    *,
    require_hashes: bool = False,
    no_require_hashes: bool = False,
    extras: Sequence[str] = (),
    groups: Sequence[str] | None = None,
) -> LintReport:
    """Read ``files`` and ``constraints`` and check them without touching the network;
    ``extras`` and ``groups`` select from pylock.toml files (PEP 751) as ``sync`` does.

    The hash mode is decided as ``sync`` decides it, over pip's settings too
    (``PIP_REQUIRE_HASHES``, ``require-hashes`` in pip's files, ``PIP_CONSTRAINT``); the
    target's site file is not read, as ``lint`` has no target.
    """
    flags = {"require-hashes": require_hashes, "no-require-hashes": no_require_hashes}
    settings = request_settings(SyncRequest(files, constraints, pip_options=flags), None)[0]
    reader = RequirementsReader(lock_selection=LockSelection.given(extras, groups))
    lines = reader.read(files, settings.constraints)
    mode, problems = decide_mode(lines, settings)
    problems = [*lines.problems, *problems, *rules.check(lines, mode)]
    return LintReport(lines, mode, problems)


def requirement_json(line: Requirement) -> dict[str, Any]:
    """The documented JSON form of one line (keys are stable)."""
    return {
        "name": line.name,
        "specifier": str(line.specifier),
        "extras": sorted(line.extras),
        "marker": str(line.marker) if line.marker else None,
        "url": redact(line.url) if line.url else None,
        "editable": line.editable,
        "hashes": [str(d) for d in (*line.hashes, *line.url_hashes)],
        "source": str(line.source),
        "kind": line.kind.value,
        "pinned_version": line.pinned_version,
    }
