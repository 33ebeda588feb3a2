"""The archive cache on a real filesystem: round trip, tampering, concurrency, no-cache mode."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pip_hashsync.archives.cache import ArchiveCache, CachedArchive

DATA = b"archive bytes " * 1000
DIGESTS = {a: hashlib.new(a, DATA).hexdigest() for a in ("sha256", "sha384", "sha512")}
SHA256 = DIGESTS["sha256"]
URL = "https://files.example/packages/demo-1.0-py3-none-any.whl"


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[ArchiveCache]:
    archive_cache = ArchiveCache(tmp_path / "cache")
    yield archive_cache
    archive_cache.close()


def put(cache: ArchiveCache, data: bytes = DATA, url: str = URL) -> CachedArchive:
    output, temp = cache.new_temp()
    with output:
        output.write(data)
    digests = {a: hashlib.new(a, data).hexdigest() for a in ("sha256", "sha384", "sha512")}
    return cache.put(temp, "demo-1.0-py3-none-any.whl", digests, url, "https://files.example")


def test_round_trip_rehashes_with_the_algorithms_asked_for(cache: ArchiveCache) -> None:
    stored = put(cache)
    expected = cache.root / "archives" / SHA256[:2] / SHA256 / "demo-1.0-py3-none-any.whl"
    assert stored.path == expected
    assert expected.read_bytes() == DATA
    assert list((cache.root / "tmp").iterdir()) == []  # the temp files were moved, not copied

    hit = cache.get(SHA256, ("sha384", "sha512"))
    assert hit == CachedArchive(
        expected, "demo-1.0-py3-none-any.whl", URL, "https://files.example", DIGESTS
    )
    assert cache.get("0" * 64) is None


def test_only_sha256_unless_asked_and_a_later_ask_rehashes(cache: ArchiveCache) -> None:
    put(cache)
    first = cache.get(SHA256)
    assert first is not None and first.digests == {"sha256": SHA256}
    assert cache.get(SHA256) is first  # from memory
    wider = cache.get(SHA256, ("sha512",))
    assert wider is not None and wider.digests == {"sha256": SHA256, "sha512": DIGESTS["sha512"]}


def test_origin_record(cache: ArchiveCache) -> None:
    stored = put(cache)
    record = json.loads((stored.path.parent / "origin.json").read_text())
    assert record == {
        "filename": "demo-1.0-py3-none-any.whl",
        "url": URL,
        "origin": "https://files.example",
    }


def test_no_password_reaches_the_record(cache: ArchiveCache) -> None:
    stored = put(cache, url="https://alice:s3cret@files.example/demo-1.0-py3-none-any.whl")
    text = (stored.path.parent / "origin.json").read_text()
    assert "s3cret" not in text
    assert stored.url is not None and "s3cret" not in stored.url


def test_a_tampered_entry_is_deleted_not_returned(cache: ArchiveCache) -> None:
    stored = put(cache)
    stored.path.write_bytes(b"evil " + DATA)
    assert cache.get(SHA256) is None
    assert not stored.path.parent.exists()
    assert cache.get(SHA256) is None


@pytest.mark.parametrize("value", ["../" * 21 + "x", "Z" * 64, SHA256[:40]])
def test_a_value_that_is_not_a_sha256_is_a_miss(cache: ArchiveCache, value: str) -> None:
    """An index's advertised value is used as a key: it must never name another folder."""
    put(cache)
    assert cache.get(value) is None
    assert cache.get(SHA256) is not None


def test_a_key_cannot_reach_outside_the_cache(tmp_path: Path, cache: ArchiveCache) -> None:
    """``archives/../../victim`` would be hashed, found wrong and deleted, were it a key."""
    assert cache.root.parent == tmp_path
    put(cache)  # the archives folder exists, so the OS can walk up from it
    victim = tmp_path / ("v" * 61)
    victim.mkdir()
    (victim / "origin.json").write_text(json.dumps({"filename": "data"}))
    (victim / "data").write_bytes(b"not ours")
    assert cache.get("../" + victim.name) is None
    assert (victim / "data").exists()


def test_an_unusable_record_is_a_miss(cache: ArchiveCache) -> None:
    stored = put(cache)
    record = stored.path.parent / "origin.json"
    record.write_text(json.dumps({"filename": "../../../../outside"}))
    assert cache.get(SHA256) is None
    record.write_text("{half written")
    assert cache.get(SHA256) is None
    record.unlink()
    assert cache.get(SHA256) is None
    put(cache)  # a new put repairs the entry
    assert cache.get(SHA256) is not None


def test_concurrent_puts_of_the_same_archive(cache: ArchiveCache) -> None:
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: put(cache), range(8)))
        hits = list(pool.map(lambda _: cache.get(SHA256), range(8)))
    assert {r.path for r in results} == {results[0].path}
    assert all(hit is not None and hit.digests == {"sha256": SHA256} for hit in hits)
    assert sorted(p.name for p in results[0].path.parent.iterdir()) == [
        "demo-1.0-py3-none-any.whl",
        "origin.json",
    ]
    assert list((cache.root / "tmp").iterdir()) == []


def test_temp_files_are_never_reused(cache: ArchiveCache) -> None:
    (first, first_path), (second, second_path) = cache.new_temp(), cache.new_temp()
    first.close()
    second.close()
    assert first_path != second_path
    assert first_path.parent == second_path.parent == cache.root / "tmp"


def test_no_cache_uses_a_private_folder_removed_on_close() -> None:
    cache = ArchiveCache(None)
    stored = put(cache)
    assert cache.root in stored.path.parents
    assert cache.get(SHA256) is not None
    cache.close()
    assert not cache.root.exists()


def test_a_real_cache_survives_close(cache: ArchiveCache) -> None:
    put(cache)
    cache.close()
    assert cache.get(SHA256) is not None
