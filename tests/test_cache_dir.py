"""The cache folder as the user gives it: a relative ``--cache-dir`` is the folder under the
current directory, filled like any other, and a folder that cannot be written only costs
speed: the run warns once and goes on without it (the cache is an optimisation).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from distbuilder import build_wheel, sha256_of
from helpers import write
from indexserver import IndexServer

from pip_hashsync.cli import main


@pytest.fixture
def lock(index_server: IndexServer, workdir: Path) -> Path:
    """``requirements.txt`` in the current folder, pinning a wheel the index serves."""
    alpha = build_wheel(index_server.root, "alpha", "1.0", files={"alpha/__init__.py": "A = 1\n"})
    return write(workdir / "requirements.txt", f"alpha==1.0 --hash=sha256:{sha256_of(alpha)}\n")


def sync(
    venv: Path, index: IndexServer, cache_dir: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    argv = ["sync", "requirements.txt", "--venv", str(venv), "-i", index.index_url]
    code = main([*argv, "--cache-dir", cache_dir])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def installed(venv: Path) -> bool:
    return any(venv.glob("lib/python*/site-packages/alpha/__init__.py"))


def test_a_relative_cache_dir_keeps_unpacked_wheels(
    venv: Path, index_server: IndexServer, lock: Path, workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    code, _, _ = sync(venv, index_server, "relative-cache", capsys)
    assert code == 0 and installed(venv)
    unpacked = workdir / "relative-cache" / "unpacked"
    assert [p.name for p in unpacked.glob("*/*/alpha/__init__.py")] == ["__init__.py"]


def test_a_cache_dir_that_is_a_file_is_warned_about_and_done_without(
    venv: Path, index_server: IndexServer, lock: Path, workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """A regular file where the folder should be makes every write fail (ENOTDIR), even as
    root, where a read-only folder would not."""
    (workdir / "cache").write_text("not a folder")
    code, out, err = sync(venv, index_server, "cache", capsys)
    assert code == 0 and installed(venv)
    assert "installed 1" in out
    warning = f"WARNING: the cache folder {workdir / 'cache'} cannot be written (Not a directory)"
    assert err.count(warning) == 1
    assert (workdir / "cache").read_text() == "not a folder"


def test_a_cache_whose_archives_cannot_be_stored_is_warned_about_and_done_without(
    venv: Path, index_server: IndexServer, lock: Path, workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Downloads in progress can be written, but no archive can be put in place."""
    (workdir / "cache").mkdir()
    (workdir / "cache" / "archives").write_text("not a folder")
    code, _, err = sync(venv, index_server, "cache", capsys)
    assert code == 0 and installed(venv)
    assert err.count("WARNING: the cache folder") == 1
    assert list((workdir / "cache" / "tmp").iterdir()) == []


@pytest.fixture
def full_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder on a 4 KiB tmpfs already full: every write of data fails with ENOSPC. Needs
    the right to mount (root, outside most containers); skipped elsewhere."""
    folder = tmp_path / "full"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        with contextlib.suppress(OSError), open(folder / "filler", "wb") as filler:
            filler.write(b"x" * 8192)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_full_cache_folder_is_warned_about_and_done_without(
    venv: Path, index_server: IndexServer, lock: Path, full_folder: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    code, out, err = sync(venv, index_server, str(full_folder), capsys)
    assert code == 0 and installed(venv)
    assert "installed 1" in out
    assert err.count(f"WARNING: the cache folder {full_folder} cannot be written") == 1
    assert "No space left on device" in err
