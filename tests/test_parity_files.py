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
from distbuilder import build_wheel
from helpers import write
from indexserver import IndexServer
from test_sync_plan import _make_venv, hashed

from pip_hashsync.cli import main


@pytest.fixture(scope="module")
def empty_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty venv of the running Python; never written to by the tests."""
    return _make_venv(tmp_path_factory.mktemp("empty") / "venv")


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
    capsys: pytest.CaptureFixture[str], empty_venv: Path, dist_dir: Path, workdir: Path,
    index_server: IndexServer,
) -> None:  # fmt: skip
    """Issue 15 item 11: every file of charset-normalizer 3.4.8 is yanked; an ``==`` pin
    still takes it (PEP 592). One warning for the version, naming the pin's line and the
    reason — not one per file, and none for files of it that are not used. pip 26.3 warns
    once for the candidate it selected ("The candidate selected for download or install is
    a yanked version … Reason for being yanked: …"); uv was not run on this case."""
    py3 = build_wheel(dist_dir, "cn", "3.4.8")
    cp = build_wheel(
        dist_dir, "cn", "3.4.8", tag=f"cp{sys.version_info[0]}{sys.version_info[1]}-none-any"
    )
    other = build_wheel(dist_dir, "cn", "3.4.8", tag="py2-none-any")
    for wheel in (py3, cp, other):
        index_server.yanked[wheel.name] = "broken release"
    write(workdir / "requirements.txt", f"cn==3.4.8 {hashed(py3, cp)}\n")
    code, plan = dry_run(capsys, empty_venv, index_server)
    assert code == 0, plan
    yank = [w for w in plan["warnings"] if "yanked" in w]
    assert yank == [
        "cn 3.4.8 is yanked: broken release; used because the pin cn==3.4.8 "
        "(requirements.txt:1) allows nothing else"
    ]


# -- item 16: equal files ----------------------------------------------------------------------


def pip_choice(index: IndexServer, requirements: Path) -> str:
    """The archive pip 26.x would install for the single line of ``requirements``."""
    report = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-",
         "--ignore-installed", "--no-deps", "-i", index.index_url, "-r", str(requirements)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    (item,) = json.loads(report)["install"]
    return str(item["download_info"]["url"]).rsplit("/", 1)[-1]


def test_two_wheels_with_the_same_tags_in_another_order_take_pips_file(
    capsys: pytest.CaptureFixture[str], empty_venv: Path, dist_dir: Path, workdir: Path,
    index_server: IndexServer,
) -> None:  # fmt: skip
    """Issue 15 item 16: ``a-1.0-py2.py3-none-any.whl`` and ``a-1.0-py3.py2-none-any.whl``
    are both allowed and rank the same (same version, tags, build). pip 26.3 sorts the
    page's files ascending by its key (stable) and walks them in reverse, so of equal files
    the one later on the page wins; pip-hashsync took the first. (uv was not run on an
    index page; pip is the oracle here.)"""
    wheels = [
        build_wheel(dist_dir, "a", "1.0", tag=tag, files={"a/__init__.py": f"# {tag}\n"})
        for tag in ("py2.py3-none-any", "py3.py2-none-any")
    ]
    requirements = write(workdir / "requirements.txt", f"a==1.0 {hashed(*wheels)}\n")
    expected = pip_choice(index_server, requirements)
    code, plan = dry_run(capsys, empty_venv, index_server)
    assert code == 0, plan
    assert [a["file"] for a in plan["actions"]] == [expected]


# -- item 15: one cache, several Pythons -------------------------------------------------------

PYTHONS = {
    version: Path(f"/root/.pyenv/versions/{full}/bin/python3")
    for version, full in (("311", "3.11.7"), ("312", "3.12.1"))
}


@pytest.mark.skipif(
    not all(p.exists() for p in PYTHONS.values()), reason="needs Python 3.11 and 3.12"
)
def test_a_cache_filled_by_another_python_does_not_hide_the_index(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, dist_dir: Path, workdir: Path,
    index_server: IndexServer,
) -> None:  # fmt: skip
    """Issue 15 item 15: one cache shared by a CI matrix. A 3.11 sync caches the lock's
    cp311 wheel; a 3.12 sync of the same lock with that cache must still read the index for
    the cp312 wheel, not take the cache's (unsuitable) archive as everything there is and
    fail with "no file suits the target". pip 26.3 and uv read the index whatever their
    caches hold (their caches are keyed by URL, not by the lock's hashes)."""
    wheels = [build_wheel(dist_dir, "a", "1.0", tag=f"cp{v}-none-any") for v in PYTHONS]
    write(workdir / "requirements.txt", f"a==1.0 {hashed(*wheels)}\n")
    cache = tmp_path / "shared-cache"
    for version, python in PYTHONS.items():
        venv = _make_venv(tmp_path / f"venv{version}", str(python))
        argv = ["sync", "requirements.txt", "--venv", str(venv), "-i", index_server.index_url]
        code = main([*argv, "--cache-dir", str(cache), "--no-input"])
        out, err = capsys.readouterr()
        assert code == 0, out + err
        (installed,) = venv.glob("lib/python*/site-packages/a-1.0.dist-info")
        assert f"cp{version}" in (installed / "WHEEL").read_text(encoding="utf-8")


# -- item 1: invalid legacy metadata -----------------------------------------------------------

#: celery 4.3.0's own entry: a legacy version in parentheses that PEP 508 cannot read.
BAD_ENTRY = "pytz (>dev)"


def test_a_version_with_invalid_metadata_is_skipped_as_pip_skips_it(
    capsys: pytest.CaptureFixture[str], empty_venv: Path, dist_dir: Path, workdir: Path,
    index_server: IndexServer,
) -> None:  # fmt: skip
    """Issue 15 item 1: celery 4.3.0 declares ``Requires-Dist: pytz (>dev)``. pip 26.3 warns
    "Ignoring version 4.3.0 of celery since it has invalid metadata" and takes the next
    version (pip-hashsync took 4.3.0 and died with an ``InvalidRequirement`` traceback,
    exit 1). uv 0.13 reads the entry leniently as ``pytz>=0.0.0.dev1`` instead (here it
    then takes 4.2.0 because no pytz is offered)."""
    build_wheel(dist_dir, "celery", "4.2.0")
    build_wheel(dist_dir, "celery", "4.3.0", requires=[BAD_ENTRY])
    requirements = write(workdir / "requirements.txt", "celery>=4\n")
    expected = pip_choice(index_server, requirements)
    code, plan = dry_run(capsys, empty_venv, index_server)
    assert code == 0, plan
    assert [a["file"] for a in plan["actions"]] == [expected] == ["celery-4.2.0-py3-none-any.whl"]
    (warning,) = plan["warnings"]
    assert warning.startswith(
        f"Ignoring version 4.3.0 of celery since it has invalid metadata: Requires-Dist "
        f"{BAD_ENTRY!r}: "
    )


def test_a_pin_whose_metadata_is_invalid_is_exit_2_naming_the_line_and_the_entry(
    capsys: pytest.CaptureFixture[str], empty_venv: Path, dist_dir: Path, workdir: Path,
    index_server: IndexServer,
) -> None:  # fmt: skip
    """Issue 15 item 1, a pin: pip 26.3 skips the only version, then fails with "No matching
    distribution found for celery==4.3.0" after the warning, exit 1; here the line and the
    bad entry are named in one problem, exit 2 (bad input, not drift's 1). uv 0.13 reads the
    entry leniently and fails only because no pytz is offered."""
    wheel = build_wheel(dist_dir, "celery", "4.3.0", requires=[BAD_ENTRY])
    write(workdir / "requirements.txt", f"celery==4.3.0 {hashed(wheel)}\n")
    code, plan = dry_run(capsys, empty_venv, index_server)
    assert code == 2, plan
    (problem,) = plan["problems"]
    assert problem["source"] == "requirements.txt:1"
    assert problem["message"].startswith(
        "celery==4.3.0: version 4.3.0 has invalid metadata, and pip ignores such a version:"
    )
    assert f"Requires-Dist {BAD_ENTRY!r}" in problem["message"]


def test_an_unexpected_error_is_one_message_asking_for_a_bug_report_exit_70(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, workdir: Path
) -> None:
    """Issue 15 item 1, the last resort: an exception no code path expects (a bug: here one
    injected into the requirements reader) prints the error, where it was raised and a line
    asking for a bug report, and exits 70 (sysexits' EX_SOFTWARE), a code that no success,
    drift or documented failure uses. pip prints a traceback and exits 2; uv panics, 101."""
    import pip_hashsync.requirements.reader as reader

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(reader.RequirementsReader, "read", broken)
    write(workdir / "requirements.txt", "a==1.0\n")
    code = main(["lint", "requirements.txt"])
    out, err = capsys.readouterr()
    assert code == 70
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert lines[0].startswith("ERROR: internal error: ZeroDivisionError: division by zero (in ")
    assert "test_parity_files.py" in lines[0]
    assert lines[1].startswith("This is a bug in pip-hashsync 0.1.0; please report it")


def test_of_equal_files_in_a_find_links_folder_and_on_the_index_pips_is_taken(
    capsys: pytest.CaptureFixture[str], empty_venv: Path, tmp_path: Path, workdir: Path,
    index_server: IndexServer,
) -> None:  # fmt: skip
    """Issue 15 item 16, find-links: pip 26.3 lists a folder's files by URL, last first,
    ahead of the pages, then walks its stable sort backwards: in a folder the first name
    wins (``py2.py3`` here, uv takes the same), and a page's file beats a folder's."""
    folder = tmp_path / "links"
    wheels = [
        build_wheel(folder, "a", "1.0", tag=tag, files={"a/__init__.py": f"# {tag}\n"})
        for tag in ("py2.py3-none-any", "py3.py2-none-any")
    ]
    requirements = write(workdir / "requirements.txt", f"a==1.0 {hashed(*wheels)}\n")
    for index in ("--no-index", "-i"):
        args = ["--find-links", str(folder), index]
        if index == "-i":
            args.append(index_server.index_url)
            build_wheel(index_server.root, "a", "1.0", tag="py3-none-any", files={})
            build_wheel(index_server.root, "a", "1.0", tag="py2.py3-none-any",
                        files={"a/__init__.py": "# py2.py3-none-any\n"})  # fmt: skip
        report = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-",
             "--ignore-installed", *args, "-r", str(requirements)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        (item,) = json.loads(report)["install"]
        argv = ["sync", "--dry-run", "--format", "json", "requirements.txt", *args]
        code = main([*argv, "--venv", str(empty_venv), "--no-input"])
        plan = json.loads(capsys.readouterr().out)
        assert code == 0, plan
        assert [a["url"] for a in plan["actions"]] == [item["download_info"]["url"]]
