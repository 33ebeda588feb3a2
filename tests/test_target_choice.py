"""Which environment ``sync`` changes, and what it never does to it (issue 15): the
activated venv, pip-hashsync's own environment, the protected set, a ``--venv`` that a
failed run created, and targets of every Python pip-hashsync supports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import packaging
import pytest
from distbuilder import build_wheel, sha256_of
from helpers import write
from indexserver import IndexServer
from packaging.markers import default_environment

from pip_hashsync.environment.target import introspect, protected_names


def test_protected_names_include_pip_tools_list() -> None:
    """pip-sync (pip-tools) never removes ``-markerlib``, ``pip``, ``pip-tools``,
    ``pip-review``, ``pkg-resources``, ``setuptools``, ``wsgiref``, ``argparse``, ``python``
    and ``distribute``; pip 26.3 has no sync, uv's ``pip sync`` removes all but its seed
    packages. We keep pip-tools' list whatever the target's version."""
    names = protected_names(introspect(sys.executable, None))
    assert {
        "pip-tools", "pip-review", "wsgiref", "argparse", "python", "distribute",
        "pkg-resources", "-markerlib", "pip", "pip-hashsync",
    } <= names  # fmt: skip


def _sync(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``pip-hashsync sync ARGS`` in a process of its own -> (exit code, out, err)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip_hashsync", "sync", *args, "--no-input"],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert "Traceback" not in done.stdout + done.stderr
    return done.returncode, done.stdout, done.stderr


def test_failed_first_sync_leaves_no_venv(
    index_server: IndexServer, workdir: Path, tmp_path: Path
) -> None:
    """pip 26.3 leaves nothing behind when a hash fails (it checks every archive before it
    installs, and creates no environment); ``uv venv`` is a step of its own, and uv's
    ``pip sync`` refuses a missing environment. A ``--venv`` this run created goes when the
    run fails, whether planning (exit 2) or an archive (exit 3) failed; one that existed
    stays."""
    alpha = build_wheel(index_server.root, "alpha", "1.0")
    write(workdir / "good.txt", f"alpha==1.0 --hash=sha256:{sha256_of(alpha)}\n")
    write(workdir / "bad.txt", f"alpha==1.0 --hash=sha256:{'0' * 64}\n")
    write(workdir / "unhashed.txt", f"alpha==1.0 --hash=sha256:{sha256_of(alpha)}\nbeta\n")
    index = ["-i", index_server.index_url, "--cache-dir", str(tmp_path / "cache")]
    venv = tmp_path / "new" / "venv"
    for lock, code in (("bad.txt", 3), ("unhashed.txt", 2)):
        assert _sync(lock, "--venv", str(venv), *index)[0] == code
        assert not venv.exists()
    assert _sync("good.txt", "--venv", str(venv), *index)[0] == 0
    assert _sync("bad.txt", "--venv", str(venv), *index)[0] == 3
    assert (venv / "pyvenv.cfg").is_file()


def _env_with(**variables: str) -> dict[str, str]:
    return {**os.environ, **variables}


def test_activated_venv_is_the_target(
    index_server: IndexServer, workdir: Path, tmp_path: Path
) -> None:
    """With ``VIRTUAL_ENV`` set and neither ``--python`` nor ``--venv``, uv 0.13 targets
    that venv ("Using Python 3.12.1 environment at: ve"); pip 26.3 installs into the
    environment it runs in, which an activated venv's own pip is. We target the venv, as
    uv does (pip-hashsync usually runs from an environment of its own, pipx-style), and
    name the target on every sync that changes something. A ``VIRTUAL_ENV`` that is not a
    venv is an error, as in uv. The dry run comes first: were the target still the running
    interpreter, the real sync would strip the test's own environment."""
    alpha = build_wheel(index_server.root, "alpha", "1.0")
    write(workdir / "requirements.txt", f"alpha==1.0 --hash=sha256:{sha256_of(alpha)}\n")
    venv = tmp_path / "activated"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    index = ["-i", index_server.index_url, "--cache-dir", str(tmp_path / "cache")]
    activated = _env_with(VIRTUAL_ENV=str(venv))
    code, out, _ = _sync("requirements.txt", "--dry-run", "--format", "json", *index, env=activated)
    assert code == 0
    assert json.loads(out)["target"]["python"] == str(venv / "bin" / "python")
    code, out, _ = _sync("requirements.txt", *index, env=activated)
    assert code == 0
    assert f"environment at: {venv}" in out
    assert list(venv.glob("lib/python*/site-packages/alpha-1.0.dist-info"))
    code, out, _ = _sync("requirements.txt", *index, env=activated)
    assert (code, "environment at" in out) == (0, False)  # nothing changed, nothing named
    planned = tmp_path / "planned"
    code, out, _ = _sync(
        "requirements.txt", "--dry-run", "--format", "json", "--venv", str(planned), *index,
        env=activated,
    )  # fmt: skip
    assert code == 0  # a --venv to create is planned for the interpreter that creates it
    assert json.loads(out)["target"]["python"] == sys.executable
    code, _, err = _sync("requirements.txt", *index, env=_env_with(VIRTUAL_ENV=str(tmp_path)))
    assert code == 5
    assert f"VIRTUAL_ENV names {tmp_path}" in err


def _own_environment(folder: Path) -> Path:
    """A venv that pip-hashsync runs from: its site folder is on pip-hashsync's path (a
    ``.pth`` there adds this checkout and the test venv's site folder, where pip-hashsync's
    metadata and its dependencies are), so it is both the target and the tool's home."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    (site,) = folder.glob("lib/python*/site-packages")
    here = Path(__file__).resolve().parents[1]
    (site / "hashsync_home.pth").write_text(f"{here}\n{sysconfig.get_paths()['purelib']}\n")
    return folder


def test_sync_never_breaks_pip_hashsync_itself(
    index_server: IndexServer, workdir: Path, tmp_path: Path
) -> None:
    """pip 26.3 downgrades its own environment's packages when told to (it vendors its
    dependencies, so it survives); uv is a binary and cannot break itself. pip-hashsync's
    dependencies live beside it: when the target is the environment it runs from, a plan
    that would leave one of its own ``Requires-Dist`` unsatisfied is refused before
    anything changes (exit 2), naming the requirement and the planned version, with a
    hint; a plan that keeps them satisfied goes ahead."""
    home = _own_environment(tmp_path / "home-env")
    old = build_wheel(index_server.root, "urllib3", "1.26.0")
    new = build_wheel(index_server.root, "urllib3", "2.9.0", files={"urllib3/__init__.py": ""})
    alpha = build_wheel(index_server.root, "alpha", "1.0")
    index = ["-i", index_server.index_url, "--cache-dir", str(tmp_path / "cache")]
    python = str(home / "bin" / "python")

    def sync_home(*wheels: Path) -> tuple[int, str, str]:
        lock = "".join(f"{w.name.split('-')[0]}=={w.name.split('-')[1]} "
                       f"--hash=sha256:{sha256_of(w)}\n" for w in wheels)  # fmt: skip
        write(workdir / "requirements.txt", lock)
        done = subprocess.run(
            [python, "-m", "pip_hashsync", "sync", "requirements.txt", *index],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        return done.returncode, done.stdout, done.stderr

    code, out, err = sync_home(alpha, old)
    assert code == 2, out + err
    assert "urllib3<3,>=2" in err and "urllib3 1.26.0" in err
    assert "pipx" in err and "--python" in err
    assert not list(home.glob("lib/python*/site-packages/*.dist-info"))
    assert sync_home(alpha, new)[0] == 0


PYENV = Path("/root/.pyenv/versions")
#: The interpreters pip-hashsync supports as targets (README), where this machine has them.
TARGET_PYTHONS = [
    pytest.param(PYENV / version / "bin" / "python3", id=version)
    for version in ("3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0")
]


def _present(python: Path) -> Path:
    if not python.exists():
        pytest.skip(f"{python} is not installed")
    return python


@pytest.mark.parametrize("python", TARGET_PYTHONS)
def test_sync_into_a_venv_of_every_supported_python(
    python: Path, index_server: IndexServer, workdir: Path, tmp_path: Path
) -> None:
    """pip-compile and uv write locks for 3.9, and pip 26.3 (``--python``) and uv install
    into 3.9 environments. Our probe used to import our ``packaging`` (3.10+) in the
    target: a 3.9 venv "did not answer like a Python interpreter". A small lock, with a
    marker that holds only on 3.9, syncs (and compiles) into a venv of each Python from 3.9."""
    venv = tmp_path / "venv"
    subprocess.run([str(_present(python)), "-m", "venv", "--without-pip", str(venv)], check=True)
    alpha = build_wheel(index_server.root, "alpha", "1.0")
    old = build_wheel(index_server.root, "oldonly", "1.0")
    write(
        workdir / "requirements.txt",
        f"alpha==1.0 --hash=sha256:{sha256_of(alpha)}\n"
        f"oldonly==1.0 ; python_version < '3.10' --hash=sha256:{sha256_of(old)}\n",
    )
    index = ["-i", index_server.index_url, "--cache-dir", str(tmp_path / "cache")]
    code, out, err = _sync("requirements.txt", "--venv", str(venv), "--compile", *index)
    assert code == 0, out + err
    assert "WARNING" not in err
    version = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sys; print(sys.version_info[:2] < (3, 10))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    site = next(venv.glob("lib/python*/site-packages"))
    assert (site / "alpha-1.0.dist-info").is_dir()
    assert list((site / "alpha" / "__pycache__").glob("__init__.*.pyc"))
    assert (site / "oldonly-1.0.dist-info").is_dir() == (version == "True")


@pytest.mark.parametrize("python", TARGET_PYTHONS[1:])
def test_tags_without_packaging_tags_match_packaging(
    python: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the target cannot run ``packaging.tags`` (3.9) the probe gives the tags'
    parts; ordered by us, they must be exactly ``packaging.tags.sys_tags()``. Checked on
    every Python that can run both ways, with a copy of our ``packaging`` lacking
    ``tags``."""
    expected = introspect(str(_present(python)), None)
    stripped = tmp_path / "packaging"
    shutil.copytree(Path(packaging.__file__).parent, stripped)
    (stripped / "tags.py").unlink()
    monkeypatch.setattr(packaging, "__file__", str(stripped / "__init__.py"))
    monkeypatch.setattr("pip_hashsync.environment.target._IN_PROCESS", {})
    composed = introspect(str(python), None)
    assert composed.tags == expected.tags
    assert composed.markers == expected.markers


def test_marker_environment_is_packaging_s() -> None:
    """The probe computes the marker environment itself (packaging's markers need 3.10);
    it is ``packaging.markers.default_environment()``."""
    assert dict(introspect(sys.executable, None).markers) == default_environment()
