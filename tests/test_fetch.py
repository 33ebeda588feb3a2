"""Verified downloads against the real local index: cache, fallback, lying indexes, offline."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import pytest
from distbuilder import build_sdist, build_wheel, sha256_of
from indexserver import IndexServer

from pip_hashsync.archives.cache import ArchiveCache
from pip_hashsync.archives.fetch import FetchFailed, FetchRequest, FetchUnavailable, fetch
from pip_hashsync.errors import ExitCode
from pip_hashsync.index.http import HttpClient, HttpSettings
from pip_hashsync.index.pages import FileLink, Index
from pip_hashsync.requirements.hashes import AllowedHashes, Digest


@pytest.fixture
def client() -> Iterator[HttpClient]:
    http = HttpClient(HttpSettings(timeout=5, backoff_factor=0))
    yield http
    http.close()


@pytest.fixture
def cache(tmp_path: Path) -> ArchiveCache:
    return ArchiveCache(tmp_path / "cache")


@pytest.fixture
def demo(dist_dir: Path) -> tuple[Path, Path]:
    """The wheel and the sdist of demo 1.0, served by ``index_server``."""
    return build_wheel(dist_dir, "demo", "1.0"), build_sdist(dist_dir, "demo", "1.0")


def files_of(client: HttpClient, server: IndexServer, name: str) -> tuple[FileLink, ...]:
    """The files the index offers for ``name``, wheels first."""
    found = Index(client, (server.index_url,)).files(name)
    return tuple(sorted(found, key=lambda f: (not f.is_wheel, f.filename)))


def allowing(*paths: Path, algorithm: str = "sha256") -> AllowedHashes:
    digests = [Digest(algorithm, hashlib.new(algorithm, p.read_bytes()).hexdigest()) for p in paths]
    return AllowedHashes().narrowed(digests)


def downloads(server: IndexServer) -> list[str]:
    return [path for _, path in server.requests if path.startswith("/files/")]


def true_digests(data: bytes, digests: Mapping[str, str]) -> bool:
    """Whether ``digests`` has sha256 and every value in it is the digest of ``data``."""
    return "sha256" in digests and all(
        hashlib.new(a, data).hexdigest() == value for a, value in digests.items()
    )


def cached_bytes(cache: ArchiveCache) -> list[bytes]:
    return [p.read_bytes() for p in cache.root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("hashed", [True, False], ids=["hash-mode", "no-hash"])
def test_downloads_are_verified_and_cached(
    index_server: IndexServer,
    demo: tuple[Path, Path],
    client: HttpClient,
    cache: ArchiveCache,
    hashed: bool,
) -> None:
    wheel, sdist = demo
    files = files_of(client, index_server, "demo")
    request = FetchRequest("demo", files, allowing(wheel, sdist) if hashed else None)

    archives, notices = fetch([request], client, cache)
    archive = archives["demo"]
    assert notices == []
    assert archive.filename == wheel.name
    assert true_digests(wheel.read_bytes(), archive.digests)
    assert archive.path.read_bytes() == wheel.read_bytes()
    assert cache.root in archive.path.parents
    assert archive.url == index_server.file_url(wheel.name)
    assert archive.origin == index_server.index_url
    assert downloads(index_server) == [f"/files/{wheel.name}"]

    again, _ = fetch([request], client, cache)  # warm: the hashes name the bytes
    assert again == archives
    assert downloads(index_server) == [f"/files/{wheel.name}"]


def test_a_lying_index_falls_back_to_the_next_allowed_file(
    index_server: IndexServer, demo: tuple[Path, Path], client: HttpClient, cache: ArchiveCache
) -> None:
    wheel, sdist = demo
    index_server.tampered = {wheel.name: b"not the wheel"}
    files = files_of(client, index_server, "demo")
    assert files[0].hashes["sha256"] == sha256_of(wheel)  # the advertised digest is genuine

    archives, notices = fetch([FetchRequest("demo", files, allowing(wheel, sdist))], client, cache)

    assert archives["demo"].filename == sdist.name
    assert archives["demo"].path.read_bytes() == sdist.read_bytes()
    [notice] = notices
    evil_sha256 = hashlib.sha256(b"not the wheel").hexdigest()
    assert notice.startswith(f"{wheel.name} from {index_server.file_url(wheel.name)}: ")
    assert "do not match any allowed hash" in notice
    assert evil_sha256 in notice
    assert notice.endswith(f"; trying {sdist.name}")
    assert b"not the wheel" not in cached_bytes(cache)
    assert list((cache.root / "tmp").iterdir()) == []


def test_every_allowed_file_failing_is_an_integrity_failure(
    index_server: IndexServer, demo: tuple[Path, Path], client: HttpClient, cache: ArchiveCache
) -> None:
    wheel, sdist = demo
    index_server.tampered = {wheel.name: b"fake wheel", sdist.name: b"fake sdist"}
    request = FetchRequest("demo", files_of(client, index_server, "demo"), allowing(wheel, sdist))

    with pytest.raises(FetchFailed) as failed:
        fetch([request], client, cache)

    error = failed.value
    assert error.exit_code == ExitCode.HASH_FAILURE
    assert error.project == "demo"
    assert len(error.failures) == 2
    for filename, served in ((wheel.name, b"fake wheel"), (sdist.name, b"fake sdist")):
        assert f"demo: {filename} from " in str(error)
        assert f"sha256:{hashlib.sha256(served).hexdigest()}" in str(error)
    assert not [data for data in cached_bytes(cache) if data.startswith(b"fake")]


def test_a_tampered_cache_entry_is_never_used(
    index_server: IndexServer, demo: tuple[Path, Path], client: HttpClient, cache: ArchiveCache
) -> None:
    wheel, sdist = demo
    request = FetchRequest("demo", files_of(client, index_server, "demo"), allowing(wheel, sdist))
    archives, _ = fetch([request], client, cache)
    archives["demo"].path.write_bytes(b"edited in the cache")

    again, _ = fetch([request], client, cache)

    assert downloads(index_server) == [f"/files/{wheel.name}"] * 2
    assert again["demo"].path.read_bytes() == wheel.read_bytes()
    assert true_digests(wheel.read_bytes(), again["demo"].digests)


def test_a_cached_archive_no_longer_allowed_is_not_used(
    index_server: IndexServer, demo: tuple[Path, Path], client: HttpClient, cache: ArchiveCache
) -> None:
    wheel, sdist = demo
    files = files_of(client, index_server, "demo")
    fetch([FetchRequest("demo", files, None)], client, cache)  # caches the wheel
    index_server.requests.clear()

    archives, [notice] = fetch([FetchRequest("demo", files, allowing(sdist))], client, cache)

    assert archives["demo"].filename == sdist.name
    assert notice.startswith(wheel.name)  # downloaded again and judged, not taken from cache
    assert downloads(index_server) == [f"/files/{wheel.name}", f"/files/{sdist.name}"]


def test_a_cached_archive_that_is_not_an_acceptable_file_is_not_used(
    index_server: IndexServer, demo: tuple[Path, Path], client: HttpClient, cache: ArchiveCache
) -> None:
    """The wheel is cached and allowed, but only the sdist may be used (say --no-binary)."""
    wheel, sdist = demo
    files = files_of(client, index_server, "demo")
    fetch([FetchRequest("demo", files, None)], client, cache)
    sdist_only = tuple(f for f in files if not f.is_wheel)

    archives, _ = fetch([FetchRequest("demo", sdist_only, allowing(wheel, sdist))], client, cache)

    assert archives["demo"].filename == sdist.name


def test_offline_with_everything_cached_sends_no_request(
    index_server: IndexServer, demo: tuple[Path, Path], client: HttpClient, cache: ArchiveCache
) -> None:
    wheel, sdist = demo
    request = FetchRequest("demo", files_of(client, index_server, "demo"), allowing(wheel, sdist))
    online, _ = fetch([request], client, cache)
    index_server.requests.clear()

    offline, notices = fetch([request], client, cache, offline=True)

    assert offline == online
    assert notices == []
    assert index_server.requests == []


def test_offline_names_every_project_not_cached(
    index_server: IndexServer, dist_dir: Path, client: HttpClient, cache: ArchiveCache
) -> None:
    wheels = {name: build_wheel(dist_dir, name, "1.0") for name in ("cached", "one", "two")}
    requests = [
        FetchRequest(name, files_of(client, index_server, name), allowing(wheel))
        for name, wheel in wheels.items()
    ]
    fetch(requests[:1], client, cache)
    index_server.requests.clear()

    with pytest.raises(FetchUnavailable) as failed:
        fetch(requests, client, cache, offline=True)

    assert failed.value.exit_code == ExitCode.NETWORK
    assert failed.value.projects == ["one", "two"]
    assert "one: not in the cache, and --offline forbids downloading it" in str(failed.value)
    assert "cached" not in str(failed.value)
    assert index_server.requests == []


def test_without_hashes_a_wrong_advertised_hash_fails_as_pip_fails(
    index_server: IndexServer, demo: tuple[Path, Path], client: HttpClient, cache: ArchiveCache
) -> None:
    wheel, _ = demo
    index_server.wrong_hashes = {wheel.name}
    [wheel_link] = [f for f in files_of(client, index_server, "demo") if f.is_wheel]

    with pytest.raises(FetchFailed) as failed:
        fetch([FetchRequest("demo", (wheel_link,), None)], client, cache)

    assert failed.value.exit_code == ExitCode.HASH_FAILURE
    message = str(failed.value)
    assert f"demo: {wheel.name} from " in message
    assert "do not match the sha256 its index advertises" in message
    assert f"downloaded {sha256_of(wheel)}" in message
    assert wheel.read_bytes() not in cached_bytes(cache)


def test_without_hashes_an_advertised_md5_is_checked_too(
    index_server: IndexServer, demo: tuple[Path, Path], client: HttpClient, cache: ArchiveCache
) -> None:
    """Some indexes and find-links pages give only ``#md5=``; pip checks it, so do we."""
    wheel, _ = demo
    [link] = [f for f in files_of(client, index_server, "demo") if f.is_wheel]
    md5 = hashlib.md5(wheel.read_bytes()).hexdigest()

    good = replace(link, hashes={"md5": md5})
    archives, _ = fetch([FetchRequest("demo", (good,), None)], client, cache)
    assert archives["demo"].filename == wheel.name

    bad = replace(link, hashes={"md5": "0" * 32})
    with pytest.raises(FetchFailed) as failed:
        fetch([FetchRequest("demo", (bad,), None)], client, cache)  # no sha256: no cache lookup
    assert f"md5 its index advertises (advertised {'0' * 32}, downloaded {md5})" in str(
        failed.value
    )


def test_a_sha512_only_hash_is_checked_while_streaming(
    index_server: IndexServer, demo: tuple[Path, Path], client: HttpClient, cache: ArchiveCache
) -> None:
    wheel, _ = demo
    index_server.advertise = "none"
    [wheel_link] = [f for f in files_of(client, index_server, "demo") if f.is_wheel]
    assert wheel_link.hashes == {}

    allowed = allowing(wheel, algorithm="sha512")
    archives, _ = fetch([FetchRequest("demo", (wheel_link,), allowed)], client, cache)
    assert true_digests(wheel.read_bytes(), archives["demo"].digests)

    wrong = AllowedHashes().narrowed([Digest("sha512", "0" * 128)])
    with pytest.raises(FetchFailed) as failed:
        fetch([FetchRequest("demo", (wheel_link,), wrong)], client, cache)
    sha512 = hashlib.sha512(wheel.read_bytes()).hexdigest()
    assert f"sha512:{sha512}" in str(failed.value)


def test_several_projects_in_parallel_and_every_failure_reported(
    index_server: IndexServer, dist_dir: Path, client: HttpClient, cache: ArchiveCache
) -> None:
    names = [f"project-{n}" for n in range(6)]
    wheels = {name: build_wheel(dist_dir, name, "1.0") for name in names}
    requests = [
        FetchRequest(name, files_of(client, index_server, name), allowing(wheels[name]))
        for name in names
    ]
    archives, _ = fetch(requests, client, cache, workers=4)
    assert {key: a.filename for key, a in archives.items()} == {n: wheels[n].name for n in names}

    tampered = {wheels[name].name: b"tampered" for name in names[3:5]}
    index_server.tampered = tampered
    fresh = ArchiveCache(None)
    try:
        with pytest.raises(FetchFailed) as failed:
            fetch(requests, client, fresh)
    finally:
        fresh.close()
    assert failed.value.projects == names[3:5]
    assert failed.value.project is None
    assert [line.split(":")[0] for line in failed.value.failures] == names[3:5]


def test_progress_is_reported_as_bytes_arrive(
    index_server: IndexServer, dist_dir: Path, client: HttpClient, cache: ArchiveCache
) -> None:
    big = build_wheel(dist_dir, "big", "1.0", files={"big/data.txt": "x" * 1_000_000})
    calls: list[tuple[str, int, int | None]] = []

    def progress(filename: str, done: int, total: int | None) -> None:
        calls.append((filename, done, total))

    request = FetchRequest("big", files_of(client, index_server, "big"), None)
    fetch([request], client, cache, progress=progress)

    assert len(calls) > 1
    assert [done for _, done, _ in calls] == sorted(done for _, done, _ in calls)
    assert calls[-1] == (big.name, big.stat().st_size, big.stat().st_size)


def test_a_network_error_moves_on_then_fails_with_exit_4(
    index_server: IndexServer, demo: tuple[Path, Path], client: HttpClient, cache: ArchiveCache
) -> None:
    wheel, sdist = demo
    files = files_of(client, index_server, "demo")
    missing = replace(files[0], url=index_server.file_url("gone-1.0-py3-none-any.whl"))
    request = FetchRequest("demo", (missing, files[1]), allowing(wheel, sdist))

    archives, [notice] = fetch([request], client, cache)
    assert archives["demo"].filename == sdist.name
    assert notice.startswith(f"{wheel.name}: HTTP error 404")
    assert notice.endswith(f"; trying {sdist.name}")

    with pytest.raises(FetchUnavailable) as failed:
        fetch([FetchRequest("demo", (missing,), allowing(wheel))], client, cache)
    assert failed.value.exit_code == ExitCode.NETWORK
    assert "HTTP error 404" in str(failed.value)


def test_find_links_files_are_read_through_the_same_client(
    tmp_path: Path, client: HttpClient, cache: ArchiveCache
) -> None:
    folder = tmp_path / "wheels"
    folder.mkdir()
    wheel = build_wheel(folder, "local", "1.0")
    files = tuple(Index(client, (), find_links=(str(folder),)).files("local"))
    assert files[0].url.startswith("file:")

    archives, _ = fetch([FetchRequest("local", files, allowing(wheel))], client, cache)

    assert archives["local"].path.read_bytes() == wheel.read_bytes()
    assert cache.root in archives["local"].path.parents
