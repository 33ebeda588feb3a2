"""The package indexes and find-links locations: which files exist for a project.

Pages are read in either standard form, chosen by the response's Content-Type (PEP 691 JSON
or PEP 503 HTML; servers may ignore ``Accept``), from every configured index and find-links
location, merged with no priority between them (as pip does) but with the serving location
kept on every file (EC47). Each project page is fetched at most once per run, and pages of
several projects are fetched in parallel.
"""

from __future__ import annotations

import html.parser
import json
import os
import re
import threading
import urllib.parse
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from pip_hashsync.errors import ExitCode, HashsyncError
from pip_hashsync.index.http import NetworkError
from pip_hashsync.index.pagecache import PageCache
from pip_hashsync.requirements.hashes import HEX_LENGTHS, file_digests
from pip_hashsync.requirements.reader import ARCHIVE_EXTENSIONS
from pip_hashsync.urls import path_to_url, redact, url_to_path

ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01"
)
_SDIST_EXTENSIONS = tuple(e for e in ARCHIVE_EXTENSIONS if e != ".whl")


class PageResponse(Protocol):
    """What the index reader needs of an HTTP response."""

    @property
    def url(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def content(self) -> bytes: ...
    @property
    def digest(self) -> str | None: ...


class PageClient(Protocol):
    """What the index reader needs of the HTTP client: one GET of a page that raises on
    failure and carries the HTTP status on its error (404 means "no such project here"),
    and the page cache it keeps pages in, if any (where parses are kept too)."""

    @property
    def pages(self) -> PageCache | None: ...

    def get_page(self, url: str, headers: Mapping[str, str] | None = None) -> PageResponse: ...


@dataclass(frozen=True)
class FileLink:
    """One file an index or find-links location offers, with what it claims about it.

    ``hashes`` are the advertised digests: hints for choosing, never proof (policy 4).
    """

    filename: str
    url: str
    origin: str
    name: str
    version: Version
    hashes: Mapping[str, str] = field(default_factory=dict)
    requires_python: str | None = None
    yanked: str | None = None
    metadata_hashes: Mapping[str, str] | None = None
    tags: frozenset[Tag] = frozenset()
    build: tuple[int, str] | tuple[()] = ()

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")

    @classmethod
    def of_archive(
        cls,
        filename: str,
        url: str,
        origin: str,
        hashes: Mapping[str, str] | None = None,
        *,
        project: str | None = None,
        requires_python: str | None = None,
        yanked: str | None = None,
        metadata_hashes: Mapping[str, str] | None = None,
    ) -> FileLink:
        """A link whose name, version, tags and build tag are read from the archive's name
        (see :func:`parse_filename`, whose ``ValueError`` it raises)."""
        name, version, tags, build = parse_filename(filename, project)
        return cls(
            filename,
            url,
            origin,
            name,
            version,
            dict(hashes or {}),
            requires_python=requires_python,
            yanked=yanked,
            metadata_hashes=metadata_hashes,
            tags=tags,
            build=build,
        )


def parse_filename(
    filename: str, project: str | None = None
) -> tuple[str, Version, frozenset[Tag], tuple[int, str] | tuple[()]]:
    """Name, version, tags and build tag of an archive name; sdists of every format pip
    accepts are parsed leniently (EC73). With ``project`` (a canonical name), an sdist name is
    split where the project name ends, as pip does (``cffi-1.0.2-2.tar.gz`` is not project
    ``cffi-1-0-2``), and a file of another project is refused. Raises ``ValueError``."""
    if filename.endswith(".whl"):
        try:
            name, version, build, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename as exc:
            raise ValueError(str(exc)) from None
        if project is not None and name != project:
            raise ValueError(f"{filename} is not a file of {project}")
        return name, version, tags, build
    extension = next((e for e in _SDIST_EXTENSIONS if filename.lower().endswith(e)), None)
    if extension is None:
        raise ValueError(f"not an archive: {filename}")
    stem = filename[: -len(extension)]
    cuts = [i for i, char in enumerate(stem) if char == "-"]
    if project is not None:
        cuts = [i for i in cuts if canonicalize_name(stem[:i]) == project]
        if not cuts:
            raise ValueError(f"{filename} is not a file of {project}")
    if not cuts:
        raise ValueError(f"no version in {filename}")
    cut = cuts[-1] if project is None else cuts[0]
    try:
        return canonicalize_name(stem[:cut]), Version(stem[cut + 1 :]), frozenset(), ()
    except InvalidVersion as exc:
        raise ValueError(str(exc)) from None


class PageError(HashsyncError):
    """An index page that cannot be read as one: exit 4, as for the index's other failures."""

    exit_code = ExitCode.NETWORK


def _digests(raw: Any) -> dict[str, str]:
    """Keep well-formed digests of algorithms we know; servers may send anything."""
    if not isinstance(raw, Mapping):
        return {}
    result = {}
    for algorithm, value in raw.items():
        known = algorithm in HEX_LENGTHS and isinstance(value, str)
        if known and len(value) == HEX_LENGTHS[algorithm]:
            result[algorithm] = value.lower()
    return result


def _fragment_digests(url: str) -> dict[str, str]:
    fragment = urllib.parse.urlsplit(url).fragment
    return _digests(dict(urllib.parse.parse_qsl(fragment)))


def _metadata_field(value: Any) -> Mapping[str, str] | None:
    """PEP 714 ``core-metadata``: ``true``, a digest mapping, or absent/false."""
    if value is True:
        return {}
    if isinstance(value, Mapping):
        return _digests(value)
    return None


def _html_metadata_field(value: str | None) -> Mapping[str, str] | None:
    if value is None or value.lower() == "false":
        return None
    if value.lower() == "true" or "=" not in value:
        return {}
    algorithm, _, digest = value.partition("=")
    return _digests({algorithm: digest})


def _yanked(value: Any) -> str | None:
    if value is False or value is None:
        return None
    return value if isinstance(value, str) else ""


def _json_files(content: bytes, page_url: str) -> list[dict[str, Any]]:
    """The well-formed file entries of a PEP 691 page (a ``url`` and ``filename`` that are
    strings); a body that is not such a page at all is the index's failure, not a crash."""
    try:
        page = json.loads(content)
    except ValueError:
        page = None
    files = page.get("files", []) if isinstance(page, dict) else None
    if not isinstance(files, list):
        raise PageError(
            f"The index page {redact(page_url)} says it is JSON (PEP 691) but holds no list "
            "of files; the index is broken, or is not a package index."
        )
    return [
        f
        for f in files
        if isinstance(f, dict) and isinstance(f.get("url"), str)
        if isinstance(f.get("filename", ""), str)
    ]


#: A file entry's ``"filename":"..."`` without escapes, as compact JSON (the default
#: index's) and as Python's ``json.dumps`` writes it (see :func:`_kept_json_files`).
_FILENAMES = (
    re.compile(r'"filename":"([^"\\]*)"'),
    re.compile(r'"filename": "([^"\\]*)"'),
)


def _kept_json_files(content: bytes, page_url: str, wanted: _VersionFilter) -> list[dict[str, Any]]:
    """The entries of a PEP 691 page whose filename ``wanted`` may keep, in page order.

    Narrowed to some versions, only those entries are decoded: the filenames are found by
    a scan of the text, and each kept one's entry is decoded from the ``{`` that opens it
    (a few of the thousands a large page lists). Whenever that cannot be done with
    certainty (a filename with escapes, an entry that does not decode to itself), the
    whole page is decoded instead, which gives the same entries."""
    scanned = _scanned_json_files(content, wanted) if wanted.versions is not None else None
    if scanned is not None:
        return scanned
    return [f for f in _json_files(content, page_url) if wanted.may_keep(f.get("filename", ""))]


def _scanned_json_files(content: bytes, wanted: _VersionFilter) -> list[dict[str, Any]] | None:
    """See :func:`_kept_json_files`; None when the page must be decoded whole."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    pattern = _FILENAMES[0] if '"filename":"' in text else _FILENAMES[1]
    found = list(pattern.finditer(text))
    if not found or len(found) != text.count('"filename"') or '"files"' not in text:
        return None
    decoder = json.JSONDecoder()
    kept = []
    for match in found:
        if not wanted.may_keep(match.group(1)):
            continue
        entry = _entry_around(decoder, text, match)
        if entry is None:
            return None
        if isinstance(entry.get("url"), str):
            kept.append(entry)
    return kept


def _entry_around(
    decoder: json.JSONDecoder, text: str, match: re.Match[str]
) -> dict[str, Any] | None:
    """The JSON object holding ``match`` as its ``filename``: decoded from the nearest
    ``{`` before it that opens an object reaching past it (a nested mapping such as
    ``core-metadata`` may come first); None when no near one does."""
    start = match.start()
    for _ in range(_MAX_NESTED):
        start = text.rfind("{", 0, start)
        if start < 0:
            return None
        try:
            entry, end = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(entry, dict) and end > match.end():
            return entry if entry.get("filename") == match.group(1) else None
    return None


#: How many ``{`` before a filename :func:`_entry_around` tries (the nested mappings of an
#: entry that may precede its filename, and the entry's own).
_MAX_NESTED = 4


class _AnchorParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")
        elif tag == "a":
            self.anchors.append(dict(attrs))


class _VersionFilter:
    """Whether a file's name may hold a version in ``versions`` (pre-releases included: the
    provider names a refused one as evidence), judged on the raw name before any object is
    built, each version text once. A wheel's name says its version; an sdist's does when
    the ``project`` is known and its name starts with it (where :func:`parse_filename`
    cuts it too); other names pass, to be judged once parsed."""

    def __init__(self, versions: SpecifierSet | None, project: str | None = None) -> None:
        self.versions = versions
        self._project = project
        self._texts: dict[str, bool] = {}

    def may_keep(self, filename: str) -> bool:
        if self.versions is None:
            return True
        if filename.endswith(".whl"):
            parts = filename.split("-")
            if len(parts) not in (5, 6):
                return True  # not a wheel name: the parse refuses it with its reason
            text = parts[1]
        else:
            extension = next((e for e in _SDIST_EXTENSIONS if filename.lower().endswith(e)), "")
            if not extension:
                return False  # not an archive at all (.egg, .exe): the parse refuses it
            found = self._sdist_version(filename, extension)
            if found is None:
                return True
            text = found
        if text not in self._texts:
            try:
                self._texts[text] = self.versions.contains(Version(text), prereleases=True)
            except InvalidVersion:
                self._texts[text] = True
        return self._texts[text]

    def keeps(self, link: FileLink) -> bool:
        return self.versions is None or self.versions.contains(link.version, prereleases=True)

    def _sdist_version(self, filename: str, extension: str) -> str | None:
        """The version text of an sdist of the project, cut after the project's name as
        :func:`parse_filename` cuts it; None when that is not plain to see."""
        project = self._project
        if project is None or filename[len(project) : len(project) + 1] != "-":
            return None
        if canonicalize_name(filename[: len(project)]) != project:
            return None
        return filename[len(project) + 1 : -len(extension)]


def parse_page(
    content: bytes,
    content_type: str,
    page_url: str,
    origin: str,
    project: str | None = None,
    versions: SpecifierSet | None = None,
) -> list[FileLink]:
    """Every file of a project page (or, without ``project``, a find-links page), in either
    standard form; with ``versions``, only the files of those versions, the others left
    unparsed (a pinned lock needs one version of pages that list thousands of files)."""
    wanted = _VersionFilter(versions, project)
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/vnd.pypi.simple.v1+json":
        entries = [
            (
                urllib.parse.urljoin(page_url, f["url"]),
                f.get("filename", ""),
                _digests(f.get("hashes")) or _fragment_digests(f["url"]),
                f.get("requires-python"),
                _yanked(f.get("yanked")),
                _metadata_field(f.get("core-metadata", f.get("dist-info-metadata"))),
            )
            for f in _kept_json_files(content, page_url, wanted)
        ]
    else:
        parser = _AnchorParser()
        parser.feed(content.decode("utf-8", "replace"))
        base = urllib.parse.urljoin(page_url, parser.base) if parser.base else page_url
        entries = []
        for anchor in parser.anchors:
            href = anchor.get("href")
            if not href:
                continue
            url = urllib.parse.urljoin(base, href)
            filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
            if not wanted.may_keep(filename):
                continue
            metadata_attr = anchor.get("data-core-metadata", anchor.get("data-dist-info-metadata"))
            entries.append(
                (
                    url,
                    filename,
                    _fragment_digests(url),
                    anchor.get("data-requires-python"),
                    _yanked(anchor["data-yanked"] or "") if "data-yanked" in anchor else None,
                    _html_metadata_field(metadata_attr),
                )
            )
    links = []
    for url, filename, hashes, requires_python, yanked, metadata in entries:
        try:
            link = FileLink.of_archive(
                filename,
                urllib.parse.urldefrag(url).url,
                origin,
                hashes,
                project=project,
                requires_python=requires_python or None,
                yanked=yanked,
                metadata_hashes=metadata if filename.endswith(".whl") else None,
            )
        except ValueError:
            continue  # not an archive of this project, or not a PEP 440 version (EC80)
        if wanted.keeps(link):
            links.append(link)
    return links


def _directory_links(directory: str, origin: str) -> list[FileLink]:
    """A find-links folder: every archive in it (hashed later, per project: see
    :meth:`Index.files`)."""
    links = []
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if not entry.is_file():
            continue
        try:
            links.append(FileLink.of_archive(entry.name, path_to_url(entry.path), origin))
        except ValueError:
            continue
    return links


def project_url(index_url: str, name: str) -> str:
    """The normalised project page URL (PEP 503: clients must normalise themselves)."""
    return f"{index_url.rstrip('/')}/{canonicalize_name(name)}/"


@dataclass
class Index:
    """All configured locations, read lazily: a project's pages are fetched the first time
    it is asked for (or in a parallel :meth:`prefetch`), then served from memory."""

    client: PageClient
    index_urls: tuple[str, ...]
    find_links: tuple[str, ...] = ()
    workers: int = 8
    #: The versions a run can use of some projects (an exact pin's): only their files are
    #: read from those projects' pages, until :meth:`widen`.
    versions: Mapping[str, SpecifierSet] = field(default_factory=dict)
    _pages: dict[str, list[FileLink]] = field(default_factory=dict, init=False)
    #: The narrowed projects' pages as served, for :meth:`widen`.
    _served: dict[str, list[tuple[PageResponse, str, str]]] = field(
        default_factory=dict, init=False
    )
    _flat: list[FileLink] | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _local_digests: dict[str, dict[str, str]] = field(default_factory=dict, init=False)

    def prefetch(self, names: Iterable[str]) -> None:
        """Fetch the pages of ``names`` in parallel (network errors surface on use)."""
        missing = sorted({canonicalize_name(n) for n in names} - set(self._pages))
        if not missing:
            return
        with ThreadPoolExecutor(max_workers=min(self.workers, len(missing))) as pool:
            for name, links in zip(missing, pool.map(self._fetch_project, missing), strict=True):
                with self._lock:
                    self._pages.setdefault(name, links)

    def files(self, name: str) -> list[FileLink]:
        """Every file offered for ``name`` by every location: find-links first, as pip
        finds them."""
        key = canonicalize_name(name)
        if key not in self._pages:
            links = self._fetch_project(key)
            with self._lock:
                self._pages.setdefault(key, links)
        local = [self._hashed(link) for link in _of_project(self._find_links(), key)]
        return [*local, *self._pages[key]]

    def widen(self) -> bool:
        """Read every file of the projects read only for some versions so far (what a
        failure's diagnosis needs: every version offered); whether any was."""
        with self._lock:
            narrowed = [key for key in self._pages if key in self.versions]
            self.versions = {}
            for key in narrowed:
                self._pages[key] = [
                    link
                    for response, url, origin in self._served.pop(key)
                    for link in _parse_response(response, url, origin, key)
                ]
        return bool(narrowed)

    def _hashed(self, link: FileLink) -> FileLink:
        """A local find-links file with its sha256: hashing is cheap next to a download and
        lets the hash filter judge the file before choosing (EC45). Only the files of a
        project asked for are hashed, once per run."""
        if link.hashes or not link.url.startswith("file:"):
            return link
        with self._lock:
            digests = self._local_digests.get(link.url)
        if digests is None:
            digests = file_digests(url_to_path(link.url), ("sha256",))
            with self._lock:
                self._local_digests[link.url] = digests
        return replace(link, hashes=digests)

    def _fetch_project(self, key: str) -> list[FileLink]:
        versions = self.versions.get(key)
        links: list[FileLink] = []
        served = []
        for index_url in self.index_urls:
            page = self._get_page(project_url(index_url, key), redact(index_url))
            if page is not None:
                served.append(page)
                links.extend(self._parse(page, key, versions))
        if versions is not None:
            with self._lock:
                self._served[key] = served
        return links

    def _read_page(self, url: str, origin: str) -> list[FileLink]:
        page = self._get_page(url, origin)
        return [] if page is None else _parse_response(*page)

    def _get_page(self, url: str, origin: str) -> tuple[PageResponse, str, str] | None:
        """The page at ``url``, with the URL read and ``origin``; None when there is none (a
        404, a folder without an index)."""
        if url.startswith("file:") and os.path.isdir(url_to_path(url)):
            index_html = os.path.join(url_to_path(url), "index.html")
            if not os.path.isfile(index_html):
                return None
            url = path_to_url(index_html)
        try:
            return self.client.get_page(url, headers={"Accept": ACCEPT}), url, origin
        except Exception as exc:
            if getattr(exc, "status", None) == 404:
                return None
            if isinstance(exc, NetworkError):  # the configured location, for the message
                exc.location = exc.location or origin
            raise

    def _parse(
        self, page: tuple[PageResponse, str, str], key: str, versions: SpecifierSet | None
    ) -> list[FileLink]:
        """The files of a project's page; for a page the cache holds, what was parsed from
        the same bytes for the same versions before (a page unchanged since is not parsed
        again), else parsed now and kept."""
        response, url, origin = page
        if self.client.pages is None or response.digest is None:
            return _parse_response(response, url, origin, key, versions)
        content_type = response.headers.get("Content-Type", "text/html")
        parse = f"{response.digest}\n{response.url}\n{content_type}\n{key}\n{versions}"
        links = _links_of(self.client.pages.parsed(parse), origin, key)
        if links is None:
            links = _parse_response(response, url, origin, key, versions)
            self.client.pages.save_parsed(parse, [_row(link) for link in links])
        return links

    def _find_links(self) -> list[FileLink]:
        """The find-links files in pip's order, which decides between files that rank the
        same (see the provider): the folders' files by URL, last first, then the pages'."""
        if self._flat is None:
            files: list[FileLink] = []
            pages: list[FileLink] = []
            for location in self.find_links:
                path = url_to_path(location) if location.startswith("file:") else location
                if os.path.isdir(path):
                    files.extend(_directory_links(path, location))
                elif "://" in location:
                    pages.extend(self._read_page(location, redact(location)))
            self._flat = [*sorted(files, key=lambda link: link.url, reverse=True), *pages]
        return self._flat


def _parse_response(
    response: PageResponse,
    url: str,
    origin: str,
    project: str | None = None,
    versions: SpecifierSet | None = None,
) -> list[FileLink]:
    content_type = response.headers.get("Content-Type", "text/html")
    return parse_page(
        response.content, content_type, response.url or url, origin, project, versions
    )


def _row(link: FileLink) -> list[Any]:
    """What a parse keeps of a file (the rest is read from its name again)."""
    return [
        link.filename, link.url, dict(link.hashes), link.requires_python, link.yanked,
        None if link.metadata_hashes is None else dict(link.metadata_hashes),
    ]  # fmt: skip


def _links_of(rows: Any, origin: str, key: str) -> list[FileLink] | None:
    """The files of a kept parse (see :func:`_row`), judged as a page's entries are; None
    when it is not one (absent, or not what :func:`_row` writes)."""
    if not isinstance(rows, list):
        return None
    try:
        return [
            FileLink.of_archive(
                filename,
                url,
                origin,
                _digests(hashes),
                project=key,
                requires_python=requires_python if isinstance(requires_python, str) else None,
                yanked=yanked if isinstance(yanked, str) else None,
                metadata_hashes=None if metadata is None else _digests(metadata),
            )
            for filename, url, hashes, requires_python, yanked, metadata in rows
            if isinstance(filename, str) and isinstance(url, str)
        ]
    except (ValueError, TypeError):
        return None


def _of_project(links: Iterable[FileLink], key: str) -> list[FileLink]:
    """The find-links files of project ``key``; an sdist name is split again knowing the
    project, since ``a-b-1.0.tar.gz`` alone cannot say where the name ends."""
    kept = []
    for link in links:
        if link.is_wheel:
            if link.name == key:
                kept.append(link)
            continue
        try:
            name, version, _, _ = parse_filename(link.filename, key)
        except ValueError:
            continue
        kept.append(replace(link, name=name, version=version))
    return kept
