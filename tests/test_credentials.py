"""Credentials go where they were given, and only there (issue 13, items 3 and 4).

An index URL's credentials authenticate its archive downloads exactly as its pages; no
credentials follow a redirect to another origin unless that origin has its own, and none at
all (URL, netrc or keyring) travel in clear text after a redirect from https to http.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from distbuilder import build_wheel
from helpers import write
from indexserver import IndexServer
from test_http import FAST, keyring_log, pki, with_credentials  # noqa: F401 (fixtures)
from test_sync_apply import imports, lock_for, make_venv

from pip_hashsync.cli import main
from pip_hashsync.errors import ExitCode
from pip_hashsync.index.http import HttpClient, NetworkError

ALICE = "Basic " + base64.b64encode(b"alice:s3cret").decode()


class _SchemeSwitch(ThreadingHTTPServer):
    """One port that speaks TLS or plain http, whichever the client starts with.

    Over https it wants alice's Basic auth (else 401) and then redirects every request to
    ``redirect_to`` + the same path: by default itself over plain http, the same host and port,
    so only the scheme changes. Over plain http it answers 200 to a request with an
    Authorization header and 401 to one without, as a private index would. ``seen`` records
    (scheme, path, Authorization header or None) of every request.
    """

    def __init__(self, tls: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _SwitchHandler)
        self.tls = tls
        self.port = int(self.server_address[1])
        self.redirect_to = f"http://127.0.0.1:{self.port}"
        self.seen: list[tuple[str, str, str | None]] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: clients that drop connections are expected."""


class _SwitchHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _SchemeSwitch

    def setup(self) -> None:
        if self.request.recv(1, socket.MSG_PEEK) == b"\x16":  # a TLS handshake record
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def do_GET(self) -> None:
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        authorization = self.headers.get("Authorization")
        self.server.seen.append((scheme, self.path, authorization))
        if scheme == "https" and authorization == ALICE:
            self._answer(302, {"Location": self.server.redirect_to + self.path})
        elif scheme == "http" and authorization is not None:
            self._answer(200, {"Content-Type": "text/plain"}, b"plain")
        else:
            self._answer(401, {"WWW-Authenticate": 'Basic realm="index"'})

    def _answer(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is ``seen``."""


@contextlib.contextmanager
def scheme_switch(certificates: Path) -> Iterator[_SchemeSwitch]:
    """A running :class:`_SchemeSwitch` with the test CA's server certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates / "server.pem", certificates / "server.key")
    server = _SchemeSwitch(context)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.005}, daemon=True
    ).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


# -- item 3: nothing in clear after https -> http, nothing to another origin ----------------


@pytest.mark.parametrize("target", ["same port", "other port"])
@pytest.mark.parametrize("source", ["url", "netrc", "keyring"])
def test_no_credentials_travel_in_clear_after_a_redirect_from_https_to_http(
    source: str,
    target: str,
    pki: Path,  # noqa: F811 (the fixture imported above)
    isolated_env: Path,
    request: pytest.FixtureRequest,
) -> None:
    settings = replace(FAST, retries=0, cert=str(pki / "ca.pem"))
    if source == "netrc":
        (isolated_env / ".netrc").write_text("machine 127.0.0.1 login alice password s3cret\n")
    if source == "keyring":
        request.getfixturevalue("keyring_log")  # a keyring that knows alice, for any service
        settings = replace(settings, keyring_provider="subprocess")
    with scheme_switch(pki) as index, scheme_switch(pki) as elsewhere:
        if target == "other port":
            index.redirect_to = f"http://127.0.0.1:{elsewhere.port}"
        credentials = "alice:s3cret@" if source == "url" else ""
        url = f"https://{credentials}127.0.0.1:{index.port}/simple/demo/"
        with pytest.raises(NetworkError) as raised:
            HttpClient(settings).get(url)
        seen = index.seen + elsewhere.seen
    assert ("https", "/simple/demo/", ALICE) in seen  # the index itself got them, over TLS
    assert [s for s in seen if s[0] == "http"] == [("http", "/simple/demo/", None)]
    error = raised.value
    assert (error.status, error.exit_code) == (401, ExitCode.NETWORK)
    assert "redirected from https to http: credentials are not sent in clear text" in str(error)
    assert "s3cret" not in str(error)


def test_url_credentials_never_follow_a_redirect_to_another_origin(
    pki: Path,  # noqa: F811 (the fixture imported above)
) -> None:
    settings = replace(FAST, retries=0, cert=str(pki / "ca.pem"))
    with scheme_switch(pki) as index, scheme_switch(pki) as elsewhere:
        index.redirect_to = f"https://127.0.0.1:{elsewhere.port}"
        with pytest.raises(NetworkError) as raised:
            HttpClient(settings).get(f"https://alice:s3cret@127.0.0.1:{index.port}/simple/")
        assert elsewhere.seen == [("https", "/simple/", None)]
    assert raised.value.status == 401


# -- item 4: an index's credentials authenticate its downloads ------------------------------


@pytest.mark.parametrize("option", ["index_urls", "find_links"])
def test_configured_credentials_authenticate_every_url_of_their_origin_and_no_other(
    option: str, index_server: IndexServer, second_index_server: IndexServer
) -> None:
    """A fresh client (as the one that downloads) authenticates a file of the index's host
    before any page was read there; a file on another host (a CDN) gets no credentials."""
    wheel = build_wheel(index_server.root, "demo", "1.0")
    other = build_wheel(second_index_server.root, "other", "1.0")
    index_server.auth = second_index_server.auth = ("alice", "s3cret")
    configured = with_credentials(index_server.index_url, "alice:s3cret")
    client = HttpClient(replace(FAST, **{option: (configured,)}))
    with client.stream(index_server.file_url(wheel.name)) as chunks:
        assert b"".join(chunks) == wheel.read_bytes()
    with pytest.raises(NetworkError) as raised:
        client.get(second_index_server.file_url(other.name))
    assert raised.value.status == 401


@pytest.mark.parametrize("source", ["url", "netrc", "keyring"])
def test_sync_from_a_private_index(
    source: str,
    index_server: IndexServer,
    isolated_env: Path,
    workdir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    """Pages, metadata and archives all authenticate; the password is never printed, nor
    stored (provenance, cache records)."""
    alpha = build_wheel(index_server.root, "alpha", "1.0", requires=["beta"])
    beta = build_wheel(index_server.root, "beta", "2.0")
    write(workdir / "requirements.txt", lock_for(alpha, beta))
    index_server.auth = ("alice", "s3cret")
    index_url = index_server.index_url
    extra = []
    if source == "url":
        index_url = with_credentials(index_url, "alice:s3cret")
    elif source == "netrc":
        (isolated_env / ".netrc").write_text("machine 127.0.0.1 login alice password s3cret\n")
    else:
        request.getfixturevalue("keyring_log")  # a keyring command that knows alice
        extra.append("--keyring-provider=subprocess")
    venv = make_venv(tmp_path / "venv")
    argv = ["sync", "requirements.txt", "--venv", str(venv), "-i", index_url, *extra]
    code = main([*argv, "--no-input", "--cache-dir", str(tmp_path / "cache")])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert imports(venv, "alpha") == "1.0" and imports(venv, "beta") == "2.0"
    assert any(path.startswith("/files/") for _, path in index_server.requests)
    assert "s3cret" not in out + err
    written = [*venv.rglob("*"), *(tmp_path / "cache").rglob("*")]
    assert not [p for p in written if p.is_file() and b"s3cret" in p.read_bytes()]
