"""Evidence to messages: why no file of a project can be installed, said before any byte
was downloaded (policy 5, EC37–EC45), and paste-ready lines where the user may have meant
to allow a file (EC58).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from packaging.version import InvalidVersion, Version

from pip_hashsync.errors import ExitCode, Problem
from pip_hashsync.index.http import NetworkError
from pip_hashsync.index.pages import FileLink
from pip_hashsync.requirements.hashes import AllowedHashes
from pip_hashsync.requirements.reader import Requirement
from pip_hashsync.resolve.provider import Gap, Rejected, Want
from pip_hashsync.settings.config import Settings, describe_location

#: Exit code for each problem kind this module produces (design policy 10).
EXIT_CODES: dict[str, ExitCode] = {
    "no-match": ExitCode.HASH_FAILURE,
    "no-build": ExitCode.HASH_FAILURE,
    "not-found": ExitCode.NETWORK,
    "no-version": ExitCode.BAD_INPUT,
    "missing-dependency": ExitCode.BAD_INPUT,
    "build-dependency": ExitCode.BAD_INPUT,
    "conflict": ExitCode.BAD_INPUT,
    "invalid-metadata": ExitCode.BAD_INPUT,
    "integrity": ExitCode.HASH_FAILURE,
    "network": ExitCode.NETWORK,
}


def exit_code_for(problems: Sequence[Problem]) -> ExitCode:
    """The most specific code among the problems: hash failures first, then index, then input."""
    codes = {EXIT_CODES.get(p.kind, ExitCode.BAD_INPUT) for p in problems}
    for code in (ExitCode.HASH_FAILURE, ExitCode.NETWORK):
        if code in codes:
            return code
    return ExitCode.BAD_INPUT


def _digest(file: FileLink) -> str:
    algorithm = "sha256" if "sha256" in file.hashes else next(iter(sorted(file.hashes)), "")
    return f"{algorithm}:{file.hashes[algorithm]}" if algorithm else "(no digest advertised)"


def paste_ready(name: str, version: str, files: Sequence[FileLink]) -> str:
    """A ``name==version`` line with one ``--hash`` per file, in pip-compile's layout."""
    digests = sorted({f"sha256:{f.hashes['sha256']}" for f in files if "sha256" in f.hashes})
    if not digests:
        return ""
    return " \\\n".join([f"{name}=={version}", *(f"    --hash={d}" for d in digests)])


def same_version(version: Version, pin: str) -> bool:
    """``==1.0`` names 1.0 and 1.0.0, but not 1.0+cpu (a local label must be named)."""
    try:
        return version == Version(pin)
    except InvalidVersion:
        return str(version) == pin


def with_paste_ready(problem: Problem, line: Requirement, offered: Sequence[FileLink]) -> Problem:
    """A pinned line's missing-hash problem with the paste-ready lines of every file of its
    version that is ``offered`` (all platforms: the file may serve several), as pip prints
    the hash of the one file it downloaded."""
    version = line.pinned_version or ""
    files = [f for f in offered if same_version(f.version, version)]
    paste = paste_ready(line.name or "", version, files)
    if not paste:
        return problem
    lines = [problem.message, "    If the files the index serves are the ones you mean, use:"]
    lines.extend(f"        {text}" for text in paste.splitlines())
    return replace(problem, message="\n".join(lines))


def explain_no_candidates(
    want: Want, rejected: Sequence[Rejected], offered: int, allowed: AllowedHashes | None
) -> Problem:
    """Why ``want`` (a line of the file) has no acceptable file."""
    source = want.line.source if want.line else None
    what = want.describe()
    if offered == 0:
        return Problem(
            "not-found",
            f"{what}: no file of this project on any configured index or find-links location",
            source,
        )
    if not rejected:
        return Problem("no-version", f"{what}: no version satisfies the requirement", source)
    hash_only = [r for r in rejected if r.kind == "hash"]
    refused = [r for r in rejected if _refused_build(r, allowed)]
    unreadable = sorted({str(r.file.version) for r in rejected if r.kind == "metadata"})
    lines: list[str] = []
    if refused:
        head = f"{what}: only an sdist matched, and building it is refused ({refused[0].reason}):"
    elif unreadable:
        versions = ", ".join(unreadable)
        head = f"{what}: version {versions} has invalid metadata, and pip ignores such a version:"
    elif allowed and hash_only:
        count = len(allowed.digests())
        head = (
            f"{what}: no distribution matched the {count} allowed hash(es), but "
            f"{len(hash_only)} would without hash checking:"
        )
    else:
        head = f"{what}: no file of a matching version suits the target:"
    lines.append(head)
    lines.extend(
        f"        {r.file.filename} {_digest(r.file)} from {r.file.origin}: {r.reason}"
        for r in rejected
    )
    if allowed:
        lines.extend(_allowed_elsewhere(rejected, allowed))
    if hash_only:
        version = str(hash_only[0].file.version)
        paste = paste_ready(hash_only[0].file.name, version, [r.file for r in hash_only])
        if paste:
            lines.append("    If these files are the ones you meant to allow, use:")
            lines.extend(f"        {line}" for line in paste.splitlines())
    kind = (
        "no-build" if refused
        else "invalid-metadata" if unreadable
        else "no-match" if allowed and hash_only
        else "no-version"
    )  # fmt: skip
    return Problem(kind, "\n".join(lines), source, want.key)


def _refused_build(item: Rejected, allowed: AllowedHashes | None) -> bool:
    """An sdist the line allows (any, outside hash-checking mode) that ``--no-build`` or
    ``--only-binary`` forbids building (issue 14 item 4)."""
    refused = item.kind == "format" and not item.file.is_wheel
    return refused and (not allowed or allowed.allows(item.file.hashes))


def _allowed_elsewhere(rejected: Sequence[Rejected], allowed: AllowedHashes) -> list[str]:
    """Allowed hashes that belong to a file excluded for another reason (EC40–EC42)."""
    notes = []
    for item in rejected:
        if item.kind != "hash" and item.file.hashes and allowed.allows(item.file.hashes):
            notes.append(
                f"    The allowed hash {_digest(item.file)} belongs to {item.file.filename}, "
                f"which cannot be used: {item.reason}"
            )
    return notes


def explain_network(error: NetworkError, settings: Settings) -> Problem:
    """A location that could not be read, named with the setting that configured it: the run
    fails although another location may serve every file, since the locations are pooled and
    the silent one could hold a newer (or a planted) file that would have been chosen."""
    if error.location is None:
        return Problem("network", str(error))
    return Problem(
        "network",
        f"{describe_location(settings, error.location)} could not be read: {error}\n"
        "    every configured index and find-links location must answer, as their files are "
        "pooled: bring it back, or remove it from that setting",
    )


def explain_gaps(gaps: Sequence[Gap]) -> list[Problem]:
    """Dependencies missing from a hashed file, each with the chain that needs it (EC17)."""
    problems = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for gap in gaps:
        if (gap.requirement, gap.chain) in seen:
            continue
        seen.add((gap.requirement, gap.chain))
        chain = " <- ".join(gap.chain)
        problems.append(
            Problem(
                "missing-dependency",
                f"{gap.requirement} is required by {chain} but has no line in the requirements "
                "file; in hash-checking mode the file must list every dependency, pinned and "
                "hashed",
                gap.source,
                gap.key,
            )
        )
    return problems
