"""Index pages kept between runs and revalidated; one HTTP client per run (issue 16).

A page kept from an earlier run is asked for again with ``If-None-Match``; on ``304`` it is
read from the cache. An edited cache entry changes only what an index is believed to say:
the bytes installed are still checked against the allowed hashes.
"""

from __future__ import annotations

import json
import shutil
from hashlib import sha256
from pathlib import Path

import pytest
from distbuilder import build_wheel
from helpers import write
from indexserver import IndexServer
from test_http import keyring_log  # noqa: F401 (fixture)
from test_sync_apply import imports, lock_for, make_venv

from pip_hashsync.cli import main
from pip_hashsync.errors import ExitCode


def _sync(venv: Path, index: IndexServer, cache: Path | None, *extra: str) -> int:
    where = ["--cache-dir", str(cache)] if cache else ["--no-cache-dir"]
    argv = ["sync", "requirements.txt", "--venv", str(venv), "-i", index.index_url]
    return main([*argv, *where, *extra])


def _page_requests(index: IndexServer) -> list[str]:
    return [path for _, path in index.requests if path.startswith("/simple/")]


@pytest.fixture
def locked(index_server: IndexServer, workdir: Path) -> tuple[Path, Path]:
    """A lock of two wheels on an index that sends ETags."""
    alpha = build_wheel(index_server.root, "alpha", "1.0", requires=["beta"])
    beta = build_wheel(index_server.root, "beta", "2.0")
    write(workdir / "requirements.txt", lock_for(alpha, beta))
    index_server.etag = True
    return alpha, beta


def test_an_unchanged_page_is_revalidated_and_read_from_the_cache(
    index_server: IndexServer, locked: tuple[Path, Path], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    assert _sync(make_venv(tmp_path / "one"), index_server, cache) == 0
    assert index_server.not_modified == []
    shutil.rmtree(cache / "archives")  # so the second run reads the pages again
    assert _sync(make_venv(tmp_path / "two"), index_server, cache) == 0
    assert sorted(index_server.not_modified) == ["/simple/alpha/", "/simple/beta/"]
    assert imports(tmp_path / "two", "alpha") == "1.0"


def test_a_changed_page_is_read_again(
    index_server: IndexServer, locked: tuple[Path, Path], workdir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    assert _sync(make_venv(tmp_path / "one"), index_server, cache) == 0
    alpha = build_wheel(index_server.root, "alpha", "1.1", requires=["beta"])
    write(workdir / "requirements.txt", lock_for(alpha, locked[1]))
    assert _sync(tmp_path / "one", index_server, cache) == 0
    assert index_server.not_modified == []  # beta's installed: only alpha's page was asked
    assert imports(tmp_path / "one", "alpha") == "1.1"


def test_no_cache_dir_keeps_no_page(
    index_server: IndexServer, locked: tuple[Path, Path], tmp_path: Path
) -> None:
    assert _sync(make_venv(tmp_path / "one"), index_server, None) == 0
    assert _sync(make_venv(tmp_path / "two"), index_server, None) == 0
    assert index_server.not_modified == []
    assert len(_page_requests(index_server)) == 4


def test_no_store_keeps_no_page(
    index_server: IndexServer, locked: tuple[Path, Path], tmp_path: Path
) -> None:
    index_server.page_cache_control = "no-store"
    cache = tmp_path / "cache"
    assert _sync(make_venv(tmp_path / "one"), index_server, cache) == 0
    assert not (cache / "pages").exists()


def test_an_edited_cached_page_cannot_make_a_file_install_that_the_lock_does_not_allow(
    index_server: IndexServer, locked: tuple[Path, Path], tmp_path: Path
) -> None:
    """Someone rewrites the kept page of beta (consistently: body, digest, no parse kept)
    to send beta's download to other bytes, still advertised with the allowed hash. The
    page is believed (the download goes there), the bytes are not: exit 3, nothing
    installed."""
    cache = tmp_path / "cache"
    assert _sync(make_venv(tmp_path / "one"), index_server, cache) == 0
    (tmp_path / "evil").mkdir()
    evil = build_wheel(tmp_path / "evil", "beta", "2.0", files={"beta/__init__.py": "EVIL = 1"})
    index_server.documents["/evil/" + evil.name] = evil.read_bytes()
    edited = 0
    for entry in (cache / "pages" / "pages").rglob("*"):
        if not entry.is_file():
            continue
        head_line, _, body = entry.read_bytes().partition(b"\n")
        page = json.loads(body)
        if page.get("name") != "beta":
            continue
        for file in page["files"]:
            file["url"] = f"{index_server.url}/evil/{evil.name}"
            for key in ("core-metadata", "dist-info-metadata"):
                file.pop(key, None)  # so the wheel itself is read for its metadata
        body = json.dumps(page).encode()
        head = json.loads(head_line)
        head["digest"] = sha256(body).hexdigest()
        entry.write_bytes(json.dumps(head).encode() + b"\n" + body)
        edited += 1
    assert edited == 1
    shutil.rmtree(cache / "pages" / "parsed")
    shutil.rmtree(cache / "archives")
    venv = make_venv(tmp_path / "two")
    assert _sync(venv, index_server, cache) == ExitCode.HASH_FAILURE
    assert ("GET", f"/evil/{evil.name}") in index_server.requests  # the edit was believed
    assert not list(venv.glob("lib/python*/site-packages/beta*"))


def test_keyring_is_asked_once_per_run(
    index_server: IndexServer,
    locked: tuple[Path, Path],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """Pages, metadata and downloads share one client, so what keyring said for the index
    serves every request of the run."""
    log: Path = request.getfixturevalue("keyring_log")  # a keyring command that knows alice
    venv = make_venv(tmp_path / "venv")
    assert _sync(venv, index_server, tmp_path / "cache", "--keyring-provider=subprocess") == 0
    assert imports(venv, "beta") == "2.0"
    assert len(log.read_text().splitlines()) == 1, log.read_text()
