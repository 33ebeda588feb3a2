"""pip-hashsync as a pre-commit user and a Python user get it: the hooks this repository
offers, run by real pre-commit from a clone of it, and the package pip installs for them
(typing marker, license, classifiers).

pre-commit installs the hooks' package from the clone with pip, offline: the build backend
and our dependencies come from the wheels tox downloads (``HASHSYNC_TEST_WHEELS``).
"""

from __future__ import annotations

import configparser
import importlib.metadata
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from distbuilder import build_wheel, sha256_of
from helpers import SHA_A, write
from indexserver import IndexServer
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parent.parent


def _offline_wheels() -> Path:
    """The folder holding a wheel of the build backend and of each of our dependencies,
    else skip: pre-commit's install of the hooks must not need an index."""
    folder = os.environ.get("HASHSYNC_TEST_WHEELS", "")
    needed = {"setuptools"}
    for text in importlib.metadata.requires("pip-hashsync") or ():
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            needed.add(canonicalize_name(requirement.name))
    wheels = Path(folder).glob("*.whl") if folder else ()
    missing = sorted(needed - {canonicalize_name(p.name.split("-")[0]) for p in wheels})
    if missing:
        pytest.skip(f"no wheel of {', '.join(missing)} in HASHSYNC_TEST_WHEELS (tox fills it)")
    return Path(folder)


def _environment(home: Path, **pip: str) -> dict[str, str]:
    """What pre-commit runs with: the tests' isolation (no PIP_*/UV_* variables, pip's
    configuration files unread, HOME and caches in the test's folder) and ``pip``'s own."""
    skipped = ("PIP_", "UV_", "VIRTUALENV_", "PRE_COMMIT", "VIRTUAL_ENV")
    env = {name: value for name, value in os.environ.items() if not name.startswith(skipped)}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        HOME=str(home),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_CONFIG_HOME=str(home / "config"),
        PRE_COMMIT_HOME=str(home / "pre-commit"),
        GIT_CONFIG_NOSYSTEM="1",
        **pip,
    )
    return env


def _run(argv: list[str], cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)


@dataclass(frozen=True)
class Hooks:
    """This repository's hooks as pre-commit installed them (once for the module)."""

    clone: Path
    rev: str
    home: Path

    def repository(self, folder: Path, files: Mapping[str, str], index_url: str) -> Path:
        """A git repository holding ``files`` and a .pre-commit-config.yaml that runs both
        hooks from the clone, ``hashes --check`` against ``index_url``."""
        config = f"""\
            repos:
              - repo: {self.clone}
                rev: {self.rev}
                hooks:
                  - id: pip-hashsync-lint
                  - id: pip-hashsync-hashes-check
                    args: [--index-url, "{index_url}"]
            """
        for name, text in {**files, ".pre-commit-config.yaml": config}.items():
            write(folder / name, text)
        _run(["git", "init", "-q"], folder, _environment(self.home)).check_returncode()
        _run(["git", "add", "-A"], folder, _environment(self.home)).check_returncode()
        return folder

    def run(self, repository: Path) -> subprocess.CompletedProcess[str]:
        """``pre-commit run --all-files``, which must not have to install anything."""
        argv = [sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"]
        return _run(argv, repository, _environment(self.home))

    def site_packages(self) -> Path:
        """Where pip installed the hooks' package in pre-commit's environment."""
        (found,) = (self.home / "pre-commit").glob("repo*/py_env-*/lib/python*/site-packages")
        return found


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> Hooks:
    """A clone of this repository's HEAD, and pre-commit's install of its hooks, from the
    offline wheels only (pip is told of no index)."""
    wheels = _offline_wheels()
    if _run(["git", "rev-parse", "HEAD"], ROOT, os.environ).returncode != 0:
        pytest.skip("the hooks are installed from a git clone: this is no git checkout")
    base = tmp_path_factory.mktemp("hooks")
    home = base / "home"
    home.mkdir()
    clone = base / "pip-hashsync"
    _run(["git", "clone", "-q", str(ROOT), str(clone)], base, _environment(home)).check_returncode()
    rev = _run(["git", "rev-parse", "HEAD"], clone, _environment(home)).stdout.strip()
    installed = Hooks(clone, rev, home)
    sample = installed.repository(base / "sample", {}, "http://127.0.0.1:9/simple")
    offline = _environment(home, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheels))
    done = _run([sys.executable, "-m", "pre_commit", "install-hooks"], sample, offline)
    assert done.returncode == 0, done.stdout + done.stderr
    return installed


def _results(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Each hook's verdict by its name, from pre-commit's report."""
    return dict(re.findall(r"^(pip-hashsync [^.]+?)\.+(Passed|Failed)$", done.stdout, re.M))


def test_the_hooks_pass_a_complete_lock_and_fail_a_stale_or_unpinned_one(
    hooks: Hooks, index_server: IndexServer, dist_dir: Path, tmp_path: Path
) -> None:
    sha = sha256_of(build_wheel(dist_dir, "demo", "1.0"))
    lock = f"demo==1.0 --hash=sha256:{sha}\n"
    files = {"requirements.txt": lock, "requirements/docs.txt": lock, "notes.txt": "idna\n"}
    repository = hooks.repository(tmp_path / "good", files, index_server.index_url)
    done = hooks.run(repository)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _results(done) == {
        "pip-hashsync lint": "Passed",
        "pip-hashsync hashes --check": "Passed",
    }

    files = {"requirements.txt": f"demo==1.0 --hash=sha256:{SHA_A}\n"}
    done = hooks.run(hooks.repository(tmp_path / "stale", files, index_server.index_url))
    assert done.returncode == 1
    assert _results(done)["pip-hashsync hashes --check"] == "Failed"
    assert _results(done)["pip-hashsync lint"] == "Passed"
    assert "requirements.txt:1: demo==1.0 lists 1 hash(es) no file of it has" in done.stdout

    files = {"requirements-dev.txt": lock + "other>=1\n"}
    done = hooks.run(hooks.repository(tmp_path / "unpinned", files, index_server.index_url))
    assert _results(done)["pip-hashsync lint"] == "Failed"
    assert "requirements-dev.txt:2: other>=1 is not pinned" in done.stdout


def test_the_installed_package_is_typed_and_licensed(hooks: Hooks) -> None:
    """What pip installed from the clone carries py.typed (PEP 561), the license (PEP 639)
    and a classifier for each Python the tests run on."""
    site_packages = hooks.site_packages()
    assert (site_packages / "pip_hashsync" / "py.typed").is_file()
    (dist,) = importlib.metadata.distributions(name="pip-hashsync", path=[str(site_packages)])
    assert dist.metadata["License-Expression"] == "MIT"
    (license_file,) = [f for f in dist.files or () if f.parts[-2:] == ("licenses", "LICENSE")]
    assert "Copyright (c) 2026 the pip-hashsync developers" in license_file.read_text()
    classifiers = dist.metadata.get_all("Classifier") or []
    assert {"Typing :: Typed", "Environment :: Console", "Intended Audience :: Developers"} <= set(
        classifiers
    )
    assert f"Programming Language :: Python :: {sys.version_info[0]}.{sys.version_info[1]}" in (
        classifiers
    )


def test_the_classifiers_name_each_python_tox_tests() -> None:
    """Classifiers, python_requires and tox's environments name the same Pythons."""
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    classifiers = setup["metadata"]["classifiers"].split("\n")
    named = {c.rsplit(" ", 1)[1] for c in classifiers if re.fullmatch(r".*Python :: 3\.\d+", c)}
    tox = configparser.ConfigParser()
    tox.read(ROOT / "tox.ini")
    factors = re.search(r"py3\{([\d,]+)\}", tox["tox"]["envlist"])
    assert factors is not None
    tested = {f"3.{minor}" for minor in factors.group(1).split(",")}
    assert named == tested
    lowest = min(tested, key=lambda version: int(version.split(".")[1]))
    assert setup["options"]["python_requires"] == f">={lowest}"
