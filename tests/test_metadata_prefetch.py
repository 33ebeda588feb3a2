"""Metadata for the plan, read ahead and read once (issue 16): every line's ``.metadata``
file is fetched at once, and an index without PEP 658 files has each archive downloaded
once, into the verified cache, where the install finds it."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from distbuilder import build_wheel, sha256_of
from helpers import write
from indexserver import IndexServer

from pip_hashsync.cli import main


def _lock(index: IndexServer, count: int) -> list[Path]:
    """``count`` wheels, each but the last depending on the next, pinned with hashes."""
    wheels = [
        build_wheel(index.root, f"p{i}", "1.0", requires=[f"p{i + 1}"] if i + 1 < count else [])
        for i in range(count)
    ]
    lines = [f"p{i}==1.0 --hash=sha256:{sha256_of(w)}" for i, w in enumerate(wheels)]
    write(Path("requirements.txt"), "\n".join(lines) + "\n")
    return wheels


def _sync(tmp_path: Path, index: IndexServer, capsys: pytest.CaptureFixture[str]) -> int:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    argv = ["sync", "requirements.txt", "--venv", str(venv), "-i", index.index_url]
    code = main([*argv, "--cache-dir", str(tmp_path / "cache"), "--no-input"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code


def _archive_gets(index: IndexServer) -> Counter[str]:
    return Counter(
        path.rsplit("/", 1)[1]
        for _, path in index.requests
        if path.startswith("/files/") and not path.endswith(".metadata")
    )


def test_without_pep658_each_archive_is_downloaded_once(
    workdir: Path, tmp_path: Path, index_server: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The archive read for its METADATA is the one installed: one GET each, not two."""
    index_server.metadata = False
    wheels = _lock(index_server, 5)
    assert _sync(tmp_path, index_server, capsys) == 0
    assert _archive_gets(index_server) == Counter({w.name: 1 for w in wheels})
    installed = {p.name for p in (tmp_path / "venv").glob("lib/python*/site-packages/p*-*")}
    assert installed == {f"p{i}-1.0.dist-info" for i in range(5)}


def test_without_pep658_bytes_not_allowed_never_reach_the_cache(
    workdir: Path, tmp_path: Path, index_server: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Policy 4, EC44, EC53: an archive read for its METADATA is checked before it is read
    or kept; bytes that fail are neither installed nor cached."""
    index_server.metadata = False
    (wheel,) = _lock(index_server, 1)
    evil = b"PK evil bytes"
    index_server.tampered[wheel.name] = evil
    assert _sync(tmp_path, index_server, capsys) == 3
    cached = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert all(p.read_bytes() != evil for p in cached)
    assert not any(hashlib.sha256(evil).hexdigest() in str(p) for p in cached)
    assert not list((tmp_path / "venv").glob("lib/python*/site-packages/p0*"))


def test_pep658_metadata_files_are_fetched_in_parallel(
    workdir: Path, tmp_path: Path, index_server: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every line's ``.metadata`` file is asked for at once: the server's gate passes only
    when all four requests are in flight together (one after another, it breaks)."""
    index_server.metadata_gate = threading.Barrier(4, timeout=5)
    _lock(index_server, 4)
    assert _sync(tmp_path, index_server, capsys) == 0
    assert not index_server.metadata_gate.broken
    metadata_gets = [p for _, p in index_server.requests if p.endswith(".metadata")]
    assert len(metadata_gets) == 4


def test_without_pep658_outside_hash_mode_bytes_unlike_the_advertised_digest_are_refused(
    workdir: Path, tmp_path: Path, index_server: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Outside hash mode an archive read for its METADATA is judged as the install judges
    it (EC43: by the digests its index advertises) before it is read: exit 3, named."""
    index_server.metadata = False
    wheel = build_wheel(index_server.root, "a", "1.0")
    index_server.tampered[wheel.name] = b"PK evil bytes"
    write(Path("requirements.txt"), "a==1.0\n")
    assert _sync(tmp_path, index_server, capsys) == 3
    assert _archive_gets(index_server) == Counter({wheel.name: 1})


def test_without_pep658_a_file_failing_while_read_ahead_falls_back_told_once(
    workdir: Path, tmp_path: Path, index_server: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """EC44 while reading ahead: the best wheel's bytes are not allowed, the next allowed
    file of the version is read and installed, each downloaded once, the failure told once."""
    index_server.metadata = False
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}-none-any"
    best = build_wheel(index_server.root, "p0", "1.0", tag=tag, requires=["p1"])
    other = build_wheel(index_server.root, "p0", "1.0", requires=["p1"])
    p1 = build_wheel(index_server.root, "p1", "1.0")
    index_server.tampered[best.name] = b"PK evil bytes"
    lines = [f"p0==1.0 --hash=sha256:{sha256_of(best)} --hash=sha256:{sha256_of(other)}"]
    lines.append(f"p1==1.0 --hash=sha256:{sha256_of(p1)}")
    write(Path("requirements.txt"), "\n".join(lines) + "\n")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    argv = ["sync", "requirements.txt", "--venv", str(venv), "-i", index_server.index_url]
    assert main([*argv, "--cache-dir", str(tmp_path / "cache"), "--no-input"]) == 0
    out, err = capsys.readouterr()
    assert (out + err).count("trying the next allowed file") == 1, out + err
    assert f"{best.name} from {index_server.index_url} does not match" in out + err
    assert _archive_gets(index_server) == Counter({best.name: 1, other.name: 1, p1.name: 1})
