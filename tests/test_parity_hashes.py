"""pip parity of the hash mode and of ``hashes`` (issue 15, items 9 and 10)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from distbuilder import build_sdist, build_wheel, sha256_of
from helpers import write
from indexserver import IndexServer

from pip_hashsync.cli import main


@pytest.mark.parametrize("where", ["PIP_REQUIRE_HASHES", "config file"])
def test_lint_decides_the_hash_mode_with_the_settings_sync_reads(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``PIP_REQUIRE_HASHES=1`` or ``require-hashes = true`` in pip's configuration turns
    hash-checking mode on for ``lint`` as for ``sync``. pip 26.3 (``pip download`` with
    ``PIP_REQUIRE_HASHES=1``) refuses an unhashed ``==`` line ("Hashes are required in
    --require-hashes mode") and an unpinned one ("must have their versions pinned with
    =="); uv has no such variable (``UV_REQUIRE_HASHES`` is its own)."""
    if where == "PIP_REQUIRE_HASHES":
        monkeypatch.setenv("PIP_REQUIRE_HASHES", "1")
        named = "PIP_REQUIRE_HASHES"
    else:
        config = write(workdir / "pip.conf", "[global]\nrequire-hashes = true\n")
        monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
        named = f"{config} [global]"
    write(workdir / "r.txt", "six==1.17.0\nattrs>=24\n")
    assert main(["lint", "r.txt"]) == 2
    captured = capsys.readouterr()
    assert "r.txt:1: six==1.17.0 has no --hash" in captured.err
    assert "r.txt:2: attrs>=24 is not pinned" in captured.err
    assert f"hash-checking mode on (--require-hashes in {named})" in captured.out


def test_sync_gives_paste_ready_lines_for_a_pinned_line_without_hash(
    workdir: Path, dist_dir: Path, index_server: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 15 item 10: in hash-checking mode a pinned line without ``--hash`` is refused
    with the paste-ready ``--hash`` lines of every file of its version, as when no hash
    matched (EC39), read from the index pages: no archive is downloaded. pip 26.3
    downloads the one file it would install and prints its hash alone ("Hashes are
    required in --require-hashes mode … alpha==1.0 --hash=sha256:…"); uv prints "Hash-
    checking mode requires all dependencies to have hashes" without any."""
    alpha = [build_wheel(dist_dir, "alpha", "1.0"), build_sdist(dist_dir, "alpha", "1.0")]
    build_wheel(dist_dir, "alpha", "0.9")
    beta = build_wheel(dist_dir, "beta", "1.0")
    write(workdir / "r.txt", f"alpha==1.0\nbeta==1.0 --hash=sha256:{sha256_of(beta)}\n")
    venv = workdir / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    argv = ["sync", "--dry-run", "r.txt", "--venv", str(venv), "-i", index_server.index_url]
    assert main([*argv, "--no-input"]) == 2
    err = capsys.readouterr().err
    digests = sorted(sha256_of(path) for path in alpha)
    paste = [
        "        alpha==1.0 \\",
        f"            --hash=sha256:{digests[0]} \\",
        f"            --hash=sha256:{digests[1]}",
    ]
    assert "r.txt:1: alpha==1.0 has no --hash" in err
    assert "\n".join(paste) in err, err
    assert not [path for _, path in index_server.requests if path.startswith("/files/")]
