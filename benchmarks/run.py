#!/usr/bin/env python3
"""Benchmark pip-hashsync against pip and uv on a real hashed lock served from 127.0.0.1.

    python benchmarks/run.py [--runs N] [--only SCENARIO ...] [--server nginx|python]
                             [--json OUT] [--workdir DIR]

What it does (see benchmarks/README.md):

1. in a workspace outside the repository (default ``~/.cache/pip-hashsync-bench``) it makes a
   benchmark venv with the latest pip and uv from PyPI and pip-hashsync's dependencies, and
   copies ``pip_hashsync/`` from this checkout into the workspace (a snapshot: edits made
   during a run do not leak in, and no bytecode is written into the repository);
2. downloads, once, every wheel of ``lock.txt`` (and of ``changed.txt`` and
   ``ansible-lock.txt``) for this interpreter, from the default index, with pip in
   hash-checking mode, and with ``--pages real``/``real-no658`` the default index's PEP 691
   page of every project of the locks;
3. builds a static PEP 503 index of them with PEP 658 ``.metadata`` files and serves it on
   127.0.0.1 with nginx (when installed) or a threaded stdlib server, and measures the
   server alone;
4. runs pip, uv and pip-hashsync interleaved, run by run (the order rotates every run), each
   in fresh target venvs with its own cache folder, for the scenarios below, and checks
   after every sync that the target holds exactly the locked versions, that ``pip check``
   finds nothing broken and that every RECORD row names a file with the bytes its hash
   says (for pip-hashsync also its own ``verify`` against the lock); a failed check fails
   the run and, at the end, the benchmark (exit status 1);
5. prints medians, min-max and ratios, and writes them as JSON.

Scenarios: ``cold`` (empty cache, fresh venv), ``warm`` (cache filled by that tool's cold
run, fresh venv), ``noop`` (the venv synced by warm, same command again), ``noop-again``
(once more), ``changed`` (that synced venv, a lock where idna differs), ``tree-cold`` and
``tree-warm`` (``ansible-lock.txt``, 22,894 files: empty cache, then the cache it filled)
and ``hashes`` (``pip-hashsync hashes --dry-run`` vs ``uv pip compile --no-deps
--generate-hashes`` on the pins of the lock, both on the local index, fresh caches; pip has
no such command).

Standard library only.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import configparser
import dataclasses
import datetime
import email.parser
import email.utils
import hashlib
import html
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LOCK = HERE / "lock.txt"
CHANGED = HERE / "changed.txt"
#: The large-tree lock (issue 16): ansible, about 20,000 files once installed.
TREE = HERE / "ansible-lock.txt"
DEFAULT_INDEX = "https://pypi.org/simple"

# The index variants (--pages): the small one built from the lock's wheels, and the default
# index's real PEP 691 pages with the lock's files pointed at the loopback server, with PEP
# 658 metadata for them (as the default index) or without any (as many mirrors).
PAGES = ("small", "real", "real-no658")
PAGE_PREFIX = {"small": "/simple/", "real": "/real/simple/", "real-no658": "/real-no658/simple/"}
JSON_TYPE = "application/vnd.pypi.simple.v1+json"

TOOLS = ("pip", "uv", "pip-hashsync")
SCENARIOS = ("cold", "warm", "noop", "noop-again", "changed", "tree-cold", "tree-warm", "hashes")
# Issue 6: pip-hashsync median / uv median, and the same against pip (>= 5x faster).
TARGETS_UV = {"cold": 0.8, "warm": 1.0, "noop": 1.5, "noop-again": 1.5, "hashes": 1.0}
TARGET_PIP = 0.2
# Issue 16, on the real pages (with and without PEP 658): ratios to uv, and >= 4x faster than pip.
TARGETS_UV_REAL = {"cold": 1.5, "warm": 2.0, "noop": 2.0, "noop-again": 2.0, "changed": 2.0}
TARGETS_UV_REAL.update({"tree-cold": 1.5, "tree-warm": 2.0})
TARGETS_UV_REAL["hashes"] = 1.0
TARGET_PIP_REAL = 0.25

Json = dict[str, Any]

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def log(msg: str = "") -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------- the lock


def read_pins(path: Path) -> dict[str, str]:
    """{canonical name: version} of the requirement lines of a uv/pip-compile lock."""
    pins = {}
    for line in path.read_text().splitlines():
        m = PIN.match(line)
        if m:
            pins[canonical(m.group(1))] = m.group(2)
    return pins


def blocks(path: Path) -> list[tuple[str | None, list[str]]]:
    """The lock as (canonical name or None, lines) blocks: a requirement and its continuation
    and comment lines."""
    out: list[tuple[str | None, list[str]]] = []
    for line in path.read_text().splitlines():
        m = PIN.match(line)
        if m:
            out.append((canonical(m.group(1)), [line]))
        elif out and (line.startswith((" ", "\t"))):
            out[-1][1].append(line)
        else:
            out.append((None, [line]))
    return out


def write_changed_lock(dest: Path) -> tuple[str, str, str]:
    """lock.txt with the entry of changed.txt's project replaced; returns (name, old, new)."""
    name, lines = next((n, b) for n, b in blocks(CHANGED) if n)
    old = read_pins(LOCK)[name]
    out = []
    for bname, blines in blocks(LOCK):
        out.extend(lines if bname == name else blines)
    dest.write_text("\n".join(out) + "\n")
    return name, old, read_pins(CHANGED)[name]


# --------------------------------------------------------------------------- processes


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any pip/uv/Python settings or proxies."""
    drop = ("PIP_", "UV_", "PYTHON", "VIRTUAL_ENV", "CONDA_")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(drop) and not k.lower().endswith("_proxy")
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    env["UV_NO_CONFIG"] = "1"
    env.update(extra)
    return env


def net_env() -> dict[str, str]:
    """For the one-time downloads from PyPI: proxies and certificates kept."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "PYTHON"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["UV_NO_CONFIG"] = "1"
    return env


def check(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(cmd, text=True, capture_output=True, **kw)  # type: ignore[call-overload]
    if p.returncode:
        sys.exit(f"failed ({p.returncode}): {' '.join(map(str, cmd))}\n{p.stdout}{p.stderr}")
    return p  # type: ignore[no-any-return]


def bin_path(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / name


# --------------------------------------------------------------------------- setup


def setup_tools(ws: Path, base_python: str, upgrade: bool) -> tuple[Path, dict[str, str]]:
    """The benchmark venv (latest pip and uv from PyPI, pip-hashsync's dependencies) and a
    snapshot of pip_hashsync/ on its path."""
    venv = ws / "venv-bench"
    py = bin_path(venv, "python")
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    deps = [d.strip() for d in cfg["options"]["install_requires"].splitlines() if d.strip()]
    marker = venv / ".bench-deps"
    want = json.dumps(deps)
    if not py.exists():
        log(f"creating the benchmark venv {venv}")
        check([base_python, "-m", "venv", str(venv)])
        upgrade = True
    if upgrade or not marker.exists() or marker.read_text() != want:
        log("installing pip, uv and pip-hashsync's dependencies from PyPI (latest)")
        check(
            [
                str(py),
                "-m",
                "pip",
                "install",
                "-q",
                "-U",
                "--disable-pip-version-check",
                "-i",
                DEFAULT_INDEX,
                "pip",
                "uv",
                *deps,
            ],
            env=net_env(),
        )
        marker.write_text(want)
    # The snapshot of the checkout, found through a .pth file.
    src = ws / "src"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(
        REPO / "pip_hashsync", src / "pip_hashsync", ignore=shutil.ignore_patterns("__pycache__")
    )
    purelib = check(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
    ).stdout.strip()
    Path(purelib, "pip_hashsync_bench_src.pth").write_text(str(src) + "\n")

    env = clean_env()
    versions = {
        "python": check(
            [str(py), "-c", "import sys; print(sys.version.split()[0])"], env=env
        ).stdout.strip(),
        "pip": check([str(py), "-m", "pip", "--version"], env=env).stdout.split()[1],
        "uv": check([str(bin_path(venv, "uv")), "--version"], env=env).stdout.split()[1],
        "pip-hashsync": check([str(py), "-m", "pip_hashsync", "--version"], env=env).stdout.split()[
            -1
        ],
    }
    git = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "pip_hashsync"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    versions["pip-hashsync"] += f" ({git}{', modified' if dirty else ''})"
    return venv, versions


def ensure_wheels(ws: Path, bench_py: Path) -> Path:
    """Download, once, every wheel the locks (lock.txt, changed.txt, ansible-lock.txt) allow
    for this interpreter."""
    dest = ws / "wheels"
    dest.mkdir(parents=True, exist_ok=True)
    stamp = dest / ".downloaded"
    key = hashlib.sha256(LOCK.read_bytes() + CHANGED.read_bytes() + TREE.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == key:
        return dest
    for req in (LOCK, CHANGED, TREE):
        log(f"downloading the wheels of {req.name} from {DEFAULT_INDEX} into {dest}")
        check(
            [
                str(bench_py),
                "-m",
                "pip",
                "download",
                "-q",
                "--disable-pip-version-check",
                "--only-binary",
                ":all:",
                "--no-deps",
                "--require-hashes",
                "-r",
                str(req),
                "-d",
                str(dest),
                "-i",
                DEFAULT_INDEX,
            ],
            env=net_env(),
        )
    stamp.write_text(key)
    return dest


def fetch_real_pages(ws: Path, names: list[str], refresh: bool = False) -> Path:
    """The default index's PEP 691 page of every project, fetched once into
    ``WORKDIR/pypi-pages/<name>.json`` and kept (``--refresh-pages`` fetches them again)."""
    import urllib.request

    dest = ws / "pypi-pages"
    dest.mkdir(parents=True, exist_ok=True)
    todo = [n for n in names if refresh or not (dest / f"{n}.json").exists()]
    if not todo:
        return dest
    log(f"fetching {len(todo)} PEP 691 pages from {DEFAULT_INDEX} into {dest}")

    def get(name: str) -> None:
        req = urllib.request.Request(f"{DEFAULT_INDEX}/{name}/", headers={"Accept": JSON_TYPE})
        with urllib.request.urlopen(req, timeout=60) as r:
            ctype = r.headers.get("Content-Type", "")
            body = r.read()
        if not ctype.startswith(JSON_TYPE):
            raise RuntimeError(f"{name}: {ctype!r} is not {JSON_TYPE}")
        json.loads(body)  # well-formed
        tmp = dest / f"{name}.json.tmp"
        tmp.write_bytes(body)
        tmp.rename(dest / f"{name}.json")

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(get, todo))
    return dest


def write_real_pages(
    tmp: Path, pages: Path, local: dict[str, tuple[str, str]], names: list[str]
) -> Json:
    """``real/simple/<name>/index.json`` and ``real-no658/simple/<name>/index.json`` from the
    fetched pages: every file entry as the default index lists it, except the files of
    ``local`` ({filename: (sha256 of the file, sha256 of its METADATA)}), whose URLs point to
    ``/files/`` on the loopback server; ``real`` gives them PEP 658/714 metadata (served),
    ``real-no658`` drops every metadata key of every file."""
    stats: Json = {"pages": len(names), "files": 0, "bytes": 0, "largest": ("", 0)}
    seen: set[str] = set()
    for variant in ("real", "real-no658"):
        for name in names:
            page = json.loads((pages / f"{name}.json").read_bytes())
            for f in page.get("files", []):
                mine = local.get(f.get("filename"))
                if variant == "real-no658" or mine:
                    f.pop("core-metadata", None)
                    f.pop("dist-info-metadata", None)
                    f.pop("data-dist-info-metadata", None)
                if mine:
                    seen.add(f["filename"])
                    f["url"] = "../../../files/" + urllib.parse.quote(f["filename"])
                    f["hashes"] = {"sha256": mine[0]}
                    if variant == "real":
                        f["core-metadata"] = f["dist-info-metadata"] = {"sha256": mine[1]}
            body = json.dumps(page, separators=(",", ":")).encode()
            out = tmp / variant / "simple" / name / "index.json"
            out.parent.mkdir(parents=True)
            out.write_bytes(body)
            if variant == "real":
                stats["files"] += len(page.get("files", []))
                stats["bytes"] += len(body)
                if len(body) > stats["largest"][1]:
                    stats["largest"] = (name, len(body))
        root = {
            "meta": {"api-version": "1.1"},
            "projects": [{"name": n} for n in sorted(names)],
        }
        (tmp / variant / "simple" / "index.json").write_text(json.dumps(root))
    missing = sorted(set(local) - seen)
    if missing:
        sys.exit(
            f"not on the default index's pages (delete {pages} to fetch them again): {missing}"
        )
    return stats


def lock_size(wheels: Path, pins: dict[str, str]) -> Json:
    """The projects, bytes of wheels and files once installed of a lock."""
    sizes = [
        (w.stat().st_size, len(zipfile.ZipFile(w).namelist()))
        for w in wheels.glob("*.whl")
        if pins.get(wheel_key(w.name)[0]) == wheel_key(w.name)[1]
    ]
    return {
        "projects": len(pins),
        "bytes": sum(s for s, _ in sizes),
        "files": sum(n for _, n in sizes),
    }


def wheel_key(filename: str) -> tuple[str, str]:
    name, version = filename.split("-")[:2]
    return canonical(name), version


def build_index(
    ws: Path, wheels: Path, pins: list[dict[str, str]], real_pages: Path | None = None
) -> Json:
    """A static PEP 503 tree: simple/<name>/index.html with #sha256= fragments and PEP 658/714
    metadata attributes, files/<wheel> (hard links) and files/<wheel>.metadata; with
    ``real_pages`` (the fetched PEP 691 pages) also real/ and real-no658/ (see
    :func:`write_real_pages`)."""
    wanted = {(n, v) for p in pins for n, v in p.items()}
    chosen = [w for w in sorted(wheels.glob("*.whl")) if wheel_key(w.name) in wanted]
    missing = wanted - {wheel_key(w.name) for w in chosen}
    if missing:
        sys.exit(f"no downloaded wheel for {sorted(missing)}: delete {wheels}/.downloaded")
    root = ws / "index"
    tmp = ws / "index.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "files").mkdir(parents=True)
    projects: dict[str, list[str]] = {}
    local: dict[str, tuple[str, str]] = {}
    total = members = 0
    for w in chosen:
        target = tmp / "files" / w.name
        try:
            os.link(w, target)
        except OSError:
            shutil.copyfile(w, target)
        data = w.read_bytes()
        total += len(data)
        with zipfile.ZipFile(w) as zf:
            names = zf.namelist()
            members += len(names)
            meta_name = next(
                n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
            )
            meta = zf.read(meta_name)
        (tmp / "files" / f"{w.name}.metadata").write_bytes(meta)
        headers = email.parser.BytesHeaderParser().parsebytes(meta)
        attrs = f' data-dist-info-metadata="sha256={hashlib.sha256(meta).hexdigest()}"'
        attrs += f' data-core-metadata="sha256={hashlib.sha256(meta).hexdigest()}"'
        if headers.get("Requires-Python"):
            attrs += f' data-requires-python="{html.escape(headers["Requires-Python"])}"'
        local[w.name] = (hashlib.sha256(data).hexdigest(), hashlib.sha256(meta).hexdigest())
        href = f"../../files/{urllib.parse.quote(w.name)}#sha256={local[w.name][0]}"
        link = f'<a href="{href}"{attrs}>{html.escape(w.name)}</a><br/>'
        projects.setdefault(wheel_key(w.name)[0], []).append(link)
    head = '<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.1">'
    for name, links in projects.items():
        page = tmp / "simple" / name
        page.mkdir(parents=True)
        (page / "index.html").write_text(
            f"{head}<title>Links for {name}</title></head><body><h1>Links for {name}</h1>\n"
            + "\n".join(links)
            + "\n</body></html>\n"
        )
    (tmp / "simple" / "index.html").write_text(
        f"{head}<title>Simple index</title></head><body>\n"
        + "\n".join(f'<a href="{n}/">{n}</a><br/>' for n in sorted(projects))
        + "\n</body></html>\n"
    )
    stats: Json = {
        "projects": len(projects),
        "wheels": len(chosen),
        "bytes": total,
        "files": members,
    }
    if real_pages is not None:
        stats["real_pages"] = write_real_pages(tmp, real_pages, local, sorted(projects))
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return stats


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not listen on 127.0.0.1:{port}")


# What PyPI sends (pages on pypi.org, files and .metadata on files.pythonhosted.org).
PAGE_CC = "max-age=600, public"
FILE_CC = "max-age=365000000, immutable, public"

NGINX_CONF = """\
{user}worker_processes auto;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    client_body_temp_path {dir}/tmp/client;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    types {{
        text/html html;
        application/vnd.pypi.simple.v1+json json;
        application/octet-stream whl metadata;
    }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        autoindex off;
        index index.html index.json;
        # PyPI's caching headers: without them pip caches no download at all.
        location /simple/ {{ add_header Cache-Control "{page_cc}"; }}
        location /real/ {{ add_header Cache-Control "{page_cc}"; }}
        location /real-no658/ {{ add_header Cache-Control "{page_cc}"; }}
        location /files/ {{ add_header Cache-Control "{file_cc}"; }}
    }}
}}
"""


def find_nginx() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def start_server(kind: str, ws: Path, port: int) -> tuple[subprocess.Popen[bytes], str]:
    root = ws / "index"
    if kind == "nginx":
        nginx = find_nginx()
        assert nginx
        d = ws / "nginx"
        (d / "tmp").mkdir(parents=True, exist_ok=True)
        # As root, workers must be able to read the workspace (often under /root).
        user = "user root;\n" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
        conf = d / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                user=user, dir=d, port=port, root=root, page_cc=PAGE_CC, file_cc=FILE_CC
            )
        )
        version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip()
        proc = subprocess.Popen(
            [nginx, "-p", str(d), "-c", str(conf), "-e", str(d / "error.log"), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
        )
        wait_port(port, proc, "nginx")
        return proc, version.replace("nginx version: ", "")
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(root), "--port", str(port)],
        stdin=subprocess.DEVNULL,
    )
    wait_port(port, proc, "the Python server")
    return proc, f"Python {platform.python_version()} ThreadingHTTPServer (run.py --serve)"


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def serve(root: Path, port: int) -> None:
    """A static server for the index tree: HTTP/1.1 keep-alive, everything in memory, one
    write per response, ETag/If-None-Match like nginx."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    files: dict[str, tuple[bytes, bytes]] = {}
    started = email.utils.formatdate(usegmt=True)
    for p in root.rglob("*"):
        if p.is_file():
            rel = "/" + p.relative_to(root).as_posix()
            data = p.read_bytes()
            ctype = {".html": "text/html", ".json": JSON_TYPE}.get(
                p.suffix, "application/octet-stream"
            )
            etag = f'"{hashlib.md5(data).hexdigest()[:16]}"'
            cc = FILE_CC if rel.startswith("/files/") else PAGE_CC
            head = (
                f"Content-Type: {ctype}\r\nContent-Length: {len(data)}\r\nETag: {etag}\r\n"
                f"Last-Modified: {started}\r\nCache-Control: {cc}\r\n"
            )
            files[rel] = (head.encode(), data)
            for index in ("index.html", "index.json"):
                if rel.endswith("/" + index):
                    files[rel[: -len(index)]] = files[rel]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        server_version = "bench"

        def log_message(self, *args: object) -> None:
            pass

        def _reply(self, body: bool) -> None:
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            entry = files.get(path)
            if entry is None and path + "/" in files:
                loc = f"Location: {path}/\r\nContent-Length: 0\r\n\r\n"
                self.wfile.write(b"HTTP/1.1 301 Moved Permanently\r\n" + loc.encode())
                return
            if entry is None:
                self.wfile.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                return
            head, data = entry
            inm = self.headers.get("If-None-Match")
            if inm and inm.encode() in head:
                self.wfile.write(b"HTTP/1.1 304 Not Modified\r\n" + head + b"\r\n")
                return
            out = b"HTTP/1.1 200 OK\r\n" + head + b"\r\n"
            self.wfile.write(out + data if body else out)  # one write (sendall)

        def do_GET(self) -> None:
            self._reply(True)

        def do_HEAD(self) -> None:
            self._reply(False)

    class Server(ThreadingHTTPServer):
        request_queue_size = 256
        daemon_threads = True

    httpd = Server(("127.0.0.1", port), Handler)
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=httpd.shutdown).start())
    httpd.serve_forever()


def measure_server(port: int, root: Path, variants: list[str]) -> Json:
    """Fetch every file of the index once (the pages of ``variants``): sequentially on one
    keep-alive connection, then on 8 connections in parallel."""
    paths = []
    for variant in variants:
        prefix = PAGE_PREFIX[variant]
        paths.append(prefix)
        for p in sorted((root / prefix.strip("/")).iterdir()):
            if p.is_dir():
                paths.append(f"{prefix}{p.name}/")
    for p in sorted((root / "files").iterdir()):
        paths.append("/files/" + urllib.parse.quote(p.name))

    def fetch(chunk: list[str]) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        got = 0
        for path in chunk:
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                raise RuntimeError(f"{path}: HTTP {r.status}")
            got += len(body)
        conn.close()
        return got

    fetch(paths)  # into the page cache
    out: Json = {"requests": len(paths)}
    t = time.perf_counter()
    size = fetch(paths)
    out["sequential_s"] = time.perf_counter() - t
    out["bytes"] = size
    chunks = [paths[i::8] for i in range(8)]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        t = time.perf_counter()
        list(ex.map(fetch, chunks))
        out["parallel8_s"] = time.perf_counter() - t
    return out


# --------------------------------------------------------------------------- the runs


class Bench:
    counter = 0

    def __init__(self, args: argparse.Namespace, ws: Path, bench_venv: Path, index_url: str):
        self.args = args
        self.ws = ws
        self.bench_py = bin_path(bench_venv, "python")
        self.uv = bin_path(bench_venv, "uv")
        self.index = index_url
        self.runs_dir = (args.runs_dir.expanduser().resolve() if args.runs_dir else ws) / (
            "pip-hashsync-bench-runs" if args.runs_dir else "runs"
        )
        self.lock = ws / "lock.txt"
        self.changed = ws / "lock-changed.txt"
        self.pins_file = ws / "lock-pins.txt"
        self.tree = ws / "ansible-lock.txt"
        shutil.copyfile(LOCK, self.lock)
        shutil.copyfile(TREE, self.tree)
        self.changed_project = write_changed_lock(self.changed)
        self.pins_file.write_text("".join(f"{n}=={v}\n" for n, v in read_pins(LOCK).items()))
        self.expect = {
            self.lock: read_pins(self.lock),
            self.changed: read_pins(self.changed),
            self.tree: read_pins(self.tree),
        }
        self.has_hashes = (
            subprocess.run(
                [str(self.bench_py), "-m", "pip_hashsync", "hashes", "--help"],
                env=clean_env(),
                capture_output=True,
            ).returncode
            == 0
        )

    def fresh(self, what: str) -> Path:
        Bench.counter += 1  # shared by the benches of every variant: one runs dir
        return self.runs_dir / f"{what}-{Bench.counter}"

    def new_venv(self) -> Path:
        venv = self.fresh("venv")
        check([self.args.python, "-m", "venv", "--without-pip", str(venv)])
        return venv

    def sync_cmd(self, tool: str, lock: Path, venv: Path, cache: Path) -> list[str]:
        py = str(bin_path(venv, "python"))
        if tool == "pip":
            # --trusted-host: pip caches nothing fetched over plain http otherwise (its http://
            # adapter has no cache), so its "warm" would download everything again.
            return [
                str(self.bench_py),
                "-m",
                "pip",
                "--python",
                py,
                "install",
                "--disable-pip-version-check",
                "--require-hashes",
                "--no-deps",
                "-r",
                str(lock),
                "-i",
                self.index,
                "--trusted-host",
                "127.0.0.1",
                "--cache-dir",
                str(cache),
            ]
        if tool == "uv":
            return [
                str(self.uv),
                "pip",
                "sync",
                str(lock),
                "--python",
                py,
                "--index-url",
                self.index,
                "--cache-dir",
                str(cache),
                "--require-hashes",
                "--no-config",
            ]
        return [
            str(self.bench_py),
            "-m",
            "pip_hashsync",
            "sync",
            str(lock),
            "--venv",
            str(venv),
            "-i",
            self.index,
            "--cache-dir",
            str(cache),
        ]

    def hashes_cmd(self, tool: str, cache: Path) -> list[str]:
        if tool == "uv":
            return [
                str(self.uv),
                "pip",
                "compile",
                str(self.pins_file),
                "--no-deps",
                "--generate-hashes",
                "--index-url",
                self.index,
                "--no-config",
                "--cache-dir",
                str(cache),
                "--python",
                str(self.bench_py),
                "-o",
                str(self.fresh("compiled")) + ".txt",
            ]
        return [
            str(self.bench_py),
            "-m",
            "pip_hashsync",
            "hashes",
            str(self.pins_file),
            "-i",
            self.index,
            "--dry-run",
        ]

    def execute(self, cmd: list[str], cache: Path) -> Json:
        """Run ``cmd``: its wall seconds, CPU seconds (user + system, the command and its
        children: less sensitive than wall time to other load on the machine), exit code
        and log."""
        logf = self.fresh("log")
        env = clean_env(XDG_CACHE_HOME=str(cache.parent / (cache.name + "-xdg")))
        if hasattr(os, "sync") and not self.args.no_sync:
            os.sync()  # nobody pays for the write-back of the previous command
        with open(logf, "wb") as out:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            rc = subprocess.run(
                cmd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.runs_dir,
            ).returncode
            dt = time.perf_counter() - t
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        return {"seconds": dt, "cpu": cpu, "rc": rc, "log": str(logf)}

    def verify(self, venv: Path, lock: Path) -> str | None:
        site = next((venv / "lib").glob("python*/site-packages"))
        have = {}
        for d in site.glob("*.dist-info"):
            name, version = d.name[: -len(".dist-info")].split("-", 1)
            have[canonical(name)] = version
        want = self.expect[lock]
        if have == want:
            return None
        missing = sorted(f"{n}=={v}" for n, v in want.items() if have.get(n) != v)
        extra = sorted(f"{n}=={v}" for n, v in have.items() if want.get(n) != v)
        return f"target differs from {lock.name}: missing {missing}, unexpected {extra}"

    def integrity(self, tool: str, venv: Path, lock: Path) -> str | None:
        """Untimed, after every sync: ``pip check`` in the target, every RECORD row's file
        present with the bytes its hash names, and for pip-hashsync its own ``verify``
        against the lock (RECORDs, provenance, nothing unlisted)."""
        py, bench_py = str(bin_path(venv, "python")), str(self.bench_py)
        checks = {"pip check": [bench_py, "-m", "pip", "--python", py, "check"]}
        if tool == "pip-hashsync":
            verify = [
                bench_py,
                "-m",
                "pip_hashsync",
                "verify",
                "-r",
                str(lock),
                "--venv",
                str(venv),
            ]
            checks["pip-hashsync verify"] = verify
        for what, cmd in checks.items():
            p = subprocess.run(cmd, env=clean_env(), capture_output=True, text=True)
            if p.returncode:
                detail = (p.stdout + p.stderr).strip().splitlines()
                return f"{what} failed ({p.returncode}): " + "; ".join(detail[:5])
        return check_records(venv)

    def timed_sync(self, tool: str, lock: Path, venv: Path, cache: Path) -> Json:
        res = self.execute(self.sync_cmd(tool, lock, venv, cache), cache)
        problem = f"exit {res['rc']}" if res["rc"] else self.verify(venv, lock)
        problem = problem or self.integrity(tool, venv, lock)
        if problem:
            res["error"] = problem
        return res


#: RECORD rows without a hash by design (PEP 376, PEP 491), and bytecode compiled at install.
UNHASHED = re.compile(r"(^|/)(RECORD(\.jws|\.p7s)?|[^/]+\.pyc)$")


def check_records(venv: Path) -> str | None:
    """Every file every RECORD of the target lists exists, with the size and sha256 the row
    gives; a row without a hash only for RECORD itself and bytecode. None when all hold."""
    import base64
    import csv

    site = next((venv / "lib").glob("python*/site-packages"))
    problems = []
    rows = 0
    for record in sorted(site.glob("*.dist-info/RECORD")):
        with open(record, newline="", encoding="utf-8") as f:
            for row in csv.reader(f):
                if not row:
                    continue
                rows += 1
                path, digest, size = [*row, "", ""][:3]
                full = os.path.normpath(site / path)
                if not digest:
                    if not UNHASHED.search(path):
                        problems.append(f"{record.parent.name}: {path}: no hash")
                    continue
                algorithm, _, want = digest.partition("=")
                try:
                    with open(full, "rb") as g:
                        data = g.read()
                except OSError as exc:
                    problems.append(f"{record.parent.name}: {path}: {exc.strerror}")
                    continue
                got = base64.urlsafe_b64encode(hashlib.new(algorithm, data).digest())
                if got.rstrip(b"=").decode() != want or (size and int(size) != len(data)):
                    problems.append(f"{record.parent.name}: {path}: bytes differ from RECORD")
    if not rows:
        return "no RECORD rows in the target"
    if problems:
        return f"RECORD check: {len(problems)} problems: " + "; ".join(problems[:5])
    return None


def printed_digests(logf: Path) -> set[str]:
    """The --hash values a command printed (not on removed lines of a diff)."""
    return {
        m.group(1).lower()
        for line in logf.read_text(errors="replace").splitlines()
        if not line.startswith("-")
        for m in re.finditer(r"--hash[= ](sha256:[0-9a-fA-F]{64})", line)
    }


@dataclasses.dataclass
class ToolState:
    """One tool within one run: its cache, whether a sync filled it, and the venv it synced
    to lock.txt (None when there is none)."""

    cache: Path
    filled: bool = False
    venv: Path | None = None
    #: The cache of the large-tree scenarios, once a sync of ansible-lock.txt filled it.
    tree_cache: Path | None = None
    #: ``venv`` has seen a no-op since it was synced.
    idle: bool = False


Results = dict[str, dict[str, dict[str, list[Json]]]]


def run_all(
    benches: dict[str, Bench], scenarios: list[str], runs: int, everything: Results, partial: Path
) -> None:
    """Fill ``everything`` ({variant: {scenario: {tool: [result per run]}}}): run by run,
    every variant (index pages) in turn, every scenario, the three tools interleaved (the
    order rotates every run). The results so far are also written to ``partial`` after every
    run and variant (a long benchmark cut short still has them)."""
    for v in benches:
        everything[v] = {s: {t: [] for t in TOOLS} for s in scenarios}
    for i in range(runs):
        order = list(TOOLS[i % 3 :] + TOOLS[: i % 3])
        for variant, bench in benches.items():
            results = everything[variant]
            label = f"{variant:<10} " if len(benches) > 1 else ""
            hashes_tools = ["uv", "pip-hashsync"] if bench.has_hashes else ["uv"]
            bench.runs_dir.mkdir(parents=True, exist_ok=True)
            # per tool: the cache of this run and whether it is filled; the venv synced to lock
            state = {t: ToolState(bench.fresh(f"cache-{t}")) for t in TOOLS}
            digests: dict[str, set[str]] = {}
            for s in scenarios:
                for tool in order:
                    st = state[tool]
                    if s == "hashes":
                        if tool not in hashes_tools:
                            continue
                        cache = bench.fresh(f"cache-hashes-{tool}")
                        r: Json = bench.execute(bench.hashes_cmd(tool, cache), cache)
                        if r["rc"]:
                            r["error"] = f"exit {r['rc']}"
                        else:  # both must print the same digests
                            digests[tool] = printed_digests(Path(r["log"]))
                            if len(digests) == 2 and digests["uv"] != digests["pip-hashsync"]:
                                r["warning"] = (
                                    "digests differ from uv's: "
                                    f"{len(digests['uv'] - digests['pip-hashsync'])} missing, "
                                    f"{len(digests['pip-hashsync'] - digests['uv'])} extra"
                                )
                    elif s == "cold":
                        st.cache, venv = bench.fresh(f"cache-{tool}"), bench.new_venv()
                        r = bench.timed_sync(tool, bench.lock, venv, st.cache)
                        st.filled, st.venv = True, None if "error" in r else venv
                    elif s == "tree-cold":
                        st.tree_cache = bench.fresh(f"cache-tree-{tool}")
                        r = bench.timed_sync(tool, bench.tree, bench.new_venv(), st.tree_cache)
                    elif s == "tree-warm":
                        if st.tree_cache is None:  # untimed: fill the cache
                            st.tree_cache = bench.fresh(f"cache-tree-{tool}")
                            bench.timed_sync(tool, bench.tree, bench.new_venv(), st.tree_cache)
                        r = bench.timed_sync(tool, bench.tree, bench.new_venv(), st.tree_cache)
                    elif s == "warm":
                        if not st.filled:  # untimed: fill the cache
                            bench.timed_sync(tool, bench.lock, bench.new_venv(), st.cache)
                            st.filled = True
                        venv = bench.new_venv()
                        r = bench.timed_sync(tool, bench.lock, venv, st.cache)
                        st.venv, st.idle = None if "error" in r else venv, False
                    else:  # noop, noop-again, changed: an environment synced to the lock
                        prep: Json = {}
                        if st.venv is None:  # untimed preparation
                            venv = bench.new_venv()
                            prep = bench.timed_sync(tool, bench.lock, venv, st.cache)
                            st.filled, st.idle = True, False
                            st.venv = None if "error" in prep else venv
                        if st.venv is not None and s == "noop-again" and not st.idle:
                            bench.timed_sync(tool, bench.lock, st.venv, st.cache)  # untimed
                        if st.venv is None:
                            r = {
                                "seconds": 0.0,
                                "error": f"preparation failed: {prep['error']}",
                                "log": prep["log"],
                            }
                        elif s in ("noop", "noop-again"):
                            r = bench.timed_sync(tool, bench.lock, st.venv, st.cache)
                            st.idle = True
                        else:
                            r = bench.timed_sync(tool, bench.changed, st.venv, st.cache)
                            st.venv = None
                    if "error" in r or "warning" in r:  # keep the log
                        kept = bench.ws / "failures" / f"run{i + 1}-{variant}-{s}-{tool}.log"
                        kept.parent.mkdir(exist_ok=True)
                        shutil.copyfile(str(r["log"]), kept)
                        r["log"] = str(kept)
                    r["order"] = order.index(tool) + 1
                    results[s][tool].append(r)
                    mark = f"  FAILED: {r['error']} (log: {r['log']})" if "error" in r else ""
                    if "warning" in r:
                        mark += f"  WARNING: {r['warning']} (log: {r['log']})"
                    log(
                        f"  run {i + 1}/{runs}  {label}{s:<8} {tool:<13} "
                        f"{r['seconds']:8.3f} s (cpu {r.get('cpu', 0.0):7.3f} s){mark}"
                    )
            if not bench.args.keep:
                shutil.rmtree(bench.runs_dir, ignore_errors=True)
            partial.write_text(json.dumps({"runs_done": i + 1, "results": everything}) + "\n")


# --------------------------------------------------------------------------- report


def fmt(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:.2f}"


def summarize(results: dict[str, dict[str, list[Json]]], real: bool = False) -> dict[str, Json]:
    """Medians, ratios and the targets: issue 6's on the small pages, issue 16's on the real
    ones."""
    targets_uv, target_pip = (
        (TARGETS_UV_REAL, TARGET_PIP_REAL) if real else (TARGETS_UV, TARGET_PIP)
    )
    summary: dict[str, Json] = {}
    for s, per_tool in results.items():
        row: Json = {}
        for tool, rs in per_tool.items():
            ok = [float(r["seconds"]) for r in rs if "error" not in r]
            if not rs:
                continue
            entry: Json = {"runs": len(rs), "failed": len(rs) - len(ok)}
            if ok:
                entry.update(median=statistics.median(ok), min=min(ok), max=max(ok), times=ok)
            errors = [f"{r['error']} (log: {r['log']})" for r in rs if "error" in r]
            if errors:
                entry["errors"] = errors
            warnings = [f"{r['warning']} (log: {r['log']})" for r in rs if "warning" in r]
            if warnings:
                entry["warnings"] = warnings
            cpu = [float(r["cpu"]) for r in rs if "error" not in r and "cpu" in r]
            if cpu:
                entry["cpu_median"] = statistics.median(cpu)
            keys = ("seconds", "cpu", "order", "error")
            entry["raw"] = [{k: r[k] for k in keys if k in r} for r in rs]
            row[tool] = entry
        hs = row.get("pip-hashsync", {}).get("median")
        ratios: dict[str, float] = {}
        for ref in ("uv", "pip"):
            m = row.get(ref, {}).get("median")
            if hs is not None and m:
                ratios[f"pip-hashsync/{ref}"] = hs / m
        row["ratios"] = ratios
        targets = {}
        if s in targets_uv:
            targets["pip-hashsync/uv"] = targets_uv[s]
        if s != "hashes":
            targets["pip-hashsync/pip"] = target_pip
        row["targets"] = {
            k: {"max": v, "met": (ratios[k] <= v) if k in ratios else None}
            for k, v in targets.items()
        }
        summary[s] = row
    return summary


def table(summary: dict[str, Json], has_hashes: bool, real: bool = False) -> str:
    head = ["scenario", *TOOLS, "hs/uv", "hs/pip", f"targets (issue {16 if real else 6})"]
    rows = [head]
    for s, row in summary.items():
        cells = [s]
        for tool in TOOLS:
            e = row.get(tool)
            if not e:
                cells.append("n/a" if tool == "pip" or not has_hashes else "-")
            elif "median" not in e:
                cells.append(f"failed {e['failed']}/{e['runs']}")
            else:
                c = f"{fmt(e['median'])} ({fmt(e['min'])}–{fmt(e['max'])})"
                if e["failed"]:
                    c += f" [{e['failed']} failed]"
                cells.append(c)
        ratios: dict[str, float] = row["ratios"]
        for ref in ("uv", "pip"):
            ratio = ratios.get(f"pip-hashsync/{ref}")
            cells.append(f"{ratio:.2f}×" if ratio is not None else "–")
        notes = []
        for k, t in row["targets"].items():
            ref = k.split("/")[1]
            verdict = {True: "met", False: "MISSED", None: "?"}[t["met"]]
            notes.append(f"≤{t['max']}× {ref} {verdict}")
        cells.append(", ".join(notes))
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    for n, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def cpu_table(summary: dict[str, Json]) -> str:
    """CPU seconds (user + system, children included), median per tool: beside the wall
    times, what each tool cost the machine, which other load on it changes less."""
    rows = [["cpu", *TOOLS]]
    for s, row in summary.items():
        cells = [row.get(t, {}).get("cpu_median") for t in TOOLS]
        rows.append([s, *("–" if c is None else fmt(c) for c in cells)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def fs_type(path: Path) -> str:
    """The file system type of the mount holding path (Linux), else "?"."""
    best, kind = "", "?"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return kind
    for line in mounts:
        fields = line.split()
        point = fields[1].replace("\\040", " ")
        inside = str(path) == point or str(path).startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    models = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")]
    return models[0] if models else platform.processor()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="runs per scenario (default 5)")
    ap.add_argument(
        "--only",
        nargs="+",
        choices=SCENARIOS,
        metavar="SCENARIO",
        help=f"run only these scenarios: {', '.join(SCENARIOS)}",
    )
    ap.add_argument(
        "--pages",
        nargs="+",
        choices=PAGES,
        default=["small"],
        metavar="PAGES",
        help="the index pages to run against, one table each, run by run in turn: small (the "
        "lock's files only, PEP 658, the default), real (the default index's real PEP 691 "
        "pages, PEP 658 for the lock's files), real-no658 (the same without any PEP 658 "
        "metadata)",
    )
    ap.add_argument(
        "--refresh-pages",
        action="store_true",
        help="fetch the default index's pages again (for --pages real, real-no658)",
    )
    ap.add_argument(
        "--server",
        choices=("nginx", "python"),
        help="default: nginx when installed, else the threaded Python server",
    )
    ap.add_argument("--json", type=Path, help="results file (default WORKDIR/results.json)")
    ap.add_argument("--workdir", type=Path, default=Path.home() / ".cache/pip-hashsync-bench")
    ap.add_argument(
        "--runs-dir",
        type=Path,
        metavar="PARENT",
        help="put the target venvs and tool caches in PARENT/pip-hashsync-bench-runs instead "
        "of WORKDIR/runs (e.g. /dev/shm, to take the disk out of the measurement)",
    )
    ap.add_argument(
        "--python",
        default=sys.executable,
        help="CPython 3.11 interpreter for the benchmark and target venvs (default: this one)",
    )
    ap.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    ap.add_argument(
        "--upgrade-tools",
        action="store_true",
        help="reinstall the latest pip and uv into the benchmark venv",
    )
    ap.add_argument(
        "--no-warmup", action="store_true", help="skip the untimed first sync of every tool"
    )
    ap.add_argument(
        "--no-sync",
        action="store_true",
        help="do not flush the page cache (os.sync) before every timed command",
    )
    ap.add_argument("--keep", action="store_true", help="keep the run venvs, caches and logs")
    ap.add_argument(
        "--no-copy", action="store_true", help="do not copy the results to benchmarks/latest.json"
    )
    ap.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.serve:
        serve(args.serve, args.port)
        return

    t_start = time.perf_counter()
    pyver = check(
        [
            args.python,
            "-c",
            "import sys, platform; print(platform.python_implementation(), *sys.version_info[:2])",
        ]
    ).stdout.split()
    if pyver != ["CPython", "3", "11"]:
        sys.exit(
            f"lock.txt is for CPython 3.11; {args.python} is {' '.join(pyver)}: "
            "pass --python python3.11"
        )
    args.python = check([args.python, "-c", "import sys; print(sys.executable)"]).stdout.strip()
    ws = args.workdir.expanduser().resolve()
    ws.mkdir(parents=True, exist_ok=True)
    scenarios = [s for s in SCENARIOS if not args.only or s in args.only]

    bench_venv, versions = setup_tools(ws, args.python, args.upgrade_tools)
    wheels = ensure_wheels(ws, bin_path(bench_venv, "python"))
    variants = list(dict.fromkeys(args.pages))
    real_pages = None
    if set(variants) - {"small"}:
        names = sorted(read_pins(LOCK).keys() | read_pins(TREE).keys())
        real_pages = fetch_real_pages(ws, names, args.refresh_pages)
    locks = [read_pins(LOCK), read_pins(CHANGED), read_pins(TREE)]
    index_stats = build_index(ws, wheels, locks, real_pages)
    lock_stats, tree_stats = (lock_size(wheels, read_pins(p)) for p in (LOCK, TREE))
    lock_stats.update(index=index_stats, tree=tree_stats)

    kind = args.server or ("nginx" if find_nginx() else "python")
    if kind == "nginx" and not find_nginx():
        sys.exit("nginx is not installed (Debian: apt-get install nginx); use --server python")
    port = args.port or free_port()
    proc, server_desc = start_server(kind, ws, port)
    try:
        urls = {v: f"http://127.0.0.1:{port}{PAGE_PREFIX[v]}" for v in variants}
        index_url = " ".join(urls.values())
        srv = measure_server(port, ws / "index", variants)
        srv["server"] = server_desc
        mb = srv["bytes"] / 1e6
        log(f"pip-hashsync benchmark in {ws}")
        log(
            f"lock: {lock_stats['projects']} projects, {lock_stats['bytes'] / 1e6:.1f} MB of "
            f"wheels, {lock_stats['files']} files; index {index_url} served by {server_desc}"
        )
        log(
            f"large-tree lock ({TREE.name}): {tree_stats['projects']} projects, "
            f"{tree_stats['bytes'] / 1e6:.1f} MB of wheels, {tree_stats['files']} files"
        )
        log(
            f"server alone: {srv['requests']} requests ({mb:.1f} MB) in "
            f"{srv['sequential_s']:.3f} s on one keep-alive connection, "
            f"{srv['parallel8_s']:.3f} s on 8 parallel connections"
        )
        real = lock_stats["index"].get("real_pages")
        if real and set(variants) - {"small"}:
            log(
                f"real pages: {real['pages']} projects, {real['files']} files listed, "
                f"{real['bytes'] / 1e6:.1f} MB of JSON (largest: {real['largest'][0]}, "
                f"{real['largest'][1] / 1e6:.1f} MB), fetched once into {ws / 'pypi-pages'}"
            )
        log("tools: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
        benches = {v: Bench(args, ws, bench_venv, url) for v, url in urls.items()}
        bench = benches[variants[0]]
        name, old, new = bench.changed_project
        log(f"changed: {name} {old} -> {new}")
        log(f"target venvs and caches in {bench.runs_dir} ({fs_type(bench.runs_dir)})")
        if "hashes" in scenarios and not bench.has_hashes:
            log(
                "note: `pip-hashsync hashes --help` fails in this checkout: the hashes "
                "scenario times uv only"
            )
        shutil.rmtree(bench.runs_dir, ignore_errors=True)
        shutil.rmtree(ws / "failures", ignore_errors=True)
        if not args.no_warmup:
            log(f"warm-up (untimed): one cold sync per tool ({variants[0]} pages)")
            bench.runs_dir.mkdir(parents=True)
            for tool in TOOLS:
                r = bench.timed_sync(tool, bench.lock, bench.new_venv(), bench.fresh("cache"))
                log(
                    f"  warm-up {tool:<13} {r['seconds']:8.3f} s"
                    + (f"  FAILED: {r['error']} (log: {r['log']})" if "error" in r else "")
                )
            if not args.keep:
                shutil.rmtree(bench.runs_dir, ignore_errors=True)
        everything: Results = {}
        try:
            run_all(benches, scenarios, args.runs, everything, ws / "partial.json")
        except KeyboardInterrupt:  # Ctrl-C: the runs done so far still make a table
            log("interrupted: the tables below hold the runs done so far")
    finally:
        stop_server(proc)

    per_variant: Json = {}
    for variant, results in everything.items():
        summary = summarize(results, real=variant != "small")
        text = table(summary, bench.has_hashes, real=variant != "small")
        text += "\n\n" + cpu_table(summary)
        per_variant[variant] = {"index": urls[variant], "summary": summary, "table": text}
        log("")
        log(
            f"{variant} pages: wall seconds, median (min–max) of {args.runs} runs; "
            "hs = pip-hashsync median / tool median"
        )
        log(text)
    notes = []
    if not bench.has_hashes and "hashes" in scenarios:
        notes.append("hashes: pip-hashsync has no `hashes` command in this checkout (uv only)")
    if "hashes" in scenarios:
        notes.append("hashes: pip has no equivalent command")
    uv_cold = per_variant[variants[0]]["summary"].get("cold", {}).get("uv", {}).get("median")
    if uv_cold:
        notes.append(
            f"server alone: every file of the index in {srv['sequential_s']:.3f} s "
            f"(one connection) = {100 * srv['sequential_s'] / uv_cold:.0f}% of uv's cold median"
        )
    for n in notes:
        log(f"note: {n}")
    data = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/run.py", *sys.argv[1:]]),
        "runs": args.runs,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "cpu": cpu_model(),
            "runs_dir": f"{bench.runs_dir} ({fs_type(bench.runs_dir)})",
        },
        "versions": versions,
        "lock": lock_stats,
        "changed": {"project": name, "from": old, "to": new},
        "server": srv,
        "pages": variants,
        # the first variant's, as before --pages; every variant's under "variants"
        "summary": per_variant[variants[0]]["summary"],
        "table": per_variant[variants[0]]["table"],
        "variants": per_variant,
        "notes": notes,
        "elapsed_s": time.perf_counter() - t_start,
    }
    out = args.json or ws / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n")
    log(f"results: {out}")
    if not args.no_copy:
        shutil.copyfile(out, HERE / "latest.json")
        log(f"copied to {HERE / 'latest.json'}")
    log(f"total {time.perf_counter() - t_start:.0f} s")
    failed = [
        f"{variant} {s} {tool}: {error}"
        for variant, v in per_variant.items()
        for s, row in v["summary"].items()
        for tool, entry in row.items()
        if isinstance(entry, dict)
        for error in entry.get("errors", [])
    ]
    if failed:
        sys.exit(
            f"{len(failed)} runs failed (a wrong target, pip check, RECORDs):\n" + "\n".join(failed)
        )


if __name__ == "__main__":
    main()
