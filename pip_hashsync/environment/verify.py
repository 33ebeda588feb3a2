"""Whether an environment still holds what was installed into it (``verify``).

Every file a distribution's RECORD lists is hashed again; the distribution's own folders
(the ``.dist-info`` and the top-level folders its RECORD names) are searched for files that
no RECORD lists; distributions that cannot be checked (no RECORD) or whose archive is
unknown (no provenance, policy 6) are named, and so is the work folder of a run that was
killed. Given requirements, the installed set is compared with them as ``sync`` would:
every applying line installed, from an archive its hashes allow, and nothing else but the
protected set (policy 9): pip, setuptools and the rest, and what they need on the target,
markers evaluated and extras not (``sync``'s wider closure would leave projects unchecked).

Bytecode: ``__pycache__/<module>.<cache tag>[.opt-N].pyc`` is not reported when the
``<module>.py`` beside the ``__pycache__`` folder is recorded, since installers compile
without recording (``sync --compile``, EC84). Its contents cannot be checked against RECORD.
A protected distribution that the requirements do not list needs no provenance: ``sync``
keeps it as it is (the pip of a venv made with pip).

Nothing is written and nothing is fetched: only the environment's own files are read.
"""

from __future__ import annotations

import base64
import os
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from installer.records import InvalidRecordEntry, RecordEntry, parse_record_file
from packaging.utils import canonicalize_name

from pip_hashsync.environment.installed import InstalledDist, protected_closure, scan
from pip_hashsync.environment.target import Target, protected_names
from pip_hashsync.environment.transaction import unfinished
from pip_hashsync.environment.uninstall import is_inside, scheme_roots
from pip_hashsync.requirements import rules
from pip_hashsync.requirements.hashes import file_digests
from pip_hashsync.requirements.reader import Requirement, RequirementSet
from pip_hashsync.urls import redact

#: RECORD rows that carry no hash by design (PEP 376, PEP 491).
_UNHASHED_BY_DESIGN = ("RECORD", "RECORD.jws", "RECORD.p7s")


@dataclass(frozen=True)
class Finding:
    """One thing that differs from what was installed or asked for.

    ``kind`` is one of: ``changed``, ``missing``, ``unrecorded``, ``unhashed``,
    ``outside`` (a RECORD row outside the environment, not read), ``no-record``,
    ``bad-record``, ``no-provenance``, ``unfinished-transaction``; with requirements also
    ``not-installed``, ``wrong-version``, ``hash-not-allowed`` and ``unlisted``.
    """

    kind: str
    #: The distribution's name; None for the environment as a whole.
    name: str | None
    #: The file or folder concerned, absolute; None when there is none.
    path: str | None
    message: str


@dataclass
class Verification:
    """What ``verify`` found, and how much it checked."""

    findings: list[Finding] = field(default_factory=list)
    distributions: int = 0
    files: int = 0


def verify_environment(
    target: Target, lines: RequirementSet | None = None, keep: tuple[str, ...] = ()
) -> Verification:
    """Check ``target``'s installed files, and with ``lines`` its installed set.
    Environment-wide findings come first, then each distribution's together, by name."""
    installed = scan(target.site_dirs())
    result = Verification(distributions=len(installed))
    protected = protected_closure(protected_names(target, keep), installed, target.marker_env(""))
    listed = _applying(target, lines) if lines is not None else {}
    result.findings += _unfinished_transaction(target)
    files = _Files(target)
    for key, dist in sorted(installed.items()):
        result.findings += files.check(dist)
        if key in listed or key not in protected:
            result.findings += _provenance(dist)
    result.findings += files.unrecorded()
    result.files = files.checked
    if lines is not None:
        result.findings += _against_requirements(target, lines, listed, installed, protected)
    result.findings.sort(key=lambda f: (f.name is not None, canonicalize_name(f.name or "")))
    return result


def _provenance(dist: InstalledDist) -> list[Finding]:
    """A finding when pip-hashsync did not install ``dist`` (legacy installs aside, which
    have their own)."""
    if dist.legacy or dist.provenance() is not None:
        return []
    installer = dist.installer or "an unknown tool"
    return [
        Finding(
            "no-provenance",
            dist.name,
            str(dist.path),
            f"{dist.name} {dist.version} was installed by {installer}, with no record of the "
            "archive it came from",
        )
    ]


def _unfinished_transaction(target: Target) -> list[Finding]:
    """The work folder a killed run left (or a run changing the environment right now)."""
    work = unfinished(target)
    if work is None:
        return []
    return [
        Finding(
            "unfinished-transaction",
            None,
            str(work),
            f"an interrupted pip-hashsync run left {work}; the next sync finishes or undoes it",
        )
    ]


class _Files:
    """Hashes the files of each distribution against its RECORD, remembering which files
    every RECORD lists and which folders each distribution owns, for :meth:`unrecorded`."""

    def __init__(self, target: Target) -> None:
        self._roots = scheme_roots(target)
        self._real_roots = tuple(os.path.realpath(root) for root in self._roots)
        self._bytecode = (
            re.compile(rf"(.+)\.{re.escape(target.cache_tag)}(?:\.opt-\d+)?\.pyc")
            if target.cache_tag
            else None
        )
        self._recorded: set[str] = set()
        #: Folder -> the distributions whose RECORD names a file below it.
        self._owners: dict[str, list[str]] = {}
        #: Folders to search: those directly in a site folder (``.dist-info`` included).
        self._tops: set[str] = set()
        self.checked = 0

    def check(self, dist: InstalledDist) -> list[Finding]:
        """The findings of one distribution's recorded files."""
        if dist.legacy or not dist.has_record:
            kind = "a legacy install (.egg-info) and has" if dist.legacy else "installed with"
            return [
                Finding(
                    "no-record",
                    dist.name,
                    str(dist.path),
                    f"{dist.name} {dist.version} is {kind} no RECORD: its files cannot be checked",
                )
            ]
        record = dist.path / "RECORD"
        try:
            with record.open(encoding="utf-8", newline="") as handle:
                entries = [RecordEntry.from_elements(*row) for row in parse_record_file(handle)]
        except (OSError, UnicodeDecodeError, InvalidRecordEntry) as exc:
            return [Finding("bad-record", dist.name, str(record), f"cannot read {record}: {exc}")]
        site = os.path.normpath(dist.path.parent)
        findings = []
        for entry in entries:
            path = os.path.normpath(os.path.join(site, entry.path))
            finding = self._check_file(dist, entry, path)
            if finding is not None:
                findings.append(finding)
            if is_inside(path, (site,)):
                self._own(path, site, dist.name)
        return findings

    def _check_file(self, dist: InstalledDist, entry: RecordEntry, path: str) -> Finding | None:
        def found(kind: str, what: str) -> Finding:
            return Finding(kind, dist.name, path, f"{entry.path} {what}")

        if not is_inside(path, self._roots):
            return found("outside", "is outside the environment; not read")
        self._recorded.add(path)
        if not is_inside(os.path.realpath(path), self._real_roots):
            return found("outside", "leads outside the environment by a symbolic link; not read")
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return found("missing", "is listed in RECORD but missing")
        except OSError as exc:
            return found("changed", f"cannot be read: {exc.strerror or exc}")
        if not stat.S_ISREG(info.st_mode):
            return found("changed", "is no longer a regular file")
        self.checked += 1
        if entry.hash_ is None:
            if os.path.basename(path) in _UNHASHED_BY_DESIGN or path.endswith(".pyc"):
                return None
            return found("unhashed", "has no hash in RECORD, so its contents cannot be checked")
        if entry.size is not None and info.st_size != entry.size:
            return found("changed", f"has {info.st_size} bytes, RECORD says {entry.size}")
        try:
            digest = _file_digest(path, entry.hash_.name)
        except OSError as exc:
            return found("changed", f"cannot be read: {exc.strerror or exc}")
        if digest != entry.hash_.value:
            return found("changed", f"differs from its {entry.hash_.name} in RECORD")
        return None

    def _own(self, path: str, site: str, name: str) -> None:
        """Record ``name`` as an owner of every folder between ``site`` and ``path``."""
        folder = os.path.dirname(path)
        while folder != site:
            owners = self._owners.setdefault(folder, [])
            if name in owners:
                return  # and of its parents, already
            owners.append(name)
            parent = os.path.dirname(folder)
            if parent == site:
                self._tops.add(folder)
            folder = parent

    def unrecorded(self) -> Iterator[Finding]:
        """Files below the distributions' own folders that no RECORD lists, each reported
        under the distribution owning the closest folder above it."""
        for top in sorted(self._tops):
            if not is_inside(os.path.realpath(top), self._real_roots):
                continue  # a link out of the environment: its rows are reported ``outside``
            for folder, dirs, names in os.walk(top):
                links = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
                for name in sorted([*names, *links]):
                    path = os.path.join(folder, name)
                    if path not in self._recorded and not self._compiled_recorded(path):
                        owner = self._owner_of(folder)
                        shown = os.path.relpath(path, os.path.dirname(top))
                        yield Finding(
                            "unrecorded",
                            owner,
                            path,
                            f"{shown} is in a folder of {owner} but no RECORD lists it",
                        )

    def _compiled_recorded(self, path: str) -> bool:
        """``path`` is bytecode the target would load for a recorded module."""
        folder, name = os.path.split(path)
        if self._bytecode is None or os.path.basename(folder) != "__pycache__":
            return False
        match = self._bytecode.fullmatch(name)
        source = os.path.join(os.path.dirname(folder), f"{match.group(1)}.py") if match else ""
        return source in self._recorded

    def _owner_of(self, folder: str) -> str:
        while folder not in self._owners:
            folder = os.path.dirname(folder)
        return self._owners[folder][0]


def _file_digest(path: str, algorithm: str) -> str:
    """The file's digest in RECORD's form: urlsafe base64 without padding."""
    digest = bytes.fromhex(file_digests(path, [algorithm])[algorithm])
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _applying(target: Target, lines: RequirementSet) -> dict[str, Requirement]:
    """The first line of each project that applies to ``target``."""
    applies = rules.applies_in(target.marker_env(""))
    listed: dict[str, Requirement] = {}
    for line in lines.requirements:
        if line.key and applies(line):
            listed.setdefault(line.key, line)
    return listed


def _against_requirements(
    target: Target,
    lines: RequirementSet,
    listed: Mapping[str, Requirement],
    installed: Mapping[str, InstalledDist],
    protected: set[str],
) -> Iterator[Finding]:
    allowed = rules.allowed_hashes(lines, rules.applies_in(target.marker_env("")))
    for key, line in listed.items():
        dist = installed.get(key)
        shown = redact(line.describe())
        if dist is None:
            yield Finding(
                "not-installed", line.name, None, f"{line.source}: {shown} is not installed"
            )
            continue
        if line.specifier and not line.specifier.contains(dist.version, prereleases=True):
            yield Finding(
                "wrong-version",
                dist.name,
                str(dist.path),
                f"{dist.name} {dist.version} is installed; {line.source} asks for {shown}",
            )
        hashes = allowed.get(key)
        provenance = dist.provenance()
        if hashes and provenance and not hashes.allows({"sha256": provenance.sha256}):
            yield Finding(
                "hash-not-allowed",
                dist.name,
                str(dist.path),
                f"{dist.name} {dist.version} was installed from {provenance.archive} "
                f"(sha256:{provenance.sha256}), which the hashes at {line.source} do not allow",
            )
    for key, dist in sorted(installed.items()):
        if key not in listed and key not in protected:
            yield Finding(
                "unlisted",
                dist.name,
                str(dist.path),
                f"{dist.name} {dist.version} is installed but no requirement lists it",
            )
