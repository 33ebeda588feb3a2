"""Bounds on what a hostile server or RECORD can cost (issue 13, found while fixing it).

A server that compresses a page, a ``.metadata`` file or an archive into a bomb must not
make a sync inflate it without limit: pages and metadata files are decoded a chunk at a
time up to a cap, and archives are never decoded at all (their bytes are hashed as served,
as pip hashes them). A RECORD row naming a folder must never make removal take that folder.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from distbuilder import build_wheel, sha256_of
from helpers import measured_sync, write
from indexserver import IndexServer
from test_sync_apply import (
    Sync,
    cache,
    lock_for,
    make_venv,
    site_packages,
    snapshot,
    sync,
)

from pip_hashsync.index.http import HttpClient, HttpSettings, NetworkError

__all__ = ["cache", "sync"]  # fixtures shared with test_sync_apply

# -- a RECORD row naming a folder --------------------------------------------------------------


@pytest.mark.parametrize(
    "rows",
    [
        ["other", "x/.."],  # another distribution's package folder; site-packages itself
        ["other/", ".", "../site-packages"],
        ["..", "../../../bin"],  # lib/pythonX.Y and the scripts folder: in the data scheme
    ],
)
def test_a_record_row_naming_a_folder_never_removes_it(
    rows: list[str], sync: Sync, venv: Path, index_server: IndexServer
) -> None:
    """Two real installs; the first's RECORD then names a folder. Removing the first
    leaves the folder and every file of the second, and says which rows it left alone."""
    hostile = build_wheel(index_server.root, "hostile", "1.0")
    other = build_wheel(index_server.root, "other", "1.0")
    write(Path("requirements.txt"), lock_for(hostile, other))
    code, _out, err = sync("requirements.txt")
    assert code == 0, err
    record = site_packages(venv) / "hostile-1.0.dist-info" / "RECORD"
    record.write_text(record.read_text() + "".join(f"{row},,\n" for row in rows))
    kept = {path: digest for path, digest in snapshot(venv).items() if "hostile" not in path}

    write(Path("requirements.txt"), lock_for(other))
    code, _out, err = sync("requirements.txt")
    assert code == 0, err
    after = snapshot(venv)
    assert {path: after.get(path) for path in kept} == kept
    assert not (site_packages(venv) / "hostile").exists()
    for row in rows:
        assert f"RECORD names {row}, a folder" in err, err
    assert os.path.isdir(venv / "bin")


def test_a_wheel_file_where_a_folder_is_never_replaces_the_folder(
    sync: Sync, venv: Path, index_server: IndexServer
) -> None:
    """A wheel whose file ``other`` would take the place of the installed folder ``other/``
    of another distribution: the folder is never stashed (the commit would delete it); the
    run is refused and rolled back."""
    other = build_wheel(index_server.root, "other", "1.0")
    write(Path("requirements.txt"), lock_for(other))
    code, _out, err = sync("requirements.txt")
    assert code == 0, err
    before = snapshot(venv)
    squasher = build_wheel(index_server.root, "squasher", "1.0", files={"other": "a file\n"})
    write(Path("requirements.txt"), lock_for(other, squasher))
    code, _out, err = sync("requirements.txt")
    assert code == 5, err
    assert "other is a folder" in err and "rolled back" in err, err
    assert snapshot(venv) == before


# -- compressed responses: decoded in bounded memory, archives never decoded ----------------

MiB = 1024 * 1024
#: What the bomb inflates to: spaces, which a JSON or HTML page may end with.
BOMB_SIZE = 512 * MiB
#: The caps (decoded bytes) of a page and of a ``.metadata`` file.
PAGE_CAP = 256 * MiB
METADATA_CAP = 64 * MiB

Encoder = Callable[[bytes], tuple[str, bytes]]


@functools.cache
def gzip_bomb() -> bytes:
    """One gzip member of :data:`BOMB_SIZE` spaces: 2.3 MB sent (0.5 MB at level 9)."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    spaces = b" " * MiB
    pieces = [compressor.compress(spaces) for _ in range(BOMB_SIZE // MiB)]
    return b"".join([*pieces, compressor.flush()])


def bomb(_body: bytes) -> tuple[str, bytes]:
    return "gzip", gzip_bomb()


def padded_bomb(body: bytes) -> tuple[str, bytes]:
    """The genuine body, then the bomb as a second gzip member: a valid page of 512 MiB."""
    return "gzip", gzip.compress(body) + gzip_bomb()


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


HONEST: dict[str, Encoder] = {
    "gzip": lambda body: ("gzip", gzip.compress(body)),
    "x-gzip": lambda body: ("x-gzip", gzip.compress(body)),
    "gzip, two members": lambda body: ("gzip", gzip.compress(body[:50]) + gzip.compress(body[50:])),
    "deflate": lambda body: ("deflate", zlib.compress(body)),
    "raw deflate": lambda body: ("deflate", raw_deflate(body)),
    "identity": lambda body: ("identity", body),
}


@pytest.mark.parametrize("encoding", HONEST)
def test_a_compressed_page_is_decoded(encoding: str, index_server: IndexServer) -> None:
    build_wheel(index_server.root, "demo", "1.0")
    client = HttpClient(HttpSettings(retries=0))
    url = f"{index_server.index_url}/demo/"
    plain = client.get(url).content
    index_server.encode["/simple/demo/"] = HONEST[encoding]
    assert client.get(url).content == plain


def test_an_encoding_not_asked_for_is_refused(index_server: IndexServer) -> None:
    """We ask for gzip or deflate; bytes in another encoding cannot be read as a page."""
    build_wheel(index_server.root, "demo", "1.0")
    index_server.encode["/simple/demo/"] = lambda body: ("br", body)
    with pytest.raises(NetworkError, match=r"/simple/demo/: it was sent with Content-Encoding br"):
        HttpClient(HttpSettings(retries=0)).get(f"{index_server.index_url}/demo/")


@pytest.fixture
def baseline(index_server: IndexServer, workdir: Path, tmp_path: Path) -> int:
    """The peak memory (bytes) of an honest sync of one small wheel, in a fresh venv."""
    calm = build_wheel(index_server.root, "calm", "1.0")
    write(Path("requirements.txt"), lock_for(calm))
    code, err, peak = measured_sync(
        make_venv(tmp_path / "baseline"), tmp_path / "cache", index_server
    )
    assert code == 0, err
    return peak


def bombed_sync(
    index: IndexServer, venv: Path, cache: Path, route: str, encoder: Encoder = bomb
) -> tuple[int, str, int]:
    """Sync ``boom`` with ``route`` answered by ``encoder`` -> (exit code, stderr, peak RSS);
    the environment is left as it was."""
    boom = build_wheel(index.root, "boom", "1.0")
    index.encode[route.format(wheel=boom.name)] = encoder
    write(Path("requirements.txt"), lock_for(boom))
    before = snapshot(venv)
    code, err, peak = measured_sync(venv, cache, index)
    assert snapshot(venv) == before
    return code, err, peak


def test_a_page_bomb_is_refused_past_the_page_cap(
    venv: Path, cache: Path, index_server: IndexServer, baseline: int
) -> None:
    """A project page that inflates to 512 MiB is refused (exit 4, an index failure) once it
    passes the cap: it was never held whole (before: 1 GB peak)."""
    code, err, peak = bombed_sync(index_server, venv, cache, "/simple/boom/", padded_bomb)
    assert code == 4, err
    assert f"{index_server.index_url}/boom/" in err and "more than" in err, err
    assert peak - baseline < PAGE_CAP + 64 * MiB, (peak, baseline)


def test_a_metadata_file_bomb_is_refused_past_the_metadata_cap(
    venv: Path, cache: Path, index_server: IndexServer, baseline: int
) -> None:
    code, err, peak = bombed_sync(index_server, venv, cache, "/files/{wheel}.metadata")
    assert code == 4, err
    assert "boom-1.0-py3-none-any.whl.metadata" in err and "more than" in err, err
    assert peak - baseline < METADATA_CAP + 32 * MiB, (peak, baseline)


@pytest.mark.parametrize("pep658", [True, False], ids=["download", "metadata-fallback"])
def test_an_archive_is_hashed_as_served_never_inflated(
    pep658: bool, venv: Path, cache: Path, index_server: IndexServer, baseline: int
) -> None:
    """A wheel sent as a gzip bomb is neither inflated in memory (reading its metadata when
    there is no PEP 658 file) nor on disk (downloading it): its bytes as served are hashed,
    as pip hashes them, and do not match (exit 3)."""
    index_server.metadata = pep658
    code, err, peak = bombed_sync(index_server, venv, cache, "/files/{wheel}")
    assert code == 3, err
    assert "boom-1.0-py3-none-any.whl" in err, err
    assert peak - baseline < 32 * MiB, (peak, baseline)


def test_an_honestly_compressed_archive_is_hashed_as_served(
    sync: Sync, index_server: IndexServer
) -> None:
    """A server that gzips a wheel on the way: the sha256 is of the gzip bytes, as pip's,
    so the lock's hash does not match (exit 3) and the message shows what was received."""
    wheel = build_wheel(index_server.root, "demo", "1.0")
    sent = gzip.compress(wheel.read_bytes())
    index_server.encode[f"/files/{wheel.name}"] = lambda _body: ("gzip", sent)
    index_server.metadata = False
    write(Path("requirements.txt"), lock_for(wheel))
    code, _out, err = sync("requirements.txt")
    assert code == 3, err
    assert sha256_of(wheel) != hashlib.sha256(sent).hexdigest()
    assert hashlib.sha256(sent).hexdigest() in err, err


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"files": {"a": 1}}', b"null"])
def test_a_json_page_that_is_no_page_is_an_index_failure(
    body: bytes, sync: Sync, venv: Path, index_server: IndexServer
) -> None:
    """A server answering a PEP 691 request with something that is not a page: exit 4
    naming the page, the environment untouched (before: a JSONDecodeError or
    AttributeError traceback). pip 26.3 ends in a JSONDecodeError traceback."""
    demo = build_wheel(index_server.root, "demo", "1.0")
    write(Path("requirements.txt"), lock_for(demo))
    index_server.page_format = "json"
    index_server.encode["/simple/demo/"] = lambda _genuine: ("identity", body)
    before = snapshot(venv)

    code, _out, err = sync("requirements.txt")

    assert code == 4, err
    assert f"The index page {index_server.index_url}/demo/ says it is JSON" in err, err
    assert snapshot(venv) == before
