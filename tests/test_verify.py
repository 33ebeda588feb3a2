"""``verify``: every installed file against RECORD, provenance, leftovers of a killed run,
and with ``-r`` the requirements, on a real venv synced from the loopback index.

One venv is synced per module (by pip-hashsync, with ``--compile``, plus a protected project
installed by plain pip); each test damages its own copy of it.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from distbuilder import build_wheel, sha256_of
from indexserver import IndexServer

from pip_hashsync.cli import main
from pip_hashsync.environment.target import create_venv

ALPHA_FILES = {
    "alpha/__init__.py": '__version__ = "1.0"\n',
    "alpha/mod.py": "X = 1\n",
    "alpha/sub/deep.py": "Y = 2\n",
}
CACHE_TAG = sys.implementation.cache_tag


def lock_line(wheel: Path, sha256: str | None = None) -> str:
    name, version = wheel.name.split("-")[:2]
    return f"{name}=={version} --hash=sha256:{sha256 or sha256_of(wheel)}\n"


def plain_pip_install(venv: Path, wheel: Path) -> None:
    """Install ``wheel`` into ``venv`` with pip, which writes no pip-hashsync provenance."""
    command = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
    command += ["install", "-q", "--no-index", "--no-deps", str(wheel)]
    subprocess.run(command, check=True)


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(venv, wheels folder): alpha and beta synced from their lock with ``--compile``, and
    a project of the protected set (pip-hashsync, whose extra ``x`` needs gamma) installed
    by plain pip."""
    root = tmp_path_factory.mktemp("synced")
    wheels = root / "dists"
    alpha = build_wheel(wheels, "alpha", "1.0", files=ALPHA_FILES)
    beta = build_wheel(wheels, "beta", "1.0")
    (root / "lock.txt").write_text(lock_line(alpha) + lock_line(beta))
    venv = root / "venv"
    create_venv(venv)
    stub = build_wheel(
        root / "other", "pip-hashsync", "0.0",
        files={"hashsync_stub/x.py": ""}, extras={"x": ["gamma"]},
    )  # fmt: skip
    server = IndexServer(root=wheels)
    server.start()
    with pytest.MonkeyPatch.context() as patch:  # as conftest isolates each test
        for name in [n for n in os.environ if n.startswith(("PIP_", "UV_"))]:
            patch.delenv(name)
        patch.setenv("PIP_CONFIG_FILE", os.devnull)
        patch.setenv("HOME", str(root))
        patch.setenv("XDG_CACHE_HOME", str(root / "cache"))
        argv = ["sync", str(root / "lock.txt"), "--venv", str(venv), "-i", server.index_url]
        try:
            assert main([*argv, "--compile", "-q"]) == 0
        finally:
            server.stop()
        plain_pip_install(venv, stub)
    yield venv, wheels


@pytest.fixture
def venv(synced: tuple[Path, Path], tmp_path: Path) -> Path:
    """This test's own copy of the synced venv."""
    return Path(shutil.copytree(synced[0], tmp_path / "venv", symlinks=True))


@pytest.fixture
def wheels(synced: tuple[Path, Path]) -> Path:
    return synced[1]


def site_packages(venv: Path) -> Path:
    (site,) = venv.glob("lib/python*/site-packages")
    return site


def verify(
    capsys: pytest.CaptureFixture[str], venv: Path, *args: str
) -> tuple[int, dict[str, object]]:
    """``verify --venv VENV *args --format json`` -> (exit code, the JSON object)."""
    code = main(["verify", "--venv", str(venv), *args, "--format", "json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and out, err
    return code, json.loads(out)


def findings(report: dict[str, object]) -> set[tuple[str, str | None, str | None]]:
    """(kind, name, path relative to the venv) of every finding."""
    found = set()
    prefix = report["target"]["prefix"]  # type: ignore[index]
    for item in report["findings"]:  # type: ignore[attr-defined]
        path = item["path"]
        relative = os.path.relpath(path, prefix) if path else None
        found.add((item["kind"], item["name"], relative))
    return found


def tree_state(venv: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every entry of the venv: mtime and, for files, contents."""
    state = {}
    for path in sorted(venv.rglob("*")):
        data = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        state[str(path)] = (path.lstat().st_mtime_ns, data)
    return state


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_synced_venv_verifies_clean_offline_and_unchanged(
    venv: Path, wheels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    dead_index = f"http://127.0.0.1:{closed_port()}/simple"
    lock = tmp_path / "lock.txt"
    lock.write_text(f"--index-url {dead_index}\n" + "".join(
        lock_line(w) for w in sorted(wheels.glob("*.whl"))
    ))  # fmt: skip
    monkeypatch.setenv("PIP_INDEX_URL", dead_index)
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", dead_index)

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("verify opened a socket")

    before = tree_state(venv)
    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    code, report = verify(capsys, venv, "-r", str(lock))
    assert (code, report["exit_code"], report["findings"]) == (0, 0, [])
    assert (report["version"], report["target"]["prefix"]) == (1, str(venv))  # type: ignore[index]
    assert main(["verify", "--venv", str(venv)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("verified 3 distribution(s)"), out
    assert tree_state(venv) == before


def test_damage_is_reported_by_distribution_and_kind(
    venv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = site_packages(venv)
    site_rel = site.relative_to(venv)
    (site / "alpha/__init__.py").write_text('__version__ = "6.6"\n')  # same size
    (site / "alpha/mod.py").unlink()
    (site / "alpha/sub/evil.py").write_text("import os\n")
    (site / "alpha/__pycache__" / f"evil.{CACHE_TAG}.pyc").write_bytes(b"bytecode")
    (site / "alpha-1.0.dist-info/extra.txt").write_text("")
    (tmp_path / "outside.py").write_text("Y = 2\n")
    (site / "alpha/sub/deep.py").unlink()
    (site / "alpha/sub/deep.py").symlink_to(tmp_path / "outside.py")
    (site / "alpha/escape").symlink_to(tmp_path, target_is_directory=True)
    (site / "beta-1.0.dist-info/RECORD").unlink()
    gamma = build_wheel(tmp_path, "gamma", "1.0")
    plain_pip_install(venv, gamma)  # needed by the protected set only with an extra
    moved = Path(shutil.move(site / "gamma", tmp_path / "gamma"))  # the package, linked out
    (site / "gamma").symlink_to(moved, target_is_directory=True)
    (moved / "stray.py").write_text("")
    journal = venv / ".pip-hashsync-txn"
    journal.mkdir()
    (journal / "journal.jsonl").write_text('{"op": "mkdir", "path": "/nowhere"}\n')

    code, report = verify(capsys, venv)
    assert code == report["exit_code"] == 1
    assert findings(report) == {
        ("changed", "alpha", f"{site_rel}/alpha/__init__.py"),
        ("missing", "alpha", f"{site_rel}/alpha/mod.py"),
        ("unrecorded", "alpha", f"{site_rel}/alpha/sub/evil.py"),
        ("unrecorded", "alpha", f"{site_rel}/alpha/__pycache__/evil.{CACHE_TAG}.pyc"),
        ("unrecorded", "alpha", f"{site_rel}/alpha-1.0.dist-info/extra.txt"),
        ("outside", "alpha", f"{site_rel}/alpha/sub/deep.py"),
        ("unrecorded", "alpha", f"{site_rel}/alpha/escape"),
        ("no-record", "beta", f"{site_rel}/beta-1.0.dist-info"),
        ("no-provenance", "gamma", f"{site_rel}/gamma-1.0.dist-info"),
        ("outside", "gamma", f"{site_rel}/gamma/__init__.py"),
        ("outside", "gamma", f"{site_rel}/gamma/__pycache__/__init__.{CACHE_TAG}.pyc"),
        ("unfinished-transaction", None, ".pip-hashsync-txn"),
    }
    assert all(item["message"] for item in report["findings"])  # type: ignore[attr-defined]

    assert main(["verify", "--python", str(venv)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("12 finding(s)"), lines
    groups = [name for name, _ in itertools.groupby(line.split(":")[0] for line in lines[:-1])]
    assert len(groups) == len(set(groups)) == 4, lines


def test_requirements_are_checked_against_what_is_installed(
    venv: Path, wheels: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (alpha,) = wheels.glob("alpha-*.whl")
    lock = tmp_path / "lock.txt"
    other = "0" * 64
    lock.write_text(
        lock_line(alpha, other)
        + "delta==1.0 --hash=sha256:" + "1" * 64 + "\n"
        + 'epsilon==1.0 ; sys_platform == "nowhere" --hash=sha256:' + "2" * 64 + "\n"
        + "zeta @ https://user:secret@127.0.0.1:1/zeta-1.0-py3-none-any.whl"
        + " --hash=sha256:" + "3" * 64 + "\n"
    )  # fmt: skip
    code, report = verify(capsys, venv, "-r", str(lock))
    assert code == 1
    site_rel = site_packages(venv).relative_to(venv)
    assert findings(report) == {
        ("hash-not-allowed", "alpha", f"{site_rel}/alpha-1.0.dist-info"),
        ("not-installed", "delta", None),
        ("not-installed", "zeta", None),
        ("unlisted", "beta", f"{site_rel}/beta-1.0.dist-info"),
    }
    (message,) = [f["message"] for f in report["findings"] if f["kind"] == "hash-not-allowed"]  # type: ignore[attr-defined]
    assert f"{lock}:1" in message, message
    assert "secret" not in json.dumps(report)


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--venv", str(tmp_path / "none")]) == 2
    (tmp_path / "bad.txt").write_text("alpha==1.0 --hash=nonsense\n")
    assert main(["verify", "-r", str(tmp_path / "bad.txt")]) == 2
    err = capsys.readouterr().err
    assert "none" in err and "bad.txt:1" in err and "Traceback" not in err
