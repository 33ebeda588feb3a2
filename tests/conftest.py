"""Test isolation: no pip configuration or variables from the machine reach a test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from indexserver import IndexServer

# Read before the isolation fixture removes PIP_HASHSYNC_* variables.
NETWORK_ENABLED = os.environ.get("PIP_HASHSYNC_NETWORK") == "1"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-network", action="store_true", help="run tests that need the default index"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if NETWORK_ENABLED or config.getoption("--run-network"):
        return
    skip = pytest.mark.skip(reason="needs the default index: use --run-network")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Neutralise the developer's pip configuration: PIP_CONFIG_FILE=os.devnull, no
    PIP_*/UV_* variables, HOME and XDG folders in the test's temp dir, bytecode allowed."""
    for name in list(os.environ):
        if name.startswith(("PIP_", "UV_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    yield home


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory (pip reads relative requirement paths from it)."""
    path = tmp_path / "work"
    path.mkdir()
    monkeypatch.chdir(path)
    return path


@pytest.fixture
def dist_dir(tmp_path: Path) -> Path:
    """The folder the ``index_server`` fixture serves; build archives into it."""
    path = tmp_path / "dists"
    path.mkdir()
    return path


@pytest.fixture
def index_server(dist_dir: Path) -> Iterator[IndexServer]:
    """A started local index serving ``dist_dir``."""
    server = IndexServer(root=dist_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def second_index_server(tmp_path: Path) -> Iterator[IndexServer]:
    """Another started index, serving its own folder (``second_index_server.root``)."""
    root = tmp_path / "dists-2"
    root.mkdir()
    server = IndexServer(root=root)
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def no_activated_venv(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``VIRTUAL_ENV`` from the developer's shell: it chooses ``sync``'s target."""
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)


@pytest.fixture(scope="module")
def empty_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty venv (no pip), shared by a module's dry runs, which never change it."""
    path = tmp_path_factory.mktemp("clean") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """An empty venv (no pip) of this test's own, which the test may change (a module
    whose tests share one, or need another shape, defines its own ``venv``)."""
    path = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path


@pytest.fixture
def target_args(venv: Path, tmp_path: Path, index_server: IndexServer) -> list[str]:
    """The options that point a run at ``venv``, the ``index_server`` and a cache of
    this test's own."""
    return ["--venv", str(venv), "-i", index_server.index_url, "--cache-dir",
            str(tmp_path / "cache"), "--no-input"]  # fmt: skip
