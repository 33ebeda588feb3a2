"""Atomic changes to a real venv: commit, rollback, a killed run, the lock (policy 8, EC56).

Faults are injected with the ``PIP_HASHSYNC_FAULT`` test hook; "as it was" is checked by
comparing a listing of every folder, file (with its content hash) and link of the venv.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from distbuilder import build_wheel, sha256_of

from pip_hashsync.environment.install import WheelToInstall
from pip_hashsync.environment.installed import Provenance, scan
from pip_hashsync.environment.target import Target, introspect
from pip_hashsync.environment.transaction import (
    FAULT_VARIABLE,
    LOCK_FILE,
    WORK_DIR,
    InjectedFault,
    Transaction,
    TransactionError,
    locked,
    recover,
)
from pip_hashsync.environment.uninstall import plan_removal

REPO = Path(__file__).resolve().parents[1]
BIN = "Scripts" if os.name == "nt" else "bin"
ENTRY_POINTS = "[console_scripts]\n{0} = {0}:main\n"

# Run by a child process: replace v1 of a project by the wheel given, under the lock.
REPLACE = """\
import sys
from pathlib import Path
from pip_hashsync.environment.install import WheelToInstall
from pip_hashsync.environment.installed import Provenance, scan
from pip_hashsync.environment.target import introspect
from pip_hashsync.environment.transaction import Transaction, locked
from pip_hashsync.environment.uninstall import plan_removal

python, name, wheel = sys.argv[1:]
target = introspect(python, None)
with locked(target), Transaction(target) as txn:
    txn.remove(plan_removal(target, scan(target.site_dirs())[name]))
    txn.install(WheelToInstall(Path(wheel), True, Provenance(Path(wheel).name, "0" * 64, None)))
"""

# Run by a child process: take the lock, note when, hold it until told to let go.
HOLD_LOCK = """\
import os, sys, time
from pathlib import Path
from pip_hashsync.environment.target import introspect
from pip_hashsync.environment.transaction import locked

python, name, flags = sys.argv[1:]
flags = Path(flags)
note = lambda what, text="": (flags / f"{name}-{what}").write_text(text)
with locked(introspect(python, None), wait_message=lambda line: note("waiting", line)):
    note("locked", " ".join(sorted(os.listdir(flags))))
    while not (flags / f"{name}-release").exists():
        time.sleep(0.01)
    note("done")
"""


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Target:
    path = tmp_path_factory.mktemp("transaction") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return introspect(str(path / BIN / "python"), None)


def listing(target: Target) -> dict[str, str]:
    """Every folder, file and link under the prefix (the lock file aside), with content."""
    root = Path(target.prefix)
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            if path.is_symlink():
                found[str(path.relative_to(root))] = f"link {os.readlink(path)}"
            elif path.is_dir():
                found[str(path.relative_to(root))] = "folder"
            elif name != LOCK_FILE:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                found[str(path.relative_to(root))] = f"{digest} {path.stat().st_mode:o}"
    return found


def wheel_of(
    tmp_path: Path, name: str, version: str, *modules: str, script: bool = True
) -> WheelToInstall:
    files = {f"{name}/{module}.py": f"VERSION = {version!r}\n" for module in modules}
    files[f"{name}/__init__.py"] = "def main():\n    pass\n"
    if script:
        files[f"{name}-{version}.dist-info/entry_points.txt"] = ENTRY_POINTS.format(name)
    wheel = build_wheel(tmp_path / version, name, version, files=files)
    return WheelToInstall(wheel, True, Provenance(wheel.name, sha256_of(wheel), None), None)


def installed(target: Target, wheel: WheelToInstall) -> None:
    with Transaction(target) as txn:
        txn.install(wheel)


def replace(target: Target, name: str, wheel: WheelToInstall) -> None:
    with Transaction(target) as txn:
        txn.remove(plan_removal(target, scan(target.site_dirs())[name]))
        txn.install(wheel)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 15
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_replace_commits_only_the_new_version(target: Target, tmp_path: Path) -> None:
    installed(target, wheel_of(tmp_path, "omega", "1.0", "old"))
    v2 = wheel_of(tmp_path, "omega", "2.0", "new")
    replace(target, "omega", v2)

    site = Path(target.paths["purelib"])
    dist = scan(target.site_dirs())["omega"]
    assert (dist.version, dist.provenance()) == ("2.0", v2.provenance)
    assert sorted(p.name for p in (site / "omega").iterdir()) == ["__init__.py", "new.py"]
    assert not (site / "omega-1.0.dist-info").exists()
    assert (Path(target.paths["scripts"]) / "omega").is_file()
    assert not (Path(target.prefix) / WORK_DIR).exists()


def test_a_failure_mid_install_rolls_back_exactly(
    target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed(target, wheel_of(tmp_path, "sigma", "1.0", "old"))
    # Not sigma's, but sigma 2.0 overwrites it (its 2nd write): it must come back as it was.
    Path(target.paths["purelib"], "sigma", "extra.py").write_text("stray\n")
    v2 = wheel_of(tmp_path, "sigma", "2.0", "extra", "new", script=False)
    before = listing(target)

    monkeypatch.setenv(FAULT_VARIABLE, "fail-after-writes:3")
    with pytest.raises(TransactionError) as info:
        replace(target, "sigma", v2)
    assert isinstance(info.value.__cause__, InjectedFault)
    assert str(info.value).endswith("rolled back; the environment is as it was")
    assert listing(target) == before


def test_a_killed_run_is_undone_by_the_next(target: Target, tmp_path: Path) -> None:
    installed(target, wheel_of(tmp_path, "kappa", "1.0", "old"))
    v2 = wheel_of(tmp_path, "kappa", "2.0", "new")
    before = listing(target)

    journal = Path(target.prefix, WORK_DIR, "journal.jsonl")
    env = {**os.environ, FAULT_VARIABLE: "pause-after-writes:3", "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", REPLACE, target.executable, "kappa", str(v2.path)], env=env
    )

    def third_write_logged() -> bool:
        return journal.exists() and journal.read_text().count('"op": "write"') == 3

    try:
        wait_for(third_write_logged, "the third write")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert listing(target) != before

    with pytest.raises(TransactionError, match="must be recovered"):
        Transaction(target)
    with locked(target):  # the dead run's lock went with it
        message = recover(target)
    assert message is not None and "interrupted; its changes were undone" in message
    assert listing(target) == before
    assert recover(target) is None


def test_recover_finishes_a_committed_run(target: Target) -> None:
    work = Path(target.prefix, WORK_DIR)
    (work / "stash" / "abcd").mkdir(parents=True)
    (work / "stash" / "abcd" / "1").write_text("old file\n")
    entries = [{"op": "move", "path": str(Path(target.prefix, "gone")), "stash": "…"}]
    entries.append({"op": "commit"})
    (work / "journal.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))

    message = recover(target)
    assert message is not None and "clean-up is now done" in message
    assert not work.exists()
    assert not Path(target.prefix, "gone").exists()


def test_a_second_run_waits_for_the_lock(target: Target, tmp_path: Path) -> None:
    flags = tmp_path / "flags"
    flags.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", HOLD_LOCK, target.executable]
    first = subprocess.Popen([*command, "first", str(flags)], env=env)
    wait_for((flags / "first-locked").exists, "the first run to lock")
    second = subprocess.Popen([*command, "second", str(flags)], env=env)
    try:
        wait_for((flags / "second-waiting").exists, "the second run to wait")
        assert (flags / "second-waiting").read_text() == (
            f"waiting for another pip-hashsync run on {target.prefix}"
        )
        assert not (flags / "second-locked").exists()
        (flags / "first-release").touch()
        (flags / "second-release").touch()
        assert first.wait(15) == 0 and second.wait(15) == 0
    finally:
        first.kill()
        second.kill()
    # When the second run got the lock, the first had finished with it.
    assert "first-done" in (flags / "second-locked").read_text().split()
