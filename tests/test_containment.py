"""Nothing outside the environment is touched, whatever the environment or the cache holds.

Symbolic links in site-packages that lead out of the venv (policy 12), an edited interpreter
record in the cache, a ``--python`` that answers badly, a site-packages that cannot be
written, a wheel with an invalid entry point: each is built here for real, and the files
outside the venv are listed before and after to prove them untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from distbuilder import build_wheel
from helpers import write
from indexserver import IndexServer
from test_sync_apply import (
    Sync,
    cache,
    imports,
    lock_for,
    site_packages,
    snapshot,
    standalone_python,
    sync,
)

__all__ = ["cache", "sync"]  # fixtures shared with test_sync_apply


def tree(root: Path) -> dict[str, str]:
    """Every file and link under ``root`` (relative path -> content hash or link target)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            relative = str(path.relative_to(root))
            if path.is_symlink():
                found[relative] = f"link {os.readlink(path)}"
            elif path.is_file():
                found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


# -- removal and writes never go through a link that leads out of the environment ---------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the venv, holding a file named like alpha's module (the victim)."""
    folder = tmp_path / "outside"
    write(folder / "__init__.py", "precious\n")
    write(folder / "victim.txt", "precious\n")
    return folder


def link_alpha_outside(venv: Path, outside: Path) -> None:
    """Replace the installed ``alpha`` package folder by a link to ``outside``."""
    package = site_packages(venv) / "alpha"
    shutil.rmtree(package)
    package.symlink_to(outside, target_is_directory=True)


def test_removing_a_package_whose_folder_links_outside_deletes_nothing_there(
    sync: Sync, venv: Path, index_server: IndexServer, outside: Path
) -> None:
    alpha = build_wheel(index_server.root, "alpha", "1.0")
    beta = build_wheel(index_server.root, "beta", "1.0")
    write(Path("requirements.txt"), lock_for(alpha, beta))
    assert sync("requirements.txt")[0] == 0
    link_alpha_outside(venv, outside)
    before = tree(outside)

    write(Path("requirements.txt"), lock_for(beta))
    code, out, err = sync("requirements.txt")
    assert code == 0, err
    assert "removed 1" in out
    assert tree(outside) == before
    assert "alpha/__init__.py, outside the environment; left alone" in err
    assert not (site_packages(venv) / "alpha-1.0.dist-info").exists()


def test_replacing_a_package_whose_folder_links_outside_writes_nothing_there(
    sync: Sync, venv: Path, index_server: IndexServer, outside: Path
) -> None:
    alpha1 = build_wheel(index_server.root, "alpha", "1.0")
    alpha2 = build_wheel(index_server.root, "alpha", "2.0")
    write(Path("requirements.txt"), lock_for(alpha1))
    assert sync("requirements.txt")[0] == 0
    link_alpha_outside(venv, outside)
    before, env_before = tree(outside), snapshot(venv)

    write(Path("requirements.txt"), lock_for(alpha2))
    code, _out, err = sync("requirements.txt")
    assert tree(outside) == before
    assert code == 5, err
    package = site_packages(venv) / "alpha"
    assert f"{package} is a symbolic link to {outside}, outside the environment" in err
    assert "rolled back" in err
    assert snapshot(venv) == env_before

    package.unlink()  # as the message says: remove the link, then run again
    assert sync("requirements.txt")[0] == 0
    assert imports(venv, "alpha") == "2.0"
    assert tree(outside) == before


def hand_installed(info: Path, *rows: str) -> None:
    """A ``hostile 1.0`` put in by hand as ``info``: METADATA, and a RECORD naming it and
    ``rows``. Not in the lock, so the next sync removes it."""
    write(info / "METADATA", "Metadata-Version: 2.1\nName: hostile\nVersion: 1.0\n")
    listed = ("hostile-1.0.dist-info/METADATA", *rows)
    write(info / "RECORD", "".join(f"{row},,\n" for row in listed))


def sync_alpha_only(sync: Sync, index_server: IndexServer) -> str:
    alpha = build_wheel(index_server.root, "alpha", "1.0")
    write(Path("requirements.txt"), lock_for(alpha))
    code, _out, err = sync("requirements.txt")
    assert code == 0, err
    return err


def test_a_record_row_through_a_linked_folder_deletes_nothing_outside(
    sync: Sync, venv: Path, index_server: IndexServer, outside: Path
) -> None:
    site = site_packages(venv)
    (site / "shared_link").symlink_to(outside, target_is_directory=True)
    hand_installed(site / "hostile-1.0.dist-info", "shared_link/victim.txt", "shared_link/x.py")
    before = tree(outside)

    err = sync_alpha_only(sync, index_server)
    assert tree(outside) == before
    assert "shared_link/victim.txt, outside the environment; left alone" in err
    assert not (site / "hostile-1.0.dist-info").exists()
    assert (site / "shared_link").is_symlink()


def test_a_dist_info_folder_linked_outside_is_not_emptied(
    sync: Sync, venv: Path, index_server: IndexServer, tmp_path: Path
) -> None:
    info = tmp_path / "elsewhere" / "hostile-1.0.dist-info"
    hand_installed(info)
    write(info / "victim.txt", "precious\n")
    (site_packages(venv) / info.name).symlink_to(info, target_is_directory=True)
    before = tree(info)

    sync_alpha_only(sync, index_server)
    assert tree(info) == before


# -- the interpreter record in the cache is checked before it is believed ------------------


def edit_interpreter_records(cache: Path, venv: Path, **changes: object) -> None:
    """Rewrite the cached probe answers for ``venv`` (or any prefix) with ``changes``
    (``paths`` merged)."""
    records = [p for p in (cache / "interpreters").glob("*.json") if str(venv) in p.read_text()]
    assert records
    for record in records:
        data = json.loads(record.read_text())
        data["paths"].update(changes.pop("paths", {}))
        data.update(changes)
        record.write_text(json.dumps(data))


def test_an_edited_interpreter_record_is_probed_again(
    sync: Sync, venv: Path, cache: Path, index_server: IndexServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    alpha = build_wheel(index_server.root, "alpha", "1.0")
    beta = build_wheel(index_server.root, "beta", "1.0")
    write(Path("requirements.txt"), lock_for(alpha))
    assert sync("requirements.txt")[0] == 0
    elsewhere, marker = tmp_path / "elsewhere", tmp_path / "fake-was-run"
    fake = write(tmp_path / "fake-python", f"#!/bin/sh\ntouch {marker}\n")
    fake.chmod(0o755)
    edit_interpreter_records(
        cache, venv, executable=str(fake),
        paths={key: str(elsewhere) for key in ("purelib", "platlib", "scripts", "data")},
    )  # fmt: skip
    monkeypatch.setattr("pip_hashsync.environment.target._IN_PROCESS", {})

    write(Path("requirements.txt"), lock_for(alpha, beta))
    code, _out, err = sync("requirements.txt", "--compile")
    assert code == 0, err
    assert not elsewhere.exists()
    assert not marker.exists()
    assert imports(venv, "beta") == "1.0"
    assert list((site_packages(venv) / "beta" / "__pycache__").glob("*.pyc"))


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"paths": {"purelib": "/elsewhere/site-packages"}}, id="purelib-outside"),
        pytest.param({"prefix": "/elsewhere", "in_venv": True}, id="prefix-elsewhere"),
        pytest.param({"in_venv": False}, id="venv-said-not-venv"),
        pytest.param({"executable": sys.executable}, id="base-interpreter"),
        pytest.param({"tags": "py3-none-any"}, id="tags-not-a-list"),
        pytest.param({"paths": {"scripts": 7}}, id="path-not-a-string"),
    ],
)
def test_a_cached_record_that_fails_a_check_is_not_believed(
    venv: Path, tmp_path: Path, changes: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pip_hashsync.environment.target import introspect

    cache = tmp_path / "cache"
    python = str(venv / "bin" / "python")
    genuine = introspect(python, cache)
    edit_interpreter_records(cache, venv, **changes)
    monkeypatch.setattr("pip_hashsync.environment.target._IN_PROCESS", {})
    assert introspect(python, cache) == genuine


def test_an_edited_record_cannot_hide_that_a_python_is_externally_managed(
    tmp_path: Path, index_server: IndexServer, workdir: Path, cache: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """PEP 668's marker is looked for in the stdlib the record names: a record pointing it
    elsewhere must not let a sync change the system's Python."""
    from pip_hashsync.cli import main

    system = tmp_path / "system"
    python = standalone_python(system)
    stdlib = next((system / "lib").iterdir())
    (stdlib / "EXTERNALLY-MANAGED").write_text("[externally-managed]\nError=Hands off.\n")
    write(Path("requirements.txt"), lock_for(build_wheel(index_server.root, "alpha", "1.0")))
    argv = ["sync", "requirements.txt", "--python", str(python), "-i", index_server.index_url]
    argv += ["--cache-dir", str(cache)]
    assert main(argv) == 2
    unmarked = tmp_path / "unmarked-stdlib"
    unmarked.mkdir()
    edit_interpreter_records(cache, system, paths={"stdlib": str(unmarked)})
    monkeypatch.setattr("pip_hashsync.environment.target._IN_PROCESS", {})

    assert main(argv) == 2
    assert "Hands off." in capsys.readouterr().err
    assert list((stdlib / "site-packages").iterdir()) == []


# -- a --python that answers badly, or not at all ------------------------------------------


def fake_python(tmp_path: Path, body: str) -> tuple[Path, Path]:
    """A script posing as an interpreter; each start appends a line to the returned log."""
    log = tmp_path / "starts.log"
    script = write(tmp_path / "fake" / "python", f"#!/bin/sh\necho started >> {log}\n{body}\n")
    script.chmod(0o755)
    return script, log


def sync_with_python(python: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from pip_hashsync.cli import main

    write(Path("requirements.txt"), "")
    code = main(["sync", "requirements.txt", "--python", str(python), "--no-index"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, err


def test_an_interpreter_answering_without_its_paths_is_named(
    tmp_path: Path, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = json.dumps({"supported": True, "version": "3.12.0", "executable": "/x/python"})
    python, log = fake_python(tmp_path, f"echo '{answer}'")
    code, err = sync_with_python(python, capsys)
    assert code == 5
    assert f"{python} did not answer like a Python interpreter" in err
    assert "paths" in err
    assert log.read_text().count("started") == 1


def test_an_interpreter_that_never_answers_is_asked_once(
    tmp_path: Path, workdir: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr("pip_hashsync.environment.target._PROBE_TIMEOUT", 0.5)
    python, log = fake_python(tmp_path, "exec sleep 30")
    code, err = sync_with_python(python, capsys)
    assert code == 5
    assert f"The Python interpreter {python} did not answer within 0.5 seconds" in err
    assert log.read_text().count("started") == 1


# -- a wheel installer cannot make a script of ---------------------------------------------


@pytest.mark.parametrize(
    ("entry_points", "named"),
    [
        ("[console_scripts]\nbad = not a valid spec\n", "bad = not a valid spec"),
        ("[gui_scripts]\nodd = alpha:%(main\n", "entry_points.txt"),
        ("bad = alpha:main\n", "entry_points.txt"),
    ],
    ids=["invalid-reference", "bad-interpolation", "no-section"],
)
def test_an_invalid_entry_point_is_named_and_rolled_back(
    sync: Sync, venv: Path, index_server: IndexServer, entry_points: str, named: str
) -> None:
    alpha1 = build_wheel(index_server.root, "alpha", "1.0")
    files = {"alpha/__init__.py": "", "alpha-2.0.dist-info/entry_points.txt": entry_points}
    alpha2 = build_wheel(index_server.root, "alpha", "2.0", files=files)
    write(Path("requirements.txt"), lock_for(alpha1))
    assert sync("requirements.txt")[0] == 0
    before = snapshot(venv)

    write(Path("requirements.txt"), lock_for(alpha2))
    code, _out, err = sync("requirements.txt")
    assert code == 5, err
    assert f"Cannot install {alpha2.name}" in err
    assert named in err
    assert "rolled back" in err
    assert snapshot(venv) == before


# -- a site-packages that cannot be written -------------------------------------------------


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` made read-only for real: a read-only bind mount of it onto itself as root
    (root ignores permissions; this is how containers mount it), else its mode bits."""
    if os.geteuid() != 0:
        folders = [folder, *(p for p in folder.rglob("*") if p.is_dir())]
        for path in folders:
            path.chmod(0o555)
        try:
            yield
        finally:
            for path in folders:
                path.chmod(0o755)
        return
    if subprocess.run(["mount", "--bind", folder, folder], capture_output=True).returncode:
        pytest.skip("running as root, and no bind mount can be made to make a folder read-only")
    try:
        remount = ["mount", "-o", "remount,bind,ro", folder]
        if subprocess.run(remount, capture_output=True).returncode:
            pytest.skip("running as root, and a bind mount cannot be made read-only")
        yield
    finally:
        subprocess.run(["umount", folder], check=True)


def test_a_read_only_site_packages_is_named_and_left_as_it_was(
    sync: Sync, venv: Path, index_server: IndexServer
) -> None:
    alpha1 = build_wheel(index_server.root, "alpha", "1.0")
    alpha2 = build_wheel(index_server.root, "alpha", "2.0")
    write(Path("requirements.txt"), lock_for(alpha1))
    assert sync("requirements.txt")[0] == 0
    before = snapshot(venv)

    write(Path("requirements.txt"), lock_for(alpha2))
    with read_only(site_packages(venv)):
        code, _out, err = sync("requirements.txt")
    assert code == 5, err
    assert f"The folder {site_packages(venv)} is not writable" in err
    assert "cross-device" not in err
    assert "rolled back" in err
    assert snapshot(venv) == before
