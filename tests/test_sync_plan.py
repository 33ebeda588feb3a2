"""``sync --dry-run``, end to end: requirements file -> real local index -> real venv -> plan.

Every test runs the command line (in-process, one through a subprocess) against the loopback
index of ``indexserver`` and an empty ``python -m venv --without-pip`` environment, and reads
the documented JSON (or text) output. Test names carry the edge case (EC) they pin down.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from distbuilder import build_sdist, build_sdist_project, build_wheel, sha256_of
from helpers import SHA_A, write
from indexserver import IndexServer

from pip_hashsync import PROVENANCE_FILE
from pip_hashsync.cli import main

PY312 = Path("/root/.pyenv/versions/3.12.1/bin/python3.12")
PY_TAG = f"py{sys.version_info[0]}{sys.version_info[1]}"

#: ``run(*extra_args, target=venv)`` -> (exit code, JSON plan); see the ``run`` fixture.
Run = Callable[..., tuple[int, dict[str, Any]]]


# -- fixtures and helpers ------------------------------------------------------------------


def _make_venv(path: Path, python: str = sys.executable) -> Path:
    subprocess.run([python, "-m", "venv", "--without-pip", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty venv of the running Python; never written to by the tests."""
    return _make_venv(tmp_path_factory.mktemp("clean") / "venv")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared ``--cache-dir``, so each venv is introspected once per module."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def _dirty_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_venv(tmp_path_factory.mktemp("dirty") / "venv")


@pytest.fixture
def dirty_venv(_dirty_venv: Path) -> Iterator[Path]:
    """A venv that tests fill with fake installed distributions; emptied after each test."""
    yield _dirty_venv
    for info in _site_packages(_dirty_venv).glob("*.dist-info"):
        for file in info.iterdir():
            file.unlink()
        info.rmdir()


def _site_packages(venv: Path) -> Path:
    (site,) = venv.glob("lib/python*/site-packages")
    return site


def fake_installed(venv: Path, name: str, version: str, *, provenance: str | None = None) -> Path:
    """A ``.dist-info`` as an installer leaves it (METADATA, RECORD, INSTALLER), optionally
    with our provenance record naming the archive sha256 ``provenance``."""
    info = _site_packages(venv) / f"{name}-{version}.dist-info"
    write(info / "METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "INSTALLER").write_text("pip\n", encoding="utf-8")
    (info / "RECORD").write_text(f"{info.name}/METADATA,,\n", encoding="utf-8")
    if provenance is not None:
        record = {"archive": f"{name}-{version}-py3-none-any.whl", "sha256": provenance}
        (info / PROVENANCE_FILE).write_text(json.dumps(record), encoding="utf-8")
    return info


def reqs(workdir: Path, text: str) -> str:
    write(workdir / "requirements.txt", text)
    return "requirements.txt"


def hashed(*paths: Path) -> str:
    """``--hash`` options for these archives, on one line."""
    return " ".join(f"--hash=sha256:{sha256_of(p)}" for p in paths)


def sync(
    capsys: pytest.CaptureFixture[str],
    venv: Path,
    cache_dir: Path,
    index: IndexServer,
    *args: str,
    files: tuple[str, ...] = ("requirements.txt",),
) -> tuple[int, dict[str, Any]]:
    """Run ``sync --dry-run --format json`` and return (exit code, parsed JSON)."""
    argv = ["sync", "--dry-run", "--format", "json", *files, "--venv", str(venv)]
    argv += ["-i", index.index_url, "--cache-dir", str(cache_dir), "--no-input", *args]
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, json.loads(out)


def actions(plan: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    """Name -> (action, file) of a plan."""
    return {a["name"]: (a["action"], a["file"]) for a in plan["actions"]}


def messages(plan: dict[str, Any]) -> str:
    return "\n".join(p["message"] for p in plan["problems"])


def archive_gets(index: IndexServer) -> list[str]:
    """Archives downloaded (metadata files excluded)."""
    return [
        path
        for method, path in index.requests
        if path.startswith("/files/") and not path.endswith(".metadata")
    ]


@pytest.fixture
def run(
    capsys: pytest.CaptureFixture[str],
    venv: Path,
    cache_dir: Path,
    index_server: IndexServer,
    workdir: Path,
) -> Run:
    """``run(*extra_args)``: sync the clean venv against ``index_server``."""

    def _run(*args: str, target: Path = venv) -> tuple[int, dict[str, Any]]:
        return sync(capsys, target, cache_dir, index_server, *args)

    return _run


# -- EC17 / EC19 / EC20: the file is the whole closure ---------------------------------------


def test_ec17_every_gap_at_once_with_its_root_line_nothing_planned(
    run: Run, dist_dir: Path, workdir: Path
) -> None:
    """EC17: two gaps under two different lines are both reported, each tied to the line of
    the project that needs it; nothing is planned; exit 2."""
    a = build_wheel(dist_dir, "a", "1.0", requires=["b>=1", "c"])
    b = build_wheel(dist_dir, "b", "1.0", requires=["d<2"])
    reqs(workdir, f"a==1.0 {hashed(a)}\nb==1.0 {hashed(b)}\n")
    code, plan = run()
    assert code == 2
    assert plan["actions"] == []
    gaps = {p["name"]: p for p in plan["problems"]}
    assert set(gaps) == {"c", "d"}
    assert all(p["kind"] == "missing-dependency" for p in plan["problems"])
    assert gaps["c"]["source"] == "requirements.txt:1"
    assert gaps["c"]["message"].startswith("c is required by a==1.0 ")
    assert gaps["d"]["source"] == "requirements.txt:2"
    assert gaps["d"]["message"].startswith("d<2 is required by b==1.0 ")


def test_ec17_ec19_chain_through_an_extra_a_dependency_requests(
    run: Run, dist_dir: Path, workdir: Path
) -> None:
    """EC17/EC19: ``a`` needs ``c[y]``; the file lists plain ``c``; ``c``'s extra y needs
    ``e``. The gap's chain runs ``c[y]==1.0 <- a==1.0`` and points at a's line, the line
    that asks for the extra (not c's line, which does not)."""
    a = build_wheel(dist_dir, "a", "1.0", requires=["c[y]>=1"])
    c = build_wheel(dist_dir, "c", "1.0", extras={"y": ["e"]})
    reqs(workdir, f"a==1.0 {hashed(a)}\nc==1.0 {hashed(c)}\n")
    code, plan = run()
    assert code == 2
    (gap,) = plan["problems"]
    assert gap["name"] == "e"
    assert 'e; extra == "y" is required by c[y]==1.0 <- a==1.0 ' in gap["message"]
    assert gap["source"] == "requirements.txt:1"


def test_ec17_without_hashes_a_gap_is_a_warning_and_never_installed(
    run: Run, dist_dir: Path, workdir: Path
) -> None:
    """EC17/EC62: outside hash mode the gap is a warning; sync plans only the listed
    project, never the unlisted dependency; exit 0."""
    build_wheel(dist_dir, "a", "1.0", requires=["c"])
    build_wheel(dist_dir, "c", "1.0")
    reqs(workdir, "a==1.0\n")
    code, plan = run()
    assert code == 0, plan
    assert plan["hash_mode"] is False
    assert actions(plan) == {"a": ("install", "a-1.0-py3-none-any.whl")}
    assert any(w.startswith("c is required by a==1.0 ") for w in plan["warnings"])


def test_ec19_extra_dependency_missing_is_a_gap(run: Run, dist_dir: Path, workdir: Path) -> None:
    """EC19: ``a[x]==1.0`` whose extra x needs b, b unlisted: a gap naming the extra and
    the line of ``a[x]``; exit 2."""
    a = build_wheel(dist_dir, "a", "1.0", extras={"x": ["b>=1"]})
    build_wheel(dist_dir, "b", "1.0")
    reqs(workdir, f"a[x]==1.0 {hashed(a)}\n")
    code, plan = run()
    assert code == 2
    (gap,) = plan["problems"]
    assert gap["kind"] == "missing-dependency" and gap["name"] == "b"
    assert 'b>=1; extra == "x" is required by a[x]==1.0 ' in gap["message"]
    assert gap["source"] == "requirements.txt:1"


def test_ec19_extra_dependency_listed_is_planned(run: Run, dist_dir: Path, workdir: Path) -> None:
    """EC19: with b listed and hashed, the extra shares a's pin and files: one action each."""
    a = build_wheel(dist_dir, "a", "1.0", extras={"x": ["b>=1"]})
    b = build_wheel(dist_dir, "b", "1.0")
    reqs(workdir, f"a[x]==1.0 {hashed(a)}\nb==1.0 {hashed(b)}\n")
    code, plan = run()
    assert code == 0, plan
    assert actions(plan) == {
        "a": ("install", "a-1.0-py3-none-any.whl"),
        "b": ("install", "b-1.0-py3-none-any.whl"),
    }


def test_pinned_lock_whose_pins_break_a_dependency_is_a_conflict_naming_both(
    run: Run, dist_dir: Path, workdir: Path
) -> None:
    """Every line an exact pin, but b's pin is outside what a needs: the pinned shortcut
    leaves it to the resolver, which names the requirement and who asks for it; exit 2."""
    a = build_wheel(dist_dir, "a", "1.0", requires=["b>=2"])
    b = build_wheel(dist_dir, "b", "1.0")
    build_wheel(dist_dir, "b", "2.0")
    reqs(workdir, f"a==1.0 {hashed(a)}\nb==1.0 {hashed(b)}\n")
    code, plan = run()
    assert code == 2
    assert plan["actions"] == []
    assert {(p["kind"], p["name"]) for p in plan["problems"]} == {("conflict", "b")}
    assert "b>=2 (required by a==1.0): no version satisfies it" in messages(plan)


def test_ec20_direct_url_dependency_with_fragment_hash_is_still_a_gap(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """EC20: ``x @ https://…#sha256=…`` in Requires-Dist does not stand in for a line of the
    file: a gap, and the URL is never fetched."""
    url = f"https://files.example.invalid/x-1.0.tar.gz#sha256={SHA_A}"
    a = build_wheel(dist_dir, "a", "1.0", requires=[f"x @ {url}"])
    reqs(workdir, f"a==1.0 {hashed(a)}\n")
    code, plan = run()
    assert code == 2
    (gap,) = plan["problems"]
    assert gap["name"] == "x" and gap["kind"] == "missing-dependency"
    assert gap["message"].startswith(f"x @ {url} is required by a==1.0 ")
    assert archive_gets(index_server) == []


# -- EC21-EC24: markers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def venv312(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not PY312.exists():
        pytest.skip(f"{PY312} is not installed")
    return _make_venv(tmp_path_factory.mktemp("py312") / "venv", str(PY312))


def test_ec21_markers_and_tags_are_the_targets(
    run: Run, venv312: Path, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """EC21: on a 3.12 target (pip-hashsync runs on another Python), a line for
    ``python_version < "3.12"`` is not planned, and of two allowed wheels the cp312 one is
    chosen: the tags are the target's."""
    cp311 = build_wheel(dist_dir, "ok", "1.0", tag="cp311-none-any")
    cp312 = build_wheel(dist_dir, "ok", "1.0", tag="cp312-none-any")
    reqs(
        workdir,
        f"""
        ok==1.0 {hashed(cp311, cp312)}
        tomli==2.0.1 ; python_version < "3.12" --hash=sha256:{SHA_A}
        """,
    )
    code, plan = run(target=venv312)
    assert code == 0, plan
    assert plan["target"]["version"].startswith("3.12")
    assert actions(plan) == {"ok": ("install", "ok-1.0-cp312-none-any.whl")}
    assert ("GET", "/simple/tomli/") not in index_server.requests


def test_ec21_ec41_wheel_for_another_python_is_rejected_by_tags(
    run: Run, venv312: Path, dist_dir: Path, workdir: Path
) -> None:
    """EC21/EC41: only the cp311 wheel's hash allowed on a 3.12 target: the message names
    that wheel and says it is not compatible; the cp312 wheel is not allowed."""
    cp311 = build_wheel(dist_dir, "ok", "1.0", tag="cp311-none-any")
    build_wheel(dist_dir, "ok", "1.0", tag="cp312-none-any")
    reqs(workdir, f"ok==1.0 {hashed(cp311)}\n")
    code, plan = run(target=venv312)
    assert code == 3
    text = messages(plan)
    assert f"ok-1.0-cp311-none-any.whl sha256:{sha256_of(cp311)}" in text
    assert "not compatible with the target" in text
    assert f"The allowed hash sha256:{sha256_of(cp311)} belongs to ok-1.0-cp311" in text


def test_ec22_marker_false_line_needs_no_hash(run: Run, dist_dir: Path, workdir: Path) -> None:
    """EC22: hash mode is on, and an unpinned, unhashed line whose marker is false for the
    target is dropped without a problem."""
    a = build_wheel(dist_dir, "a", "1.0")
    reqs(workdir, f'a==1.0 {hashed(a)}\nwinonly>=1 ; sys_platform == "never"\n')
    code, plan = run()
    assert code == 0, plan
    assert plan["hash_mode"] is True and plan["problems"] == []
    assert actions(plan) == {"a": ("install", "a-1.0-py3-none-any.whl")}


def test_ec23_installed_project_whose_line_is_marker_false_is_removed(
    run: Run, dirty_venv: Path, dist_dir: Path, workdir: Path
) -> None:
    """EC23: exact sync removes it, and the reason quotes the marker."""
    a = build_wheel(dist_dir, "a", "1.0")
    fake_installed(dirty_venv, "old", "1.0")
    reqs(workdir, f'a==1.0 {hashed(a)}\nold==1.0 ; python_version < "3" --hash=sha256:{SHA_A}\n')
    code, plan = run(target=dirty_venv)
    assert code == 0, plan
    (remove,) = [a for a in plan["actions"] if a["name"] == "old"]
    assert remove["action"] == "remove" and remove["installed_version"] == "1.0"
    assert 'python_version < "3"' in remove["reason"]


def test_ec24_every_line_marker_false_refuses_to_empty(
    run: Run, dirty_venv: Path, workdir: Path, index_server: IndexServer
) -> None:
    """EC24: the empty-set guard runs after marker evaluation: exit 2, nothing fetched."""
    fake_installed(dirty_venv, "old", "1.0")
    reqs(workdir, 'old==1.0 ; python_version < "3"\n')
    code, plan = run(target=dirty_venv)
    assert code == 2
    assert [p["kind"] for p in plan["problems"]] == ["empty"]
    assert "refusing to empty" in messages(plan)
    assert plan["actions"] == [] and index_server.requests == []


def test_ec24_allow_empty_removes_everything_unprotected(
    run: Run, dirty_venv: Path, workdir: Path
) -> None:
    """EC24: ``--allow-empty`` is the explicit flag; protected pip stays."""
    fake_installed(dirty_venv, "old", "1.0")
    fake_installed(dirty_venv, "pip", "24.0")
    reqs(workdir, 'old==1.0 ; python_version < "3"\n')
    code, plan = run("--allow-empty", target=dirty_venv)
    assert code == 0, plan
    assert {a["name"]: a["action"] for a in plan["actions"]} == {"old": "remove", "pip": "keep"}


# -- EC37-EC42: choosing files, and explaining failure before any download --------------------


def test_ec37_ec42_allowed_sdist_beats_better_wheel_with_build_warning(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """EC37/EC42: only the sdist hash is allowed while a wheel exists: the sdist is chosen
    (the wheel is rejected by its advertised digest) and the plan builds it."""
    build_wheel(dist_dir, "a", "1.0")
    sdist = build_sdist_project(dist_dir, "a", "1.0")
    reqs(workdir, f"a==1.0 {hashed(sdist)}\n")
    code, plan = run()
    assert code == 0, plan
    (action,) = plan["actions"]
    assert action["file"] == "a-1.0.tar.gz" and action["sha256"] == sha256_of(sdist)
    assert action["build"]["sdist"] == "a-1.0.tar.gz"
    assert "/files/a-1.0-py3-none-any.whl" not in archive_gets(index_server)


def test_ec38_new_wheel_uploaded_to_an_old_release_is_ignored(
    run: Run, dist_dir: Path, workdir: Path
) -> None:
    """EC38: a better wheel appears later (a build tag, a more specific tag); its hash is
    not in the file, so the allowed wheel is planned, exit 0."""
    old = build_wheel(dist_dir, "a", "1.0")
    reqs(workdir, f"a==1.0 {hashed(old)}\n")
    build_wheel(dist_dir, "a", "1.0", build="1")
    build_wheel(dist_dir, "a", "1.0", tag=f"{PY_TAG}-none-any")
    code, plan = run()
    assert code == 0, plan
    assert actions(plan) == {"a": ("install", old.name)}


def test_ec39_nothing_matched_is_said_before_any_download(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """EC39: no file's hash is allowed: exit 3; the message counts the allowed hashes and the
    files that would do without hash checking, lists each with its sha256, and gives a
    paste-ready block; no archive was downloaded."""
    wheel = build_wheel(dist_dir, "a", "1.0")
    sdist = build_sdist(dist_dir, "a", "1.0")
    reqs(workdir, f"a==1.0 --hash=sha256:{SHA_A}\n")
    code, plan = run()
    assert code == 3
    (problem,) = plan["problems"]
    assert problem["kind"] == "no-match" and problem["source"] == "requirements.txt:1"
    text = problem["message"]
    head = "no distribution matched the 1 allowed hash(es), but 2 would without hash checking"
    assert head in text
    for path in (wheel, sdist):
        assert f"{path.name} sha256:{sha256_of(path)}" in text
    digests = sorted(sha256_of(p) for p in (wheel, sdist))
    paste = f"a==1.0 --hash=sha256:{digests[0]} --hash=sha256:{digests[1]}"
    assert paste in text.splitlines()  # the JSON message is free of layout: one line to paste
    assert archive_gets(index_server) == []


def test_ec40_only_binary_excludes_the_allowed_sdist(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """EC40: ``--only-binary :all:`` with only the sdist hash: the message names the sdist
    and the option; nothing downloaded."""
    build_wheel(dist_dir, "a", "1.0")
    sdist = build_sdist(dist_dir, "a", "1.0")
    reqs(workdir, f"a==1.0 {hashed(sdist)}\n")
    code, plan = run("--only-binary", ":all:")
    assert code == 3
    text = messages(plan)
    assert f"The allowed hash sha256:{sha256_of(sdist)} belongs to a-1.0.tar.gz" in text
    assert "excluded by --only-binary" in text
    assert archive_gets(index_server) == []


def test_ec40_no_binary_excludes_the_allowed_wheel(run: Run, dist_dir: Path, workdir: Path) -> None:
    """EC40, the other way: ``--no-binary a`` with only the wheel hash."""
    wheel = build_wheel(dist_dir, "a", "1.0")
    build_sdist(dist_dir, "a", "1.0")
    reqs(workdir, f"a==1.0 {hashed(wheel)}\n")
    code, plan = run("--no-binary", "a")
    assert code == 3
    text = messages(plan)
    assert f"belongs to {wheel.name}, which cannot be used: excluded by --no-binary" in text


def test_ec41_allowed_hash_of_a_wheel_for_another_platform(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """EC41: the only allowed hash is a Windows wheel's: named, with "not compatible"."""
    win = build_wheel(dist_dir, "a", "1.0", tag="cp39-cp39-win_amd64")
    build_sdist(dist_dir, "a", "1.0")
    reqs(workdir, f"a==1.0 {hashed(win)}\n")
    code, plan = run()
    assert code == 3
    text = messages(plan)
    assert f"belongs to {win.name}, which cannot be used: not compatible with the target" in text
    assert archive_gets(index_server) == []


def test_ec41_only_file_for_another_platform_is_no_version(
    run: Run, dist_dir: Path, workdir: Path
) -> None:
    """EC41 when the incompatible wheel is the only file: nothing is a hash failure, the
    version cannot be installed here (exit 2), and the file is still named."""
    win = build_wheel(dist_dir, "a", "1.0", tag="cp39-cp39-win_amd64")
    reqs(workdir, f"a==1.0 {hashed(win)}\n")
    code, plan = run()
    assert code == 2
    assert [p["kind"] for p in plan["problems"]] == ["no-version"]
    assert f"{win.name} sha256:{sha256_of(win)}" in messages(plan)
    assert "not compatible with the target" in messages(plan)


def test_ec41_requires_python_excluding_the_target_is_named(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """EC41: the allowed wheel's Requires-Python (from the index) excludes the target."""
    wheel = build_wheel(dist_dir, "a", "1.0")
    build_sdist(dist_dir, "a", "1.0")
    index_server.requires_python[wheel.name] = ">=3.99"
    reqs(workdir, f"a==1.0 {hashed(wheel)}\n")
    code, plan = run()
    assert code == 3
    why = f"belongs to {wheel.name}, which cannot be used: requires Python >=3.99"
    assert why in messages(plan)


# -- EC43-EC45: advertised digests are hints, bytes are proof ----------------------------------


def test_ec43_wrong_advertised_hash_rejects_the_file_before_download(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """EC43 (decision): a file whose advertised sha256 is not allowed is rejected before any
    download as "hash not allowed", even if its real bytes are allowed; the message shows
    the digest the index advertised, so the lie is visible. Exit 3."""
    wheel = build_wheel(dist_dir, "a", "1.0")
    build_sdist(dist_dir, "a", "1.0")
    index_server.wrong_hashes.add(wheel.name)
    advertised = hashlib.sha256(b"not " + wheel.read_bytes()).hexdigest()
    reqs(workdir, f"a==1.0 {hashed(wheel)}\n")
    code, plan = run()
    assert code == 3
    text = messages(plan)
    line = f"{wheel.name} sha256:{advertised} from {index_server.index_url}: hash not allowed"
    assert line in text
    assert archive_gets(index_server) == []


def test_ec43_wrong_advertised_hash_steers_to_another_allowed_file(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """EC43: with both files allowed, the wrongly advertised wheel is skipped and the sdist,
    also allowed, is planned (as in pip: a wrong hint only steers between allowed files)."""
    wheel = build_wheel(dist_dir, "a", "1.0")
    sdist = build_sdist(dist_dir, "a", "1.0")
    index_server.wrong_hashes.add(wheel.name)
    reqs(workdir, f"a==1.0 {hashed(wheel, sdist)}\n")
    code, plan = run()
    assert code == 0, plan
    assert actions(plan) == {"a": ("install", sdist.name)}


def test_ec45_no_advertised_digest_is_kept_as_unknown_and_planned(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """EC45: no digest advertised: the file may be the allowed one, so it is planned (its
    "sha256" is unknown, null) and will be verified when downloaded; with PEP 658 metadata
    planning downloads nothing."""
    index_server.advertise = "none"
    wheel = build_wheel(dist_dir, "a", "1.0")
    reqs(workdir, f"a==1.0 {hashed(wheel)}\n")
    code, plan = run()
    assert code == 0, plan
    (action,) = plan["actions"]
    assert action["file"] == wheel.name and action["sha256"] is None
    assert archive_gets(index_server) == []


def test_ec45_without_metadata_the_archive_is_downloaded_and_verified(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """EC45: no digest and no PEP 658 file: the archive is fetched for its METADATA and its
    bytes checked against the allowed hashes; good bytes plan with no warning."""
    index_server.advertise, index_server.metadata = "none", False
    wheel = build_wheel(dist_dir, "a", "1.0", requires=["b"])
    b = build_wheel(dist_dir, "b", "1.0")
    reqs(workdir, f"a==1.0 {hashed(wheel)}\nb==1.0 {hashed(b)}\n")
    code, plan = run()
    assert code == 0, plan
    assert set(actions(plan)) == {"a", "b"}
    assert f"/files/{wheel.name}" in archive_gets(index_server)
    assert plan["warnings"] == []


def test_ec44_ec45_tampered_archive_fails_over_to_the_next_allowed_file(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """EC44/EC45: the wheel (no advertised digest) is served tampered; its bytes fail the
    check, it is dropped, and the other allowed file of the version (the sdist) is planned,
    with a warning saying what happened."""
    index_server.advertise, index_server.metadata = "none", False
    wheel = build_wheel(dist_dir, "a", "1.0")
    sdist = build_sdist_project(dist_dir, "a", "1.0")
    index_server.tampered[wheel.name] = b"PK evil bytes"
    reqs(workdir, f"a==1.0 {hashed(wheel, sdist)}\n")
    code, plan = run()
    assert code == 0, plan
    assert actions(plan) == {"a": ("install", sdist.name)}
    warnings = "\n".join(plan["warnings"])
    mismatch = f"{wheel.name} from {index_server.index_url} does not match any allowed hash"
    assert mismatch in warnings
    assert "trying the next allowed file" in warnings
    assert plan["actions"][0]["build"]["sdist"] == sdist.name


def test_ec44_every_allowed_file_tampered_is_exit_3_in_json(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """EC44: when no allowed file verifies, planning fails with exit 3, and the JSON output
    still carries the failure as a problem."""
    index_server.advertise, index_server.metadata = "none", False
    wheel = build_wheel(dist_dir, "a", "1.0")
    index_server.tampered[wheel.name] = b"PK evil bytes"
    reqs(workdir, f"a==1.0 {hashed(wheel)}\n")
    code, plan = run()
    assert code == 3
    assert plan["actions"] == []
    (problem,) = plan["problems"]
    mismatch = f"{wheel.name} from {index_server.index_url} does not match any allowed hash"
    assert mismatch in problem["message"]
    assert f"its sha256 is {hashlib.sha256(b'PK evil bytes').hexdigest()}" in problem["message"]


def test_ec44_unreadable_archive_outside_hash_mode_is_a_problem_not_a_traceback(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """EC44 outside hash mode: nothing to verify against, but bytes that are not a wheel
    cannot give metadata: exit 3 with the file named, no traceback. (The index advertises
    no digest: one it advertised would refuse the bytes before they are read, as pip does.)"""
    index_server.advertise, index_server.metadata = "none", False
    wheel = build_wheel(dist_dir, "a", "1.0")
    index_server.tampered[wheel.name] = b"PK evil bytes"
    reqs(workdir, "a==1.0\n")
    code, plan = run()
    assert code == 3
    (problem,) = plan["problems"]
    assert problem["kind"] == "integrity" and problem["source"] == "requirements.txt:1"
    assert f"{wheel.name} is not a readable archive" in problem["message"]


# -- EC46-EC48 -------------------------------------------------------------------------------


def test_ec46_yanked_file_honours_an_exact_hashed_pin_with_one_warning(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """EC46: the pinned version's only file is yanked: planned anyway (PEP 592), with a
    single warning giving the yank reason."""
    wheel = build_wheel(dist_dir, "a", "1.0")
    index_server.yanked[wheel.name] = "broken on Tuesdays"
    reqs(workdir, f"a==1.0 {hashed(wheel)}\n")
    code, plan = run()
    assert code == 0, plan
    assert actions(plan) == {"a": ("install", wheel.name)}
    yank = [w for w in plan["warnings"] if "yanked" in w]
    assert yank == [
        "a 1.0 is yanked: broken on Tuesdays; used because the pin a==1.0 (requirements.txt:1) "
        "allows nothing else"
    ]


def test_ec46_unpinned_requirement_skips_a_yanked_newer_version(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """EC46: outside hash mode, ``a>=1`` does not take the yanked 2.0; no warning."""
    build_wheel(dist_dir, "a", "1.0")
    new = build_wheel(dist_dir, "a", "2.0")
    index_server.yanked[new.name] = ""
    reqs(workdir, "a>=1\n")
    code, plan = run()
    assert code == 0, plan
    (action,) = plan["actions"]
    assert (action["version"], action["file"]) == ("1.0", "a-1.0-py3-none-any.whl")
    assert plan["warnings"] == []


@pytest.mark.parametrize("trusted", ["first", "second"])
def test_ec47_same_filename_on_two_indexes_the_hash_decides(
    capsys: pytest.CaptureFixture[str],
    venv: Path,
    cache_dir: Path,
    index_server: IndexServer,
    second_index_server: IndexServer,
    workdir: Path,
    trusted: str,
) -> None:
    """EC47: both indexes serve ``a-1.0-py3-none-any.whl`` with different bytes; the
    allowed hash picks one, and the action's URL and index show which server."""
    good = build_wheel(index_server.root, "a", "1.0")
    evil = build_wheel(second_index_server.root, "a", "1.0", files={"a/__init__.py": "evil\n"})
    assert good.name == evil.name and sha256_of(good) != sha256_of(evil)
    server, path = (index_server, good) if trusted == "first" else (second_index_server, evil)
    reqs(workdir, f"a==1.0 {hashed(path)}\n")
    extra = ("--extra-index-url", second_index_server.index_url)
    code, plan = sync(capsys, venv, cache_dir, index_server, *extra)
    assert code == 0, plan
    (action,) = plan["actions"]
    assert action["url"] == server.file_url(path.name)
    assert action["index"] == server.index_url
    assert action["sha256"] == sha256_of(path)


def test_ec48_metadata_file_with_wrong_advertised_hash_is_exit_3(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """EC48: the PEP 658 file does not match its advertised hash: exit 3, a clear problem in
    the JSON, no traceback."""
    index_server.wrong_metadata_hash = True
    wheel = build_wheel(dist_dir, "a", "1.0")
    reqs(workdir, f"a==1.0 {hashed(wheel)}\n")
    code, plan = run()
    assert code == 3
    (problem,) = plan["problems"]
    assert problem["name"] == "a"
    assert (
        f"the metadata file of {wheel.name} from {index_server.index_url} does not match the "
        "hash its index advertises"
    ) in problem["message"]


# -- index servers -------------------------------------------------------------------------


def _knob_scenario(dist_dir: Path, workdir: Path, index_server: IndexServer) -> None:
    """Files that exercise every field a page carries: hashes, yanked, Requires-Python,
    PEP 658 metadata, sdists."""
    a = build_wheel(dist_dir, "a", "1.0", requires=["b>=1"])
    build_wheel(dist_dir, "a", "2.0")
    b = build_sdist(dist_dir, "b", "1.0")
    old = build_wheel(dist_dir, "b", "1.0", tag="py2-none-any")
    index_server.requires_python[old.name] = "<3"
    index_server.yanked["a-2.0-py3-none-any.whl"] = "bad"
    reqs(workdir, f"a==1.0 {hashed(a)}\nb==1.0 {hashed(b, old)}\n")


def test_json_and_html_pages_give_the_same_plan(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """PEP 691 JSON and PEP 503 HTML pages are read to the same plan."""
    _knob_scenario(dist_dir, workdir, index_server)
    plans = {}
    for page_format in ("json", "html"):
        index_server.page_format = page_format
        code, plans[page_format] = run()
        assert code == 0, plans[page_format]
    assert {**plans["json"], "timings": None} == {**plans["html"], "timings": None}
    assert actions(plans["json"]) == {
        "a": ("install", "a-1.0-py3-none-any.whl"),
        "b": ("install", "b-1.0.tar.gz"),
    }


def test_server_ignoring_accept_serves_html(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """A server that answers HTML whatever Accept says is read by its Content-Type."""
    index_server.page_format = "html"
    wheel = build_wheel(dist_dir, "a", "1.0")
    reqs(workdir, f"a==1.0 {hashed(wheel)}\n")
    code, plan = run()
    assert code == 0 and actions(plan) == {"a": ("install", wheel.name)}


def test_503_twice_then_success_with_retries(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """Transient 503s are retried (``--retries 3``) and the plan is the same."""
    index_server.fail_first = 2
    wheel = build_wheel(dist_dir, "a", "1.0")
    reqs(workdir, f"a==1.0 {hashed(wheel)}\n")
    code, plan = run("--retries", "3")
    assert code == 0, plan
    assert actions(plan) == {"a": ("install", wheel.name)}
    assert index_server.requests.count(("GET", "/simple/a/")) == 3


def test_401_answered_with_netrc_credentials(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer, isolated_env: Path
) -> None:
    """An index behind Basic auth is read with the credentials of ``~/.netrc``."""
    index_server.auth = ("alice", "s3cret")
    netrc = isolated_env / ".netrc"
    netrc.write_text("machine 127.0.0.1 login alice password s3cret\n", encoding="utf-8")
    netrc.chmod(0o600)
    wheel = build_wheel(dist_dir, "a", "1.0")
    reqs(workdir, f"a==1.0 {hashed(wheel)}\n")
    code, plan = run()
    assert code == 0, plan
    assert actions(plan) == {"a": ("install", wheel.name)}


def test_401_without_credentials_is_exit_4(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """Without credentials the 401 is a network failure (exit 4), reported in the JSON."""
    index_server.auth = ("alice", "s3cret")
    wheel = build_wheel(dist_dir, "a", "1.0")
    reqs(workdir, f"a==1.0 {hashed(wheel)}\n")
    code, plan = run()
    assert code == 4
    assert "401" in messages(plan)


def test_project_not_on_the_index_is_exit_4(run: Run, workdir: Path) -> None:
    reqs(workdir, f"nowhere==1.0 --hash=sha256:{SHA_A}\n")
    code, plan = run()
    assert code == 4
    assert [p["kind"] for p in plan["problems"]] == ["not-found"]


def test_each_project_page_is_fetched_once_per_run(
    run: Run, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """Roots are prefetched and the resolver asks again: still one GET per page."""
    a = build_wheel(dist_dir, "a", "1.0", requires=["b", "c[x]"])
    b = build_wheel(dist_dir, "b", "1.0", requires=["c"])
    c = build_wheel(dist_dir, "c", "1.0", extras={"x": ["b"]})
    reqs(workdir, f"a==1.0 {hashed(a)}\nb==1.0 {hashed(b)}\nc==1.0 {hashed(c)}\n")
    code, plan = run()
    assert code == 0, plan
    pages = [path for _, path in index_server.requests if path.startswith("/simple/")]
    assert sorted(pages) == ["/simple/a/", "/simple/b/", "/simple/c/"]


# -- plan semantics --------------------------------------------------------------------------


def test_plan_compares_with_what_is_installed(
    run: Run, dirty_venv: Path, dist_dir: Path, workdir: Path
) -> None:
    """Hash mode: same version without provenance -> reinstall; recorded allowed hash ->
    keep; other version -> replace; unlisted -> remove; pip and setuptools (protected on a
    target below 3.12) -> keep."""
    same = build_wheel(dist_dir, "same", "1.0")
    proven = build_wheel(dist_dir, "proven", "1.0")
    newer = build_wheel(dist_dir, "newer", "2.0")
    fake_installed(dirty_venv, "same", "1.0")
    fake_installed(dirty_venv, "proven", "1.0", provenance=sha256_of(proven))
    fake_installed(dirty_venv, "newer", "1.0")
    fake_installed(dirty_venv, "stray", "3.0")
    fake_installed(dirty_venv, "pip", "24.0")
    reqs(
        workdir,
        f"same==1.0 {hashed(same)}\nproven==1.0 {hashed(proven)}\nnewer==2.0 {hashed(newer)}\n",
    )
    code, plan = run(target=dirty_venv)
    assert code == 0, plan
    by_name = {a["name"]: a for a in plan["actions"]}
    assert {n: a["action"] for n, a in by_name.items()} == {
        "newer": "replace",
        "pip": "keep",
        "proven": "keep",
        "same": "reinstall",
        "stray": "remove",
    }
    assert "without a recorded archive hash" in by_name["same"]["reason"]
    assert by_name["same"]["file"] == same.name
    assert by_name["newer"]["installed_version"] == "1.0" and by_name["newer"]["version"] == "2.0"
    assert by_name["pip"]["reason"] == "protected"
    assert by_name["proven"]["file"] is None
    assert by_name["stray"]["reason"] == "not in the requirements file"


def test_trust_installed_keeps_a_same_version_install(
    run: Run, dirty_venv: Path, dist_dir: Path, workdir: Path
) -> None:
    same = build_wheel(dist_dir, "same", "1.0")
    fake_installed(dirty_venv, "same", "1.0")
    reqs(workdir, f"same==1.0 {hashed(same)}\n")
    code, plan = run("--trust-installed", target=dirty_venv)
    assert code == 0, plan
    assert actions(plan) == {"same": ("keep", None)}


def test_keep_protects_an_unlisted_project(
    run: Run, dirty_venv: Path, dist_dir: Path, workdir: Path
) -> None:
    a = build_wheel(dist_dir, "a", "1.0")
    fake_installed(dirty_venv, "mine", "1.0")
    reqs(workdir, f"a==1.0 {hashed(a)}\n")
    code, plan = run("--keep", "Mine", target=dirty_venv)
    assert code == 0, plan
    assert actions(plan)["mine"] == ("keep", None)


def test_keep_follows_the_dependencies_that_apply_to_the_target(
    run: Run, dirty_venv: Path, dist_dir: Path, workdir: Path
) -> None:
    """A kept project keeps what it needs here: a dependency behind a marker that is false
    on the target, or behind an extra, is not needed, so a stray install of it goes (as
    ``verify`` judges it: the two must agree)."""
    a = build_wheel(dist_dir, "a", "1.0")
    info = fake_installed(dirty_venv, "mine", "1.0")
    metadata = (info / "METADATA").read_text(encoding="utf-8")
    needs = [
        "Requires-Dist: used\n",
        'Requires-Dist: elsewhere; sys_platform == "nowhere"\n',
        'Requires-Dist: optional; extra == "docs"\n',
    ]
    (info / "METADATA").write_text(metadata + "".join(needs), encoding="utf-8")
    for name in ("used", "elsewhere", "optional"):
        fake_installed(dirty_venv, name, "1.0")
    reqs(workdir, f"a==1.0 {hashed(a)}\n")
    code, plan = run("--keep", "mine", target=dirty_venv)
    assert code == 0, plan
    found = actions(plan)
    assert found["mine"] == ("keep", None) and found["used"] == ("keep", None)
    assert found["elsewhere"][0] == "remove" and found["optional"][0] == "remove"


# -- output ------------------------------------------------------------------------------------


def test_text_output_one_line_per_action(
    capsys: pytest.CaptureFixture[str],
    venv: Path,
    cache_dir: Path,
    dist_dir: Path,
    workdir: Path,
    index_server: IndexServer,
) -> None:
    """Without ``--format``: what a real run would print, the changes only, then the
    summary in the conditional; with ``-v``, each file, where from, why, and what a
    build needs."""
    a = build_wheel(dist_dir, "a", "1.0")
    b = build_sdist_project(dist_dir, "b", "2.0")
    reqs(workdir, f"a==1.0 {hashed(a)}\nb==2.0 {hashed(b)}\n")
    argv = ["sync", "--dry-run", "requirements.txt", "--venv", str(venv), "--no-input"]
    code = main([*argv, "-i", index_server.index_url, "--cache-dir", str(cache_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"Using Python {sys.version.split()[0]} environment at: {venv}"
    assert lines[1:3] == [" + a==1.0", " + b==2.0"]
    assert re.fullmatch(r"would install 2 in \d+\.\d\d s", lines[3]), lines
    assert len(lines) == 4

    assert main([*argv, "-v", "-i", index_server.index_url, "--cache-dir", str(cache_dir)]) == 0
    assert capsys.readouterr().out.splitlines()[1:4] == [
        f" + a==1.0  {a.name} from {index_server.index_url} (not installed)",
        f" + b==2.0  {b.name} from {index_server.index_url}, built from source (not installed)",
        "    built with project_backend, which needs nothing",
    ]


def test_json_has_the_documented_keys(run: Run, dist_dir: Path, workdir: Path) -> None:
    a = build_wheel(dist_dir, "a", "1.0")
    reqs(workdir, f"a==1.0 {hashed(a)}\n")
    code, plan = run()
    assert code == 0
    assert {"target", "hash_mode", "actions", "problems"} <= set(plan)
    assert set(plan["target"]) == {"python", "version", "prefix"}
    keys = {"action", "name", "version", "installed_version", "file", "url", "sha256", "reason"}
    assert keys <= set(plan["actions"][0])


def test_real_subprocess_plans_and_fails_like_in_process(
    venv: Path, cache_dir: Path, dist_dir: Path, workdir: Path, index_server: IndexServer
) -> None:
    """``python -m pip_hashsync`` as a user runs it: a good plan (exit 0, JSON on stdout),
    then nothing matched (exit 3, grouped message on stderr, no traceback)."""
    wheel = build_wheel(dist_dir, "a", "1.0")
    reqs(workdir, f"a==1.0 {hashed(wheel)}\n")
    argv = [sys.executable, "-m", "pip_hashsync", "sync", "--dry-run", "requirements.txt"]
    argv += ["--venv", str(venv), "-i", index_server.index_url, "--cache-dir", str(cache_dir)]
    done = subprocess.run([*argv, "--format", "json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["actions"][0]["sha256"] == sha256_of(wheel)

    reqs(workdir, f"a==1.0 --hash=sha256:{SHA_A}\n")
    done = subprocess.run(argv, capture_output=True, text=True)
    assert done.returncode == 3
    assert "No distribution matched the hashes of these requirements:" in done.stderr
    assert "requirements.txt:1: a==1.0" in done.stderr
    assert "Traceback" not in done.stderr


def test_dry_run_for_a_venv_that_does_not_exist_plans_without_creating_it(
    run: Run, index_server: IndexServer, tmp_path: Path
) -> None:
    wheel = build_wheel(index_server.root, "alpha", "1.0")
    reqs(Path.cwd(), f"alpha==1.0 {hashed(wheel)}\n")
    missing = tmp_path / "not-yet"
    code, plan = run(target=missing)
    assert code == 0
    assert actions(plan) == {"alpha": ("install", wheel.name)}
    assert any(
        "does not exist: planned for a new virtual environment" in w for w in plan["warnings"]
    )
    assert not missing.exists()
