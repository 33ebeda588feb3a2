"""The receipt of a no-op: what voids it, and when it is not written at all. The environment
here is a folder shaped like a venv (the receipt only ever stats it); the end-to-end use is
in ``test_sync_apply.py``."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from pip_hashsync import PROVENANCE_FILE
from pip_hashsync.commands.receipt import RECEIPT_FILE, receipt_count, write_receipt
from pip_hashsync.settings.request import SyncRequest

AN_HOUR_AGO = time.time() - 3600


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    root = tmp_path / "venv"
    site = root / "lib" / "site-packages"
    for name in ("alpha-1.0.dist-info", "beta-2.0.dist-info"):
        (site / name).mkdir(parents=True)
        (site / name / "METADATA").write_text(f"Name: {name.split('-')[0]}\n")
        (site / name / PROVENANCE_FILE).write_text("{}\n")
    (root / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (root / "python").write_text("")
    age(root)
    return root


@pytest.fixture
def requirements(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "requirements.txt"
    path.write_text("alpha==1.0\nbeta==2.0\n")
    return path


def age(root: Path) -> None:
    """Make every stamp under ``root`` an hour old, as after a sync long ago."""
    for path in [root, *root.rglob("*")]:
        os.utime(path, (AN_HOUR_AGO, AN_HOUR_AGO))


def request_for(venv: Path, *keep: str) -> SyncRequest:
    return SyncRequest(files=["requirements.txt"], venv=str(venv), keep=keep)


def config_files(venv: Path) -> list[Path]:
    """pip's configuration files as the run consulted them: the user's file, which exists,
    and the venv's site file, which does not."""
    user_file = venv.parent / "pip.conf"
    if not user_file.exists():
        user_file.write_text("[global]\ntimeout = 30\n")
    return [user_file, venv / "pip.conf"]


def record(venv: Path, requirements: Path, request: SyncRequest | None = None) -> None:
    files = {str(requirements): hashlib.sha256(requirements.read_bytes()).hexdigest()}
    site_dirs = [str(venv / "lib" / "site-packages")]
    configs = [str(path) for path in config_files(venv)]
    request = request or request_for(venv)
    write_receipt(request, files, configs, str(venv / "python"), site_dirs, 2)


def test_an_unchanged_environment_is_vouched_for(venv: Path, requirements: Path) -> None:
    record(venv, requirements)
    assert receipt_count(request_for(venv)) == 2


@pytest.mark.parametrize(
    "change",
    [
        "requirements", "new dist", "metadata", "provenance", "interpreter", "request", "PIP_",
        "config edited", "config created", "config location",
    ],
)  # fmt: skip
def test_any_input_that_changes_voids_it(
    venv: Path, requirements: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    record(venv, requirements)
    site = venv / "lib" / "site-packages"
    request = request_for(venv)
    if change == "requirements":
        requirements.write_text("alpha==1.0\n")
    elif change == "new dist":
        (site / "gamma-3.0.dist-info").mkdir()
    elif change == "metadata":
        (site / "beta-2.0.dist-info" / "METADATA").write_text("Name: beta\nVersion: 2.1\n")
    elif change == "provenance":
        (site / "alpha-1.0.dist-info" / PROVENANCE_FILE).unlink()
    elif change == "interpreter":
        (venv / "python").write_text("#")
    elif change == "request":
        request = request_for(venv, "gamma")
    elif change == "PIP_":
        monkeypatch.setenv("PIP_INDEX_URL", "https://elsewhere.example/simple/")
    elif change == "config edited":
        config_files(venv)[0].write_text("[install]\nrequire-hashes = true\n")
    elif change == "config created":
        config_files(venv)[1].write_text("[install]\nrequire-hashes = true\n")
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", str(venv.parent / "elsewhere"))
    assert receipt_count(request) is None


def test_not_written_while_a_change_could_still_share_a_file_time(
    venv: Path, requirements: Path
) -> None:
    (venv / "lib" / "site-packages" / "alpha-1.0.dist-info" / "METADATA").write_text("x")
    record(venv, requirements)
    assert not (venv / RECEIPT_FILE).exists()


def test_not_written_for_files_from_urls_or_for_egg_links(venv: Path, requirements: Path) -> None:
    request = request_for(venv)
    site_dirs = [str(venv / "lib" / "site-packages")]
    files = {"https://example.org/requirements.txt": None}
    write_receipt(request, files, [], str(venv / "python"), site_dirs, 2)
    assert not (venv / RECEIPT_FILE).exists()

    (venv / "lib" / "site-packages" / "delta.egg-link").write_text("/elsewhere\n")
    age(venv)
    record(venv, requirements)
    assert not (venv / RECEIPT_FILE).exists()


def test_a_damaged_receipt_is_no_answer(venv: Path, requirements: Path) -> None:
    record(venv, requirements)
    (venv / RECEIPT_FILE).write_text('{"key": ')
    assert receipt_count(request_for(venv)) is None


def test_an_unfinished_transaction_voids_it(venv: Path, requirements: Path) -> None:
    """A run killed before its commit leaves its journal: the full path must recover it."""
    record(venv, requirements)
    (venv / ".pip-hashsync-txn").mkdir()
    (venv / ".pip-hashsync-txn" / "journal.jsonl").write_text("")
    assert receipt_count(request_for(venv)) is None
