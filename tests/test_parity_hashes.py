"""pip parity of the hash mode and of ``hashes`` (issue 15, items 9 and 10)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import write

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
