"""``hashes``: write the hash of every file of each pinned version, for every platform.

Digests come from the simple API every index serves (PEP 691 ``hashes`` or the PEP 503
``#sha256=`` fragment), from every configured index at once; a file is downloaded and
hashed only when its index gives no usable digest, or when the asked algorithm is not
advertised (EC74, EC75). Only files of exactly the pinned version count: ``==1.0`` leaves
``1.0+cpu`` files out unless the pin names the label (EC73).

The rewrite touches only the ``--hash`` options of pinned lines: the requirement text as
written (markers, extras, spacing), other options, inline comments, ``# via`` blocks, blank
lines and option lines stay as they are; a line keeps its layout (one line, or
pip-compile's ``\\``-continued hash lines) and hashes are sorted, so an unchanged index gives
no diff (EC76–EC78). Hashes already in a line that no file has any more are kept, with a
warning (EC81).
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.version import InvalidVersion, Version

from pip_hashsync.errors import ExitCode, Problem, Source
from pip_hashsync.index.http import HttpClient, HttpSettings, NetworkError
from pip_hashsync.index.pages import FileLink, Index
from pip_hashsync.requirements.hashes import Digest
from pip_hashsync.requirements.reader import (
    Kind,
    Requirement,
    RequirementsReader,
    is_lock_file,
)
from pip_hashsync.resolve.diagnostics import same_version
from pip_hashsync.settings.config import load_settings

_HASH_OPTION = re.compile(r"\s*--hash(?:=|\s+)\S+")
_COMMENT = re.compile(r"(^|\s+)#.*$")
_PIN = re.compile(r"^(\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?\s*)(===?)(\s*)([^\s;\\]+)")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class TagFilter:
    """Which wheels to keep (EC79): every file unless filters are given; the sdist is kept
    unless ``no_sdist``. Tags are matched the way an installer matches them (abi3 aware)."""

    python_versions: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    implementation: str | None = None
    abi: str | None = None
    no_sdist: bool = False

    def keeps(self, file: FileLink) -> bool:
        if not file.is_wheel:
            return not self.no_sdist
        return any(self._keeps_tag(tag) for tag in file.tags)

    def _keeps_tag(self, tag: Tag) -> bool:
        if self.platforms and tag.platform != "any" and tag.platform not in self.platforms:
            return False
        if self.implementation and not tag.interpreter.startswith((self.implementation, "py")):
            return False
        if self.abi and tag.abi not in (self.abi, "none", "abi3"):
            return False
        return not self.python_versions or any(
            tag in _supported(version, tag.platform) for version in self.python_versions
        )


def _supported(version: str, platform: str) -> set[Tag]:
    numbers = tuple(int(part) for part in version.split(".")[:2])
    return {
        *cpython_tags(python_version=numbers, platforms=[platform]),
        *compatible_tags(python_version=numbers, platforms=[platform]),
    }


@dataclass(frozen=True)
class Pin:
    """A pinned line to hash, and the files of its version."""

    line: Requirement
    version: str
    files: tuple[FileLink, ...] = ()


@dataclass
class HashesResult:
    """What ``hashes`` found: the new text of each file, and everything to tell the user."""

    texts: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> (old, new)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: ``--check``: lines whose hashes differ from the index's, in words, in file order.
    drift: list[str] = field(default_factory=list)
    #: Lines not pinned with ``==``/``===``: left as they are; ``--check`` fails on them.
    skipped: list[Problem] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        """The code of ``--check`` (and of a run with problems): the skipped lines count."""
        codes = {ExitCode.NETWORK if p.kind == "not-found" else ExitCode.BAD_INPUT
                 for p in [*self.problems, *self.skipped]}  # fmt: skip
        if codes:
            return ExitCode.NETWORK if ExitCode.NETWORK in codes else ExitCode.BAD_INPUT
        return ExitCode.DRIFT if self.drift else ExitCode.OK

    def diff(self) -> str:
        return "".join(
            _terminated(line)
            for path, (old, new) in self.texts.items()
            if old != new
            for line in difflib.unified_diff(old.splitlines(True), new.splitlines(True), path, path)
        )


def _terminated(line: str) -> str:
    """A diff line as ``patch`` expects it: a last line without an ending is marked, not
    glued to the next diff line."""
    if line.endswith(("\n", "\r")):
        return line
    return f"{line}\n\\ No newline at end of file\n"


def compute(
    files: Sequence[str],
    pins: Sequence[str],
    *,
    pip_options: Mapping[str, object],
    algorithm: str = "sha256",
    tag_filter: TagFilter = TagFilter(),
    include_constraints: bool = False,
    only_first_file: bool = False,
    workers: int = 8,
) -> HashesResult:
    """New texts for ``files`` (and ``pins`` added to the first file); changes nothing.
    ``only_first_file`` leaves the lines of included files alone (for ``-o``)."""
    result = HashesResult()
    lines = RequirementsReader().read(files)
    result.problems.extend(lines.problems)
    result.problems.extend(
        Problem(
            "file",
            f"{path} is a PEP 751 lock: its hashes are the locking tool's (pip lock, uv pip "
            "compile); lock again to change them",
        )
        for path in lines.read_files
        if is_lock_file(path)
    )
    result.warnings.extend(lines.warnings)
    isolated = bool(pip_options.get("isolated"))
    settings, warnings = load_settings(pip_options, lines.options, isolated=isolated)
    result.warnings.extend(warnings)
    wanted = [*lines.requirements, *(lines.constraints if include_constraints else ())]
    if only_first_file:
        wanted = [line for line in wanted if line.source.path == files[0]]
    to_hash = _pins(wanted, result)
    extra = _argument_pins(pins, to_hash, files[0] if files else None, result)
    if result.problems:
        return result
    client = HttpClient(HttpSettings.from_settings(settings))
    try:
        index = Index(
            client,
            tuple(settings.index_urls),
            tuple(settings.find_links),
            workers,
            versions=_pinned_versions([*to_hash, *extra]),
        )
        index.prefetch({pin.line.key or "" for pin in [*to_hash, *extra]})
        found = [_with_files(pin, index, tag_filter, result) for pin in [*to_hash, *extra]]
        digests = _digests([p for p in found if p.files], algorithm, client, workers)
    finally:
        client.close()
    if result.problems:
        return result
    _rewrite_all(files, found, digests, algorithm, result)
    return result


def _pins(lines: Iterable[Requirement], result: HashesResult) -> list[Pin]:
    pins = []
    for line in lines:
        if line.kind is not Kind.INDEX or line.editable:
            result.warnings.append(
                f"{line.source}: {line.describe()} is not from an index; left as it is"
            )
        elif line.pinned_version is None:
            result.skipped.append(
                Problem("unpinned", f"{line.text} is not pinned with == or ===; only pinned "
                        "versions can be hashed", line.source, line.key)
            )  # fmt: skip
        else:
            pins.append(Pin(line, line.pinned_version))
    return pins


def _argument_pins(
    arguments: Sequence[str], pins: list[Pin], first_file: str | None, result: HashesResult
) -> list[Pin]:
    """``NAME==VERSION`` arguments: update the pin of the file's line for that project (any
    spelling, EC77), or add a line to the first file."""
    added = []
    for number, text in enumerate(arguments, start=1):
        parsed = RequirementsReader().read([], arguments=[text])
        result.problems.extend(parsed.problems)
        if parsed.problems:
            continue
        (line,) = parsed.requirements
        if line.pinned_version is None or line.kind is not Kind.INDEX:
            result.problems.append(
                Problem("unpinned", f"{text}: give NAME==VERSION", Source("command line", number))
            )
            continue
        existing = [i for i, pin in enumerate(pins) if pin.line.key == line.key]
        for i in existing:
            pins[i] = Pin(pins[i].line, line.pinned_version)
        if not existing:
            if first_file is None:
                result.problems.append(Problem("file", "NAME==VERSION needs a FILE to add it to"))
                return []
            added.append(Pin(line, line.pinned_version))
    return added


def _pinned_versions(pins: Sequence[Pin]) -> dict[str, SpecifierSet]:
    """The one version each project is pinned to, as the index reads it: a page that lists
    thousands of files is parsed only for that version's."""
    versions: dict[str, set[str]] = {}
    for pin in pins:
        versions.setdefault(pin.line.key or "", set()).add(pin.version)
    specifiers = {}
    for key, found in versions.items():
        if len(found) != 1:
            continue
        try:
            specifiers[key] = SpecifierSet(f"=={Version(found.pop())}")
        except InvalidVersion:
            continue  # an ``===`` pin of no PEP 440 version: every file is read
    return specifiers


def _with_files(pin: Pin, index: Index, tag_filter: TagFilter, result: HashesResult) -> Pin:
    """The files of exactly the pinned version that the filter keeps (EC73, EC79, EC80)."""
    try:
        offered = index.files(pin.line.key or "")
        if not any(same_version(f.version, pin.version) for f in offered) and index.widen():
            offered = index.files(pin.line.key or "")  # every version, to name the latest
    except NetworkError as exc:  # reported per project, all at once
        result.problems.append(Problem("not-found", str(exc), pin.line.source, pin.line.key))
        return pin
    if not offered:
        result.problems.append(
            Problem("not-found", f"{pin.line.key}: not found on any configured index",
                    pin.line.source, pin.line.key)
        )  # fmt: skip
        return pin
    exact = [f for f in offered if same_version(f.version, pin.version)]
    if not exact:
        versions = sorted({str(f.version) for f in offered}, key=Version)[-5:]
        result.problems.append(
            Problem("no-version", f"{pin.line.key}=={pin.version}: no file of this version on the "
                    f"index (latest: {', '.join(versions)})", pin.line.source, pin.line.key)
        )  # fmt: skip
        return pin
    for file in exact:
        if file.yanked is not None:
            reason = f": {file.yanked}" if file.yanked else ""
            result.warnings.append(f"{file.filename} is yanked{reason}")
    kept = tuple(f for f in exact if tag_filter.keeps(f))
    return Pin(pin.line, pin.version, kept)


def _digests(
    pins: Sequence[Pin], algorithm: str, client: HttpClient, workers: int
) -> dict[str, str]:
    """``{url: hex}`` for every file: advertised when possible, else downloaded and hashed."""
    digests: dict[str, str] = {}
    missing = []
    for pin in pins:
        for file in pin.files:
            if algorithm in file.hashes:
                digests[file.url] = file.hashes[algorithm]
            else:
                missing.append(file)
    if missing:
        with ThreadPoolExecutor(max_workers=min(workers, len(missing))) as pool:
            for file, hexdigest in zip(
                missing,
                pool.map(lambda f: _download_digest(client, f, algorithm), missing),
                strict=True,
            ):
                digests[file.url] = hexdigest
    return digests


def _download_digest(client: HttpClient, file: FileLink, algorithm: str) -> str:
    """Hash a file while streaming it into a private temp file, never reused (EC74)."""
    with tempfile.TemporaryFile() as scratch:
        return client.download(file.url, scratch, [algorithm])[algorithm]


def _rewrite_all(
    files: Sequence[str],
    pins: Sequence[Pin],
    digests: Mapping[str, str],
    algorithm: str,
    result: HashesResult,
) -> None:
    by_file: dict[str, list[Pin]] = {}
    additions: list[Pin] = []
    for pin in pins:
        if pin.line.source.path == "command line":
            additions.append(pin)
        else:
            by_file.setdefault(pin.line.source.path, []).append(pin)
    targets = dict.fromkeys([*files[:1], *by_file]) if additions else dict.fromkeys(by_file)
    for path in targets:
        try:
            with open(path, encoding="utf-8", newline="") as file:  # keep CRLF as it is
                old = file.read()
        except (UnicodeDecodeError, OSError) as exc:
            reason = "it is not UTF-8; convert it to UTF-8 first" if isinstance(
                exc, UnicodeDecodeError) else str(exc)  # fmt: skip
            result.problems.append(Problem("file", f"cannot rewrite {path}: {reason}"))
            continue
        new_lines = old.splitlines(keepends=True)
        rewrites = []  # decided top to bottom, so drift and warnings come in file order
        for pin in sorted(by_file.get(path, []), key=lambda p: p.line.source.line):
            if not pin.files:
                result.warnings.append(
                    f"{pin.line.source}: no file of {pin.line.key}=={pin.version} passes the "
                    "filters; line left as it is"
                )
                continue
            wanted = sorted({Digest(algorithm, digests[f.url]) for f in pin.files})
            rewrites.append((pin, _final_hashes(pin, wanted, algorithm, result)))
        for pin, hashes in reversed(rewrites):  # bottom up: line numbers above stay valid
            new_lines = _rewrite_line(new_lines, pin, hashes)
        if path == (files[0] if files else None):
            for pin in additions:
                result.drift.append(f"{path}: {pin.line.key}=={pin.version} is not in it")
                wanted = sorted({Digest(algorithm, digests[f.url]) for f in pin.files})
                new_lines = _append(new_lines, pin, wanted)
        result.texts[path] = (old, "".join(new_lines))


def _final_hashes(
    pin: Pin, wanted: list[Digest], algorithm: str, result: HashesResult
) -> list[Digest]:
    """The hashes to write: the index's, plus those of the line no file has any more
    (kept with a warning, EC81) when the pin did not change. Differences go to ``drift``, a
    changed pin too, so ``--check`` with ``NAME==VERSION`` fails when a run would write."""
    where = f"{pin.line.source}: {pin.line.key}=={pin.version}"
    if pin.version != pin.line.pinned_version:
        result.drift.append(f"{where} is pinned to {pin.line.pinned_version} in the file")
        return wanted  # a new pin: the old version's hashes go
    have = {d for d in pin.line.hashes if d.algorithm == algorithm}
    missing = [d for d in wanted if d not in have]
    stale = sorted(have - set(wanted))
    if missing:
        result.drift.append(f"{where} lacks {len(missing)} hash(es) of files the index serves")
    if stale:
        result.drift.append(f"{where} lists {len(stale)} hash(es) no file of it has")
        result.warnings.append(
            f"{where}: kept {len(stale)} hash(es) that no file on the index has any more: "
            + ", ".join(str(d) for d in stale)
        )
    return sorted({*wanted, *stale})


def _span(lines: list[str], first: int) -> int:
    """The index of the last physical line of the logical line starting at ``first``."""
    end = first
    while end < len(lines) - 1 and lines[end].rstrip("\r\n").endswith("\\"):
        if _COMMENT.match(lines[end].rstrip("\r\n")):
            break
        end += 1
    return end


def _rewrite_line(lines: list[str], pin: Pin, wanted: list[Digest]) -> list[str]:
    """Replace the hashes of ``pin``'s line, keeping everything else of it."""
    first = pin.line.source.line - 1
    last = _span(lines, first)
    span = [line.rstrip("\r\n") for line in lines[first : last + 1]]
    ending = lines[last][len(lines[last].rstrip("\r\n")) :]
    comment = ""
    match = _COMMENT.search(span[-1])
    if match:
        comment, span[-1] = match.group(0), span[-1][: match.start()]
    kept = [_HASH_OPTION.sub("", line.rstrip("\\")).rstrip() for line in span]
    head, rest = kept[0], [line for line in kept[1:] if line.strip()]
    head = _PIN.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{pin.version}", head, count=1)
    hash_lines = [line for line in span[1:] if "--hash" in line]
    multi_line = bool(hash_lines) or not any("--hash" in line for line in span)
    indent = (
        hash_lines[0][: len(hash_lines[0]) - len(hash_lines[0].lstrip())] if hash_lines else "    "
    )
    options = [f"--hash={d}" for d in wanted]
    if multi_line:
        body = [head, *rest, *(f"{indent}{option}" for option in options)]
        text = " \\\n".join(body) + comment
    else:
        text = " ".join([head, *(r.strip() for r in rest), *options]) + comment
    newline = ending or _newline(lines)
    *inner, final = text.split("\n")
    rewritten = [*(f"{part}{newline}" for part in inner), f"{final}{ending}"]
    return [*lines[:first], *rewritten, *lines[last + 1 :]]


def _newline(lines: Sequence[str]) -> str:
    """The file's line ending (its first one), for the lines a rewrite adds."""
    for line in lines:
        ending = line[len(line.rstrip("\r\n")) :]
        if ending:
            return ending
    return "\n"


def _append(lines: list[str], pin: Pin, wanted: list[Digest]) -> list[str]:
    newline = _newline(lines)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines = [*lines[:-1], lines[-1] + newline]
    body = [f"{pin.line.name}=={pin.version}",
            *(f"    --hash={d}" for d in wanted)]  # fmt: skip
    return [*lines, f" \\{newline}".join(body) + newline]


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` in one step (temp file + rename), keeping its permissions."""
    temporary = path.with_name(f".{path.name}.pip-hashsync-tmp")
    temporary.write_text(text, encoding="utf-8", newline="")
    if path.exists():
        os.chmod(temporary, path.stat().st_mode & 0o7777)
    os.replace(temporary, path)
