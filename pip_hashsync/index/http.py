"""The one HTTP client of the tool: pooled, retrying, authenticating, and ``file:``-aware.

Index pages, metadata files and downloads all go through one :class:`HttpClient`, so every
thread shares one connection pool per host, and authentication, proxies, trusted hosts and
retries behave the same everywhere, the way pip's settings say (standards.md §6.4).

Credentials are looked up in pip's order: the URL itself (or the configured index or
find-links URL of its origin), then netrc, then (after a 401) keyring. They are sent as Basic
auth, stripped from the URL actually requested, remembered per origin (scheme, host, port),
and never printed: messages show URLs through :func:`~pip_hashsync.urls.redact`. They go only
to the origin they were given for (netrc's to its host), and no credentials at all go over
plain http once a redirect has left https (design.md, policy 12).

Bodies read whole (pages, metadata files) are inflated a bounded piece at a time and refused
past a cap, so a compressed bomb costs no more memory than the cap; archives are streamed
exactly as served, never decoded, and hashed so, as pip hashes them.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import mimetypes
import netrc
import os
import posixpath
import shutil
import subprocess
import threading
import urllib.parse
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, BinaryIO

from pip_hashsync import __version__
from pip_hashsync.errors import ExitCode, HashsyncError, InputError
from pip_hashsync.index.pagecache import PageCache
from pip_hashsync.settings.request import cache_dir_of
from pip_hashsync.urls import redact, url_to_path

# urllib3, ssl and truststore take a third of the start-up time and a warm sync sends no
# request at all: they are imported by the first request, not here.
if TYPE_CHECKING:
    import ssl
    from zlib import _Decompress as Decompress

    import urllib3

    from pip_hashsync.settings.config import Settings

#: Statuses retried with backoff, as pip retries them.
RETRY_STATUSES = (500, 502, 503, 520, 527)
#: Retries of a refused connection, whatever ``--retries`` says: one, at once, covers a
#: server that was restarting; more only wait (pip's five take 7.5 s) at a port where
#: nothing listens, and one index down fails the run anyway.
REFUSED_RETRIES = 1
#: The logger that tells each retry as it happens (``-v`` shows it).
RETRY_LOG = "pip_hashsync.retries"

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 30
_POOL_SIZE = 16
_CHUNK_SIZE = 256 * 1024
_USER_AGENT = f"pip-hashsync/{__version__}"
_MiB = 1024 * 1024
#: The most bytes :meth:`HttpClient.get` holds for one response unless told otherwise (once
#: inflated): index pages are the largest responses read whole, and the largest real ones
#: are tens of MB (pydantic-core's JSON page is about 7 MB), so an honest page is far below
#: it, while a compressed bomb (512 MiB from 0.5 MB of gzip) is refused at it.
MAX_PAGE_SIZE = 256 * _MiB
#: The encodings :meth:`HttpClient.get` asks for (gzip, deflate), and so all it inflates.
_ENCODINGS = ("gzip", "x-gzip", "deflate")

Credentials = tuple[str, str]
#: (scheme, lower-case host, port): where credentials may be sent.
Origin = tuple[str, str, int]


@dataclass(frozen=True)
class HttpSettings:
    """Network settings, with pip's defaults; built from pip's options by the config layer."""

    timeout: float = 15.0
    retries: int = 5
    #: Seconds: retry n waits ``backoff_factor * 2 ** (n - 1)`` (the first retry does not wait).
    backoff_factor: float = 0.25
    #: Extra CA bundle (``--cert``), added to the system trust store.
    cert: str | None = None
    #: One PEM file with the client key and certificate (``--client-cert``).
    client_cert: str | None = None
    #: ``host`` or ``host:port``: TLS is not verified there (plain http is allowed everywhere).
    trusted_hosts: tuple[str, ...] = ()
    #: None: ``*_PROXY``/``NO_PROXY`` from the environment; "": no proxy at all.
    proxy: str | None = None
    no_input: bool = True
    #: ``auto``, ``disabled``, ``import`` or ``subprocess``, as pip's ``--keyring-provider``.
    keyring_provider: str = "auto"
    #: Default: ``$NETRC``, else ``~/.netrc``.
    netrc_file: str | None = None
    #: The configured index URLs: keyring is asked for the index URL before the bare host,
    #: as pip asks it, because that is the name users store credentials under.
    index_urls: tuple[str, ...] = ()
    #: The configured find-links locations: their credentials, like the index URLs', serve
    #: every URL of their origin (the archives they list included).
    find_links: tuple[str, ...] = ()
    #: Where index pages are kept for revalidation (see :mod:`.pagecache`); None: nowhere
    #: (``--no-cache-dir``).
    page_cache: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpSettings:
        """The network part of pip's merged options."""
        return cls(
            timeout=settings.timeout,
            retries=settings.retries,
            cert=settings.cert,
            client_cert=settings.client_cert,
            trusted_hosts=tuple(settings.trusted_hosts),
            proxy=settings.proxy,
            no_input=settings.no_input,
            keyring_provider=settings.keyring_provider,
            index_urls=tuple(settings.index_urls),
            find_links=tuple(settings.find_links),
            page_cache=str(cache / "pages") if (cache := cache_dir_of(settings)) else None,
        )


@dataclass(frozen=True)
class Response:
    """A successful (status < 400) response, read whole."""

    #: The final URL, after redirects, without credentials.
    url: str
    status: int
    #: Case-insensitive.
    headers: Mapping[str, str]
    content: bytes
    #: The sha256 of ``content`` when it was kept in (or read from) the page cache: the key
    #: of what was parsed from it.
    digest: str | None = None


class NetworkError(HashsyncError):
    """A URL could not be fetched: exit 4. ``status`` is the HTTP status when there was one."""

    exit_code = ExitCode.NETWORK
    #: The configured index or find-links location being read, when known (set by the
    #: index reader), so that a message can say where it was configured.
    location: str | None = None

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class HttpClient:
    """Fetch ``http(s):`` and ``file:`` URLs; safe to share between threads.

    >>> client = HttpClient(HttpSettings(timeout=5))
    >>> page = client.get("https://pypi.org/simple/pip/", {"Accept": "text/html"})
    >>> with client.stream("https://files.example/x.whl") as chunks:
    ...     digest = hashlib.sha256(b"".join(chunks))
    """

    def __init__(self, settings: HttpSettings = HttpSettings()) -> None:
        self.settings = settings
        self._auth = _Authenticator(settings)
        self._trusted = [_host_and_port(entry) for entry in settings.trusted_hosts]
        #: By (proxy, verify TLS, TLS needed at all).
        self._managers: dict[tuple[str | None, bool, bool], urllib3.PoolManager] = {}
        self._lock = threading.Lock()
        # Set up by the first request, under the lock (see the note on imports above).
        self._proxies: dict[str, str] = {}
        self._request_options: dict[str, Any] = {}
        self._verified: ssl.SSLContext | None = None
        self.pages = PageCache(Path(settings.page_cache)) if settings.page_cache else None

    def get(
        self, url: str, headers: Mapping[str, str] | None = None, *, limit: int = MAX_PAGE_SIZE
    ) -> Response:
        """The whole body of ``url``, inflated if the server compressed it; raise
        :class:`NetworkError` for status >= 400 and for a body of more than ``limit`` bytes
        (once inflated: inflating stops there)."""
        if _is_file_url(url):
            path = _local_path(url)
            return Response(url, 200, _local_headers(path), _read_local(url, path, limit))
        request_headers = {"Accept-Encoding": "gzip, deflate", **(headers or {})}
        final_url, response = self._open(url, request_headers)
        try:
            content = _read_whole(response, final_url, limit)
        except BaseException:
            response.close()  # drops the connection: the rest of the body is not wanted
            response.release_conn()
            raise
        _discard(response)  # read to its end: the connection goes back to the pool
        return Response(final_url, response.status, response.headers, content)

    def get_page(self, url: str, headers: Mapping[str, str] | None = None) -> Response:
        """An index page, as :meth:`get` reads it, through the page cache: a page kept from
        an earlier run is revalidated (``If-None-Match``, ``If-Modified-Since``) and read
        from the cache when the server answers ``304 Not Modified``."""
        if self.pages is None or _is_file_url(url):
            return self.get(url, headers)
        key = urllib.parse.urlunsplit(_without_userinfo(urllib.parse.urlsplit(url)))
        accept = (headers or {}).get("Accept", "")
        stored = self.pages.load(key, accept)
        validators = stored.validators() if stored else {}
        response = self.get(url, {**(headers or {}), **validators})
        if response.status == HTTPStatus.NOT_MODIFIED and stored is not None:
            self.pages.reused(key, accept)
            return Response(
                stored.url, 200, _header_dict(stored.headers), stored.content, stored.digest
            )
        digest = None
        if response.status == HTTPStatus.OK:
            digest = self.pages.save(key, accept, response.url, response.headers, response.content)
        return replace(response, digest=digest)

    @contextlib.contextmanager
    def stream(self, url: str) -> Iterator[Iterator[bytes]]:
        """The body of ``url`` in chunks, exactly as stored (no content decoding), for hashing
        while downloading; connection, status and auth are handled before the first chunk."""
        with self._sized_stream(url) as (chunks, _):
            yield chunks

    @contextlib.contextmanager
    def _sized_stream(self, url: str) -> Iterator[tuple[Iterator[bytes], int | None]]:
        """:meth:`stream`'s chunks, and the body's size when the server says it."""
        if _is_file_url(url):
            with _open_local(url, _local_path(url)) as file:
                yield iter(lambda: file.read(_CHUNK_SIZE), b""), os.fstat(file.fileno()).st_size
            return
        _, response = self._open(url, {"Accept-Encoding": "identity"})
        length = response.headers.get("Content-Length", "")
        try:
            yield _chunks(response, url), int(length) if length.isdigit() else None
        finally:
            # Closing drops a half-read connection instead of returning it dirty to the pool.
            response.close()
            response.release_conn()

    def download(
        self,
        url: str,
        output: BinaryIO,
        algorithms: Iterable[str],
        progress: Callable[[int, int | None], None] | None = None,
    ) -> dict[str, str]:
        """Write the body of ``url`` to ``output`` exactly as served (a ``Content-Encoding``
        is not undone: pip hashes an archive's bytes as served), hashing it on the way;
        return its digests by algorithm. ``progress(bytes_done, size)`` follows each chunk
        (``size``: the ``Content-Length``, None when the server does not say)."""
        hashers = {algorithm: hashlib.new(algorithm) for algorithm in algorithms}
        done = 0
        with self._sized_stream(url) as (chunks, size):
            for chunk in chunks:
                output.write(chunk)
                for hasher in hashers.values():
                    hasher.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, size)
        return {algorithm: hasher.hexdigest() for algorithm, hasher in hashers.items()}

    def close(self) -> None:
        """Close every pooled connection (and trim the page cache, if this run wrote to it)."""
        if self.pages is not None:
            self.pages.trim()
        with self._lock:
            for manager in self._managers.values():
                manager.clear()
            self._managers.clear()

    def _open(self, url: str, headers: Mapping[str, str]) -> tuple[str, urllib3.BaseHTTPResponse]:
        """Follow redirects ourselves, so each hop gets its own origin's credentials, proxy and
        TLS settings, and a hop over plain http after one over https gets no credentials at all
        (whatever their source: a server must not pull them out of TLS); return the final URL
        (without credentials) and a response < 400."""
        target = url
        left_https = False
        for _ in range(_MAX_REDIRECTS + 1):
            in_clear = left_https and _is_plain_http(target)
            plain_url, response = self._send_with_auth(target, headers, authenticate=not in_clear)
            location = response.headers.get("Location")
            if response.status in _REDIRECT_STATUSES and location:
                _discard(response)
                left_https = left_https or not _is_plain_http(plain_url)
                target = urllib.parse.urljoin(plain_url, location)
                continue
            if response.status >= 400:
                _discard(response)
                auth_note = (
                    "redirected from https to http: credentials are not sent in clear text"
                    if in_clear
                    else f"credentials missing or refused; looked in {self._auth.sources}"
                )
                raise _status_error(target, response, auth_note=auth_note)
            return plain_url, response
        raise NetworkError(f"Too many redirects ({_MAX_REDIRECTS}) starting at {redact(url)}")

    def _send_with_auth(
        self, url: str, headers: Mapping[str, str], *, authenticate: bool
    ) -> tuple[str, urllib3.BaseHTTPResponse]:
        """One hop: send with known credentials, and on 401 once more with keyring's; with
        ``authenticate`` false, send none (the URL's own included) and ask no keyring."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise NetworkError(f"Cannot fetch {redact(url)}: unsupported URL scheme")
        try:
            _ = parts.port  # raises ValueError for a port that is not a number
        except ValueError:
            raise NetworkError(f"Cannot fetch {redact(url)}: invalid port") from None
        plain_url = urllib.parse.urlunsplit(_without_userinfo(parts))
        if not authenticate:
            return plain_url, self._send(plain_url, headers, None)
        credentials = self._auth.before_request(parts)
        response = self._send(plain_url, headers, credentials)
        if response.status != 401:
            return plain_url, response
        fresh = self._auth.after_401(parts, credentials)
        if fresh is None or fresh == credentials:
            return plain_url, response
        _discard(response)
        return plain_url, self._send(plain_url, headers, fresh)

    def _send(
        self, url: str, headers: Mapping[str, str], credentials: Credentials | None
    ) -> urllib3.BaseHTTPResponse:
        """One request; its body is left unread and undecoded, for the caller to read."""
        manager = self._manager_for(url)  # imports urllib3
        import urllib3

        request_headers = {"User-Agent": _USER_AGENT, **headers}
        if credentials is not None:
            request_headers.update(urllib3.make_headers(basic_auth=":".join(credentials)))
        try:
            return manager.urlopen(
                "GET",
                url,
                headers=request_headers,
                redirect=False,
                preload_content=False,
                decode_content=False,
                **self._request_options,
            )
        except urllib3.exceptions.MaxRetryError as exc:
            retries = self.settings.retries
            if exc.reason is not None and _refused(exc.reason):
                retries = min(retries, REFUSED_RETRIES)
            tries = retries + 1
            reason = _describe(exc.reason) if exc.reason else "too many retries"
            raise NetworkError(f"Could not fetch {url} ({tries} tries): {reason}") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise NetworkError(f"Could not fetch {url}: {_describe(exc)}") from exc

    def _manager_for(self, url: str) -> urllib3.PoolManager:
        """The shared pool for this URL's proxy and TLS verification, made on first use."""
        parts = urllib.parse.urlsplit(url)
        with self._lock:
            if not self._request_options:
                self._proxies = _proxy_table(self.settings.proxy)
                self._request_options = self._make_request_options()
            proxy = self._proxy_for(parts)
            # Plain http without a proxy needs no TLS context (the system trust store takes
            # 50 ms to load): a loopback or intranet index never pays for one.
            tls = parts.scheme == "https" or proxy is not None
            key = (proxy, not self._is_trusted(parts), tls)
            manager = self._managers.get(key)
            if manager is None:
                manager = self._managers[key] = self._new_manager(*key)
            return manager

    def _make_request_options(self) -> dict[str, Any]:
        """Retries and timeouts as pip's options set them, as urllib3 objects."""
        from urllib3.util import Timeout

        retry = _retry_type()(
            total=self.settings.retries,
            status_forcelist=RETRY_STATUSES,
            backoff_factor=self.settings.backoff_factor,
            raise_on_status=False,
            redirect=False,
        )
        timeout = Timeout(connect=self.settings.timeout, read=self.settings.timeout)
        return {"retries": retry, "timeout": timeout}

    def _proxy_for(self, parts: urllib.parse.SplitResult) -> str | None:
        proxy = self._proxies.get(parts.scheme) or self._proxies.get("all")
        if proxy is None:
            return None
        import urllib.request

        # Only an environment table has a "no" entry (NO_PROXY); an explicit proxy is always used.
        # (The function is stdlib since Python 3.0, but missing from typeshed.)
        bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
        if bypass(parts.netloc, self._proxies):
            return None
        return proxy

    def _is_trusted(self, parts: urllib.parse.SplitResult) -> bool:
        host = (parts.hostname or "").lower()
        return any(host == h and port in (None, parts.port) for h, port in self._trusted)

    def _new_manager(self, proxy: str | None, verify: bool, tls: bool) -> urllib3.PoolManager:
        import urllib3

        if not tls:
            return urllib3.PoolManager(maxsize=_POOL_SIZE)
        _silence_unverified_warning()
        try:
            if self._verified is None:
                self._verified = _verified_context(self.settings.cert, self.settings.client_cert)
            context = self._verified if verify else _unverified_context(self.settings.client_cert)
        except OSError as exc:  # ssl.SSLError is one too
            files = [f"--cert {self.settings.cert}", f"--client-cert {self.settings.client_cert}"]
            given = " and ".join(f for f in files if not f.endswith(" None"))
            raise InputError(f"Cannot use {given}: {exc.strerror or exc}") from None
        cert_reqs = "CERT_REQUIRED" if verify else "CERT_NONE"
        if proxy is None:
            return urllib3.PoolManager(maxsize=_POOL_SIZE, ssl_context=context, cert_reqs=cert_reqs)
        proxy_parts = urllib.parse.urlsplit(proxy)
        proxy_headers = None
        if proxy_parts.username is not None:
            user = urllib.parse.unquote(proxy_parts.username)
            secret = urllib.parse.unquote(proxy_parts.password or "")
            proxy_headers = urllib3.make_headers(proxy_basic_auth=f"{user}:{secret}")
            proxy_parts = proxy_parts._replace(netloc=proxy_parts.netloc.rpartition("@")[2])
        return urllib3.ProxyManager(
            urllib.parse.urlunsplit(proxy_parts),
            proxy_headers=proxy_headers,
            proxy_ssl_context=self._verified,
            maxsize=_POOL_SIZE,
            ssl_context=context,
            cert_reqs=cert_reqs,
        )


class _Authenticator:
    """Credentials per origin: from the URL (else the configured index or find-links URL of
    its origin), remembered, netrc (per host), then keyring after a 401.

    One lock guards the remembered credentials, the parsed netrc and the keyring lookups, so
    threads that hit the same 401 at once ask keyring once.
    """

    def __init__(self, settings: HttpSettings) -> None:
        self._settings = settings
        self._remembered: dict[Origin, Credentials] = {}
        self._netrc: netrc.netrc | None = None
        self._netrc_read = False
        self._keyring_failure = ""
        self._lock = threading.Lock()
        # pip does not use keyring under --no-input unless a provider is named: it may prompt.
        provider = settings.keyring_provider
        use_keyring = provider != "disabled" and (provider != "auto" or not settings.no_input)
        self._keyring: _Keyring | None = _find_keyring(provider) if use_keyring else None

    @property
    def sources(self) -> str:
        """Where credentials were looked for, for the message of a final 401."""
        if self._keyring_failure:
            return f"the URL and netrc; keyring failed: {self._keyring_failure}"
        return "the URL, netrc and keyring" if self._keyring else "the URL and netrc"

    def before_request(self, parts: urllib.parse.SplitResult) -> Credentials | None:
        """Credentials to send on the first try: the URL's (or its configured URL's), else
        remembered for its origin, else netrc's for its host."""
        username, password = self._userinfo(parts)
        origin = _origin(parts)
        with self._lock:
            if username is not None and password is not None:
                self._remembered[origin] = (username, password)
                return username, password
            remembered = self._remembered_for(origin)
            if remembered and username in (None, remembered[0]):
                return remembered
            from_netrc = self._from_netrc(parts.hostname or "")
        if from_netrc and username in (None, from_netrc[0]):
            return from_netrc
        return None if username is None else (username, "")

    def after_401(
        self, parts: urllib.parse.SplitResult, sent: Credentials | None
    ) -> Credentials | None:
        """Keyring's credentials for a refused URL (the index URL's entry, then the host's),
        remembered for its origin as pip remembers them for the host."""
        username = self._userinfo(parts)[0] or _username(sent)
        origin = _origin(parts)
        netloc = parts.netloc.rpartition("@")[2]
        index = _closest(parts, self._settings.index_urls)
        services = (urllib.parse.urlunsplit(_without_userinfo(index)) if index else None, netloc)
        with self._lock:
            remembered = self._remembered_for(origin)
            if remembered and remembered[1] and username in (None, remembered[0]):
                return remembered  # another thread may have asked keyring meanwhile
            for service in services:
                if self._keyring is None or not service:
                    continue
                try:
                    found = self._keyring.get(service, username)
                except Exception as exc:  # any backend failure: go on without keyring, as pip
                    self._keyring, self._keyring_failure = None, str(exc) or type(exc).__name__
                    return None
                if found:
                    self._remembered[origin] = found
                    return found
        return None

    def _userinfo(self, parts: urllib.parse.SplitResult) -> tuple[str | None, str | None]:
        """The URL's user name and password, else those of the configured index or find-links
        URL of its origin that shares the longest path with it (the index whose pages listed
        an archive authenticates its download, as pip does)."""
        if "@" not in parts.netloc:
            configured = self._settings.index_urls + self._settings.find_links
            parts = _closest(parts, configured) or parts
        username, password = parts.username, parts.password
        return (
            None if username is None else urllib.parse.unquote(username),
            None if password is None else urllib.parse.unquote(password),
        )

    def _remembered_for(self, origin: Origin) -> Credentials | None:
        return next(
            (self._remembered[o] for o in _origins_trusted_by(origin) if o in self._remembered),
            None,
        )

    def _from_netrc(self, host: str) -> Credentials | None:
        if not self._netrc_read:
            self._netrc_read = True
            path = self._settings.netrc_file or os.environ.get("NETRC") or "~/.netrc"
            # Like requests (and so pip), an unreadable or malformed netrc is ignored.
            with contextlib.suppress(OSError, netrc.NetrcParseError):
                self._netrc = netrc.netrc(os.path.expanduser(path))
        entry = self._netrc.authenticators(host) if self._netrc else None
        if entry is None:
            return None
        login, account, password = entry
        return (login or account or "", password or "")


class _Keyring:
    """pip's keyring providers: the ``keyring`` module in this process, or its command."""

    def __init__(self, module: ModuleType | None, command: str | None) -> None:
        self._module = module
        self._command = command

    def get(self, service: str, username: str | None) -> Credentials | None:
        if self._module is not None:
            credential = self._module.get_credential(service, username)
            return None if credential is None else (credential.username, credential.password)
        assert self._command is not None
        # With a username, the form every keyring version has; without, keyring >= 25.2's
        # credential query (what pip 26 runs). stdin is closed: keyring must not prompt.
        if username is not None:
            args = [self._command, "get", service, username]
        else:
            args = [self._command, "--mode=creds", "--output=json", "get", service]
        result = subprocess.run(
            args,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
            check=False,
        )
        if result.returncode != 0:
            return None
        output = result.stdout.decode("utf-8")
        if username is not None:
            return (username, output.strip("\r\n"))
        try:
            data = json.loads(output)
            return (str(data["username"]), str(data["password"]))
        except (ValueError, KeyError, TypeError):
            return None


def _find_keyring(provider: str) -> _Keyring | None:
    """The keyring a provider name selects, or None when there is none to use."""
    if provider in ("import", "auto"):
        try:
            return _Keyring(importlib.import_module("keyring"), None)
        except ImportError:
            pass
    command = shutil.which("keyring")
    return _Keyring(None, command) if command else None


def _closest(
    parts: urllib.parse.SplitResult, configured: tuple[str, ...]
) -> urllib.parse.SplitResult | None:
    """The configured URL (credentials included) whose credentials may go to this URL's
    origin and that shares the longest path with it, as pip picks the keyring service name."""
    trusted = _origins_trusted_by(_origin(parts))
    best: tuple[int, urllib.parse.SplitResult] | None = None
    for url in configured:
        candidate = urllib.parse.urlsplit(url.rstrip("/") + "/")
        try:
            if _origin(candidate) not in trusted:
                continue
        except ValueError:  # a port that is not a number: that URL's own fetch says so
            continue
        common = len(posixpath.commonpath([candidate.path, parts.path or "/"]))
        if best is None or common > best[0]:
            best = (common, candidate)
    return best[1] if best else None


def _origin(parts: urllib.parse.SplitResult) -> Origin:
    """Where credentials belong: scheme, host and port (the scheme's default when not given).
    Raises ValueError for a port that is not a number."""
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return parts.scheme, (parts.hostname or "").lower(), port


def _origins_trusted_by(origin: Origin) -> tuple[Origin, ...]:
    """The origins whose credentials may be sent to ``origin``: itself, and for https on its
    default port also plain http on its default port (an upgrade to TLS, which requests allows
    too). Never the other way: credentials given for https stay off plain http."""
    scheme, host, port = origin
    if (scheme, port) == ("https", 443):
        return (origin, ("http", host, 80))
    return (origin,)


def _without_userinfo(parts: urllib.parse.SplitResult) -> urllib.parse.SplitResult:
    return parts._replace(netloc=parts.netloc.rpartition("@")[2])


def _is_plain_http(url: str) -> bool:
    return url[:5].lower() == "http:"


def _username(credentials: Credentials | None) -> str | None:
    return credentials[0] if credentials else None


def _proxy_table(proxy: str | None) -> dict[str, str]:
    """Proxy URL by scheme (and ``no`` for the bypass list): the environment's, none, or one
    proxy for every scheme (a bare ``host:port`` means http, as in pip)."""
    if proxy is None:
        import urllib.request

        return urllib.request.getproxies_environment()
    if not proxy:
        return {}
    url = proxy if "://" in proxy else f"http://{proxy}"
    return {"http": url, "https": url}


def _host_and_port(entry: str) -> tuple[str, int | None]:
    """A ``--trusted-host`` value as (lower-case host, port or None for every port)."""
    parts = urllib.parse.urlsplit(f"//{entry}")
    return (parts.hostname or entry).lower(), parts.port


def _silence_unverified_warning() -> None:
    """urllib3 warns on every unverified HTTPS request; those go only to ``--trusted-host``
    hosts, which the user chose not to verify (pip silences the same warning)."""
    import urllib3

    warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)


def _verified_context(cert: str | None, client_cert: str | None) -> ssl.SSLContext:
    """The system trust store (as pip uses it), plus ``--cert`` and ``--client-cert``."""
    import ssl

    import truststore

    context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cert:
        context.load_verify_locations(cert)
    if client_cert:
        context.load_cert_chain(client_cert)
    return context


def _unverified_context(client_cert: str | None) -> ssl.SSLContext:
    """For trusted hosts: encrypted, not verified (a client certificate is still offered)."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if client_cert:
        context.load_cert_chain(client_cert)
    return context


def _chunks(response: urllib3.BaseHTTPResponse, url: str) -> Iterator[bytes]:
    import urllib3

    try:
        yield from response.stream(_CHUNK_SIZE, decode_content=False)
    except urllib3.exceptions.HTTPError as exc:
        raise NetworkError(f"Download of {redact(url)} failed: {_describe(exc)}") from exc


def _read_whole(response: urllib3.BaseHTTPResponse, url: str, limit: int) -> bytes:
    """The body, inflated a bounded piece at a time when it is compressed; refused (exit 4)
    as soon as it passes ``limit`` bytes, so at most about ``limit`` bytes are ever held."""
    header = response.headers.get("Content-Encoding", "")
    encodings = [e.strip().lower() for e in header.split(",") if e.strip().lower() != "identity"]
    encodings = [e for e in encodings if e]
    if len(encodings) > 1 or (encodings and encodings[0] not in _ENCODINGS):
        raise NetworkError(
            f"Cannot read {redact(url)}: it was sent with Content-Encoding {header}, but only "
            "gzip or deflate was asked for"
        )
    inflater = _Inflater(encodings[0]) if encodings else None
    pieces: list[bytes] = []
    size = 0
    for chunk in _chunks(response, url):
        for piece in inflater.pieces(chunk, url) if inflater else (chunk,):
            size += len(piece)
            if size > limit:
                inflated = f" once its {encodings[0]} encoding is undone" if inflater else ""
                raise NetworkError(
                    f"Refused {redact(url)}: its body passes {limit // _MiB} MiB{inflated}, "
                    "more than any honest one holds; the server is broken or hostile"
                )
            pieces.append(piece)
    if inflater is not None:
        pieces.append(inflater.flush())
    return b"".join(pieces)


class _Inflater:
    """A gzip or deflate body inflated at most a chunk at a time (``max_length``), however
    little it is compressed into. gzip may hold several members, read in turn (RFC 1952);
    what follows them and is not a member is ignored, as urllib3 and other gzip clients
    ignore it. deflate is zlib-wrapped as HTTP says, or raw as some servers send it."""

    def __init__(self, encoding: str) -> None:
        self._gzip = encoding != "deflate"
        self._inflater: Decompress | None = None
        self._head = b""
        self._members = 0
        #: The body is complete: whatever follows is ignored.
        self._done = False

    def pieces(self, data: bytes, url: str) -> Iterator[bytes]:
        """The inflated pieces of the next ``data`` of the body."""
        if self._inflater is None:
            data = self._head + data
            if not self._gzip and len(data) < 2:
                self._head = data  # too short to tell zlib from raw deflate yet
                return
            self._inflater = zlib.decompressobj(_window_bits(self._gzip, data))
        while data and not self._done:
            try:
                piece = self._inflater.decompress(data, _CHUNK_SIZE)
            except zlib.error as exc:
                if not self._members:
                    raise NetworkError(f"Cannot read {redact(url)}: broken body ({exc})") from None
                self._done = True  # not another gzip member
                return
            data = self._inflater.unconsumed_tail
            if self._inflater.eof:
                self._members += 1
                self._done = not self._gzip
                data = self._inflater.unused_data
                self._inflater = zlib.decompressobj(_window_bits(self._gzip, data))
            if piece:
                yield piece

    def flush(self) -> bytes:
        """What is still held of a body that has ended (at most a few KiB: the output of
        the bits zlib had already taken when a piece reached its bound)."""
        return b"" if self._inflater is None or self._done else self._inflater.flush()


def _window_bits(gzip: bool, head: bytes) -> int:
    """For :func:`zlib.decompressobj`: gzip, or deflate with a zlib header when ``head``
    starts with one (method 8, header check), else raw deflate."""
    if gzip:
        return 16 + zlib.MAX_WBITS
    zlib_header = (
        len(head) >= 2 and head[0] & 0x0F == 8 and int.from_bytes(head[:2], "big") % 31 == 0
    )
    return zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS


def _discard(response: urllib3.BaseHTTPResponse) -> None:
    """Read the rest of a response we do not use, so its connection can be reused."""
    response.drain_conn()
    response.release_conn()


def _status_error(url: str, response: urllib3.BaseHTTPResponse, *, auth_note: str) -> NetworkError:
    status = response.status
    try:
        phrase = response.reason or HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    message = f"HTTP error {status} {phrase} for {redact(url)}".replace("  ", " ")
    if status == 401:
        message += f" ({auth_note})"
    elif status in RETRY_STATUSES:
        message += " (the server kept failing; retries exhausted)"
    return NetworkError(message, status)


def _retry_type() -> type[urllib3.util.Retry]:
    """urllib3's retries, as pip sets them, except that a refused connection stops after
    :data:`REFUSED_RETRIES`; each retry is logged to :data:`RETRY_LOG` before its wait."""
    import logging

    from urllib3.exceptions import MaxRetryError
    from urllib3.util import Retry

    log = logging.getLogger(RETRY_LOG)

    class TellingRetry(Retry):
        def increment(self, *args: Any, **kwargs: Any) -> TellingRetry:
            names = ("method", "url", "response", "error", "_pool")
            given = {**dict(zip(names, args, strict=False)), **kwargs}
            error, pool, path = given.get("error"), given.get("_pool"), given.get("url") or ""
            retry = super().increment(*args, **kwargs)
            refused = sum(1 for entry in retry.history if entry.error and _refused(entry.error))
            if pool is not None and error is not None and refused > REFUSED_RETRIES:
                raise MaxRetryError(pool, path, error) from error
            response, reason = given.get("response"), _describe(error) if error else "no answer"
            if response is not None:
                reason = f"HTTP {response.status}"
            where = f"{pool.scheme}://{pool.host}:{pool.port}{path}" if pool else path
            done = len(retry.history)
            most = done + (retry.total or 0)
            if error is not None and _refused(error):
                most = min(most, REFUSED_RETRIES)
            log.info(
                "retrying %s (retry %d of %d) in %.1f s: %s",
                redact(where), done, most, retry.get_backoff_time(), reason,
            )  # fmt: skip
            return retry

    return TellingRetry


def _refused(error: BaseException) -> bool:
    """A connection the host refused: nothing listens on that port."""
    return isinstance(error.__cause__ or error.__context__, ConnectionRefusedError)


def _describe(exc: BaseException) -> str:
    """The useful part of a urllib3 error (its text starts with the connection's repr)."""
    import urllib3

    text = str(exc)
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return text.partition("): ")[2] or text
    if isinstance(exc, urllib3.exceptions.SSLError):
        return f"{text} (--cert adds a CA bundle; --trusted-host skips verification)"
    return text


def _is_file_url(url: str) -> bool:
    return url[:5].lower() == "file:"


def _local_path(url: str) -> Path:
    """The file a ``file:`` URL names; a directory stands for its ``index.html``."""
    path = Path(url_to_path(url))
    return path / "index.html" if path.is_dir() else path


@contextlib.contextmanager
def _open_local(url: str, path: Path) -> Iterator[BinaryIO]:
    try:
        file = path.open("rb")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        raise NetworkError(f"Not found: {url}", 404) from None
    except OSError as exc:
        raise NetworkError(f"Could not read {url}: {exc.strerror}") from None
    with file:
        yield file


def _read_local(url: str, path: Path, limit: int) -> bytes:
    with _open_local(url, path) as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise NetworkError(f"Refused {url}: it holds more than {limit // _MiB} MiB")
    return data


def _local_headers(path: Path) -> urllib3.HTTPHeaderDict:
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return _header_dict({"Content-Type": content_type})


def _header_dict(headers: Mapping[str, str]) -> urllib3.HTTPHeaderDict:
    """Headers looked up without regard to case, as a server's are."""
    import urllib3

    return urllib3.HTTPHeaderDict(headers)


def requirements_file_reader(settings: Settings) -> Callable[[str], bytes]:
    """Reads a requirements file given by an ``http(s):`` URL as pip and uv do: through a
    client with the run's network settings, so with the credentials of the index pages
    (URL, ``.netrc``, keyring), and bounded as a local file is. The client is made at the
    first URL: a run whose files are local makes none. A failure is :class:`NetworkError`
    (exit 4) naming the file."""
    from pip_hashsync.requirements.reader import MAX_FILE_SIZE

    def read(url: str) -> bytes:
        client = HttpClient(HttpSettings.from_settings(settings))
        try:
            return client.get(url, {"Accept": "text/plain, */*"}, limit=MAX_FILE_SIZE).content
        except NetworkError as exc:
            raise NetworkError(f"Could not read requirements file: {exc}", exc.status) from exc
        finally:
            client.close()

    return read


class Clients:
    """The HTTP clients of one run, one per network settings, made on first use: planning,
    metadata, downloads and build environments share their connection pools and what was
    learnt of credentials (keyring is asked once per origin in a run, not once per stage).

    >>> with Clients() as clients:
    ...     page = clients(settings).get_page("https://pypi.org/simple/pip/")
    """

    def __init__(self) -> None:
        self._clients: dict[HttpSettings, HttpClient] = {}
        self._lock = threading.Lock()

    def __call__(self, settings: Settings) -> HttpClient:
        network = HttpSettings.from_settings(settings)
        with self._lock:
            client = self._clients.get(network)
            if client is None:
                client = self._clients[network] = HttpClient(network)
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def __enter__(self) -> Clients:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
