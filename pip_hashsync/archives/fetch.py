"""Parallel, verified downloads: every archive the plan needs, on disk and proven, or nothing.

For each project the cache is asked first (a warm sync contacts no index: the hashes name the
bytes). Otherwise the acceptable files of the chosen version are downloaded best first, hashed
while they stream, and judged: in hash-checking mode by the allowed hashes, otherwise by the
digests the index advertises (pip's behaviour, EC43). A file that fails is discarded and the
next one is tried (EC44); only files that pass reach the cache (EC53). Every project's
failures are collected and reported together (EC57), so nothing is installed unless all of
them verified.

>>> archives, notices = fetch(requests, client, ArchiveCache(default_cache_dir()))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pip_hashsync.archives.cache import ArchiveCache, CachedArchive
from pip_hashsync.index.http import HttpClient, NetworkError
from pip_hashsync.index.metadata import IntegrityError, Metadata, wheel_contradictions
from pip_hashsync.index.pages import FileLink
from pip_hashsync.requirements.hashes import HEX_LENGTHS, STRONG_ALGORITHMS, AllowedHashes
from pip_hashsync.urls import redact

#: ``progress(filename, bytes_done, total)``, called from worker threads as chunks arrive;
#: ``total`` is the size the server gave, None when it gave none.
Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class FetchRequest:
    """One project to fetch: the acceptable files of its chosen version, best first."""

    key: str
    files: tuple[FileLink, ...]
    #: None or empty: no hash required for this project.
    allowed: AllowedHashes | None


@dataclass(frozen=True)
class Archive:
    """A verified archive on disk, and where its bytes came from (for provenance)."""

    key: str
    path: Path
    filename: str
    #: Without credentials.
    url: str
    origin: str
    digests: Mapping[str, str]


def _render(head: str, failures: list[str]) -> str:
    return "\n".join([head, *(f"    {line}" for line in failures)])


class FetchFailed(IntegrityError):
    """Some project has no file that verifies: exit 3. ``failures`` holds one line per file
    tried (network failures of other projects included); ``projects`` the projects."""

    def __init__(self, failures: list[str], projects: list[str]) -> None:
        message = _render(
            "These projects have no file that could be fetched and verified:", failures
        )
        super().__init__(message, projects[0] if len(projects) == 1 else None)
        self.failures = failures
        self.projects = projects


class FetchUnavailable(NetworkError):
    """Some project could not be downloaded (network, or not cached under ``--offline``) and
    none failed verification: exit 4."""

    def __init__(self, failures: list[str], projects: list[str]) -> None:
        super().__init__(_render("These projects could not be downloaded:", failures))
        self.failures = failures
        self.projects = projects


def fetch(
    requests: Sequence[FetchRequest],
    client: HttpClient,
    cache: ArchiveCache,
    *,
    offline: bool = False,
    workers: int = 8,
    progress: Progress | None = None,
    ready: Callable[[], None] = lambda: None,
) -> tuple[dict[str, Archive], list[str]]:
    """Every requested project's archive, by key, and notices for the user (files that failed
    before another one passed); ``ready()`` is called (from worker threads) as each one is
    on disk and verified, cached or downloaded. Raises :class:`FetchFailed` or
    :class:`FetchUnavailable` listing every failure when any project has no archive."""
    if not requests:
        return {}, []
    fetcher = _Fetcher(client, cache, offline, progress)

    def fetch_one(request: FetchRequest) -> _Outcome:
        outcome = fetcher.fetch_one(request)
        if outcome.archive is not None:
            ready()
        return outcome

    with ThreadPoolExecutor(max_workers=min(workers, len(requests))) as pool:
        outcomes = list(pool.map(fetch_one, requests))
    archives: dict[str, Archive] = {}
    notices: list[str] = []
    failures: list[str] = []
    failed: list[str] = []
    integrity = False
    for request, outcome in zip(requests, outcomes, strict=True):
        notices.extend(outcome.notices)
        if outcome.archive is not None:
            archives[request.key] = outcome.archive
        else:
            failures.extend(f"{request.key}: {line}" for line in outcome.failures)
            failed.append(request.key)
            integrity = integrity or outcome.integrity
    if integrity:
        raise FetchFailed(failures, failed)
    if failed:
        raise FetchUnavailable(failures, failed)
    return archives, notices


def fetch_file(
    key: str, file: FileLink, allowed: AllowedHashes | None, client: HttpClient, cache: ArchiveCache
) -> Archive:
    """``file`` alone, from the cache or downloaded into it, judged as :func:`fetch` judges
    it: for a reader that needs an archive's bytes before the plan is made (its METADATA,
    when the index serves no PEP 658 file), so that :func:`fetch` finds it in the cache
    instead of downloading it again. Bytes that fail the check never reach the cache:
    :class:`IntegrityError`, naming ``file``; the network's failures are NetworkError."""
    fetcher = _Fetcher(client, cache, offline=False, progress=None)
    request = FetchRequest(key, (file,), allowed)
    try:
        return fetcher._from_cache(request) or fetcher._download(request, file)
    except _Mismatch as exc:
        judged = "any allowed hash" if allowed else "the hashes its index advertises"
        raise IntegrityError(
            f"{file.filename} from {file.origin} does not match {judged} "
            f"(its sha256 is {exc.sha256})",
            key,
        ) from None


def check_wheels(archives: Mapping[str, Archive], planned: Mapping[str, Metadata]) -> None:
    """Refuse (:class:`IntegrityError`, exit 3) unless every fetched wheel is what it is
    installed as: of the project of its line, consistent with its own filename, and with the
    core metadata the plan was made from (``planned``, by project), which an index's PEP 658
    file may have misstated. Run before the environment changes; every wheel is reported."""
    failures: list[str] = []
    for key, archive in archives.items():
        if not archive.filename.endswith(".whl"):
            continue
        with open(archive.path, "rb") as file:
            found = wheel_contradictions(archive.filename, file, key, planned.get(key))
        failures.extend(f"{archive.filename} from {archive.url}: {line}" for line in found)
    if failures:
        head = (
            "These wheels are not what the plan was made from (their line, their filename or "
            "the metadata their index served says otherwise); nothing was changed:"
        )
        raise IntegrityError(_render(head, failures))


@dataclass
class _Outcome:
    archive: Archive | None = None
    notices: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    #: Whether some failure was about the bytes, not the network.
    integrity: bool = False


class _Mismatch(Exception):
    """Downloaded bytes that fail the check; ``str()`` says how, ``sha256`` is theirs."""

    def __init__(self, message: str, sha256: str) -> None:
        super().__init__(message)
        self.sha256 = sha256


@dataclass(frozen=True)
class _Fetcher:
    client: HttpClient
    cache: ArchiveCache
    offline: bool
    progress: Progress | None

    def fetch_one(self, request: FetchRequest) -> _Outcome:
        outcome = _Outcome(archive=self._from_cache(request))
        if outcome.archive is not None:
            return outcome
        if self.offline:
            outcome.failures.append("not in the cache, and --offline forbids downloading it")
            return outcome
        if not request.files:
            outcome.failures.append("not in the cache, and no file of it to download")
            outcome.integrity = True
            return outcome
        for position, file in enumerate(request.files):
            try:
                outcome.archive = self._download(request, file)
                return outcome
            except _Mismatch as exc:
                failure = f"{file.filename} from {redact(file.url)}: {exc}"
                outcome.integrity = True
            except NetworkError as exc:
                failure = f"{file.filename}: {exc}"  # the message names the URL
            outcome.failures.append(failure)
            if position + 1 < len(request.files):
                outcome.notices.append(f"{failure}; trying {request.files[position + 1].filename}")
        return outcome

    def _from_cache(self, request: FetchRequest) -> Archive | None:
        """A cached archive that is one of the acceptable files and passes the check."""
        by_name = {file.filename: file for file in request.files}
        keys = [file.hashes["sha256"] for file in request.files if "sha256" in file.hashes]
        if request.allowed:
            keys += [d.value for d in request.allowed.digests() if d.algorithm == "sha256"]
        for sha256 in dict.fromkeys(keys):
            hit = self.cache.get(sha256, _judged_by(request, by_name.values()))
            if hit is None or (by_name and hit.filename not in by_name):
                continue
            file = by_name.get(hit.filename)
            try:
                _check(request.allowed, file, hit.digests)
            except _Mismatch:
                continue
            return _archive(request.key, hit, file)
        return None

    def _download(self, request: FetchRequest, file: FileLink, *, again: bool = True) -> Archive:
        """Stream ``file`` into a private temp file, hashing as it arrives; cache it if it
        passes, else delete it and raise :class:`_Mismatch`. When the cache folder cannot
        take the bytes (full), the cache is given up and the file downloaded ``again``."""
        progress = self.progress
        root = self.cache.root
        output, temp = self.cache.new_temp()
        try:
            with output:
                digests = self.client.download(
                    file.url,
                    output,
                    sorted(_judged_by(request, [file])),
                    None
                    if progress is None
                    else lambda done, size: progress(file.filename, done, size),
                )
            _check(request.allowed, file, digests)
            strong = {a: d for a, d in digests.items() if a in STRONG_ALGORITHMS}
            cached = self.cache.put(temp, file.filename, strong, file.url, file.origin)
        except OSError as error:  # network failures are NetworkError: this is the disk
            temp.unlink(missing_ok=True)
            if not again:
                raise
            self.cache.give_up(root, error)
            return self._download(request, file, again=False)
        except BaseException:
            temp.unlink(missing_ok=True)  # gone already once put() has moved it
            raise
        return _archive(request.key, cached, file)


def _judged_by(request: FetchRequest, files: Iterable[FileLink]) -> set[str]:
    """The algorithms an archive of ``request`` is hashed with: sha256 (the cache's key),
    the allowed ones, and every one its index advertises (md5 and sha1 included, as pip
    checks them); nothing more, since each algorithm costs a pass over the bytes."""
    algorithms = {"sha256", *(request.allowed.algorithms if request.allowed else ())}
    algorithms.update(a for file in files for a in file.hashes if a in HEX_LENGTHS)
    return algorithms


def _check(
    allowed: AllowedHashes | None, file: FileLink | None, digests: Mapping[str, str]
) -> None:
    """Raise :class:`_Mismatch` unless the bytes with ``digests`` may be used: in hash mode
    the allowed hashes decide alone; otherwise every digest the index advertises for an
    algorithm we computed must match, as pip checks them (EC43)."""
    if allowed:
        if not allowed.allows(digests):
            shown = sorted({"sha256", *allowed.algorithms}, key=STRONG_ALGORITHMS.index)
            actual = ", ".join(f"{a}:{digests[a]}" for a in shown)
            raise _Mismatch(
                f"downloaded bytes do not match any allowed hash (they have {actual})",
                digests["sha256"],
            )
        return
    for algorithm, advertised in (file.hashes if file else {}).items():
        if algorithm in digests and digests[algorithm] != advertised:
            raise _Mismatch(
                f"downloaded bytes do not match the {algorithm} its index advertises "
                f"(advertised {advertised}, downloaded {digests[algorithm]})",
                digests["sha256"],
            )


def _archive(key: str, cached: CachedArchive, file: FileLink | None) -> Archive:
    """The archive, with the source its bytes were first downloaded from when the cache
    recorded it, else the file's."""
    url = cached.url or (redact(file.url) if file else "")
    origin = cached.origin or (file.origin if file else "")
    return Archive(key, cached.path, cached.filename, url, origin, cached.digests)
