"""``sync`` of pins whose only allowed file is an sdist (issue 14): verified, then built in a
fresh build environment that pip-hashsync fills itself, every build dependency pinned and
hashed — and ``--dry-run`` tells the same story before anything is built.

pip 26.3 checks the sdist's hash but installs its build backend unverified (pypa/pip#11974);
uv verifies build dependencies only where hashes happen to be given.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest
from distbuilder import build_sdist_project, build_wheel, sha256_of
from helpers import write
from indexserver import IndexServer
from test_sync_apply import Sync, cache, imports, make_venv, site_packages, snapshot, sync

from pip_hashsync import PROVENANCE_FILE
from pip_hashsync.cli import main

__all__ = ["cache", "sync"]  # fixtures shared with test_sync_apply


def pin(archive: Path, version: str = "1.0") -> str:
    name = archive.name.split("-")[0]
    return f"{name}=={version} --hash=sha256:{sha256_of(archive)}\n"


@pytest.fixture
def build_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file the test backend appends to at each build (to count them)."""
    log = tmp_path / "builds.log"
    monkeypatch.setenv("DISTBUILDER_BUILD_LOG", str(log))
    return log


@pytest.mark.parametrize("archive_format", ["tar.gz", "tar.bz2", "zip"])
def test_an_sdist_only_pin_is_built_and_installed(
    archive_format: str, sync: Sync, venv: Path, index_server: IndexServer, build_log: Path
) -> None:
    sdist = build_sdist_project(index_server.root, "solo", "1.0", archive_format=archive_format)
    write(Path("requirements.txt"), pin(sdist))

    code, out, err = sync("requirements.txt")

    assert code == 0, err
    assert "+ solo==1.0" in out
    (info,) = site_packages(venv).glob("solo-1.0.dist-info")
    provenance = json.loads((info / PROVENANCE_FILE).read_text())
    assert provenance["archive"] == sdist.name
    assert provenance["sha256"] == sha256_of(sdist)
    assert len(provenance["built_wheel"]) == 64
    code, out, err = sync("requirements.txt")
    assert code == 0 and "nothing to do" in out, out + err
    assert build_log.read_text().count("\n") == 1


def test_build_requirements_must_be_pinned_and_hashed(
    sync: Sync, venv: Path, index_server: IndexServer, build_log: Path
) -> None:
    """Without a pin the run stops before anything is built — dry-run says the same — and
    names the sdist, the requirement, ``--build-constraint`` and paste-ready lines."""
    helper = build_wheel(index_server.root, "helper", "1.0")
    sdist = build_sdist_project(
        index_server.root, "needy", "1.0", build_requires=["helper>=1"], imports=["helper"]
    )
    write(Path("requirements.txt"), pin(sdist))
    before = snapshot(venv)

    for args in (("--dry-run",), ()):
        code, _out, err = sync("requirements.txt", *args)
        assert code == 2, err
        assert "needy-1.0.tar.gz" in err and "helper>=1" in err, err
        assert "--build-constraint" in err and f"--hash=sha256:{sha256_of(helper)}" in err, err
    assert snapshot(venv) == before
    assert not build_log.exists()

    write(Path("build.txt"), pin(helper))
    code, _out, err = sync("requirements.txt", "--build-constraint", "build.txt")
    assert code == 0, err
    assert build_log.read_text().count("\n") == 1


def test_a_build_requirement_whose_bytes_fail_its_hash_is_exit_3(
    sync: Sync, venv: Path, index_server: IndexServer, build_log: Path
) -> None:
    helper = build_wheel(index_server.root, "helper", "1.0")
    sdist = build_sdist_project(index_server.root, "needy", "1.0", build_requires=["helper"])
    write(Path("requirements.txt"), pin(sdist))
    write(Path("build.txt"), f"helper==1.0 --hash=sha256:{'0' * 64}\n")
    before = snapshot(venv)

    code, _out, err = sync("requirements.txt", "--build-constraint", "build.txt")

    assert code == 3, err
    assert helper.name in err
    assert snapshot(venv) == before
    assert not build_log.exists()


def test_dynamic_build_requirements_meet_the_same_pins(
    sync: Sync, venv: Path, index_server: IndexServer, build_log: Path
) -> None:
    dyn = build_wheel(index_server.root, "dyn", "1.0")
    sdist = build_sdist_project(
        index_server.root, "lively", "1.0", dynamic_requires=["dyn==1.0"], imports=["dyn"]
    )
    write(Path("requirements.txt"), pin(sdist))
    before = snapshot(venv)

    code, _out, err = sync("requirements.txt")
    assert code == 2, err
    assert "get_requires_for_build_wheel" in err and "dyn==1.0" in err, err
    assert snapshot(venv) == before

    write(Path("build.txt"), pin(dyn))
    code, _out, err = sync("requirements.txt", "--build-constraint", "build.txt")
    assert code == 0, err


def test_no_build_refuses_an_sdist_only_pin(
    sync: Sync, venv: Path, index_server: IndexServer
) -> None:
    sdist = build_sdist_project(index_server.root, "solo", "1.0")
    write(Path("requirements.txt"), pin(sdist))

    code, _out, err = sync("requirements.txt", "--no-build")

    assert code == 3, err
    assert sdist.name in err and "only an sdist" in err, err


def test_a_failing_build_is_exit_5_and_leaves_the_environment_as_it_was(
    sync: Sync,
    venv: Path,
    cache: Path,
    index_server: IndexServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The tail of the build's own output is shown (a backend's traceback included: it is
    the build's, not ours), with where the whole log is."""
    present = build_wheel(index_server.root, "present", "1.0")
    write(Path("requirements.txt"), pin(present))
    assert sync("requirements.txt")[0] == 0
    sdist = build_sdist_project(index_server.root, "broken", "1.0", fail=True)
    write(Path("requirements.txt"), pin(present) + pin(sdist))
    before = snapshot(venv)

    argv = ["sync", "requirements.txt", "--venv", str(venv), "-i", index_server.index_url]
    code = main([*argv, "--cache-dir", str(cache)])

    err = capsys.readouterr().err
    assert code == 5, err
    assert "broken-1.0.tar.gz" in err and "line 40" in err, err
    (log,) = (cache / "build-logs").glob("*.log")
    assert str(log) in err
    assert snapshot(venv) == before


def test_a_cached_build_is_reused_offline(
    sync: Sync, tmp_path: Path, index_server: IndexServer, build_log: Path
) -> None:
    """Offline, the plan of the build environment reads the cache too (its build
    requirements were cached by the first run), and the built wheel is reused."""
    helper = build_wheel(index_server.root, "helper", "1.0")
    sdist = build_sdist_project(index_server.root, "solo", "1.0", build_requires=["helper"])
    write(Path("requirements.txt"), pin(sdist))
    write(Path("build.txt"), pin(helper))
    assert sync("requirements.txt", "--build-constraint", "build.txt")[0] == 0
    asked = len(index_server.requests)

    other = make_venv(tmp_path / "other")
    code, _out, err = sync(
        "requirements.txt", "--build-constraint", "build.txt", "--offline", target=other
    )

    assert code == 0, err
    assert len(index_server.requests) == asked
    assert build_log.read_text().count("\n") == 1
    assert list(site_packages(other).glob("solo-1.0.dist-info"))


def test_dry_run_shows_the_build_the_sync_carries_out(
    sync: Sync, venv: Path, index_server: IndexServer, build_log: Path
) -> None:
    helper = build_wheel(index_server.root, "helper", "1.0")
    sdist = build_sdist_project(index_server.root, "needy", "1.0", build_requires=["helper"])
    write(Path("requirements.txt"), pin(sdist))
    write(Path("build.txt"), pin(helper))

    code, out, err = sync(
        "requirements.txt", "--dry-run", "--format", "json", "--build-constraint", "build.txt"
    )

    assert code == 0, err
    (action,) = json.loads(out)["actions"]
    assert action["build"] == {
        "sdist": sdist.name,
        "sha256": sha256_of(sdist),
        "backend": "project_backend",
        "requires": [f"helper==1.0 --hash=sha256:{sha256_of(helper)}"],
    }
    assert not build_log.exists()
    assert sync("requirements.txt", "--build-constraint", "build.txt")[0] == 0


def real_wheel(project: str) -> Path:
    """A real wheel tox downloaded for the tests (``HASHSYNC_TEST_WHEELS``), else skip."""
    folder = os.environ.get("HASHSYNC_TEST_WHEELS")
    found = sorted(Path(folder).glob(f"{project}-*.whl")) if folder else []
    if not found:
        pytest.skip(f"no {project} wheel in HASHSYNC_TEST_WHEELS (tox downloads one)")
    return found[-1]


def legacy_sdist(folder: Path, name: str, version: str) -> Path:
    """A setup.py project with no pyproject.toml: pip builds it with setuptools' legacy
    backend, and so do we (its build requirement is setuptools>=40.8.0)."""
    base = f"{name}-{version}"
    path = folder / f"{base}.tar.gz"
    members = {
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        "setup.py": f"from setuptools import setup\nsetup(name={name!r}, version={version!r}, "
        f"py_modules=[{name!r}])\n",
        f"{name}.py": f"__version__ = {version!r}\n",
    }
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as archive:
        for member, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{base}/{member}")
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            archive.addfile(info, io.BytesIO(data))
    return path


def test_a_setup_py_sdist_is_built_with_a_pinned_setuptools_from_the_index(
    sync: Sync, venv: Path, index_server: IndexServer
) -> None:
    """The legacy backend, as pip uses it, with a real setuptools wheel that the build
    constraints pin and hash, served by the loopback index."""
    setuptools = real_wheel("setuptools")
    shutil.copy(setuptools, index_server.root)
    sdist = legacy_sdist(index_server.root, "oldstyle", "1.0")
    write(Path("requirements.txt"), pin(sdist))
    version = setuptools.name.split("-")[1]
    write(Path("build.txt"), f"setuptools=={version} --hash=sha256:{sha256_of(setuptools)}\n")

    code, _out, err = sync("requirements.txt", "--build-constraint", "build.txt")

    assert code == 0, err
    assert imports(venv, "oldstyle") == "1.0"


def test_build_hashes_verify_builds_with_unpinned_build_requirements(
    sync: Sync, venv: Path, index_server: IndexServer
) -> None:
    """``--build-hashes verify`` is pip's and uv's behaviour: unpinned build requirements are
    installed unchecked, with a warning each."""
    build_wheel(index_server.root, "helper", "1.0")
    sdist = build_sdist_project(
        index_server.root, "needy", "1.0", build_requires=["helper"], imports=["helper"]
    )
    write(Path("requirements.txt"), pin(sdist))

    code, _out, err = sync("requirements.txt", "--build-hashes", "verify")

    assert code == 0, err
    assert "helper" in err and "WARNING" in err, err


def test_a_dependency_of_a_build_dependency_must_be_pinned_too_and_dry_run_says_so(
    sync: Sync, venv: Path, index_server: IndexServer, build_log: Path
) -> None:
    """The build environment's install is hash-checked like any other: its whole closure
    must be pinned. ``--dry-run`` plans it, so it refuses what the sync would refuse."""
    base = build_wheel(index_server.root, "base", "1.0")
    helper = build_wheel(index_server.root, "helper", "1.0", requires=["base"])
    sdist = build_sdist_project(index_server.root, "needy", "1.0", build_requires=["helper"])
    write(Path("requirements.txt"), pin(sdist))
    write(Path("build.txt"), pin(helper))

    for args in (("--dry-run",), ()):
        code, _out, err = sync("requirements.txt", "--build-constraint", "build.txt", *args)
        assert code == 2, err
        assert "to build needy-1.0.tar.gz" in err and "base" in err, err
    assert not build_log.exists()

    write(Path("build.txt"), pin(helper) + pin(base))
    assert sync("requirements.txt", "--build-constraint", "build.txt")[0] == 0


def test_a_build_dependency_that_is_only_an_sdist_is_refused(
    sync: Sync, venv: Path, index_server: IndexServer, build_log: Path
) -> None:
    """Build environments take wheels only: a build dependency that is itself only an sdist
    would need a build of its own (and a backend that builds itself, forever). Exit 3,
    naming it, before anything is built. uv builds it; pip too, unpinned."""
    helper = build_sdist_project(index_server.root, "helper", "1.0")
    sdist = build_sdist_project(index_server.root, "needy", "1.0", build_requires=["helper"])
    write(Path("requirements.txt"), pin(sdist))
    write(Path("build.txt"), pin(helper))
    before = snapshot(venv)

    code, _out, err = sync("requirements.txt", "--build-constraint", "build.txt")

    assert code == 3, err
    assert "helper-1.0.tar.gz" in err and "only an sdist" in err, err
    assert snapshot(venv) == before
    assert not build_log.exists()
