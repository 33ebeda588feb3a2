"""The HTTP client against the real local index: pages, retries, errors, auth, file:, threads."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from distbuilder import build_wheel, sha256_of
from indexserver import JSON_TYPE, IndexServer

from pip_hashsync.errors import ExitCode, InputError
from pip_hashsync.index.http import HttpClient, HttpSettings, NetworkError
from pip_hashsync.urls import path_to_url

ACCEPT_JSON = {"Accept": f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.1"}
FAST = HttpSettings(timeout=5, backoff_factor=0)


@pytest.fixture
def wheel(dist_dir: Path) -> Path:
    return build_wheel(dist_dir, "demo", "1.0")


@pytest.fixture
def client() -> Iterator[HttpClient]:
    http = HttpClient(FAST)
    yield http
    http.close()


def with_credentials(url: str, credentials: str) -> str:
    return url.replace("http://", f"http://{credentials}@", 1)


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_json_page_by_accept(index_server: IndexServer, wheel: Path, client: HttpClient) -> None:
    response = client.get(f"{index_server.index_url}/demo/", ACCEPT_JSON)
    assert response.status == 200
    assert response.headers["content-type"] == JSON_TYPE  # case-insensitive lookup
    page = json.loads(response.content)
    assert page["files"][0]["hashes"] == {"sha256": sha256_of(wheel)}


def test_html_page_and_redirect_to_the_normalized_name(
    index_server: IndexServer, wheel: Path, client: HttpClient
) -> None:
    response = client.get(f"{index_server.index_url}/Demo/", {"Accept": "text/html"})
    assert response.url == f"{index_server.index_url}/demo/"
    assert response.headers["Content-Type"] == "text/html"
    assert f'demo-1.0-py3-none-any.whl#sha256={sha256_of(wheel)}"' in response.content.decode()


def test_stream_gives_the_archive_bytes(
    index_server: IndexServer, wheel: Path, client: HttpClient
) -> None:
    with client.stream(index_server.file_url(wheel.name)) as chunks:
        digest = hashlib.sha256(b"".join(chunks)).hexdigest()
    assert digest == sha256_of(wheel)


def test_5xx_is_retried(index_server: IndexServer, wheel: Path, client: HttpClient) -> None:
    index_server.fail_first = 2
    assert client.get(f"{index_server.index_url}/demo/").status == 200
    assert len(index_server.requests) == 3


def test_retries_exhausted_is_a_network_error(index_server: IndexServer) -> None:
    index_server.fail_first = 100
    client = HttpClient(HttpSettings(retries=2, backoff_factor=0))
    url = f"{index_server.index_url}/demo/"
    with pytest.raises(NetworkError) as raised:
        client.get(url)
    assert raised.value.exit_code == ExitCode.NETWORK
    assert int(raised.value.exit_code) == 4
    assert raised.value.status == 503
    assert str(raised.value).startswith(f"HTTP error 503 Service Unavailable for {url}")
    assert "Traceback" not in str(raised.value)
    assert len(index_server.requests) == 3


def test_refused_connection_is_a_network_error() -> None:
    client = HttpClient(HttpSettings(retries=1, backoff_factor=0))
    url = f"http://127.0.0.1:{unused_port()}/simple/"
    with pytest.raises(NetworkError) as raised:
        client.get(url)
    assert raised.value.status is None
    assert str(raised.value) == f"Could not fetch {url} (2 tries): " + (
        "Failed to establish a new connection: [Errno 111] Connection refused"
    )


def test_404_keeps_its_status(index_server: IndexServer, client: HttpClient) -> None:
    with pytest.raises(NetworkError) as raised:
        client.get(f"{index_server.index_url}/missing/")
    assert raised.value.status == 404
    with pytest.raises(NetworkError), client.stream(index_server.file_url("missing.whl")):
        pass


def test_401_without_credentials(index_server: IndexServer, client: HttpClient) -> None:
    index_server.auth = ("alice", "s3cret")
    with pytest.raises(NetworkError) as raised:
        client.get(f"{index_server.index_url}/")
    assert raised.value.status == 401
    assert "looked in the URL and netrc" in str(raised.value)


def test_credentials_in_the_url_are_used_remembered_and_never_shown(
    index_server: IndexServer, wheel: Path, client: HttpClient
) -> None:
    index_server.auth = ("alice", "s3cret")
    response = client.get(with_credentials(f"{index_server.index_url}/demo/", "alice:s3cret"))
    assert response.url == f"{index_server.index_url}/demo/"
    # Later requests to the same host reuse them (the file URL has none).
    with client.stream(index_server.file_url(wheel.name)) as chunks:
        assert b"".join(chunks) == wheel.read_bytes()
    with pytest.raises(NetworkError) as raised:
        HttpClient(FAST).get(with_credentials(index_server.index_url, "alice:wrong"))
    assert raised.value.status == 401
    assert "wrong" not in str(raised.value)
    assert f"alice:****@127.0.0.1:{index_server.url.rsplit(':', 1)[1]}" in str(raised.value)


@pytest.mark.parametrize("where", ["NETRC", "home"])
def test_netrc_credentials(
    where: str,
    index_server: IndexServer,
    isolated_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index_server.auth = ("alice", "s3cret")
    netrc = tmp_path / "netrc" if where == "NETRC" else isolated_env / ".netrc"
    netrc.write_text("machine 127.0.0.1 login alice password s3cret\n")
    if where == "NETRC":
        monkeypatch.setenv("NETRC", str(netrc))
    assert HttpClient(FAST).get(f"{index_server.index_url}/").status == 200


@pytest.fixture
def keyring_log(index_server: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The index asks for alice's password; a ``keyring`` command first on PATH knows it
    and logs its arguments to the returned file."""
    index_server.auth = ("alice", "s3cret")
    log = tmp_path / "keyring.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "keyring"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"open({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "if sys.argv[1] == 'get':\n"
        "    print('s3cret')\n"
        "else:\n"
        "    print(json.dumps({'username': 'alice', 'password': 's3cret'}))\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_keyring_subprocess_after_401(
    index_server: IndexServer, wheel: Path, keyring_log: Path
) -> None:
    index = f"{index_server.index_url}/"
    settings = replace(FAST, keyring_provider="subprocess", index_urls=(index,))
    client = HttpClient(settings)
    assert client.get(with_credentials(f"{index}demo/", "alice")).status == 200
    assert client.get(index).status == 200  # remembered for the host: keyring asked once
    assert keyring_log.read_text() == f"get {index} alice\n"


def test_keyring_without_a_username_asks_for_credentials(
    index_server: IndexServer, keyring_log: Path
) -> None:
    client = HttpClient(replace(FAST, keyring_provider="subprocess"))
    assert client.get(f"{index_server.index_url}/").status == 200
    netloc = index_server.url.removeprefix("http://")
    assert keyring_log.read_text() == f"--mode=creds --output=json get {netloc}\n"


def test_keyring_auto_is_off_under_no_input(index_server: IndexServer, keyring_log: Path) -> None:
    with pytest.raises(NetworkError):
        HttpClient(FAST).get(f"{index_server.index_url}/")
    assert not keyring_log.exists()


def test_file_urls(tmp_path: Path, client: HttpClient) -> None:
    (tmp_path / "a.txt").write_bytes(b"hello")
    site = tmp_path / "simple" / "demo"
    site.mkdir(parents=True)
    (site / "index.html").write_text("<a href='x.whl'>x.whl</a>")
    assert client.get(path_to_url(str(tmp_path / "a.txt"))).content == b"hello"
    page = client.get(path_to_url(str(site)) + "/")
    assert page.headers["Content-Type"] == "text/html"
    assert page.content == b"<a href='x.whl'>x.whl</a>"
    with client.stream(path_to_url(str(tmp_path / "a.txt"))) as chunks:
        assert b"".join(chunks) == b"hello"
    with pytest.raises(NetworkError) as raised:
        client.get(path_to_url(str(tmp_path / "simple")) + "/")
    assert raised.value.status == 404


def test_concurrent_gets(index_server: IndexServer, wheel: Path, client: HttpClient) -> None:
    urls = [f"{index_server.index_url}/demo/", index_server.file_url(wheel.name)] * 16
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda url: client.get(url).status, urls))
    assert statuses == [200] * 32
    assert len(index_server.requests) == 32


def test_empty_proxy_setting_ignores_environment_proxies(
    index_server: IndexServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    dead_proxy = f"http://127.0.0.1:{unused_port()}"
    monkeypatch.setenv("HTTP_PROXY", dead_proxy)
    monkeypatch.setenv("http_proxy", dead_proxy)
    settings = HttpSettings(retries=0, proxy="")
    assert HttpClient(settings).get(f"{index_server.index_url}/").status == 200
    with pytest.raises(NetworkError):  # the environment's proxy is used otherwise
        HttpClient(HttpSettings(retries=0)).get(f"{index_server.index_url}/")
    assert len(index_server.requests) == 1


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client PEM (key + certificate)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command")
    folder = tmp_path_factory.mktemp("pki")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=folder, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign")  # fmt: skip
    for name, usage in (("server", "serverAuth"), ("client", "clientAuth")):
        (folder / f"{name}.ext").write_text(
            f"subjectAltName=IP:127.0.0.1\nextendedKeyUsage={usage}\n"
        )
        run("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
            "-out", f"{name}.pem")  # fmt: skip
    client = folder / "client-bundle.pem"
    client.write_text((folder / "client.key").read_text() + (folder / "client.pem").read_text())
    return folder


def https_server(pki: Path, dist_dir: Path, *, want_client_cert: bool = False) -> IndexServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / "server.pem", pki / "server.key")
    if want_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki / "ca.pem")
    server = IndexServer(root=dist_dir, tls=context)
    server.start()
    return server


def test_https_is_verified_and_cert_adds_a_ca(pki: Path, dist_dir: Path) -> None:
    server = https_server(pki, dist_dir)
    try:
        with pytest.raises(NetworkError, match="CERTIFICATE_VERIFY_FAILED"):
            HttpClient(HttpSettings(retries=0)).get(f"{server.index_url}/")
        settings = HttpSettings(retries=0, cert=str(pki / "ca.pem"))
        assert HttpClient(settings).get(f"{server.index_url}/").status == 200
    finally:
        server.stop()


# pytest resets warning filters per test, so http.py's own filter does not apply here.
@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_trusted_host_skips_verification_for_its_port(pki: Path, dist_dir: Path) -> None:
    server = https_server(pki, dist_dir)
    try:
        port = server.url.rsplit(":", 1)[1]
        for trusted in ("127.0.0.1", f"127.0.0.1:{port}"):
            client = HttpClient(HttpSettings(retries=0, trusted_hosts=(trusted,)))
            assert client.get(f"{server.index_url}/").status == 200
        with pytest.raises(NetworkError):
            HttpClient(HttpSettings(retries=0, trusted_hosts=("127.0.0.1:1",))).get(server.url)
    finally:
        server.stop()


def test_client_certificate(pki: Path, dist_dir: Path) -> None:
    server = https_server(pki, dist_dir, want_client_cert=True)
    try:
        settings = HttpSettings(retries=0, cert=str(pki / "ca.pem"))
        with pytest.raises(NetworkError):
            HttpClient(settings).get(f"{server.index_url}/")
        settings = replace(settings, client_cert=str(pki / "client-bundle.pem"))
        assert HttpClient(settings).get(f"{server.index_url}/").status == 200
    finally:
        server.stop()


def test_unusable_tls_files_are_an_input_error_not_a_traceback(
    pki: Path, dist_dir: Path, tmp_path: Path
) -> None:
    """The TLS context is made by the first https request (a warm sync sends none)."""
    server = https_server(pki, dist_dir)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    try:
        for settings, named in [
            (HttpSettings(retries=0, cert=str(tmp_path / "missing.pem")), "--cert"),
            (HttpSettings(retries=0, client_cert=str(garbage)), "--client-cert"),
        ]:
            client = HttpClient(settings)  # nothing is loaded yet
            with pytest.raises(InputError, match=f"Cannot use {named} ") as info:
                client.get(f"{server.index_url}/")
            assert info.value.exit_code == ExitCode.BAD_INPUT
    finally:
        server.stop()
