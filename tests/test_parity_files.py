"""pip parity on which files and versions are taken (issue 15, items 1, 11, 15, 16).

Each test runs the command line against the loopback index and real venvs; pip 26.3 is the
oracle where it can answer (``pip install --dry-run --report``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from distbuilder import build_wheel, sha256_of
from helpers import write
from indexserver import IndexServer

from pip_hashsync.cli import main


def _venv(path: Path, python: str = sys.executable) -> Path:
    subprocess.run([python, "-m", "venv", "--without-pip", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty venv of the running Python; never written to by the tests."""
    return _venv(tmp_path_factory.mktemp("clean") / "venv")


def hashed(*paths: Path) -> str:
    return " ".join(f"--hash=sha256:{sha256_of(p)}" for p in paths)


def dry_run(
    capsys: pytest.CaptureFixture[str], venv: Path, index: IndexServer, *args: str
) -> tuple[int, dict[str, Any]]:
    """``sync --dry-run --format json requirements.txt`` into ``venv``: (exit code, plan)."""
    argv = ["sync", "--dry-run", "--format", "json", "requirements.txt", "--venv", str(venv)]
    code = main([*argv, "-i", index.index_url, "--no-input", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, json.loads(out)


# -- item 11: yanked versions ----------------------------------------------------------------


def test_a_yanked_pinned_version_is_one_warning_naming_the_pin_and_the_reason(
    capsys: pytest.CaptureFixture[str], venv: Path, dist_dir: Path, workdir: Path,
    index_server: IndexServer,
) -> None:  # fmt: skip
    """Issue 15 item 11: every file of charset-normalizer 3.4.8 is yanked; an ``==`` pin
    still takes it (PEP 592). One warning for the version, naming the pin's line and the
    reason — not one per file, and none for files of it that are not used. pip 26.3 warns
    once for the candidate it selected ("The candidate selected for download or install is
    a yanked version … Reason for being yanked: …"); uv once per package ("`x==1.0` is
    yanked (reason: …)")."""
    py3 = build_wheel(dist_dir, "cn", "3.4.8")
    cp = build_wheel(
        dist_dir, "cn", "3.4.8", tag=f"cp{sys.version_info[0]}{sys.version_info[1]}-none-any"
    )
    other = build_wheel(dist_dir, "cn", "3.4.8", tag="py2-none-any")
    for wheel in (py3, cp, other):
        index_server.yanked[wheel.name] = "broken release"
    write(workdir / "requirements.txt", f"cn==3.4.8 {hashed(py3, cp)}\n")
    code, plan = dry_run(capsys, venv, index_server)
    assert code == 0, plan
    yank = [w for w in plan["warnings"] if "yanked" in w]
    assert yank == [
        "cn 3.4.8 is yanked: broken release; used because the pin cn==3.4.8 "
        "(requirements.txt:1) allows nothing else"
    ]
