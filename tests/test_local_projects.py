"""Local projects, editables and git checkouts outside hash-checking mode (issue 14, item 6):
``install .``, ``install -e .``, ``name @ file:///dir`` and ``git+file://…@rev`` are built
with the build machinery of sdists and recorded in ``direct_url.json`` as pip records them
(PEP 610), so ``pip list --editable`` lists an editable install. In hash-checking mode each
stays refused with today's message.

pip 23.2 (the machine's) installs the same lines; it reinstalls a folder on every run, where
pip-hashsync keeps it while the folder builds the same wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from distbuilder import build_sdist_project, build_wheel
from helpers import write
from indexserver import IndexServer
from test_sync_apply import Sync, cache, imports, site_packages, snapshot, sync

from pip_hashsync.cli import main
from pip_hashsync.urls import path_to_url

__all__ = ["cache", "sync"]  # fixtures shared with test_sync_apply


def project(parent: Path, name: str, version: str, **knobs: Any) -> Path:
    """A project folder with distbuilder's in-tree backend (PEP 517 and PEP 660);
    ``knobs`` as :func:`build_sdist_project` takes them."""
    sdist = build_sdist_project(parent / "sdists", name, version, **knobs)
    with tarfile.open(sdist) as archive:
        archive.extractall(parent, filter="data")
    return parent / f"{name}-{version}"


def direct_url(venv: Path, name: str, version: str) -> dict[str, object]:
    info = site_packages(venv) / f"{name}-{version}.dist-info"
    return json.loads((info / "direct_url.json").read_text())  # type: ignore[no-any-return]


def install(sync: Sync, *args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    """``install`` run from ``cwd`` (then back: a venv's python run in the project folder
    would import the module from there, and write its ``__pycache__`` into the source)."""
    back = Path.cwd()
    os.chdir(cwd or back)
    try:
        return sync(*args, command="install")
    finally:
        os.chdir(back)


def test_install_dot_builds_the_folder_and_keeps_it_while_unchanged(
    sync: Sync, venv: Path, workdir: Path, index_server: IndexServer
) -> None:
    build_wheel(index_server.root, "helper", "2.0")
    folder = project(workdir, "demo", "1.0", requires=("helper",))

    code, out, err = install(sync, ".", cwd=folder)

    assert code == 0, err
    assert "+ demo==1.0" in out and "+ helper==2.0" in out, out
    assert imports(venv, "demo") == "1.0"
    assert direct_url(venv, "demo", "1.0") == {"url": path_to_url(str(folder)), "dir_info": {}}
    code, out, err = install(sync, "./demo-1.0")
    assert code == 0 and "kept 2" in out, out + err
    (folder / "demo" / "__init__.py").write_text('__version__ = "changed"\n')
    code, out, err = install(sync, ".", cwd=folder)
    assert code == 0 and "reinstalled 1" in out, out + err
    assert imports(venv, "demo") == "changed"


def test_build_requirements_come_from_the_index_unhashed(
    sync: Sync, venv: Path, workdir: Path, index_server: IndexServer
) -> None:
    """Outside hash-checking mode the build environment is filled as pip fills it."""
    build_wheel(index_server.root, "helper", "1.0")
    build_wheel(index_server.root, "dynamic", "1.0")
    folder = project(
        workdir, "needy", "1.0", build_requires=["helper>=1"], dynamic_requires=["dynamic"],
        imports=["helper", "dynamic"],
    )  # fmt: skip

    code, _out, err = install(sync, str(folder))

    assert code == 0, err
    assert imports(venv, "needy") == "1.0"
    assert not (site_packages(venv) / "helper").exists()


_RECORDING_BACKEND = """

_build_wheel_first = build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open(os.path.join(MODULE_DIR, "settings.py"), "w", encoding="utf-8") as f:
        f.write(f"SETTINGS = {config_settings!r}\\n")
    return _build_wheel_first(wheel_directory, config_settings, metadata_directory)
"""


def test_config_settings_of_the_run_and_of_the_line_reach_the_backend(
    sync: Sync, venv: Path, workdir: Path
) -> None:
    """pip passes a line's ``--config-settings`` to its build, over the run's."""
    folder = project(workdir, "demo", "1.0")
    backend = folder / "_backend" / "project_backend.py"
    backend.write_text(backend.read_text() + _RECORDING_BACKEND.replace("MODULE_DIR", '"demo"'))
    write(workdir / "requirements.txt", f"{folder} --config-settings mode=line\n")

    code, _out, err = install(sync, "-r", "requirements.txt", "-C", "mode=run", "-C", "other=1")

    assert code == 0, err
    settings = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import demo.settings as s; print(s.SETTINGS)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert settings == str({"mode": "line", "other": "1"})


def test_dry_run_builds_to_plan_and_changes_nothing(sync: Sync, venv: Path, workdir: Path) -> None:
    folder = project(workdir, "demo", "1.0")
    before = snapshot(venv)

    code, out, err = install(sync, "--dry-run", "-v", str(folder))

    assert code == 0, err
    assert " + demo==1.0  demo-1.0-py3-none-any.whl from local build (not installed)" in out, out
    assert snapshot(venv) == before


def test_a_failing_build_is_exit_5_and_changes_nothing(
    venv: Path, cache: Path, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = project(workdir, "broken", "1.0", fail=True)
    before = snapshot(venv)

    code = main(["install", str(folder), "--venv", str(venv), "--cache-dir", str(cache)])

    err = capsys.readouterr().err
    assert code == 5, err
    assert "failed (build_wheel)" in err and "build output line 40" in err, err
    (log,) = (cache / "build-logs").glob("*.log")
    assert str(log) in err
    assert snapshot(venv) == before


def test_install_editable_sees_edits_and_pip_lists_it(
    sync: Sync, venv: Path, workdir: Path
) -> None:
    folder = project(workdir, "demo", "1.0")

    code, out, err = install(sync, "-e", ".", cwd=folder)

    assert code == 0, err
    assert imports(venv, "demo") == "1.0"
    (folder / "demo" / "__init__.py").write_text('__version__ = "edited"\n')
    assert imports(venv, "demo") == "edited"
    assert direct_url(venv, "demo", "1.0") == {
        "url": path_to_url(str(folder)),
        "dir_info": {"editable": True},
    }
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "list",
         "--editable", "--format", "json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    (entry,) = json.loads(listed.stdout)
    assert entry["name"] == "demo" and entry["editable_project_location"] == str(folder)
    code, out, err = install(sync, "-e", ".", cwd=folder)
    assert code == 0 and "kept 1" in out, out + err


def test_named_file_url_of_a_folder(sync: Sync, venv: Path, workdir: Path) -> None:
    folder = project(workdir, "demo", "1.0")
    write(workdir / "requirements.txt", f"demo @ {path_to_url(str(folder))}\n")

    code, _out, err = sync("requirements.txt")

    assert code == 0, err
    assert imports(venv, "demo") == "1.0"
    write(workdir / "requirements.txt", f"other @ {path_to_url(str(folder))}\n")
    code, _out, err = sync("requirements.txt")
    assert code == 2 and "is a project named demo, not other" in err, err


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git executable")
def test_git_url_at_a_revision_is_cloned_and_built(sync: Sync, venv: Path, workdir: Path) -> None:
    folder = project(workdir, "demo", "1.0")
    _git("init", "-q", cwd=folder)
    _git("add", ".", cwd=folder)
    _git("commit", "-qm", "one", cwd=folder)
    first = _git("rev-parse", "HEAD", cwd=folder)
    (folder / "demo" / "__init__.py").write_text('__version__ = "later"\n')
    _git("commit", "-qam", "two", cwd=folder)
    url = f"git+{path_to_url(str(folder))}@{first}"

    code, out, err = install(sync, url)

    assert code == 0, err
    assert imports(venv, "demo") == "1.0"  # the revision asked for, not the branch's head
    assert direct_url(venv, "demo", "1.0") == {
        "url": path_to_url(str(folder)),
        "vcs_info": {"vcs": "git", "commit_id": first, "requested_revision": first},
    }
    code, out, err = install(sync, url)
    assert code == 0 and "kept 1" in out, out + err


def test_git_url_without_git_is_a_clear_input_error(
    sync: Sync, venv: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(workdir / "no-git-here"))

    code, _out, err = install(sync, f"git+{path_to_url(str(workdir))}@main")

    assert code == 2
    assert "needs git, and no git executable was found on PATH" in err, err


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (".", "a directory has no single file to hash"),
        ("-e .", "cannot be installed when requiring hashes"),
        ("demo @ {url}", "a directory has no single file to hash"),
        ("git+{url}@main", "a version control checkout has no single file to hash"),
    ],
)
def test_hash_mode_still_refuses_them(
    line: str, message: str, sync: Sync, venv: Path, workdir: Path
) -> None:
    folder = project(workdir, "demo", "1.0")
    os.chdir(folder)
    write(folder / "requirements.txt", line.format(url=path_to_url(str(folder))) + "\n")

    code, _out, err = sync("requirements.txt", "--require-hashes")

    assert code == 2 and message in err, err
