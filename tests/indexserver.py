"""A real PEP 503/691 package index on 127.0.0.1 for tests, with knobs for misbehaviour.

Every ``*.whl``, ``*.tar.gz`` and ``*.zip`` in ``root`` is served under its project. Pages,
digests and knobs are computed per request, so a test may add archives or turn a knob while
the server runs. Each response goes out in one write on a keep-alive connection, so clients
never wait on Nagle's algorithm.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import socket
import ssl
import threading
import traceback
import urllib.parse
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "text/html"
_HTML_TYPES = ("application/vnd.pypi.simple.v1+html", "text/html")


@dataclass
class IndexServer:
    """A simple-API index of the archives in ``root``; ``start()`` it, read ``index_url``."""

    root: Path
    #: "auto" (by Accept), "html" (a server that ignores Accept) or "json".
    page_format: str = "auto"
    #: "sha256", "sha512", "none" (no digests) or "wrong" (a wrong sha256 for every file).
    advertise: str = "sha256"
    #: Filenames whose advertised sha256 is wrong.
    wrong_hashes: set[str] = field(default_factory=set)
    #: Filename -> bytes served instead of the file; the advertised digest stays genuine.
    tampered: dict[str, bytes] = field(default_factory=dict)
    #: Filename -> yank reason ("" yanks without a reason).
    yanked: dict[str, str] = field(default_factory=dict)
    #: Filename -> Requires-Python specifier.
    requires_python: dict[str, str] = field(default_factory=dict)
    #: Serve PEP 658/714 ``<wheel>.metadata`` files and advertise their sha256.
    metadata: bool = True
    wrong_metadata_hash: bool = False
    #: Answer 503 to this many requests (counted from the start), then normally.
    fail_first: int = 0
    #: Require this Basic-auth (user, password), else 401.
    auth: tuple[str, str] | None = None
    #: Serve https with this server-side context (set before ``start()``).
    tls: ssl.SSLContext | None = None
    #: Filename -> bytes served as its PEP 658 ``.metadata`` file, with their own (genuine)
    #: sha256 advertised: an index that lies consistently about a wheel's metadata.
    lying_metadata: dict[str, bytes] = field(default_factory=dict)
    #: Route (``/simple/demo/``, ``/files/x.whl``) -> genuine body -> (Content-Encoding,
    #: body sent): a 200 response compressed, honestly or as a bomb.
    encode: dict[str, Callable[[bytes], tuple[str, bytes]]] = field(default_factory=dict)
    #: (method, path) of every request, in arrival order.
    requests: list[tuple[str, str]] = field(default_factory=list, init=False)
    _server: _Server | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _failed: int = field(default=0, init=False, repr=False)
    #: Route (``/reqs/requirements.txt``) -> bytes served as text/plain: other documents
    #: (requirements files), behind the same auth as the rest.
    documents: dict[str, bytes] = field(default_factory=dict)
    #: Every ``.metadata`` request waits here before it is answered: the barrier passes
    #: only when its ``parties`` requests are in flight at once; a client asking one after
    #: another breaks it (after its timeout), and is then answered as usual.
    metadata_gate: threading.Barrier | None = None
    #: Send project pages with an ``ETag`` (their body's sha256) and answer a request whose
    #: ``If-None-Match`` names it with ``304 Not Modified``, as static servers do.
    etag: bool = False
    #: The ``Cache-Control`` sent with project pages, when set.
    page_cache_control: str | None = None
    #: Paths answered ``304 Not Modified``, in arrival order.
    not_modified: list[str] = field(default_factory=list, init=False)

    def start(self) -> None:
        self._server = _Server(self)
        if self.tls is not None:
            # Handshakes happen in the handler threads, not in the accepting loop.
            self._server.socket = self.tls.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        # A short poll interval keeps stop() fast: shutdown() waits for the loop to notice.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.005}, daemon=True
        ).start()

    def stop(self) -> None:
        """Stop listening and end open keep-alive connections: a stopped index is gone."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.drop_connections()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the server first"
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    @property
    def index_url(self) -> str:
        return f"{self.url}/simple"

    def file_url(self, filename: str) -> str:
        return f"{self.url}/files/{urllib.parse.quote(filename)}"

    # -- what a request gets ------------------------------------------------------------

    def respond(self, path: str, headers: Message) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) for a GET of ``path``."""
        with self._lock:
            self.requests.append(("GET", path))
            if self._failed < self.fail_first:
                self._failed += 1
                return 503, {"Content-Type": "text/plain"}, b"try again"
        if self.auth is not None and not self._authorized(headers.get("Authorization", "")):
            return 401, {"WWW-Authenticate": 'Basic realm="index"'}, b"who are you?"
        route = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
        if route in self.documents:
            return 200, {"Content-Type": "text/plain"}, self.documents[route]
        if route in ("/simple", "/simple/"):
            return self._project_list(route, headers)
        if route.startswith("/simple/"):
            return self._validated(
                path, headers, *self._project_page(route.removeprefix("/simple/"), headers)
            )
        if route.startswith("/files/"):
            return self._file(route.removeprefix("/files/"))
        return _not_found()

    def encoded(
        self, path: str, status: int, headers: dict[str, str], body: bytes
    ) -> tuple[dict[str, str], bytes]:
        """The headers and body sent for a response: compressed if :attr:`encode` says so."""
        how = self.encode.get(urllib.parse.unquote(urllib.parse.urlsplit(path).path))
        if how is None or status != 200:
            return headers, body
        encoding, sent = how(body)
        return {**headers, "Content-Encoding": encoding}, sent

    def _authorized(self, header: str) -> bool:
        assert self.auth is not None
        expected = base64.b64encode(":".join(self.auth).encode()).decode()
        return header == f"Basic {expected}"

    def _archives(self) -> dict[str, list[Path]]:
        """Project (normalized) -> its archives, by filename."""
        projects: dict[str, list[Path]] = {}
        for path in sorted(self.root.iterdir()):
            project = _project_of(path.name)
            if project is not None:
                projects.setdefault(project, []).append(path)
        return projects

    def _project_list(self, route: str, headers: Message) -> tuple[int, dict[str, str], bytes]:
        if route == "/simple":
            return _redirect("/simple/")
        names = sorted(self._archives())
        if self._wants_json(headers):
            page = {"meta": {"api-version": "1.1"}, "projects": [{"name": n} for n in names]}
            return _json(page)
        links = "".join(f'<a href="{n}/">{n}</a>\n' for n in names)
        return _html("Simple index", links)

    def _project_page(self, rest: str, headers: Message) -> tuple[int, dict[str, str], bytes]:
        name = rest.rstrip("/")
        project = canonicalize_name(name)
        if name != project or not rest.endswith("/"):
            return _redirect(f"/simple/{project}/")
        archives = self._archives().get(project)
        if not archives:
            return _not_found()
        files = [self._file_entry(path) for path in archives]
        if self._wants_json(headers):
            versions = sorted({_version_of(p.name) for p in archives})
            page = {
                "meta": {"api-version": "1.1"},
                "name": project,
                "files": files,
                "versions": versions,
            }
            return _json(page)
        return _html(f"Links for {project}", "".join(_anchor(entry) for entry in files))

    def _file_entry(self, path: Path) -> dict[str, Any]:
        """The PEP 691 file object; the HTML anchor is rendered from it."""
        data = path.read_bytes()
        filename = path.name
        hashes: dict[str, str] = {}
        if self.advertise == "wrong" or filename in self.wrong_hashes:
            hashes["sha256"] = hashlib.sha256(b"not " + data).hexdigest()
        elif self.advertise in ("sha256", "sha512"):
            hashes[self.advertise] = hashlib.new(self.advertise, data).hexdigest()
        core_metadata: dict[str, str] | bool = False
        if self.metadata and filename.endswith(".whl"):
            metadata = self._served_metadata(path)
            if self.wrong_metadata_hash:
                metadata = b"not " + metadata
            core_metadata = {"sha256": hashlib.sha256(metadata).hexdigest()}
        reason = self.yanked.get(filename)
        entry: dict[str, Any] = {
            "filename": filename,
            "url": f"../../files/{urllib.parse.quote(filename)}",
            "hashes": hashes,
            "yanked": False if reason is None else (reason or True),
            "core-metadata": core_metadata,
            "dist-info-metadata": core_metadata,
            "size": len(data),
        }
        if filename in self.requires_python:
            entry["requires-python"] = self.requires_python[filename]
        return entry

    def _file(self, filename: str) -> tuple[int, dict[str, str], bytes]:
        wanted_metadata = filename.endswith(".whl.metadata")
        path = self.root / (filename.removesuffix(".metadata") if wanted_metadata else filename)
        if "/" in filename or not path.is_file() or _project_of(path.name) is None:
            return _not_found()
        if wanted_metadata:
            if not self.metadata:
                return _not_found()
            if self.metadata_gate is not None:
                with contextlib.suppress(threading.BrokenBarrierError):
                    self.metadata_gate.wait()
            return 200, {"Content-Type": "application/octet-stream"}, self._served_metadata(path)
        data = self.tampered.get(filename)
        if data is None:
            data = path.read_bytes()
        return 200, {"Content-Type": "application/octet-stream"}, data

    def _served_metadata(self, path: Path) -> bytes:
        """The ``.metadata`` file of a wheel: its METADATA, or the lie set for it."""
        lie = self.lying_metadata.get(path.name)
        return _wheel_metadata(path) if lie is None else lie

    def _wants_json(self, headers: Message) -> bool:
        if self.page_format != "auto":
            return self.page_format == "json"
        accepted = _accept_qualities(headers.get("Accept", ""))
        json_q = accepted.get(JSON_TYPE, 0.0)
        html_q = max(accepted.get(t, 0.0) for t in (*_HTML_TYPES, "*/*"))
        return json_q > 0 and json_q >= html_q

    def _validated(
        self, path: str, request: Message, status: int, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """A project page with :attr:`page_cache_control` and, with :attr:`etag`, an ETag:
        304 (no body) when the request's ``If-None-Match`` names the page as it is now."""
        if status != 200:
            return status, headers, body
        if self.page_cache_control is not None:
            headers = {**headers, "Cache-Control": self.page_cache_control}
        if not self.etag:
            return status, headers, body
        etag = '"' + hashlib.sha256(body).hexdigest() + '"'
        headers = {**headers, "ETag": etag}
        if etag in [tag.strip() for tag in request.get("If-None-Match", "").split(",")]:
            with self._lock:
                self.not_modified.append(path)
            return 304, {"ETag": etag}, b""
        return status, headers, body


class _Server(ThreadingHTTPServer):
    """The listening socket on a free port, and the connections it has open."""

    def __init__(self, index: IndexServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.index = index
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that drops the connection or refuses the TLS handshake is
        something tests cause on purpose."""

    def drop_connections(self) -> None:
        with self.connections_lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):  # already closed by the client
                    connection.shutdown(socket.SHUT_RDWR)
            self.connections.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 30  # idle keep-alive connections end on their own
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        try:
            status, headers, body = self.server.index.respond(self.path, self.headers)
        except Exception:  # a broken test fixture: show it, as a response the client reads
            status, headers = 500, {"Content-Type": "text/plain"}
            body = traceback.format_exc().encode()
        headers, body = self.server.index.encoded(self.path, status, headers, body)
        head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
        head += [f"{key}: {value}" for key, value in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is ``IndexServer.requests``."""


def _project_of(filename: str) -> str | None:
    """The normalized project an archive belongs to, or None for other files."""
    if filename.endswith(".whl"):
        return str(parse_wheel_filename(filename)[0])
    if filename.endswith(_SDIST_SUFFIXES):
        try:
            return str(parse_sdist_filename(_as_tar_gz(filename))[0])
        except InvalidSdistFilename:
            return None
    return None


#: Every sdist format pip accepts.
_SDIST_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip")


def _as_tar_gz(filename: str) -> str:
    """The same name with a suffix ``packaging`` parses (it knows .tar.gz and .zip only)."""
    suffix = next(s for s in _SDIST_SUFFIXES if filename.endswith(s))
    return filename if suffix == ".zip" else filename[: -len(suffix)] + ".tar.gz"


def _version_of(filename: str) -> str:
    if filename.endswith(".whl"):
        return str(parse_wheel_filename(filename)[1])
    return str(parse_sdist_filename(_as_tar_gz(filename))[1])


def _wheel_metadata(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.count("/") == 1 and name.endswith(".dist-info/METADATA"):
                return archive.read(name)
    raise ValueError(f"{path.name} has no .dist-info/METADATA")


def _anchor(entry: dict[str, Any]) -> str:
    href = entry["url"]
    for algorithm, value in entry["hashes"].items():
        href += f"#{algorithm}={value}"
    attributes = [f'href="{html.escape(href)}"']
    if "requires-python" in entry:
        attributes.append(f'data-requires-python="{html.escape(entry["requires-python"])}"')
    if entry["yanked"] is True:
        attributes.append("data-yanked")
    elif entry["yanked"]:
        attributes.append(f'data-yanked="{html.escape(entry["yanked"])}"')
    if entry["core-metadata"]:
        digest = "sha256=" + entry["core-metadata"]["sha256"]
        attributes.append(f'data-core-metadata="{digest}"')
        attributes.append(f'data-dist-info-metadata="{digest}"')
    return f"<a {' '.join(attributes)}>{html.escape(entry['filename'])}</a><br>\n"


def _html(title: str, body: str) -> tuple[int, dict[str, str], bytes]:
    page = (
        "<!DOCTYPE html>\n<html><head>"
        '<meta name="pypi:repository-version" content="1.1">'
        f"<title>{title}</title></head>\n<body><h1>{title}</h1>\n{body}</body></html>\n"
    )
    return 200, {"Content-Type": HTML_TYPE, "Vary": "Accept"}, page.encode()


def _json(page: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": JSON_TYPE, "Vary": "Accept"}, json.dumps(page).encode()


def _redirect(location: str) -> tuple[int, dict[str, str], bytes]:
    return 301, {"Location": location}, b""


def _not_found() -> tuple[int, dict[str, str], bytes]:
    return 404, {"Content-Type": "text/plain"}, b"not found"


def _accept_qualities(header: str) -> dict[str, float]:
    """Media type -> q from an Accept header (parameters other than q ignored)."""
    qualities: dict[str, float] = {}
    for item in header.split(","):
        media_type, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media_type:
            qualities[media_type.lower()] = q
    return qualities
