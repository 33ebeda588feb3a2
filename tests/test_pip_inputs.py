"""Inputs that pip (and uv) read where pip-hashsync used to differ (issue 15): URLs in
constraints files, ``--only-final``, requirements files over HTTP, ``sync -r FILE``.

pip 26.3 (in this venv, the ``test`` extra) is the oracle wherever it can answer: the
``pip_choice`` helper asks ``pip install --dry-run --report`` what it would install from the
same index and files, and the test compares with ``sync --dry-run``'s plan.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from distbuilder import build_wheel
from helpers import write
from indexserver import IndexServer

from pip_hashsync.cli import main

#: ``plan(*args)`` -> (exit code, JSON plan, stderr) of ``sync --dry-run`` into an empty venv.
Plan = Callable[..., tuple[int, dict[str, Any], str]]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clean") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path


@pytest.fixture
def plan(
    capsys: pytest.CaptureFixture[str], venv: Path, tmp_path: Path, workdir: Path
) -> Plan:
    def _plan(*args: str) -> tuple[int, dict[str, Any], str]:
        argv = ["sync", "--dry-run", "--format", "json", "--venv", str(venv), "--no-input"]
        code = main([*argv, "--cache-dir", str(tmp_path / "cache"), *args])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, json.loads(out) if out.startswith("{") else {}, err

    return _plan


def versions(plan: dict[str, Any]) -> dict[str, str]:
    """Name -> version of what a plan installs."""
    return {a["name"]: a["version"] for a in plan["actions"] if a["action"] == "install"}


def pip_choice(*args: str) -> dict[str, str]:
    """What pip would install (name -> version) with these arguments, into nothing."""
    argv = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "-q"]
    argv += ["--report", "-", "--no-cache-dir", "--disable-pip-version-check", *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    return {i["metadata"]["name"]: i["metadata"]["version"] for i in report["install"]}


# -- item 3: --only-final --------------------------------------------------------------------


@pytest.fixture
def prereleased(dist_dir: Path) -> None:
    """``base`` 1.0 and 2.0rc1; ``other`` 1.0 and 2.0b1."""
    for name, versions_ in (("base", ("1.0", "2.0rc1")), ("other", ("1.0", "2.0b1"))):
        for version in versions_:
            build_wheel(dist_dir, name, version)


@pytest.mark.parametrize(
    ("lines", "args", "expected"),
    [
        # --pre everywhere, then --only-final for one project: the last word per project wins
        ("--only-final base\nbase\nother\n", ("--pre",), {"base": "1.0", "other": "2.0b1"}),
        # a specifier that names a pre-release allows it, unless --only-final :all: says no
        ("base<=2.0rc1\nother<=2.0b1\n", ("--only-final", ":all:"), {"base": "1.0", "other": "1.0"}),
        # per project on the command line, with --all-releases for the others
        ("base\nother\n", ("--all-releases", ":all:", "--only-final", "other"),
         {"base": "2.0rc1", "other": "1.0"}),
    ],
)  # fmt: skip
def test_only_final_refuses_pre_releases_as_pip_does(
    plan: Plan,
    prereleased: None,
    index_server: IndexServer,
    workdir: Path,
    lines: str,
    args: tuple[str, ...],
    expected: dict[str, str],
) -> None:
    """pip 26.3 applies ``--only-final`` (file or command line; ``:all:`` or names) after
    ``--pre``/``--all-releases``, the project's own setting over ``:all:``: no pre-release
    of those projects, even when a specifier names one. uv has no ``--only-final`` (its
    ``--prerelease`` strategies are global). pip-hashsync read the option and ignored it."""
    write(workdir / "requirements.txt", lines)
    index = ("-i", index_server.index_url)
    assert pip_choice(*index, "-r", "requirements.txt", *args) == expected
    code, result, err = plan(*index, "requirements.txt", *args)
    assert code == 0, err
    assert versions(result) == expected


# -- item 13: sync -r FILE, and requirements.txt by default -----------------------------------


@pytest.mark.parametrize("option", ["-r", "--requirement"])
def test_sync_takes_its_file_with_r_as_pip_sync_and_uv_do(
    plan: Plan, dist_dir: Path, index_server: IndexServer, workdir: Path, option: str
) -> None:
    """pip-sync (pip-tools) and ``uv pip sync`` accept ``-r FILE``/``--requirement FILE``
    besides the positional files (pip has no sync); pip-hashsync said "unrecognized
    arguments"."""
    build_wheel(dist_dir, "base", "1.0")
    build_wheel(dist_dir, "other", "1.0")
    write(workdir / "first.txt", "base\n")
    write(workdir / "second.txt", "other\n")
    index = ("-i", index_server.index_url)
    code, result, err = plan(*index, "first.txt", option, "second.txt")
    assert code == 0, err
    assert versions(result) == {"base": "1.0", "other": "1.0"}


def test_sync_without_a_file_reads_requirements_txt_and_says_so(
    plan: Plan, dist_dir: Path, index_server: IndexServer, workdir: Path
) -> None:
    """pip-sync with no file reads ``requirements.txt`` when it exists (uv pip sync needs
    a file); pip-hashsync required one. Without the file: exit 2 and what to give."""
    build_wheel(dist_dir, "base", "1.0")
    index = ("-i", index_server.index_url)
    code, _, err = plan(*index)
    assert code == 2
    assert "give a requirements file" in err and "requirements.txt" in err
    write(workdir / "requirements.txt", "base\n")
    code, result, err = plan(*index)
    assert code == 0, err
    assert "no file given: reading requirements.txt" in err
    assert versions(result) == {"base": "1.0"}
