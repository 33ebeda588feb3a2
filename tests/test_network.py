"""Against the real default index (marked ``network``): the files ``sync --dry-run`` chooses
for a real hashed lock equal those ``pip install --dry-run --report`` chooses (pip is the
oracle), for the same target."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from pip_hashsync.cli import main

PYPI = "https://pypi.org/simple"
LOCK = Path(__file__).parent / "fixtures" / "compiled" / "pip-compile.txt"

pytestmark = pytest.mark.network


@pytest.fixture(scope="module", autouse=True)
def default_index_reachable() -> None:
    try:
        urllib.request.urlopen(f"{PYPI}/six/", timeout=10).close()
    except OSError as exc:
        pytest.skip(f"the default index is not reachable: {exc}")


@pytest.fixture
def venv_311(tmp_path: Path) -> Path:
    """An empty venv of Python 3.11, the version the lock was compiled for."""
    if sys.version_info[:2] != (3, 11):
        pytest.skip("the lock fixture was compiled for Python 3.11")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return venv


def _filename(url: str) -> str:
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])


def test_chosen_files_equal_pips_for_a_real_lock(
    venv_311: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["sync", "--dry-run", "--format", "json", str(LOCK), "--venv", str(venv_311)]
    assert main([*args, "-i", PYPI]) == 0
    plan = json.loads(capsys.readouterr().out)
    ours = {a["file"] for a in plan["actions"] if a["action"] == "install"}

    report = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv_311 / "bin" / "python"), "install",
         "--dry-run", "--ignore-installed", "--quiet", "--report", "-", "-r", str(LOCK),
         "--index-url", PYPI],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    pips = {
        _filename(item["download_info"]["url"]) for item in json.loads(report.stdout)["install"]
    }
    assert len(ours) > 25
    assert ours == pips


def test_sync_a_real_lock_into_a_new_venv(venv_311: Path, tmp_path: Path) -> None:
    """The lock installs from the default index; the result passes ``pip check`` and every
    top-level package imports; a second sync is a no-op."""
    args = ["sync", str(LOCK), "--venv", str(venv_311), "-i", PYPI, "--cache-dir", str(tmp_path)]
    assert main(args) == 0
    python = str(venv_311 / "bin" / "python")
    check = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    modules = ["requests", "rich", "pydantic", "cryptography", "yaml", "jinja2", "httpx", "attrs"]
    subprocess.run([python, "-c", f"import {', '.join(modules)}"], check=True)
    assert main(args) == 0


def test_hashes_equal_pip_compiles_for_real_pins(tmp_path: Path) -> None:
    """``hashes`` on the pip-compile lock with its hashes removed writes the same hashes."""
    text = LOCK.read_text()
    bare = "\n".join(
        line.removesuffix(" \\") for line in text.splitlines() if "--hash=" not in line
    )
    unhashed = tmp_path / "requirements.txt"
    unhashed.write_text(bare + "\n")
    assert main(["hashes", str(unhashed), "-i", PYPI]) == 0
    assert unhashed.read_text() == text


def test_an_sdist_only_pin_from_the_default_index_builds_with_hashed_build_constraints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``examples/sdist-requirements.txt`` (docopt, an sdist only) with
    ``examples/build-constraints.txt`` (setuptools, pinned and hashed): verified, built with
    setuptools' legacy backend in a fresh build environment, installed."""
    examples = Path(__file__).parent.parent / "examples"
    venv = tmp_path / "venv"
    args = ["sync", str(examples / "sdist-requirements.txt"), "--venv", str(venv)]
    args += ["--build-constraint", str(examples / "build-constraints.txt"), "-i", PYPI]
    assert main(args) == 0, capsys.readouterr().err
    (info,) = venv.glob("lib/python*/site-packages/docopt-0.6.2.dist-info")
    assert json.loads((info / "pip_hashsync.json").read_text())["archive"] == "docopt-0.6.2.tar.gz"
