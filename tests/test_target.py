"""The target interpreter, introspected in real interpreters and real venvs (EC65)."""

from __future__ import annotations

import locale
import os
import platform
import stat
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker, default_environment
from packaging.tags import Tag, sys_tags

from pip_hashsync.environment.target import (
    Target,
    TargetError,
    create_venv,
    default_cache_dir,
    externally_managed_error,
    find_target,
    introspect,
    protected_names,
)
from pip_hashsync.errors import ExitCode, InputError

PYENV = Path("/root/.pyenv/versions")
PY312 = PYENV / "3.12.1" / "bin" / "python3.12"
PY38 = PYENV / "3.8.18" / "bin" / "python3.8"


@pytest.fixture(scope="module")
def running() -> Target:
    return introspect(sys.executable, None)


@pytest.fixture(scope="module")
def venv312(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``--without-pip`` venv of another Python than the one running the tests."""
    if not PY312.exists():
        pytest.skip(f"{PY312} is not installed")
    path = tmp_path_factory.mktemp("venv312") / "env"
    subprocess.run([str(PY312), "-m", "venv", "--without-pip", str(path)], check=True)
    return path


@pytest.fixture(autouse=True)
def new_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test is a run of its own: what an earlier one probed is not in memory."""
    monkeypatch.setattr("pip_hashsync.environment.target._IN_PROCESS", {})


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """A spy on ``subprocess.run``: every probe started is recorded, then really run."""
    calls: list[list[str]] = []
    real_run = subprocess.run

    def spy(args: list[str], **kwargs: Any) -> Any:
        calls.append(args)
        return real_run(args, **kwargs)

    monkeypatch.setattr(subprocess, "run", spy)
    yield calls


def test_running_interpreter_answers_like_packaging_here(running: Target) -> None:
    assert running.tags[0] == str(next(iter(sys_tags())))
    assert dict(running.markers) == default_environment()
    assert running.version == platform.python_version()
    assert running.python_version == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert running.implementation == sys.implementation.name
    assert running.cache_tag == sys.implementation.cache_tag
    assert running.executable == sys.executable
    assert running.in_venv == (sys.prefix != sys.base_prefix)
    assert running.os_name == os.name
    assert running.platform == sysconfig.get_platform()
    assert running.site_dirs()[0] == sysconfig.get_path("purelib")
    assert running.tag_ranks[next(iter(sys_tags()))] == 0


def test_marker_env_is_complete_and_carries_the_extra(running: Target) -> None:
    env = running.marker_env("tests")
    assert env["extra"] == "tests"
    assert env.keys() >= default_environment().keys()
    assert Marker('extra == "tests"').evaluate(env)
    assert not Marker('extra == "docs"').evaluate(running.marker_env("docs2"))


def test_without_pip_venv_of_another_python(venv312: Path) -> None:
    target = find_target(None, str(venv312), None)
    assert target.python_version == "3.12"
    assert target.version == "3.12.1"
    assert target.markers["python_full_version"] == "3.12.1"
    assert target.tags[0].startswith("cp312-cp312-")
    assert Tag("py312", "none", "any") in target.tag_ranks
    assert target.in_venv
    assert target.executable == str(venv312 / "bin" / "python")
    assert Path(target.prefix).resolve() == venv312.resolve()
    for key in ("purelib", "platlib", "scripts", "data", "headers"):
        assert Path(target.paths[key]).resolve().is_relative_to(venv312.resolve()), key
    assert target.paths["headers"].endswith(os.path.join("include", "site", "python3.12"))
    assert target.externally_managed is None
    assert target.cache_tag == "cpython-312"


def test_second_introspect_reads_the_cache(
    tmp_path: Path, venv312: Path, probes: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    python = str(venv312 / "bin" / "python")
    first = introspect(python, tmp_path / "cache")
    assert len(probes) == 1
    assert len(list((tmp_path / "cache" / "interpreters").glob("*.json"))) == 1

    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cache hit must not start a process")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    assert introspect(python, tmp_path / "cache") == first


def test_changed_pyvenv_cfg_invalidates_the_cache(
    tmp_path: Path, venv312: Path, probes: list[list[str]]
) -> None:
    python = str(venv312 / "bin" / "python")
    introspect(python, tmp_path)
    cfg = venv312 / "pyvenv.cfg"
    later = cfg.stat().st_mtime_ns + 5_000_000_000
    os.utime(cfg, ns=(later, later))
    introspect(python, tmp_path)
    assert len(probes) == 2


def test_venvs_of_one_interpreter_are_cached_apart(tmp_path: Path) -> None:
    """Both venvs link to the same real binary; their pyvenv.cfg may even share an mtime."""
    first, second = tmp_path / "one", tmp_path / "two"
    create_venv(first)
    create_venv(second)
    mtime = (first / "pyvenv.cfg").stat().st_mtime_ns
    os.utime(second / "pyvenv.cfg", ns=(mtime, mtime))
    cache = tmp_path / "cache"
    one = introspect(str(first / "bin" / "python"), cache)
    two = introspect(str(second / "bin" / "python"), cache)
    assert Path(one.prefix).resolve() == first.resolve()
    assert Path(two.prefix).resolve() == second.resolve()


def test_created_venv_has_no_pip(tmp_path: Path) -> None:
    create_venv(tmp_path / "env")
    target = find_target(None, str(tmp_path / "env"), None)
    assert target.in_venv
    assert target.version == platform.python_version()
    assert not [n for n in os.listdir(target.paths["purelib"]) if n.startswith("pip")]


def test_missing_interpreter_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "python"
    with pytest.raises(TargetError, match="does not exist") as info:
        introspect(str(missing), None)
    assert str(missing) in str(info.value)
    assert info.value.exit_code is ExitCode.ENVIRONMENT


def test_file_that_is_not_python_is_named(tmp_path: Path) -> None:
    script = tmp_path / "fake-python"
    script.write_text("#!/bin/sh\necho hello\n", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(TargetError, match="did not answer like a Python interpreter") as info:
        introspect(str(script), tmp_path / "cache")
    assert str(script) in str(info.value)
    assert not (tmp_path / "cache").exists()

    text = tmp_path / "notes.txt"
    text.write_text("not a program\n", encoding="utf-8")
    with pytest.raises(TargetError, match="Cannot run") as info:
        introspect(str(text), None)
    assert str(text) in str(info.value)


def test_python_older_than_39_is_refused_clearly() -> None:
    if not PY38.exists():
        pytest.skip(f"{PY38} is not installed")
    with pytest.raises(TargetError) as info:
        introspect(str(PY38), None)
    message = str(info.value)
    assert str(PY38) in message
    assert "Python 3.8.18" in message
    assert "3.9 or newer" in message


def test_find_target_choices(venv312: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputError):
        find_target("python", "env", None)
    with pytest.raises(TargetError, match="does not exist"):
        find_target(None, str(venv312.parent / "missing"), None)
    assert find_target(None, None, None).executable == sys.executable
    # like pip, --python also takes an environment directory
    assert find_target(str(venv312), None, None).executable == str(venv312 / "bin" / "python")
    monkeypatch.setenv("PATH", str(PY312.parent))
    assert find_target("python3.12", None, None).version == "3.12.1"
    with pytest.raises(TargetError, match=r"python9\.9 .*on PATH"):
        find_target("python9.9", None, None)


def _write_marker(stdlib: Path, text: str) -> None:
    stdlib.mkdir(parents=True, exist_ok=True)
    (stdlib / "EXTERNALLY-MANAGED").write_text(text, encoding="utf-8")


def test_externally_managed_detection(tmp_path: Path) -> None:
    stdlib = tmp_path / "lib" / "python3.12"
    assert externally_managed_error(str(stdlib), in_venv=False) is None
    _write_marker(stdlib, "[externally-managed]\nError=Use apt install python3-xyz.\n")
    assert externally_managed_error(str(stdlib), in_venv=False) == "Use apt install python3-xyz."
    assert externally_managed_error(str(stdlib), in_venv=True) is None

    _write_marker(stdlib, "[externally-managed]\n")
    default = externally_managed_error(str(stdlib), in_venv=False, prefix="/usr")
    assert default is not None
    assert "/usr" in default
    _write_marker(stdlib, "not an ini file [\n")
    assert externally_managed_error(str(stdlib), in_venv=False) is not None


def test_externally_managed_message_follows_the_message_locale(tmp_path: Path) -> None:
    if not hasattr(locale, "LC_MESSAGES"):
        pytest.skip("no LC_MESSAGES here")
    previous = locale.setlocale(locale.LC_MESSAGES)
    try:
        try:
            locale.setlocale(locale.LC_MESSAGES, "C.UTF-8")
        except locale.Error:
            pytest.skip("C.UTF-8 is not available")
        lang = locale.getlocale(locale.LC_MESSAGES)[0]
        if not lang or "_" not in lang:
            pytest.skip(f"message locale {lang!r} has no region")
        stdlib = tmp_path / "stdlib"
        language = lang.partition("_")[0]
        _write_marker(stdlib, f"[externally-managed]\nError=plain\nError-{language}=localised\n")
        assert externally_managed_error(str(stdlib), in_venv=False) == "localised"
        _write_marker(stdlib, f"[externally-managed]\nError=plain\nError-{lang}=regional\n")
        assert externally_managed_error(str(stdlib), in_venv=False) == "regional"
    finally:
        locale.setlocale(locale.LC_MESSAGES, previous)


def test_protected_names_depend_on_the_target_version(running: Target, venv312: Path) -> None:
    target312 = find_target(None, str(venv312), None)
    modern = protected_names(target312, keep=["Foo_Bar"])
    assert {"pip", "pip-hashsync", "foo-bar"} <= modern
    assert not modern & {"setuptools", "wheel"}
    if running.python_version == "3.11":
        assert {"pip", "pip-hashsync", "setuptools", "wheel"} <= protected_names(running)


@pytest.mark.skipif(sys.platform != "linux", reason="XDG layout")
def test_default_cache_dir_follows_xdg() -> None:
    assert default_cache_dir() == Path(os.environ["XDG_CACHE_HOME"], "pip-hashsync")


def test_importing_stays_cheap() -> None:
    """The no-op path imports these modules; creating venvs, writing the cache and reading
    PEP 668 files must not cost it anything (libraries §8)."""
    heavy = ("venv", "tempfile", "configparser", "email", "importlib.metadata", "shutil")
    code = (
        "import sys, pip_hashsync.environment.target, pip_hashsync.environment.installed\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
