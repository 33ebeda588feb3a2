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


@pytest.fixture
def plan(
    capsys: pytest.CaptureFixture[str], empty_venv: Path, tmp_path: Path, workdir: Path
) -> Plan:
    def _plan(*args: str) -> tuple[int, dict[str, Any], str]:
        argv = ["sync", "--dry-run", "--format", "json", "--venv", str(empty_venv), "--no-input"]
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
        ("base<=2.0rc1\nother<=2.0b1\n", ("--only-final", ":all:"),
         {"base": "1.0", "other": "1.0"}),
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


def test_only_final_refuses_a_pinned_pre_release_saying_why(
    plan: Plan, prereleased: None, index_server: IndexServer, workdir: Path
) -> None:
    """pip 26.3 refuses ``base==2.0rc1`` under ``--only-final :all:`` ("No matching
    distribution found"); pip-hashsync refuses it too, naming the file and the option."""
    write(workdir / "requirements.txt", "--only-final :all:\nbase==2.0rc1\n")
    code, result, _ = plan("-i", index_server.index_url, "requirements.txt")
    assert code == 2
    [problem] = result["problems"]
    assert "base-2.0rc1-py3-none-any.whl" in problem["message"]
    assert "a pre-release, which --only-final refuses" in problem["message"]


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


# -- item 2: a URL in a constraints file -----------------------------------------------------


@pytest.fixture
def url_constraint(dist_dir: Path, tmp_path: Path, workdir: Path) -> tuple[str, str]:
    """``base`` 0.2.0 on the index, 0.1.0 only at a ``file:`` URL that ``c.txt``
    constrains ``base`` to; returns (the URL, its wheel's sha256)."""
    from distbuilder import sha256_of

    build_wheel(dist_dir, "base", "0.2.0")
    wheel = build_wheel(tmp_path / "elsewhere", "base", "0.1.0")
    write(workdir / "c.txt", f"base @ {wheel.as_uri()}\n")
    return wheel.as_uri(), sha256_of(wheel)


@pytest.mark.parametrize(
    ("line", "args"),
    [
        ("base", ("-i",)),
        ("base", ("--no-index", "-f")),
        # hash-checking mode: the requirement's --hash, the constraint's URL (pip 26.3 too)
        ("base --hash=sha256:{sha}", ("--no-index", "-f")),
    ],
)
def test_a_url_constraint_is_what_pip_installs(
    plan: Plan,
    url_constraint: tuple[str, str],
    index_server: IndexServer,
    dist_dir: Path,
    workdir: Path,
    line: str,
    args: tuple[str, ...],
) -> None:
    """``-c`` with ``base @ file:///…/base-0.1.0-py3-none-any.whl`` and a requirement
    ``base``: pip 26.3 installs that URL, from an index that has another version or with
    ``--no-index``; uv does the same (``uv pip install -c``). pip-hashsync took the index's
    file without a word, and failed with ``--no-index``."""
    url, sha = url_constraint
    write(workdir / "requirements.txt", line.format(sha=sha) + "\n")
    where = (*args, index_server.index_url if args[-1] == "-i" else str(dist_dir))
    assert pip_choice(*where, "-r", "requirements.txt", "-c", "c.txt") == {"base": "0.1.0"}
    code, result, err = plan(*where, "requirements.txt", "-c", "c.txt")
    assert code == 0, err
    assert versions(result) == {"base": "0.1.0"}
    assert [a["url"] for a in result["actions"]] == [url]


def test_a_url_constraints_fragment_hash_is_checked_as_usual(
    plan: Plan, url_constraint: tuple[str, str], dist_dir: Path, workdir: Path
) -> None:
    """The constraint's ``#sha256=`` narrows the allowed files as any constraint's hashes
    do (policy 3): a fragment that the archive does not match is exit 3. (pip 26.3 checks
    a link's fragment too.) With the right fragment, the fragment alone hashes the line in
    hash-checking mode, as in pip."""
    url, sha = url_constraint
    write(workdir / "requirements.txt", "base\n")
    write(workdir / "c.txt", f"base @ {url}#sha256={'0' * 64}\n")
    where = ("--no-index", "-f", str(dist_dir), "requirements.txt", "-c", "c.txt")
    code, _, err = plan(*where)
    assert code == 3, err
    write(workdir / "c.txt", f"base @ {url}#sha256={sha}\n")
    code, result, err = plan(*where, "--require-hashes")
    assert code == 0, err
    assert versions(result) == {"base": "0.1.0"}


def test_a_url_constraint_of_a_folder_is_refused_not_ignored(
    plan: Plan, index_server: IndexServer, dist_dir: Path, tmp_path: Path, workdir: Path
) -> None:
    """pip 26.3 builds a constraint's folder or checkout URL; pip-hashsync builds only
    the folders of requirement lines, so it says so (exit 2) rather than ignore the URL
    and take the index's file."""
    build_wheel(dist_dir, "base", "0.2.0")
    folder = tmp_path / "base-src"
    write(folder / "pyproject.toml", "[project]\nname = 'base'\nversion = '0.1.0'\n")
    write(workdir / "requirements.txt", "base\n")
    write(workdir / "c.txt", f"base @ {folder.as_uri()}\n")
    code, result, _ = plan("-i", index_server.index_url, "requirements.txt", "-c", "c.txt")
    assert code == 2
    assert "a constraint's URL is used only when it names an archive" in str(result["problems"])


# -- item 4: requirements files over http(s) -------------------------------------------------


@pytest.fixture
def remote_files(dist_dir: Path, index_server: IndexServer, isolated_env: Path) -> dict[str, Path]:
    """An index behind Basic auth (credentials in ``~/.netrc``) that also serves
    ``/reqs/requirements.txt``, hashed, with a relative ``-r more.txt`` and ``-c
    pins.txt``; returns the wheels by project."""
    from distbuilder import sha256_of

    index_server.auth = ("alice", "s3cret")
    netrc = isolated_env / ".netrc"
    netrc.write_text("machine 127.0.0.1 login alice password s3cret\n", encoding="utf-8")
    netrc.chmod(0o600)
    wheels = {name: build_wheel(dist_dir, name, "1.0") for name in ("base", "other")}
    build_wheel(dist_dir, "other", "2.0")
    index_server.documents.update(
        {
            "/reqs/requirements.txt": (
                f"base==1.0 --hash=sha256:{sha256_of(wheels['base'])}\n-r more.txt\n-c pins.txt\n"
            ).encode(),
            "/reqs/more.txt": f"other --hash=sha256:{sha256_of(wheels['other'])}\n".encode(),
            "/reqs/pins.txt": b"other==1.0\n",
        }
    )
    return wheels


@pytest.mark.parametrize("how", ["argument", "-r in a local file"])
def test_requirements_file_over_http_is_read_as_pip_reads_it(
    plan: Plan,
    remote_files: dict[str, Path],
    index_server: IndexServer,
    workdir: Path,
    how: str,
) -> None:
    """``sync https://…/requirements.txt`` and ``-r https://…`` inside a file: pip 26.3 and
    uv read them (pip through its session, with the index's credentials; relative ``-r``
    and ``-c`` inside them against their URL), and the hashes in them apply. pip-hashsync
    refused them ("needs the network")."""
    url = f"{index_server.url}/reqs/requirements.txt"
    file = url if how == "argument" else str(write(workdir / "local.txt", f"-r {url}\n"))
    index = ("-i", index_server.index_url)
    assert pip_choice(*index, "-r", file) == {"base": "1.0", "other": "1.0"}
    code, result, err = plan(*index, file)
    assert code == 0, err
    assert versions(result) == {"base": "1.0", "other": "1.0"}
    assert result["hash_mode"] is True


def test_hashes_of_a_remote_file_are_checked_and_failures_are_clear(
    plan: Plan,
    remote_files: dict[str, Path],
    index_server: IndexServer,
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A wrong --hash in a fetched file is exit 3 as anywhere; a file the server does not
    have is exit 4 naming it (pip: "Could not open requirements file", exit 1); ``lint``
    stays offline and says so (exit 2)."""
    index = ("-i", index_server.index_url)
    index_server.documents["/reqs/pins.txt"] = b"other==2.0\n"
    code, _, err = plan(*index, f"{index_server.url}/reqs/requirements.txt")
    assert code == 3, err
    code, result, _ = plan(*index, f"{index_server.url}/reqs/missing.txt")
    assert code == 4
    [problem] = result["problems"]
    assert problem["message"].startswith("Could not read requirements file: HTTP error 404")
    assert "/reqs/missing.txt" in problem["message"]
    assert main(["lint", f"{index_server.url}/reqs/requirements.txt"]) == 2
    assert "lint and verify read only local files" in capsys.readouterr().err
