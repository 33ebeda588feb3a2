"""Problems and errors: what the user reads, and the exit code that goes with it.

Every failure a user can cause ends as a :class:`HashsyncError` whose ``str()`` is the
message to print and whose ``exit_code`` is the documented code (design policy 10).
Problems found while reading input are collected as :class:`Problem` values first, so a
run reports all of them at once instead of stopping at the first (EC57).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ExitCode(enum.IntEnum):
    """The documented exit codes of every sub-command."""

    OK = 0
    DRIFT = 1
    BAD_INPUT = 2
    HASH_FAILURE = 3
    NETWORK = 4
    ENVIRONMENT = 5
    #: A bug: an error no code path expected (sysexits' EX_SOFTWARE).
    INTERNAL_ERROR = 70


#: Where a setting given as a command-line option came from (see ``Settings.sources``).
COMMAND_LINE = "command line"


@dataclass(frozen=True)
class Source:
    """Where a line came from: the file as the user named it (or relative to its includer)."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, tied to the line that caused it.

    ``kind`` groups problems for display (see :data:`GROUP_HEADS`); ``message`` reads on
    its own, so it can be printed or put in JSON without its group.
    """

    kind: str
    message: str
    source: Source | None = None
    #: The project the problem is about, when there is one.
    name: str | None = None

    def __str__(self) -> str:
        return f"{self.source}: {self.message}" if self.source else self.message

    def to_json(self) -> dict[str, str | None]:
        """The documented JSON form: the message without its layout (see :func:`unlaid`)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "source": str(self.source) if self.source else None,
            "message": unlaid(self.message),
        }


def unlaid(message: str) -> str:
    """``message`` without the layout made for a terminal: no indentation, and a line
    continued with a backslash (a paste-ready requirement) joined into one line, so each line
    of the result reads (or pastes) on its own."""
    lines: list[str] = []
    continued = ""
    for line in message.splitlines():
        text = continued + line.strip()
        continued = f"{text[:-1].rstrip()} " if text.endswith("\\") else ""
        if text and not continued:
            lines.append(text)
    if continued:
        lines.append(continued.rstrip())
    return "\n".join(lines)


# Heads printed above each group of problems, in display order. The hash-mode groups follow
# pip's order and wording (VCS, directories, missing hashes, unpinned), so users who know
# pip's messages recognise them.
GROUP_HEADS: dict[str, str] = {
    "file": "These requirements files could not be read:",
    "syntax": "These lines are not valid requirements-file syntax:",
    "lock": "These lock files are not for this target:",
    "options": "These options cannot be used together:",
    "vcs": "Can't verify hashes for these requirements because we don't have a way to hash "
    "version control repositories:",
    "directory": "Can't verify hashes for these file:// requirements because they point to "
    "directories:",
    "missing-hash": "Hashes are required in --require-hashes mode, but they are missing from "
    "some requirements. (If you did not enable --require-hashes manually, note that it "
    "turns on automatically when any package has a hash.)",
    "unpinned": "In --require-hashes mode, all requirements must have their versions pinned "
    "with ==. These do not:",
    "editable": "Editable requirements cannot be installed when requiring hashes, because "
    "there is no single file to hash:",
    "stray-hash": "These lines have --hash but no requirement (a lost line continuation "
    "backslash?):",
    "conflict": "These requirements contradict each other:",
    "empty": "Nothing to install:",
    "not-found": "These projects were not found on any configured index:",
    "no-version": "No version of these requirements can be installed on this target:",
    "no-match": "No distribution matched the hashes of these requirements:",
    "no-build": "Only an sdist matched these requirements, and building is refused "
    "(--no-build, --only-binary):",
    "missing-dependency": "These dependencies are missing from the requirements file:",
    "build-dependency": "In hash-checking mode every dependency of a build is pinned and hashed "
    "too, by a --build-constraint file or a line of the requirements files (--build-hashes "
    "verify builds with unchecked ones, as pip does). These are not:",
    "integrity": "These files do not match what they must match:",
    "network": "These indexes could not be read:",
    "constraint": "These constraints are not allowed:",
    "self": "pip-hashsync runs from the target environment, and these changes would break it "
    "(install pip-hashsync elsewhere, e.g. with pipx, or choose the target with --python or "
    "--venv):",
}


class HashsyncError(Exception):
    """Base of every error a user can cause; ``str()`` is the message to print."""

    exit_code: ExitCode = ExitCode.BAD_INPUT


#: The problem kind of an error raised with each exit code (see :func:`problems_of`).
_ERROR_KINDS = {
    ExitCode.BAD_INPUT: "input",
    ExitCode.HASH_FAILURE: "integrity",
    ExitCode.NETWORK: "network",
    ExitCode.ENVIRONMENT: "environment",
}


def problems_of(error: HashsyncError) -> list[Problem]:
    """An error that stopped a run, as the problems a report lists: those it carries, else
    itself, its kind named by its exit code."""
    if isinstance(error, ProblemsFound):
        return error.problems
    return [Problem(_ERROR_KINDS.get(error.exit_code, "error"), str(error))]


class InputError(HashsyncError):
    """Bad command line, requirements file or option: exit 2."""

    exit_code = ExitCode.BAD_INPUT


class ProblemsFound(InputError):
    """The input has problems; all of them are carried so they can be shown together."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(render_problems(problems))
        self.problems = problems


def render_problems(problems: list[Problem]) -> str:
    """Group problems under their heads, in :data:`GROUP_HEADS` order, one line each."""
    order = {kind: index for index, kind in enumerate(GROUP_HEADS)}
    blocks: list[str] = []
    for kind in sorted({p.kind for p in problems}, key=lambda k: order.get(k, len(order))):
        head = GROUP_HEADS.get(kind, "Problems:")
        lines = [f"    {p}" for p in problems if p.kind == kind]
        blocks.append("\n".join([head, *lines]))
    return "\n".join(blocks)
