"""``verify``: check an installed environment against its RECORD files and, when given,
requirements files, reading only the environment (no network, no change).

The checks are :mod:`pip_hashsync.environment.verify`'s; this module finds the target and
reads the requirements as ``sync`` would (pip's settings included, so a constraint that
narrows the hashes narrows them here too), and shapes the result for the user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pip_hashsync.environment.target import Target
from pip_hashsync.environment.verify import Verification, verify_environment
from pip_hashsync.errors import ExitCode, HashsyncError, InputError, ProblemsFound
from pip_hashsync.settings.request import SyncRequest, locate, read_request


@dataclass(frozen=True)
class VerifyReport:
    """The findings of one ``verify`` run, and the warnings reading the input gave."""

    target: Target
    verification: Verification
    warnings: list[str]

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.DRIFT if self.verification.findings else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """``verify``'s own keys of the documented report (the CLI adds the target and the
        warnings, which every command's report has)."""
        return {
            "findings": [
                {"kind": f.kind, "name": f.name, "path": f.path, "message": f.message}
                for f in self.verification.findings
            ],
            "checked": {
                "distributions": self.verification.distributions,
                "files": self.verification.files,
            },
        }

    def text_lines(self) -> list[str]:
        """One line per finding, ``name: kind: message`` (``environment`` for findings
        about no one distribution), grouped by distribution; then a summary line."""
        lines = [
            f"{f.name or 'environment'}: {f.kind}: {f.message}" for f in self.verification.findings
        ]
        checked = (
            f"{self.verification.distributions} distribution(s), "
            f"{self.verification.files} file(s) in {self.target.prefix}"
        )
        if not lines:
            return [f"verified {checked}: no findings"]
        names = {f.name for f in self.verification.findings}
        about = [f"{len(names - {None})} distribution(s)"] if names - {None} else []
        about += ["the environment"] if None in names else []
        return [*lines, f"{len(lines)} finding(s) about {' and '.join(about)}; checked {checked}"]


def verify(
    files: Sequence[str],
    *,
    python: str | None = None,
    venv: str | None = None,
    keep: Sequence[str] = (),
    extras: Sequence[str] = (),
    groups: Sequence[str] | None = None,
) -> VerifyReport:
    """Verify the target chosen by ``python`` or ``venv`` (the running Python by default),
    against the requirements ``files`` when there are any (``extras`` and ``groups``
    selecting from a pylock.toml, as for ``sync``).

    Raises :class:`InputError` (exit 2) when the target or the files cannot be used.
    """
    request = SyncRequest(
        files=files, python=python, venv=venv, keep=keep, extras=extras, groups=groups
    )
    try:
        target, settings, warnings = locate(request)
    except InputError:
        raise
    except HashsyncError as exc:  # no usable target: for verify, a bad --python or --venv
        raise InputError(str(exc)) from None
    lines = None
    if files:
        lines, _, _ = read_request(request, settings)
        if lines.problems:
            raise ProblemsFound(lines.problems)
        warnings = [*warnings, *lines.warnings]
    verification = verify_environment(target, lines, tuple(keep))
    return VerifyReport(target, verification, warnings)
