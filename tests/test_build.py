"""Building wheels from sdists (issue 14, part A): safe unpacking of every sdist format, the
build system read from pyproject.toml, PEP 517 builds in a fresh venv filled by the caller,
build failures with their log, and the built-wheel cache. The sdists and their in-tree
backends are written by the tests (distbuilder); builds really run."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import threading
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from distbuilder import build_sdist_project, build_wheel, sha256_of
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pip_hashsync.archives.build import BuildEnv, BuildError, BuildJob, build_wheels
from pip_hashsync.archives.cache import BuiltWheelCache
from pip_hashsync.archives.sdist import (
    LEGACY_BACKEND,
    BadBuildSystem,
    BuildSystem,
    UnpackFailed,
    UnsafeSdist,
    build_system_of_sdist,
    read_build_system,
    unpack_sdist,
)
from pip_hashsync.environment.install import WheelToInstall, install_wheel
from pip_hashsync.environment.installed import Provenance
from pip_hashsync.environment.target import Target, introspect
from pip_hashsync.environment.transaction import Transaction
from pip_hashsync.index.metadata import IntegrityError

BIN = "Scripts" if os.name == "nt" else "bin"


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Target:
    path = tmp_path_factory.mktemp("build") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return introspect(str(path / BIN / "python"), None)


class Fill:
    """The caller's ``fill``: records what it is asked, and installs the wheels it was given
    (by project name) into the build environment with pip-hashsync's own installer."""

    def __init__(self, wheels: Sequence[Path] = ()) -> None:
        self.wheels = {canonicalize_name(w.name.split("-")[0]): w for w in wheels}
        self.calls: list[tuple[tuple[str, ...], str]] = []
        self._lock = threading.Lock()

    def __call__(self, env: BuildEnv, requirements: Sequence[str], why: str) -> None:
        with self._lock:
            self.calls.append((tuple(requirements), why))
        build_target = introspect(str(env.python), None)
        with Transaction(build_target) as txn:
            for requirement in requirements:
                wheel = self.wheels[canonicalize_name(Requirement(requirement).name)]
                provenance = Provenance(wheel.name, sha256_of(wheel), None)
                txn.install(WheelToInstall(wheel, True, provenance))


@pytest.fixture
def builds_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[str]]:
    """The project folders whose backend ran ``build_wheel``, in order (the test backend
    notes each in the file ``DISTBUILDER_BUILD_LOG`` names)."""
    marker = tmp_path / "built.txt"
    monkeypatch.setenv("DISTBUILDER_BUILD_LOG", str(marker))
    return lambda: marker.read_text().split() if marker.exists() else []


def job(sdist: Path) -> BuildJob:
    return BuildJob(sdist, sha256_of(sdist), sdist.name)


def build(
    jobs: Sequence[BuildJob],
    target: Target,
    tmp_path: Path,
    *,
    fill: Fill | None = None,
    cache: BuiltWheelCache | None = None,
    config_settings: dict[str, str | list[str]] | None = None,
    workers: int = 2,
) -> dict[str, Path]:
    built = build_wheels(
        jobs,
        target=target,
        fill=fill or Fill(),
        cache=cache,
        config_settings=config_settings,
        log_dir=tmp_path / "logs",
        wheel_dir=tmp_path / "wheels",
        workers=workers,
    )
    for wheel in built.values():
        assert sha256_of(wheel.path) == wheel.sha256
    return {name: wheel.path for name, wheel in built.items()}


def imported_version(target: Target, module: str) -> str:
    done = subprocess.run(
        [target.executable, "-c", f"import {module}; print({module}.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.parametrize("archive_format", ["tar.gz", "tar.bz2", "tar.xz", "tar", "zip"])
def test_each_sdist_format_builds_a_wheel_that_installs(
    archive_format: str, target: Target, tmp_path: Path
) -> None:
    name = f"fmt-{archive_format.replace('.', '-')}"
    sdist = build_sdist_project(tmp_path / "dists", name, "1.2", archive_format=archive_format)
    fill = Fill()
    wheel = build([job(sdist)], target, tmp_path, fill=fill)[sdist.name]
    module = name.replace("-", "_")
    assert wheel.name == f"{module}-1.2-py3-none-any.whl"
    assert fill.calls == []  # nothing in build-system.requires, nothing dynamic
    install_wheel(
        target,
        WheelToInstall(wheel, True, Provenance(wheel.name, sha256_of(wheel), None)),
        before_write=lambda path: None,
    )
    assert imported_version(target, module) == "1.2"


def test_static_and_dynamic_build_requirements_are_filled_into_the_build_env(
    target: Target, tmp_path: Path
) -> None:
    deps = [
        build_wheel(tmp_path / "deps", "static-dep", "1.0"),
        build_wheel(tmp_path / "deps", "dyn-dep", "2.0"),
    ]
    sdist = build_sdist_project(
        tmp_path / "dists",
        "needs-deps",
        "1.0",
        build_requires=["static-dep==1.0"],
        dynamic_requires=["dyn-dep==2.0"],
        imports=["static_dep", "dyn_dep"],  # the build fails unless both are installed
    )
    fill = Fill(deps)
    wheel = build([job(sdist)], target, tmp_path, fill=fill)[sdist.name]
    assert wheel.name == "needs_deps-1.0-py3-none-any.whl"
    assert fill.calls == [
        (("static-dep==1.0",), f"build-system.requires of {sdist.name}"),
        (("dyn-dep==2.0",), f"get_requires_for_build_wheel of {sdist.name}"),
    ]


def test_the_build_env_is_a_fresh_venv_without_the_targets_packages(
    target: Target, tmp_path: Path
) -> None:
    """The backend imports a module installed in the target: the build environment,
    made from the target's base interpreter, does not have it."""
    dep = build_wheel(tmp_path / "deps", "only-in-target", "1.0")
    install_wheel(
        target,
        WheelToInstall(dep, True, Provenance(dep.name, sha256_of(dep), None)),
        before_write=lambda path: None,
    )
    sdist = build_sdist_project(tmp_path / "dists", "isolated", "1.0", imports=["only_in_target"])
    with pytest.raises(BuildError, match="No module named 'only_in_target'"):
        build([job(sdist)], target, tmp_path)


def test_a_failing_backend_is_exit_5_with_the_log_tail_and_path(
    target: Target, tmp_path: Path
) -> None:
    sdist = build_sdist_project(tmp_path / "dists", "broken", "1.0", fail=True)
    with pytest.raises(BuildError) as caught:
        build([job(sdist)], target, tmp_path)
    error = caught.value
    message = str(error)
    assert error.exit_code == 5
    assert message.startswith(f"Building {sdist.name} failed (build_wheel).")
    assert "this backend was told to fail" in message
    assert "build output line 1\n" not in message  # only the tail
    (log,) = error.logs
    assert log.parent == tmp_path / "logs"
    assert f"The whole build log is {log}" in message
    full = log.read_text()
    assert "build output line 1\n" in full and "build output line 40\n" in full


def test_failures_of_several_builds_are_reported_together(target: Target, tmp_path: Path) -> None:
    sdists = [
        build_sdist_project(tmp_path / "dists", name, "1.0", fail=True) for name in ("one", "two")
    ]
    with pytest.raises(BuildError) as caught:
        build([job(s) for s in sdists], target, tmp_path)
    assert "Building one-1.0.tar.gz failed" in str(caught.value)
    assert "Building two-1.0.tar.gz failed" in str(caught.value)
    assert len(caught.value.logs) == 2


def test_independent_jobs_are_built_in_parallel(
    target: Target, tmp_path: Path, builds_run: Callable[[], list[str]]
) -> None:
    sdists = [
        build_sdist_project(tmp_path / "dists", "par-a", "1.0"),
        build_sdist_project(tmp_path / "dists", "par-b", "2.0", archive_format="zip"),
    ]
    built = build([job(s) for s in sdists], target, tmp_path, workers=2)
    assert {path.name for path in built.values()} == {
        "par_a-1.0-py3-none-any.whl",
        "par_b-2.0-py3-none-any.whl",
    }
    assert sorted(builds_run()) == ["par_a-1.0", "par_b-2.0"]


def test_a_cached_build_is_reused_without_running_the_backend(
    target: Target, tmp_path: Path, builds_run: Callable[[], list[str]]
) -> None:
    deps = [build_wheel(tmp_path / "deps", "static-dep", "1.0")]
    sdist = build_sdist_project(tmp_path / "dists", "cached", "1.0", build_requires=["static-dep"])
    cache = BuiltWheelCache(tmp_path / "cache")
    first = build([job(sdist)], target, tmp_path / "1", fill=Fill(deps), cache=cache)
    assert first[sdist.name].is_relative_to(tmp_path / "cache" / "builds")
    fill = Fill(deps)
    again = build([job(sdist)], target, tmp_path / "2", fill=fill, cache=cache)
    assert again == first
    assert fill.calls == []
    assert builds_run() == ["cached-1.0"]
    # Other build settings are another build.
    other = build(
        [job(sdist)], target, tmp_path / "3", fill=fill, cache=cache, config_settings={"k": "v"}
    )
    assert other[sdist.name] != first[sdist.name]
    assert builds_run() == ["cached-1.0", "cached-1.0"]


def test_a_cached_wheel_whose_bytes_changed_is_built_again(
    target: Target, tmp_path: Path, builds_run: Callable[[], list[str]]
) -> None:
    sdist = build_sdist_project(tmp_path / "dists", "tampered", "1.0")
    cache = BuiltWheelCache(tmp_path / "cache")
    wheel = build([job(sdist)], target, tmp_path / "1", cache=cache)[sdist.name]
    wheel.write_bytes(wheel.read_bytes() + b"CHANGED")
    rebuilt = build([job(sdist)], target, tmp_path / "2", cache=cache)[sdist.name]
    assert not rebuilt.read_bytes().endswith(b"CHANGED")
    assert builds_run() == ["tampered-1.0", "tampered-1.0"]


def test_an_sdist_whose_bytes_changed_since_it_was_verified_is_not_built(
    target: Target, tmp_path: Path, builds_run: Callable[[], list[str]]
) -> None:
    sdist = build_sdist_project(tmp_path / "dists", "swapped", "1.0")
    verified = BuildJob(sdist, "0" * 64, sdist.name)
    with pytest.raises(IntegrityError, match="no longer matches") as caught:
        build([verified], target, tmp_path, cache=BuiltWheelCache(tmp_path / "cache"))
    assert caught.value.exit_code == 3
    assert builds_run() == []


def test_a_local_project_folder_is_built_in_place(target: Target, tmp_path: Path) -> None:
    sdist = build_sdist_project(tmp_path / "dists", "local-proj", "3.0")
    project = unpack_sdist(sdist, tmp_path / "checkout")
    built = build([BuildJob(None, None, "local-proj", source_dir=project)], target, tmp_path)
    assert built["local-proj"].name == "local_proj-3.0-py3-none-any.whl"


def test_an_editable_build_runs_the_pep_660_hooks(target: Target, tmp_path: Path) -> None:
    deps = [build_wheel(tmp_path / "deps", "dyn-dep", "2.0")]
    sdist = build_sdist_project(tmp_path / "dists", "edit-me", "1.0", dynamic_requires=["dyn-dep"])
    project = unpack_sdist(sdist, tmp_path / "checkout")
    fill = Fill(deps)
    editable = BuildJob(None, None, "edit-me", editable=True, source_dir=project)
    wheel = build([editable], target, tmp_path, fill=fill)["edit-me"]
    assert fill.calls == [(("dyn-dep",), "get_requires_for_build_editable of edit-me")]
    install_wheel(
        target,
        WheelToInstall(wheel, True, Provenance(wheel.name, sha256_of(wheel), None)),
        before_write=lambda path: None,
    )
    (project / "edit_me" / "__init__.py").write_text("__version__ = 'edited'\n")
    assert imported_version(target, "edit_me") == "edited"


# --- the build system, read without running anything -----------------------------------


def test_build_system_is_read_from_the_archive_itself(tmp_path: Path) -> None:
    sdist = build_sdist_project(
        tmp_path, "reads", "1.0", archive_format="tar.bz2", build_requires=['a>=1; os_name != "x"']
    )
    assert build_system_of_sdist(sdist) == BuildSystem(
        requires=('a>=1; os_name != "x"',),
        backend="project_backend",
        backend_path=("_backend",),
        legacy=False,
    )


@pytest.mark.parametrize(
    "pyproject", [None, "[project]\nname = 'x'\n"], ids=["no pyproject", "no build-system"]
)
def test_without_build_system_pips_legacy_defaults_apply(
    tmp_path: Path, pyproject: str | None
) -> None:
    (tmp_path / "setup.py").write_text("")
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject)
    assert read_build_system(tmp_path) == BuildSystem(
        ("setuptools>=40.8.0",), LEGACY_BACKEND, (), legacy=True
    )


@pytest.mark.parametrize(
    ("pyproject", "complaint"),
    [
        ("[build-system\n", "is not valid TOML"),
        ("[build-system]\nbuild-backend = 'x'\n", "has no 'requires' key"),
        ("[build-system]\nrequires = 'setuptools'\n", "requires is not a list of strings"),
        ("[build-system]\nrequires = ['not a requirement!']\n", "not a valid requirement"),
        ("[build-system]\nrequires = []\nbackend-path = ['../up']\n", "leads out of the project"),
        ("[build-system]\nrequires = []\nbackend-path = ['/abs']\n", "leads out of the project"),
        ("[build-system]\nrequires = []\nbackend-path = ['C:x']\n", "leads out of the project"),
    ],
)
def test_a_bad_build_system_is_a_build_failure(
    tmp_path: Path, pyproject: str, complaint: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(pyproject)
    with pytest.raises(BadBuildSystem, match=complaint) as caught:
        read_build_system(tmp_path)
    assert caught.value.exit_code == 5
    assert str(tmp_path / "pyproject.toml") in str(caught.value)


def test_build_system_default_backend_when_only_requires_is_given(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[build-system]\nrequires = ['setuptools']\n")
    assert read_build_system(tmp_path) == BuildSystem(
        ("setuptools",), LEGACY_BACKEND, (), legacy=False
    )


# --- hostile sdists ---------------------------------------------------------------------


def hostile_tar(path: Path, *members: tarfile.TarInfo) -> Path:
    """A .tar.gz holding a harmless PKG-INFO, then ``members`` (files get 3 bytes)."""
    with tarfile.open(path, "w:gz") as tar:
        ok = tarfile.TarInfo("evil-1.0/PKG-INFO")
        ok.size = 3
        tar.addfile(ok, io.BytesIO(b"ok\n"))
        for info in members:
            tar.addfile(info, io.BytesIO(b"bad") if info.isfile() else None)
    return path


def tar_member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    info.size = 3 if kind == tarfile.REGTYPE else 0
    return info


def written_outside(area: Path, into: Path) -> list[Path]:
    """What exists under ``area`` but neither inside ``into`` nor on the way to it."""
    return [
        path
        for path in area.rglob("*")
        if path != into and not path.is_relative_to(into) and not into.is_relative_to(path)
    ]


HOSTILE_TARS = {
    "dot-dot": [tar_member("evil-1.0/../../outside")],
    "absolute": [tar_member("/tmp/pip-hashsync-test-absolute")],
    "symlink out": [tar_member("evil-1.0/link", tarfile.SYMTYPE, "../../outside")],
    "absolute symlink": [tar_member("evil-1.0/link", tarfile.SYMTYPE, "/etc")],
    "write through a symlink": [
        tar_member("evil-1.0/link", tarfile.SYMTYPE, "."),
        tar_member("evil-1.0/link/file"),
    ],
    "symlink chain out": [
        tar_member("evil-1.0/here", tarfile.SYMTYPE, "."),
        tar_member("evil-1.0/up", tarfile.SYMTYPE, "here/../.."),
    ],
    "hard link out": [tar_member("evil-1.0/hard", tarfile.LNKTYPE, "../../outside")],
    "character device": [tar_member("evil-1.0/dev", tarfile.CHRTYPE)],
    "fifo": [tar_member("evil-1.0/fifo", tarfile.FIFOTYPE)],
}


@pytest.mark.parametrize("case", sorted(HOSTILE_TARS))
def test_hostile_tar_sdists_are_refused_before_anything_lands_outside(
    tmp_path: Path, case: str
) -> None:
    sdist = hostile_tar(tmp_path / "evil-1.0.tar.gz", *HOSTILE_TARS[case])
    area = tmp_path / "area" / "deep"
    into = area / "into"
    with pytest.raises(UnsafeSdist, match=r"evil-1\.0\.tar\.gz is not a safe sdist") as caught:
        unpack_sdist(sdist, into)
    assert caught.value.exit_code == 3
    assert written_outside(tmp_path / "area", into) == []
    assert not Path("/tmp/pip-hashsync-test-absolute").exists()


@pytest.mark.parametrize("case", ["dot-dot", "absolute", "write through a symlink", "fifo"])
def test_hostile_sdists_are_refused_by_planning_too(tmp_path: Path, case: str) -> None:
    sdist = hostile_tar(tmp_path / "evil-1.0.tar.gz", *HOSTILE_TARS[case])
    with pytest.raises(UnsafeSdist):
        build_system_of_sdist(sdist)


@pytest.mark.parametrize(
    ("name", "mode"),
    [("evil-1.0/../../outside", 0o100644), ("/tmp/x", 0o100644), ("evil-1.0/dev", 0o020644)],
    ids=["dot-dot", "absolute", "device"],
)
def test_hostile_zip_sdists_are_refused(tmp_path: Path, name: str, mode: int) -> None:
    sdist = tmp_path / "evil-1.0.zip"
    with zipfile.ZipFile(sdist, "w") as archive:
        archive.writestr("evil-1.0/PKG-INFO", "ok\n")
        info = zipfile.ZipInfo(name)
        info.external_attr = mode << 16
        archive.writestr(info, "bad")
    area = tmp_path / "area"
    with pytest.raises(UnsafeSdist, match="not a safe sdist"):
        unpack_sdist(sdist, area / "into")
    assert written_outside(area, area / "into") == []
    assert not (tmp_path / "outside").exists()


def test_a_decompression_bomb_is_refused_before_it_is_inflated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pip_hashsync.archives.sdist.MAX_UNPACKED_BYTES", 1024 * 1024)
    sdist = tmp_path / "bomb-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        info = tarfile.TarInfo("bomb-1.0/zeros")
        info.size = 4 * 1024 * 1024
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    with pytest.raises(UnsafeSdist, match="unpacks to more than 1048576 bytes"):
        unpack_sdist(sdist, tmp_path / "into")
    assert not (tmp_path / "into" / "bomb-1.0" / "zeros").exists()


def test_a_hostile_sdist_is_never_built(target: Target, tmp_path: Path) -> None:
    sdist = hostile_tar(tmp_path / "evil-1.0.tar.gz", *HOSTILE_TARS["dot-dot"])
    with pytest.raises(UnsafeSdist) as caught:
        build([job(sdist)], target, tmp_path)
    assert caught.value.exit_code == 3


def test_a_corrupt_sdist_is_an_integrity_failure(tmp_path: Path) -> None:
    sdist = tmp_path / "corrupt-1.0.tar.gz"
    sdist.write_bytes(b"\x1f\x8b" + b"not gzip at all" * 10)
    with pytest.raises(UnsafeSdist, match=r"corrupt-1\.0\.tar\.gz") as caught:
        unpack_sdist(sdist, tmp_path / "into")
    assert caught.value.exit_code == 3


def test_a_safe_symlink_inside_the_project_is_kept(tmp_path: Path) -> None:
    sdist = hostile_tar(
        tmp_path / "links-1.0.tar.gz",
        tar_member("evil-1.0/real"),
        tar_member("evil-1.0/alias", tarfile.SYMTYPE, "real"),
    )
    root = unpack_sdist(sdist, tmp_path / "into")
    assert root == tmp_path / "into" / "evil-1.0"
    assert (root / "alias").is_symlink() and (root / "alias").read_text() == "bad"


@pytest.mark.parametrize("case", sorted(HOSTILE_TARS))
def test_hostile_tar_sdists_are_refused_without_tarfiles_data_filter(
    tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pythons before 3.10.12 / 3.11.4 have no ``data`` filter: pip-hashsync's own checks
    refuse the same archives."""
    monkeypatch.delattr(tarfile, "data_filter")
    sdist = hostile_tar(tmp_path / "evil-1.0.tar.gz", *HOSTILE_TARS[case])
    area = tmp_path / "area" / "deep"
    with pytest.raises(UnsafeSdist, match=r"evil-1\.0\.tar\.gz is not a safe sdist"):
        unpack_sdist(sdist, area / "into")
    assert written_outside(tmp_path / "area", area / "into") == []


def test_the_callers_pythonpath_does_not_reach_the_backend(
    target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "from_pythonpath.py").write_text("__version__ = '0'\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow))
    sdist = build_sdist_project(tmp_path / "dists", "pp", "1.0", imports=["from_pythonpath"])
    with pytest.raises(BuildError, match="No module named 'from_pythonpath'"):
        build([job(sdist)], target, tmp_path)


def test_a_folder_that_cannot_be_written_is_an_environment_failure(tmp_path: Path) -> None:
    sdist = build_sdist_project(tmp_path / "dists", "fine", "1.0")
    (tmp_path / "a-file").write_text("")
    with pytest.raises(UnpackFailed, match=r"Cannot unpack fine-1\.0\.tar\.gz") as caught:
        unpack_sdist(sdist, tmp_path / "a-file" / "into")
    assert caught.value.exit_code == 5


def test_a_folder_without_setup_py_or_pyproject_toml_is_no_project(tmp_path: Path) -> None:
    with pytest.raises(BadBuildSystem, match="does not appear to be a Python project"):
        read_build_system(tmp_path)
    sdist = hostile_tar(tmp_path / "empty-1.0.tar.gz")
    with pytest.raises(BadBuildSystem, match=r"empty-1\.0\.tar\.gz does not appear"):
        build_system_of_sdist(sdist)


# --- the built-wheel cache --------------------------------------------------------------

SDIST_SHA256, SETTINGS = "a" * 64, "b" * 64


def test_the_first_build_stored_stays_when_another_finishes_later(tmp_path: Path) -> None:
    """Two processes built the same sdist: the entry is whole, and the second wheel is
    used where it lies."""
    cache = BuiltWheelCache(tmp_path / "cache")
    first = cache.put(SDIST_SHA256, SETTINGS, build_wheel(tmp_path / "1", "same", "1.0"))
    late = build_wheel(tmp_path / "2", "same", "1.0", files={"same/__init__.py": "late = 1\n"})
    second = cache.put(SDIST_SHA256, SETTINGS, late)
    assert second.path == late and second.sha256 == sha256_of(late)
    assert cache.get(SDIST_SHA256, SETTINGS) == first


def test_a_cache_that_cannot_be_written_leaves_the_wheel_where_it_is(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")
    cache = BuiltWheelCache(tmp_path / "not-a-folder")
    wheel = build_wheel(tmp_path / "w", "kept", "1.0")
    stored = cache.put(SDIST_SHA256, SETTINGS, wheel)
    assert stored.path == wheel and wheel.is_file()
    assert cache.get(SDIST_SHA256, SETTINGS) is None


def test_without_a_cache_nothing_is_kept(tmp_path: Path) -> None:
    cache = BuiltWheelCache(None)
    wheel = build_wheel(tmp_path / "w", "kept", "1.0")
    assert cache.put(SDIST_SHA256, SETTINGS, wheel).path == wheel
    assert cache.get(SDIST_SHA256, SETTINGS) is None


def test_a_backend_that_cannot_be_imported_is_named(target: Target, tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "pyproject.toml").write_text(
        "[build-system]\nrequires = []\nbuild-backend = 'no_such_backend'\n"
    )
    local = BuildJob(None, None, "proj", source_dir=tmp_path / "proj")
    with pytest.raises(BuildError, match="The build backend no_such_backend cannot be imported"):
        build([local], target, tmp_path)
