"""pip's requirements-file format, read exactly as pip reads it.

The reader turns files into :class:`Requirement` values (each with its ``file:line``), the
global options written in the files (:class:`FileOptions`), and a list of every problem
found — it never stops at the first bad line (EC57). The steps and their order follow
pip's parser (EC66–EC72): decode (BOM, PEP 263, UTF-8, locale), join ``\\`` continuations,
strip comments, expand ``${VARS}``, split the requirement from its options at the first
token that starts with ``-``, and parse the options with pip's option names.

Where this reader is stricter than pip it says so in the problem text: text after the
options (pip drops it silently, even a marker: EC72), and options that pip ignores on a
requirement line are warned about instead of ignored quietly (EC70).

Relative paths inside requirement lines are taken relative to the current directory, as
pip does; ``-r``/``-c`` files and existing ``-f`` folders relative to the including file.

A file named as PEP 751 names lock files (``pylock.toml``, ``pylock.<name>.toml``) is read by
:mod:`~pip_hashsync.requirements.pylock` into the same lines instead.
"""

from __future__ import annotations

import codecs
import collections
import enum
import functools
import hashlib
import locale
import os
import re
import shlex
import stat
import sys
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PackagingRequirement
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from pip_hashsync.errors import Problem, Source
from pip_hashsync.requirements.hashes import (
    Digest,
    InvalidDigest,
    parse_hash_option,
    url_fragment_digests,
)
from pip_hashsync.urls import path_to_url, redact, url_to_path

if TYPE_CHECKING:
    import optparse

    from pip_hashsync.requirements.pylock import LockedFile, LockScope

#: Larger files are refused: a lock of several thousand projects, each with the hashes of
#: every platform's wheels, stays under 10 MB, and a larger file is almost surely the wrong one.
MAX_FILE_SIZE = 50 * 1024 * 1024

#: ``-r``/``-c`` includes nest at most this deep. pip has no limit (it stops only at a cycle);
#: real projects nest a few levels, while a server can answer every ``-r`` URL with a new
#: one, and the reader recurses (three frames a level, under Python's 1,000).
MAX_INCLUDE_DEPTH = 100

#: Opening a FIFO to read waits for a writer unless it is opened without blocking.
_NON_BLOCKING = getattr(os, "O_NONBLOCK", 0)
_PIPE_CHUNK = 64 * 1024

#: Schemes pip treats as URLs in a requirement line (plain schemes plus its VCS schemes).
VCS_SCHEMES: frozenset[str] = frozenset(
    {
        *(f"git+{s}" for s in ("http", "https", "ssh", "git", "file")),
        *(f"hg+{s}" for s in ("file", "http", "https", "ssh", "static-http")),
        *(f"svn+{s}" for s in ("ssh", "http", "https", "svn", "file")),
        *(f"bzr+{s}" for s in ("http", "https", "ssh", "sftp", "ftp", "lp", "file")),
    }
)
URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "file", "ftp"}) | VCS_SCHEMES

#: File endings pip takes for installable archives.
ARCHIVE_EXTENSIONS: tuple[str, ...] = (
    ".whl",
    ".zip",
    ".tar.gz",
    ".tgz",
    ".tar",
    ".tar.bz2",
    ".tbz",
    ".tar.xz",
    ".txz",
    ".tlz",
    ".tar.lz",
    ".tar.lzma",
)
#: The tar formats of sdist that are read and built (the compression is found in the bytes).
TAR_EXTENSIONS: tuple[str, ...] = (".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar")

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF16, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
_PEP263_RE = re.compile(rb"coding[:=]\s*([-\w.]+)")
_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_ENV_VAR_RE = re.compile(r"\$\{([A-Z0-9_]+)\}")
_URL_FILE_SCHEME_RE = re.compile(r"^(http|https|file):", re.I)
_EGG_RE = re.compile(r"[#&]egg=([^&]*)")
_PROJECT_NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.I)
_EXTRAS_SUFFIX_RE = re.compile(r"^(.+)(\[[^\]]+\])$")
#: Characters that make shlex differ from a plain split: quotes, backslash, and anything but
#: printable ASCII, space and tab.
_SHELL_SPECIAL = re.compile(r"[\"'\\]|[^\x21-\x7e \t]")
#: PEP 751's lock file names: ``pylock.toml``, or ``pylock.<name>.toml`` (no dot in the name).
_LOCK_NAME = re.compile(r"pylock(\.[^./\\]+)?\.toml")


class Kind(enum.Enum):
    """Where a requirement's archive comes from; decides what hash mode allows (EC12–EC16)."""

    INDEX = "index"
    ARCHIVE = "archive"
    DIRECTORY = "directory"
    VCS = "vcs"


@dataclass(frozen=True)
class Requirement:
    """One requirement or constraint line, as pip understands it.

    ``hashes`` are the line's ``--hash`` options; ``url_hashes`` the digests written in the
    fragment of a user-written URL. Both are checked against downloads; only strong ones
    satisfy hash-checking mode.
    """

    source: Source
    text: str
    name: str | None
    specifier: SpecifierSet
    extras: frozenset[str]
    marker: Marker | None
    url: str | None
    kind: Kind
    editable: bool = False
    constraint: bool = False
    hashes: tuple[Digest, ...] = ()
    url_hashes: tuple[Digest, ...] = ()
    config_settings: tuple[tuple[str, str], ...] = ()
    #: The files a lock lists for this pin (PEP 751): offered instead of an index's.
    locked_files: tuple[LockedFile, ...] = ()

    @property
    def key(self) -> str | None:
        """The PEP 503 normalised name, used to match lines for one project (EC77, EC85)."""
        return canonicalize_name(self.name) if self.name else None

    @property
    def pinned_version(self) -> str | None:
        """The version a single ``==`` (no wildcard) or ``===`` clause names (EC6–EC8)."""
        specs = list(self.specifier)
        if len(specs) != 1:
            return None
        spec = specs[0]
        if spec.operator == "===" or (spec.operator == "==" and not spec.version.endswith(".*")):
            return spec.version
        return None

    def describe(self) -> str:
        """How messages name this requirement: the URL for direct URLs, else the line's text."""
        return self.url if self.kind is not Kind.INDEX and self.url else self.text


@dataclass
class FileOptions:
    """The global options written in requirements files, with pip's meaning (EC60).

    Sources are kept where a message may need to point at the line.
    """

    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    no_index: bool = False
    find_links: list[str] = field(default_factory=list)
    trusted_hosts: list[str] = field(default_factory=list)
    pre: bool = False
    prefer_binary: bool = False
    no_binary: set[str] = field(default_factory=set)
    only_binary: set[str] = field(default_factory=set)
    all_releases: set[str] = field(default_factory=set)
    only_final: set[str] = field(default_factory=set)
    require_hashes: Source | None = None
    no_require_hashes: Source | None = None
    features: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The documented JSON form, URLs without their credentials."""
        return {
            "index_url": redact(self.index_url) if self.index_url else None,
            "extra_index_urls": [redact(url) for url in self.extra_index_urls],
            "no_index": self.no_index,
            "find_links": [redact(location) for location in self.find_links],
            "trusted_hosts": list(self.trusted_hosts),
            "pre": self.pre,
            "prefer_binary": self.prefer_binary,
            "no_binary": sorted(self.no_binary),
            "only_binary": sorted(self.only_binary),
            "all_releases": sorted(self.all_releases),
            "only_final": sorted(self.only_final),
            "require_hashes": self.require_hashes is not None,
            "no_require_hashes": self.no_require_hashes is not None,
            "use_feature": list(self.features),
        }


@dataclass(frozen=True)
class LockSelection:
    """What a run installs from PEP 751 lock files: the extras and dependency groups
    (``--extra``, ``--group``); ``groups`` None means each lock's ``default-groups``."""

    extras: frozenset[str] = frozenset()
    groups: frozenset[str] | None = None

    @classmethod
    def given(cls, extras: Sequence[str], groups: Sequence[str] | None) -> LockSelection:
        """The selection ``--extra`` and ``--group`` give (no ``--group``: None)."""
        return cls(frozenset(extras), None if groups is None else frozenset(groups))

    def __bool__(self) -> bool:
        return bool(self.extras) or self.groups is not None


@dataclass
class RequirementSet:
    """Everything read from a set of requirements files."""

    requirements: list[Requirement] = field(default_factory=list)
    constraints: list[Requirement] = field(default_factory=list)
    options: FileOptions = field(default_factory=FileOptions)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Option lines that carry ``--hash`` but no requirement (EC5).
    stray_hashes: list[Source] = field(default_factory=list)
    #: Every file read, by absolute path or URL: the sha256 of its bytes (None for a URL).
    read_files: dict[str, str | None] = field(default_factory=dict)
    #: Files given by ``http(s):`` URL and not fetched (no ``read_url``): each is a problem.
    unfetched: list[str] = field(default_factory=list)
    #: What each lock file read says of the targets it is for (checked once one is known).
    lock_scopes: list[LockScope] = field(default_factory=list)

    def all_lines(self) -> list[Requirement]:
        return [*self.requirements, *self.constraints]


# ---------------------------------------------------------------------------------------
# Decoding and preprocessing


class UnreadableFile(Exception):
    """The file's bytes cannot be turned into text."""


class _NotFetched(UnreadableFile):
    """A file given by ``http(s):`` URL, read without a ``read_url`` hook."""


def _read_file_bytes(path: str) -> bytes:
    """The bytes of the file or pipe ``path``, at most :data:`MAX_FILE_SIZE` of them.

    A device such as ``/dev/zero`` is refused (it would be read forever). A pipe is read as
    pip reads it (``-r /dev/stdin``, ``-r <(cmd)``), up to the same bound; a FIFO that
    nothing writes to is refused, since it would read as an empty file, which ``sync`` would
    take as "remove everything". The file is opened without blocking (a FIFO's open waits
    for a writer) and judged once open, so a path swapped meanwhile is caught too.
    """
    fd = os.open(path, os.O_RDONLY | _NON_BLOCKING)
    with open(fd, "rb", buffering=0, closefd=True) as file:
        mode = os.fstat(fd).st_mode
        if stat.S_ISFIFO(mode):
            data = _read_pipe(fd)
        elif stat.S_ISREG(mode):
            data = file.read(MAX_FILE_SIZE + 1)
        else:
            raise UnreadableFile("it is a device, not a regular file")
    if len(data) > MAX_FILE_SIZE:
        raise UnreadableFile(
            f"it is larger than {MAX_FILE_SIZE // 2**20} MB, more than any requirements file needs"
        )
    return data


def _read_pipe(fd: int) -> bytes:
    """Up to one byte past :data:`MAX_FILE_SIZE` of the pipe ``fd``, opened non-blocking.
    An end of file before any writer has written means no writer at all (a writer that has
    not written yet makes the first read fail with ``EAGAIN`` instead)."""
    try:
        first = os.read(fd, _PIPE_CHUNK)
    except BlockingIOError:
        first = None
    if first == b"":
        raise UnreadableFile("it is a FIFO that nothing writes to")
    os.set_blocking(fd, True)
    chunks = [first or b""]
    size = len(chunks[0])
    while size <= MAX_FILE_SIZE and (chunk := os.read(fd, _PIPE_CHUNK)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def decode(data: bytes, path: str, warn: Callable[[str], None]) -> str:
    """Decode like pip: a BOM wins, then a PEP 263 comment in the first two lines, then
    UTF-8, then the locale's encoding with a warning (EC68)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _decode_as(data[len(bom) :], encoding, f"its byte-order mark ({encoding})")
    if b"\x00" in data:
        raise UnreadableFile("it looks like a binary file (it contains NUL bytes)")
    for line in data.split(b"\n")[:2]:
        match = _PEP263_RE.search(line) if line[:1] == b"#" else None
        if match:
            encoding = match.group(1).decode("ascii")
            return _decode_as(data, encoding, f"its coding comment ({encoding})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        fallback = locale.getpreferredencoding(False) or sys.getdefaultencoding()
        text = _decode_as(data, fallback, f"UTF-8 or the locale's encoding ({fallback})")
        warn(
            f"{path}: not valid UTF-8, read with the locale's encoding {fallback}; add a "
            f"PEP 263 comment such as '# -*- coding: {fallback} -*-' if that is intended"
        )
    return text


def _decode_as(data: bytes, encoding: str, what: str) -> str:
    try:
        return data.decode(encoding)
    except LookupError:
        raise UnreadableFile(f"it declares an unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"it cannot be decoded with {what} at byte {exc.start}; save it as UTF-8"
        ) from None


def logical_lines(
    text: str, environ: dict[str, str] | os._Environ[str]
) -> Iterator[tuple[int, str]]:
    """Yield ``(first physical line number, line)`` after pip's preprocessing (EC66, EC67).

    A line ending in a backslash continues on the next one, unless it is a comment line; a
    comment line ends a continuation. ``#`` starts a comment only at the start of a line or
    after whitespace. ``${NAME}`` is replaced when ``NAME`` is set and not empty.
    """
    for number, line in _joined(text.splitlines()):
        line = _COMMENT_RE.sub("", line).strip()
        if line:
            yield number, _ENV_VAR_RE.sub(lambda m: environ.get(m.group(1)) or m.group(0), line)


def _joined(lines: list[str]) -> Iterator[tuple[int, str]]:
    first = 0
    parts: list[str] = []
    for number, line in enumerate(lines, start=1):
        is_comment = _COMMENT_RE.match(line) is not None
        if line.endswith("\\") and not is_comment:
            if not parts:
                first = number
            parts.append(line.strip("\\"))
            continue
        if is_comment:
            line = " " + line  # keeps the comment a comment once joined
        if parts:
            yield first, "".join([*parts, line])
            parts = []
        else:
            yield number, line
    if parts:
        yield first, "".join(parts)


def split_requirement_and_options(line: str) -> tuple[str, str]:
    """Split at the first space-separated token that starts with ``-`` (EC72).

    The requirement part is kept as written, so markers with spaces and quotes survive.
    """
    tokens = line.split(" ")
    for index, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:index]), " ".join(tokens[index:])
    return line, ""


# ---------------------------------------------------------------------------------------
# Options on a line


class LineSyntaxError(Exception):
    """An option on a line cannot be parsed; ``str()`` is the reason."""


def _append(parser: optparse.OptionParser, dest: str, value: object) -> None:
    assert parser.values is not None
    parser.values.ensure_value(dest, []).append(value)


def _store_hash(
    option: optparse.Option, opt: str, value: str, parser: optparse.OptionParser
) -> None:
    _append(parser, "hashes", _hash_option(value))


def _hash_option(value: str) -> Digest:
    """One ``--hash`` value, or :class:`LineSyntaxError` saying what is wrong with it."""
    try:
        return parse_hash_option(value, option="--hash")
    except InvalidDigest as exc:
        raise LineSyntaxError(str(exc)) from None


def _store_config_setting(
    option: optparse.Option, opt: str, value: str, parser: optparse.OptionParser
) -> None:
    key, sep, val = value.partition("=")
    if not sep:
        raise LineSyntaxError(f"Arguments to {opt} must be of the form KEY=VAL")
    _append(parser, "config_settings", (key, val))


def _store_name_set(
    option: optparse.Option, opt: str, value: str, parser: optparse.OptionParser
) -> None:
    """``--no-binary``/``--only-binary``/``--all-releases``/``--only-final`` values, in order."""
    if value.startswith("-"):
        raise LineSyntaxError(f"{opt} option requires 1 argument.")
    assert option.dest is not None
    _append(parser, option.dest, value)


@functools.cache
def _line_parser() -> optparse.OptionParser:
    """optparse, as pip uses it for lines (same abbreviations and messages), raising
    instead of exiting; built on first use, since a lock's lines need only ``--hash``."""
    import optparse

    class LineOptionParser(optparse.OptionParser):
        def error(self, msg: str) -> Any:
            raise LineSyntaxError(msg)

        def _process_args(
            self, largs: list[str], rargs: list[str], values: optparse.Values
        ) -> None:
            """optparse's loop, fed two words at a time: it takes every word off the front of
            ``rargs``, which costs the length of the rest (a line of 100,000 ``--hash x``
            options took minutes). No option here takes more than one value."""
            queue = collections.deque(rargs)
            rargs.clear()
            while queue or rargs:
                while queue and len(rargs) < 2:
                    rargs.append(queue.popleft())
                word = rargs[0]
                if word == "--":  # the end of the options: the rest is left over
                    del rargs[0]
                    rargs.extend(queue)
                    return
                if word.startswith("--"):
                    self._process_long_opt(rargs, values)
                elif word.startswith("-") and len(word) > 1:
                    self._process_short_opts(rargs, values)
                else:
                    largs.append(word)
                    del rargs[0]

    parser = LineOptionParser(add_help_option=False)
    add = parser.add_option
    add("-i", "--index-url", "--pypi-url", dest="index_url")
    add("--extra-index-url", dest="extra_index_urls", action="append")
    add("--no-index", dest="no_index", action="store_true")
    add("-c", "--constraint", dest="constraints", action="append")
    add("-r", "--requirement", dest="requirements", action="append")
    add("-e", "--editable", dest="editables", action="append")
    add("-f", "--find-links", dest="find_links", action="append")
    for opt, dest in (
        ("--no-binary", "no_binary"),
        ("--only-binary", "only_binary"),
        ("--all-releases", "all_releases"),
        ("--only-final", "only_final"),
    ):
        add(opt, dest=dest, type="str", action="callback", callback=_store_name_set)
    add("--prefer-binary", dest="prefer_binary", action="store_true")
    add("--require-hashes", dest="require_hashes", action="store_true")
    add("--no-require-hashes", dest="no_require_hashes", action="store_true")
    add("--pre", dest="pre", action="store_true")
    add("--trusted-host", dest="trusted_hosts", action="append")
    add("--use-feature", dest="features", action="append")
    add("--hash", dest="hashes", type="str", action="callback", callback=_store_hash)
    add("-C", "--config-settings", dest="config_settings", type="str", action="callback",
        callback=_store_config_setting)  # fmt: skip
    return parser


def _option_name(dest: str) -> str:
    """An option's name by its destination, for messages about options without effect."""
    return next(o.get_opt_string() for o in _line_parser().option_list if o.dest == dest)


def parse_line_options(options_text: str) -> tuple[dict[str, Any], list[str]]:
    """Parse the options part of a line; return the options given and leftover words."""
    if not _SHELL_SPECIAL.search(options_text):
        words = options_text.split()  # what shlex gives without quotes or escapes, 20x faster
    else:
        try:
            words = shlex.split(options_text)
        except ValueError:
            raise LineSyntaxError(f"Could not split options: {options_text}") from None
    if words and all(word.startswith("--hash=") for word in words):
        # A lock line's usual options, with optparse's result and messages, 10x faster.
        return {"hashes": [_hash_option(word[7:]) for word in words]}, []
    values, leftover = _line_parser().parse_args(words)
    return {k: v for k, v in vars(values).items() if v}, leftover


def apply_name_set(value: str, target: set[str], other: set[str]) -> None:
    """pip's rules for ``:all:``, ``:none:`` and name lists of the paired set options."""
    names = value.split(",")
    while ":all:" in names:
        other.clear()
        target.clear()
        target.add(":all:")
        del names[: names.index(":all:") + 1]
        if ":none:" not in names:
            return
    for name in names:
        if name == ":none:":
            target.clear()
            continue
        canonical = canonicalize_name(name)
        other.discard(canonical)
        target.add(canonical)


# ---------------------------------------------------------------------------------------
# Requirement text


class RequirementTextError(Exception):
    """The requirement part of a line is not a requirement pip could install."""


#: A marker that is one extra and nothing else, the usual form of an optional dependency.
_ONLY_EXTRA = re.compile(r"""\s*extra\s*==\s*(["'])([^"']*)\1\s*""")


def only_for_extra(requires_dist: str) -> str | None:
    """The extra (canonical) a ``Requires-Dist`` entry is only for, when its marker is
    ``extra == "…"`` and nothing else; None for any other entry. Read without parsing it:
    most entries of popular projects have this form, and parsing each one costs more than
    the rest of deciding that it does not apply."""
    requirement_part, _, marker = requires_dist.partition(";")
    match = _ONLY_EXTRA.fullmatch(marker) if "@" not in requirement_part else None
    return canonicalize_name(match.group(2)) if match else None


def is_lock_file(path: str) -> bool:
    """Whether ``path`` names a PEP 751 lock file: the name decides, as the PEP says."""
    return _LOCK_NAME.fullmatch(os.path.basename(urllib.parse.urlsplit(path).path)) is not None


def is_url(text: str) -> bool:
    return urllib.parse.urlsplit(text).scheme in URL_SCHEMES


def is_archive(path: str) -> bool:
    return path.lower().endswith(ARCHIVE_EXTENSIONS)


def _looks_like_path(text: str) -> bool:
    return os.sep in text or bool(os.altsep and os.altsep in text) or text.startswith(".")


def _is_project_dir(path: str) -> bool:
    return any(os.path.isfile(os.path.join(path, f)) for f in ("pyproject.toml", "setup.py"))


def _egg_name(url: str) -> str | None:
    match = _EGG_RE.search(url)
    if not match:
        return None
    if not _PROJECT_NAME_RE.match(match.group(1)):
        raise RequirementTextError(f"the #egg= fragment of {url} is not a project name")
    return match.group(1)


def _strip_extras(text: str) -> tuple[str, frozenset[str]]:
    match = _EXTRAS_SUFFIX_RE.match(text)
    if not match:
        return text, frozenset()
    try:
        extras = PackagingRequirement("placeholder" + match.group(2).lower()).extras
    except InvalidRequirement as exc:
        raise RequirementTextError(f"invalid extras {match.group(2)!r}: {exc}") from None
    return match.group(1).rstrip(), frozenset(extras)


def _kind_of_url(url: str) -> Kind:
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme in VCS_SCHEMES:
        return Kind.VCS
    if scheme == "file" and os.path.isdir(url_to_path(url)):
        return Kind.DIRECTORY
    return Kind.ARCHIVE


def _packaging_requirement(text: str) -> PackagingRequirement:
    try:
        return PackagingRequirement(text)
    except InvalidRequirement as exc:
        hint = ""
        if os.sep in text:
            hint = " (it looks like a path, but no such file or folder exists)"
        elif "=" in text and not re.search(r"[<>=!~]=|[<>]", text):
            hint = " (= is not a valid operator; did you mean ==?)"
        raise RequirementTextError(f"Invalid requirement: {text!r}: {exc}{hint}") from None


@dataclass(frozen=True)
class _Parts:
    name: str | None
    specifier: SpecifierSet
    extras: frozenset[str]
    marker: Marker | None
    url: str | None
    kind: Kind


def _from_packaging(req: PackagingRequirement, extras: frozenset[str] = frozenset()) -> _Parts:
    url = req.url
    return _Parts(
        name=req.name,
        specifier=req.specifier,
        extras=frozenset(req.extras) | extras,
        marker=req.marker,
        url=url,
        kind=_kind_of_url(url) if url else Kind.INDEX,
    )


def parse_requirement_text(text: str, warn: Callable[[str], None]) -> _Parts:
    """Interpret a requirement the way pip's ``install_req_from_line`` does.

    Accepts PEP 508 requirements (``name[extra]==1 ; marker``, ``name @ url``), archive and
    VCS URLs, and paths to archives or project folders (relative to the current directory).
    """
    marker_sep = "; " if is_url(text) else ";"
    marker: Marker | None = None
    if marker_sep in text:
        text, marker_text = text.split(marker_sep, 1)
        if marker_text.strip():
            try:
                marker = Marker(marker_text.strip())
            except InvalidMarker as exc:
                raise RequirementTextError(
                    f"Invalid requirement: {text.strip()!r}: {exc}"
                ) from None
    text = text.strip()
    url: str | None = None
    extras: frozenset[str] = frozenset()
    if is_url(text):
        url = text
    else:
        path, extras = _strip_extras(os.path.normpath(os.path.abspath(text)))
        url = _url_from_path(path, text, warn)
    if url is None:
        parts = _from_packaging(_packaging_requirement(text))
        if marker is not None and parts.marker is None:
            parts = _replace_marker(parts, marker)
        return parts
    if url.startswith("file:") and "../" in url:
        url = path_to_url(url_to_path(url))
    filename = url_filename(url)
    if filename.endswith(".whl"):
        try:
            name, version, _, _ = parse_wheel_filename(filename)
        except InvalidWheelFilename as exc:
            raise RequirementTextError(f"Invalid wheel filename {filename!r}: {exc}") from None
        req_text: str | None = f"{name}=={version}"
    else:
        req_text = _egg_name(url)
    req = _packaging_requirement(req_text) if req_text else None
    return _Parts(
        name=req.name if req else None,
        specifier=req.specifier if req else SpecifierSet(),
        extras=extras | (frozenset(req.extras) if req else frozenset()),
        marker=marker,
        url=url,
        kind=_kind_of_url(url),
    )


def url_filename(url: str) -> str:
    """The last segment of a URL's path, unquoted: the archive's name for a file URL."""
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])


def _replace_marker(parts: _Parts, marker: Marker) -> _Parts:
    return _Parts(parts.name, parts.specifier, parts.extras, marker, parts.url, parts.kind)


def _url_from_path(path: str, text: str, warn: Callable[[str], None]) -> str | None:
    if _looks_like_path(text) and os.path.isdir(path):
        if not _is_project_dir(path):
            raise RequirementTextError(
                f"Directory {text!r} is not installable. Neither 'setup.py' nor "
                "'pyproject.toml' found."
            )
        return path_to_url(path)
    if not is_archive(path):
        return None
    if os.path.isfile(path):
        return path_to_url(path)
    before_at, at, _ = text.partition("@")
    if at and not _looks_like_path(before_at):
        return None  # a PEP 508 ``name @ url`` requirement
    warn(f"Requirement {text!r} looks like a filename, but the file does not exist")
    return path_to_url(path)


def parse_editable_text(text: str) -> _Parts:
    """Interpret the value of ``-e`` as pip does: ``name @ url``, a project folder (with
    optional ``[extras]``), or a VCS URL with ``#egg=``."""
    try:
        req = PackagingRequirement(text)
    except InvalidRequirement:
        req = None
    if req is not None and req.url:
        return _from_packaging(req)
    url, extras = _strip_extras(text)
    if os.path.isdir(url):
        url = path_to_url(url)
    if url.lower().startswith("file:"):
        return _Parts(_egg_name(url), SpecifierSet(), extras, None, url, _kind_of_url(url))
    for vcs in ("git", "hg", "svn", "bzr"):
        if text.lower().startswith(f"{vcs}:"):
            text = f"{vcs}+{text}"
            break
    if urllib.parse.urlsplit(text).scheme not in VCS_SCHEMES:
        raise RequirementTextError(
            f"{text} is not a valid editable requirement. It should either be a path to a "
            "local project or a VCS URL (beginning with "
            f"{', '.join(sorted(VCS_SCHEMES))})."
        )
    name = _egg_name(text)
    if not name:
        raise RequirementTextError(
            f"Could not detect requirement name for '{text}', please specify one with "
            "your_package_name @ URL"
        )
    return _Parts(name, SpecifierSet(), frozenset(), None, text, Kind.VCS)


# ---------------------------------------------------------------------------------------
# Files


#: Reads a requirements file given by URL and returns its bytes (the index client's job).
UrlReader = Callable[[str], bytes]


class RequirementsReader:
    """Reads requirements and constraints files, following ``-r`` and ``-c``.

    >>> result = RequirementsReader().read(["requirements.txt"])  # doctest: +SKIP
    >>> [str(r.source) for r in result.requirements]  # doctest: +SKIP
    ['requirements.txt:3', 'requirements.txt:7']
    """

    def __init__(
        self,
        *,
        read_url: UrlReader | None = None,
        environ: dict[str, str] | os._Environ[str] | None = None,
        lock_selection: LockSelection | None = None,
    ) -> None:
        self._read_url = read_url
        self._environ = os.environ if environ is None else environ
        self._lock_selection = lock_selection

    def read(
        self,
        requirements: Sequence[str],
        constraints: Sequence[str] = (),
        arguments: Sequence[str] = (),
    ) -> RequirementSet:
        """Read every file (requirements first, then constraints) into one result;
        ``arguments`` are requirement lines given on the command line, as pip takes them."""
        result = RequirementSet()
        for number, argument in enumerate(arguments, start=1):
            self._read_line(result, Source("command line", number), argument, False, {})
        for path in requirements:
            self._read_file(result, path, constraint=False, ancestors={}, included_at=None)
        for path in constraints:
            self._read_file(result, path, constraint=True, ancestors={}, included_at=None)
        if self._lock_selection and not result.lock_scopes and not result.problems:
            result.problems.append(
                Problem("options", "--extra and --group select from a pylock.toml; none was given")
            )
        return result

    def _read_file(
        self,
        result: RequirementSet,
        path: str,
        *,
        constraint: bool,
        ancestors: dict[str, str | None],
        included_at: Source | None,
    ) -> None:
        identity = path if _URL_FILE_SCHEME_RE.match(path) else os.path.abspath(path)
        if identity in ancestors:
            includer = ancestors[identity]
            again = f" and again in {includer}" if includer else ""
            result.problems.append(
                Problem(
                    "file",
                    f"{path} recursively references itself in "
                    f"{included_at.path if included_at else path}{again}",
                    included_at,
                )
            )
            return
        depth = len(ancestors)  # the files that include this one
        ancestors = {**ancestors, identity: included_at.path if included_at else None}
        kind = "constraints" if constraint else "requirements"
        try:
            if depth > MAX_INCLUDE_DEPTH:
                raise UnreadableFile(
                    f"-r/-c includes nest more than {MAX_INCLUDE_DEPTH} files deep; include "
                    "the deeper files from a file higher up"
                )
            data = self._load(path)
            text = None if is_lock_file(path) else decode(data, path, result.warnings.append)
        except (OSError, UnreadableFile) as exc:
            if isinstance(exc, _NotFetched):
                result.unfetched.append(path)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            if isinstance(exc, IsADirectoryError):
                reason = "it is a directory, not a file"
            result.problems.append(
                Problem("file", f"Could not read {kind} file {path}: {reason}", included_at)
            )
            return
        remote = identity == path and _URL_FILE_SCHEME_RE.match(path)
        result.read_files[identity] = None if remote else hashlib.sha256(data).hexdigest()
        if text is None:
            self._read_lock(result, path, data, constraint)
            return
        for number, line in logical_lines(text, self._environ):
            self._read_line(result, Source(path, number), line, constraint, ancestors)

    def _read_lock(self, result: RequirementSet, path: str, data: bytes, constraint: bool) -> None:
        """A PEP 751 lock, read by its own module (imported only when one is given)."""
        from pip_hashsync.requirements.pylock import read_lock

        selection = self._lock_selection or LockSelection()
        read_lock(data, path, result, constraint=constraint, selection=selection)

    def _load(self, path: str) -> bytes:
        scheme = urllib.parse.urlsplit(path).scheme.lower()
        if scheme == "file":
            path = url_to_path(path)
        elif scheme in ("http", "https"):
            if self._read_url is None:
                raise _NotFetched(
                    "a URL needs the network: lint and verify read only local files, and "
                    "sync and install fetch it once the local files read without problems"
                )
            return self._read_url(path)
        return _read_file_bytes(path)

    def _read_line(
        self,
        result: RequirementSet,
        source: Source,
        line: str,
        constraint: bool,
        ancestors: dict[str, str | None],
    ) -> None:
        requirement_text, options_text = split_requirement_and_options(line)
        try:
            options, leftover = parse_line_options(options_text)
        except LineSyntaxError as exc:
            result.problems.append(Problem("syntax", f"Invalid requirement: {line}: {exc}", source))
            return
        if leftover:
            result.problems.append(Problem("syntax", _leftover_message(leftover), source))
            return
        editables = options.pop("editables", [])
        if requirement_text or editables:
            editable = not requirement_text
            text = requirement_text or editables.pop(0)
            for other in editables:
                result.warnings.append(
                    f"{source}: only one requirement per line is read; -e {other} is ignored"
                )
            self._add_requirement(result, source, text.strip(), editable, constraint, options)
        elif "requirements" in options or "constraints" in options:
            self._include(result, source, options, constraint, ancestors)
        else:
            _apply_option_line(result, source, options)

    def _include(
        self,
        result: RequirementSet,
        source: Source,
        options: dict[str, Any],
        constraint: bool,
        ancestors: dict[str, str | None],
    ) -> None:
        nested_constraint = "requirements" not in options
        if constraint and not nested_constraint:
            result.warnings.append(
                f"{source}: a -r inside a constraints file reads requirements, not constraints "
                "(as pip does); use -c to include more constraints"
            )
        target = options["constraints" if nested_constraint else "requirements"][0]
        _warn_ignored(
            result, source, options, keep={"requirements", "constraints"}, what="an include line"
        )
        for extra in [*options.get("requirements", []), *options.get("constraints", [])][1:]:
            result.warnings.append(
                f"{source}: only the first -r/-c of a line is read; {extra} is ignored"
            )
        if _URL_FILE_SCHEME_RE.match(source.path):
            target = urllib.parse.urljoin(source.path, target)
        elif not _URL_FILE_SCHEME_RE.match(target):
            target = os.path.normpath(os.path.join(os.path.dirname(source.path), target))
        self._read_file(
            result, target, constraint=nested_constraint, ancestors=ancestors, included_at=source
        )

    def _add_requirement(
        self,
        result: RequirementSet,
        source: Source,
        text: str,
        editable: bool,
        constraint: bool,
        options: dict[str, Any],
    ) -> None:
        keep = {"config_settings"} if editable else {"hashes", "config_settings"}
        _warn_ignored(result, source, options, keep=keep, what="a requirement line")
        try:
            if editable:
                parts = parse_editable_text(text)
            else:
                parts = parse_requirement_text(
                    text, lambda m: result.warnings.append(f"{source}: {m}")
                )
            url_hashes = url_fragment_digests(parts.url) if parts.url else ()
        except (RequirementTextError, InvalidDigest) as exc:
            result.problems.append(Problem("syntax", str(exc), source))
            return
        requirement = Requirement(
            source=source,
            text=text if not editable else f"-e {text}",
            name=parts.name,
            specifier=parts.specifier,
            extras=parts.extras,
            marker=parts.marker,
            url=parts.url,
            kind=parts.kind,
            editable=editable,
            constraint=constraint,
            hashes=tuple(options.get("hashes", ())) if not editable else (),
            url_hashes=url_hashes,
            config_settings=tuple(options.get("config_settings", ())),
        )
        if editable and options.get("hashes"):
            result.warnings.append(
                f"{source}: --hash on an editable line has no effect (pip drops it too)"
            )
        (result.constraints if constraint else result.requirements).append(requirement)


def _leftover_message(leftover: list[str]) -> str:
    if leftover[0].startswith(";"):
        return (
            "the environment marker comes after the options; pip would silently ignore it. "
            "Write the '; marker' right after the requirement, before any --option"
        )
    return (
        f"unexpected text after the options: {' '.join(leftover)!r}; pip would silently "
        "ignore it. Put each requirement on its own line"
    )


def _warn_ignored(
    result: RequirementSet, source: Source, options: dict[str, Any], keep: set[str], what: str
) -> None:
    for dest in options:
        if dest not in keep:
            result.warnings.append(
                f"{source}: {_option_name(dest)} has no effect on {what} (pip ignores it too); "
                "put it on a line of its own"
            )


def _apply_option_line(result: RequirementSet, source: Source, options: dict[str, Any]) -> None:
    """Apply an options-only line to the run's options, with pip's rules (EC60, EC71)."""
    opts = result.options
    if options.get("hashes"):
        result.stray_hashes.append(source)
        result.warnings.append(
            f"{source.path} line {source.line} has --hash but no requirement, and will be ignored."
        )
    if options.get("no_index"):
        opts.no_index = True
    if "index_url" in options:
        opts.index_url = options["index_url"]
        opts.extra_index_urls.clear()  # pip: -i replaces every index named so far
    opts.extra_index_urls.extend(options.get("extra_index_urls", ()))
    for value in options.get("find_links", ())[:1]:
        opts.find_links.append(_relative_find_links(value, source.path))
    for value in options.get("find_links", ())[1:]:
        result.warnings.append(
            f"{source}: only the first --find-links of a line is used (as in pip); "
            f"{value} is ignored"
        )
    opts.trusted_hosts.extend(options.get("trusted_hosts", ()))
    for value in options.get("no_binary", ()):
        apply_name_set(value, opts.no_binary, opts.only_binary)
    for value in options.get("only_binary", ()):
        apply_name_set(value, opts.only_binary, opts.no_binary)
    for value in options.get("all_releases", ()):
        apply_name_set(value, opts.all_releases, opts.only_final)
    for value in options.get("only_final", ()):
        apply_name_set(value, opts.only_final, opts.all_releases)
    opts.pre = opts.pre or bool(options.get("pre"))
    opts.prefer_binary = opts.prefer_binary or bool(options.get("prefer_binary"))
    if options.get("require_hashes") and opts.require_hashes is None:
        opts.require_hashes = source
    if options.get("no_require_hashes") and opts.no_require_hashes is None:
        opts.no_require_hashes = source
    for feature in options.get("features", ()):
        if feature not in opts.features:
            opts.features.append(feature)
        result.warnings.append(f"{source}: --use-feature={feature} has no effect in pip-hashsync")


def _relative_find_links(value: str, requirements_path: str) -> str:
    """A ``-f`` path is taken relative to the requirements file when it exists there (EC71)."""
    if _URL_FILE_SCHEME_RE.match(requirements_path):
        return value
    candidate = os.path.join(os.path.dirname(os.path.abspath(requirements_path)), value)
    return candidate if os.path.exists(candidate) else value
