"""The tox plugin (issue 17): real tox, in a child process, with ``runner = pip-hashsync``,
against the loopback index.

One small project (``demo``, needing ``alpha``; its extra ``x`` needs ``gamma``) built by
distbuilder's in-tree backend, so tox's packaging env needs no network; the index serves
``alpha``, ``beta``, ``gamma`` and ``delta`` wheels. tox sees none of the machine's
configuration: no ``TOX_*``/``PIP_*``/``UV_*`` variables, ``HOME``/XDG in a temp folder,
``PIP_CONFIG_FILE`` set to ``os.devnull``. The index and the caches are shared by the
module's tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from distbuilder import build_sdist_project, build_wheel, sha256_of
from helpers import write
from indexserver import IndexServer

pytest.importorskip("tox")

#: A PEP 517 ``build_sdist`` beside distbuilder's project backend: tox packs an sdist first.
_TOX_BACKEND = """\
import os
import tarfile

from project_backend import *  # noqa: F403
from project_backend import build_editable, build_wheel  # noqa: F401


def build_sdist(sdist_directory, config_settings=None):
    base = os.path.basename(os.getcwd())
    path = os.path.join(sdist_directory, base + ".tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        for name in ("PKG-INFO", "pyproject.toml", "_backend", "demo"):
            tar.add(name, arcname=f"{base}/{name}", filter=_clean)
    return base + ".tar.gz"


def _clean(info):
    return None if "__pycache__" in info.name else info
"""


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    root = tmp_path_factory.mktemp("tox-index")
    for name in ("alpha", "beta", "gamma", "delta"):
        build_wheel(root, name, "1.0")
    server = IndexServer(root=root)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tox_env(tmp_path_factory: pytest.TempPathFactory, index: IndexServer) -> dict[str, str]:
    """The environment tox runs in: the machine's configuration left out, the index ours."""
    home = tmp_path_factory.mktemp("tox-home")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "TOX_", "VIRTUALENV_")) and k != "VIRTUAL_ENV"
    }
    env.update(HOME=str(home), PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=index.index_url)
    for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        env[var] = str(home / var.lower())
    return env


def hashed(index: IndexServer, *names: str) -> str:
    """A hashed lock of the index's 1.0 wheels of ``names``."""
    return "".join(
        f"{n}==1.0 --hash=sha256:{sha256_of(index.root / f'{n}-1.0-py3-none-any.whl')}\n"
        for n in names
    )


def make_project(parent: Path, tox_ini: str, requirements: str) -> Path:
    """The ``demo`` project with this ``tox.ini`` and ``requirements.txt``."""
    sdist = build_sdist_project(parent / "sdists", "demo", "1.0", requires=["alpha"])
    with tarfile.open(sdist) as archive:
        archive.extractall(parent, filter="data")
    root = parent / "demo-1.0"
    write(root / "_backend" / "tox_backend.py", _TOX_BACKEND)
    pyproject = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(pyproject.replace('"project_backend"', '"tox_backend"'))
    pkg_info = (root / "PKG-INFO").read_text().rstrip("\n")
    pkg_info += '\nProvides-Extra: x\nRequires-Dist: gamma; extra == "x"\n\n'
    (root / "PKG-INFO").write_text(pkg_info)
    write(root / "tox.ini", tox_ini)
    write(root / "requirements.txt", requirements)
    return root


TOX_INI = """\
[tox]
env_list = py

[testenv]
runner = pip-hashsync
deps = -r requirements.txt
commands = python -I -c "import demo, alpha; print('demo at', demo.__file__)"
"""


def tox(root: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run ``tox -e py`` in ``root``: (exit code, output)."""
    done = subprocess.run(
        [sys.executable, "-m", "tox", "-e", "py", *args],
        cwd=root, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def step_output(root: Path, step: str) -> str:
    """What the last run's ``step`` (``install_deps``, …) printed, from tox's log of it."""
    [log] = (root / ".tox" / "py" / "log").glob(f"*-{step}.log")
    return log.read_text()


def installed(root: Path) -> set[str]:
    """The distributions in the ``py`` env, as ``name-version``."""
    site = next((root / ".tox" / "py" / "lib").glob("python*/site-packages"))
    return {p.name.removesuffix(".dist-info") for p in site.glob("*.dist-info")}


@pytest.fixture(scope="module")
def synced(
    tmp_path_factory: pytest.TempPathFactory, tox_env: dict[str, str], index: IndexServer
) -> tuple[Path, int, str]:
    """A project whose first ``tox -e py`` has run (sdist package, hashed deps): its folder,
    exit code and output. The tests below that use it run in file order."""
    root = make_project(tmp_path_factory.mktemp("synced"), TOX_INI, hashed(index, "alpha", "beta"))
    return (root, *tox(root, tox_env))


def test_hashed_deps_installed_and_the_sdist_importable(synced: tuple[Path, int, str]) -> None:
    root, code, output = synced
    assert code == 0, output
    assert {"alpha-1.0", "beta-1.0", "demo-1.0"} <= installed(root)
    assert "pip_hashsync sync --venv" in output
    assert f"demo at {root / '.tox' / 'py'}" in output  # installed, not the source folder
    assert "+ alpha==1.0" in step_output(root, "install_deps")


def test_second_run_the_deps_step_is_a_no_op(
    synced: tuple[Path, int, str], tox_env: dict[str, str]
) -> None:
    root = synced[0]
    code, output = tox(root, tox_env)
    assert code == 0, output
    assert "nothing to do: 5 distribution(s) already match" in step_output(root, "install_deps")


def test_a_removed_line_is_uninstalled_in_place_and_hand_installs_go(
    synced: tuple[Path, int, str], tox_env: dict[str, str], index: IndexServer
) -> None:
    root = synced[0]
    marker = root / ".tox" / "py" / "marker"
    marker.write_text("the env was not recreated")
    (root / "requirements.txt").write_text(hashed(index, "alpha"))
    pip = root / ".tox" / "py" / "bin" / "pip"
    wheel = index.root / "delta-1.0-py3-none-any.whl"
    subprocess.run([pip, "install", "-q", "--no-deps", wheel], env=tox_env, check=True)
    assert "delta-1.0" in installed(root)

    code, output = tox(root, tox_env)
    assert code == 0, output
    assert marker.exists()
    assert "recreate" not in output
    assert {"alpha-1.0", "demo-1.0"} <= installed(root)
    assert not {"beta-1.0", "delta-1.0"} & installed(root)
    assert "- beta==1.0" in step_output(root, "install_deps")


def test_a_wrong_hash_fails_the_run_with_exit_3_and_the_message(
    tmp_path: Path, tox_env: dict[str, str]
) -> None:
    root = make_project(tmp_path, TOX_INI, "alpha==1.0 --hash=sha256:" + "0" * 64 + "\n")
    code, output = tox(root, tox_env)
    assert code == 3, output
    assert "requirements.txt:1: alpha==1.0: no distribution matched" in output


@pytest.mark.parametrize("package", ["editable", "editable-legacy"])
def test_editable_package_with_an_extra_is_kept_by_the_next_sync(
    package: str, tmp_path: Path, tox_env: dict[str, str], index: IndexServer
) -> None:
    ini = TOX_INI.replace("deps =", f"package = {package}\nextras = x\ndeps =")
    ini = ini.replace("-r requirements.txt", "-r requirements.txt\n    --only-binary :all:")
    root = make_project(tmp_path, ini, hashed(index, "alpha", "gamma"))
    code, output = tox(root, tox_env)
    assert code == 0, output
    assert f"demo at {root / 'demo'}" in output  # the source folder itself
    code, output = tox(root, tox_env)
    assert code == 0, output
    deps_step = step_output(root, "install_deps")
    assert "nothing to do" in deps_step
    assert "pip-hashsync-deps.txt" in deps_step  # the inline option line, as a file
    assert {"alpha-1.0", "gamma-1.0", "demo-1.0"} <= installed(root)
    rebuilt = list((root / ".tox" / "py" / "log").glob("*-install_package.log"))
    # The same PEP 660 wheel again is left installed; a legacy -e is installed again.
    assert bool(rebuilt) is (package == "editable-legacy")


def test_in_hash_mode_the_packages_dependencies_must_be_in_the_lock(
    tmp_path: Path, tox_env: dict[str, str], index: IndexServer
) -> None:
    root = make_project(tmp_path, TOX_INI, hashed(index, "beta"))
    code, output = tox(root, tox_env)
    assert code == 2, output
    assert "pip-hashsync-package_deps.txt:2: alpha is not pinned" in output
