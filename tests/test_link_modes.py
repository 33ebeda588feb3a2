"""``--link-mode copy|clone|hardlink`` (issue 16): how files come out of the unpacked-wheel
cache. Whatever the mode, the bytes installed are the bytes the archive's RECORD names: a
cloned or linked file is hashed where it was placed, and a file that does not match is
written again from the verified archive (EC51, EC52). Installs go into real venvs.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from distbuilder import build_wheel, sha256_of
from helpers import write
from indexserver import IndexServer
from test_sync_apply import lock_for, make_venv, site_packages
from test_unpacked import FILES, ignore, installed, new_target

from pip_hashsync import LINK_MODES
from pip_hashsync.cli import main
from pip_hashsync.environment.install import InstallError, WheelToInstall, install_wheel
from pip_hashsync.environment.installed import Provenance
from pip_hashsync.environment.target import Target
from pip_hashsync.environment.unpacked import CLONE_FROM, UnpackedCache

GENUINE = FILES["tool/__init__.py"].encode()


def install(target: Target, wheel: Path, cache: UnpackedCache) -> None:
    provenance = Provenance(wheel.name, sha256_of(wheel), f"https://files.example/{wheel.name}")
    to_install = WheelToInstall(wheel, True, provenance, unpacked=cache)
    install_wheel(target, to_install, before_write=ignore)


def module_of(target: Target) -> Path:
    return Path(target.paths["purelib"], "tool", "__init__.py")


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    return build_wheel(tmp_path / "wheels", "tool", "2.0", files=FILES)


@pytest.mark.parametrize("mode", LINK_MODES)
def test_each_link_mode_installs_the_same_bytes(tmp_path: Path, wheel: Path, mode: str) -> None:
    cache = UnpackedCache(tmp_path / "cache", link_mode=mode)
    first = new_target(tmp_path / "one")
    install(first, wheel, cache)  # fills the entry
    second = new_target(tmp_path / "two")
    install(second, wheel, cache)  # uses it

    assert installed(second) == installed(first)  # RECORD included
    kept = cache.entry(sha256_of(wheel)) / "tool" / "__init__.py"
    shared = module_of(second).stat().st_ino == kept.stat().st_ino
    assert shared == (mode == "hardlink")


def test_an_edit_through_a_hardlink_is_noticed_by_the_next_install(
    tmp_path: Path, wheel: Path
) -> None:
    """The trade of ``hardlink``: an edit in one environment reaches the cache. The next
    install hashes what it linked, finds the edit, installs the archive's bytes instead and
    drops the entry, so the one after that fills it again."""
    cache = UnpackedCache(tmp_path / "cache", link_mode="hardlink")
    install(new_target(tmp_path / "one"), wheel, cache)
    edited = new_target(tmp_path / "two")
    install(edited, wheel, cache)
    with module_of(edited).open("r+b") as file:  # in place, as an editor may write
        file.write(b"VALUE = 'edited!'\n")
    kept = cache.entry(sha256_of(wheel)) / "tool" / "__init__.py"
    assert kept.read_bytes() == b"VALUE = 'edited!'\n"

    third = new_target(tmp_path / "three")
    install(third, wheel, cache)
    assert module_of(third).read_bytes() == GENUINE
    assert module_of(third).stat().st_ino != module_of(edited).stat().st_ino
    assert not cache.entry(sha256_of(wheel)).exists()
    fourth = new_target(tmp_path / "four")
    install(fourth, wheel, cache)
    assert kept.read_bytes() == GENUINE and module_of(fourth).read_bytes() == GENUINE


@pytest.mark.parametrize("mode", LINK_MODES)
def test_a_corrupted_cache_file_is_refused_in_every_mode(
    tmp_path: Path, wheel: Path, mode: str
) -> None:
    cache = UnpackedCache(tmp_path / "cache", link_mode=mode)
    install(new_target(tmp_path / "one"), wheel, cache)
    entry = cache.entry(sha256_of(wheel))
    (entry / "tool" / "__init__.py").write_bytes(b"VALUE = 'tampered'\n")

    target = new_target(tmp_path / "two")
    install(target, wheel, cache)
    assert installed(target)["tool/__init__.py"] == GENUINE
    assert not entry.exists()  # made again by the next install
    install(new_target(tmp_path / "three"), wheel, cache)
    assert (entry / "tool" / "__init__.py").read_bytes() == GENUINE


def cloned_twice(wheel: Path, folder: Path) -> tuple[UnpackedCache, Path, Path]:
    """``wheel`` installed twice in ``clone`` mode under ``folder``: the cache, and the big
    member as installed by the second install and as kept in the cache."""
    cache = UnpackedCache(folder / "cache", link_mode="clone")
    install(new_target(folder / "one"), wheel, cache)
    target = new_target(folder / "two")
    install(target, wheel, cache)
    big = Path(target.paths["purelib"], "tool", "big.bin")
    return cache, big, cache.entry(sha256_of(wheel)) / "tool" / "big.bin"


@pytest.fixture
def big_wheel(tmp_path: Path) -> Path:
    """With a member large enough to be cloned (smaller ones are copied)."""
    files = {**FILES, "tool/big.bin": "0123456789" * (CLONE_FROM // 10 + 1)}
    return build_wheel(tmp_path / "wheels", "tool", "2.0", files=files)


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="needs /dev/shm (tmpfs cannot clone)")
def test_clone_falls_back_to_a_copy_where_the_filesystem_cannot_clone(big_wheel: Path) -> None:
    import tempfile

    with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
        cache, big, kept = cloned_twice(big_wheel, Path(shm))
        assert big.read_bytes() == kept.read_bytes()
        assert big.stat().st_ino != kept.stat().st_ino
        assert cache.cannot_clone  # found out once, then copied without trying again


@pytest.mark.skipif(
    not os.environ.get("HASHSYNC_TEST_REFLINK_DIR"),
    reason="set HASHSYNC_TEST_REFLINK_DIR to a folder on Btrfs or XFS (reflink=1)",
)
def test_clone_shares_the_blocks_where_the_filesystem_can(big_wheel: Path) -> None:
    import tempfile

    with tempfile.TemporaryDirectory(dir=os.environ["HASHSYNC_TEST_REFLINK_DIR"]) as folder:
        cache, big, kept = cloned_twice(big_wheel, Path(folder))
        assert not cache.cannot_clone
        assert big.read_bytes() == kept.read_bytes()
        assert big.stat().st_ino != kept.stat().st_ino
        with big.open("r+b") as file:  # copy on write: the cache keeps its bytes
            file.write(b"edited")
        assert kept.read_bytes().startswith(b"0123456789")


def test_sync_takes_the_link_mode_from_its_option_or_the_environment(
    tmp_path: Path,
    index_server: IndexServer,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alpha = build_wheel(index_server.root, "alpha", "1.0")
    write(Path("requirements.txt"), lock_for(alpha))
    cache = tmp_path / "cache"

    def sync(venv: Path, *args: str) -> int:
        argv = ["sync", "requirements.txt", "--venv", str(make_venv(venv)), *args]
        return main([*argv, "-i", index_server.index_url, "--cache-dir", str(cache)])

    assert sync(tmp_path / "one") == 0
    assert sync(tmp_path / "two", "--link-mode", "hardlink") == 0
    monkeypatch.setenv("PIP_HASHSYNC_LINK_MODE", "hardlink")
    assert sync(tmp_path / "three") == 0
    inodes = {
        venv: (site_packages(tmp_path / venv) / "alpha" / "__init__.py").stat().st_ino
        for venv in ("one", "two", "three")
    }
    assert inodes["two"] == inodes["three"] != inodes["one"]

    monkeypatch.setenv("PIP_HASHSYNC_LINK_MODE", "symlink")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        sync(tmp_path / "four")
    assert exit_info.value.code == 2
    assert "copy, clone, hardlink" in capsys.readouterr().err


def with_record(wheel: Path, change: Callable[[str], str]) -> Path:
    """``wheel`` rewritten with ``change`` applied to its RECORD."""
    with zipfile.ZipFile(wheel) as reading:
        members = {info.filename: reading.read(info) for info in reading.infolist()}
    record = next(name for name in members if name.endswith(".dist-info/RECORD"))
    members[record] = change(members[record].decode()).encode()
    changed = wheel.parent / "changed" / wheel.name
    changed.parent.mkdir(exist_ok=True)
    with zipfile.ZipFile(changed, "w") as writing:
        for name, data in members.items():
            writing.writestr(name, data)
    return changed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda record: record.replace("tool/data/table.txt,", "tool/data/moved.txt,"),
         "tool/data/table.txt is not mentioned in RECORD"),
        (lambda record: re.sub("tool/__init__.py,[^,]*,", "tool/__init__.py,,", record),
         "tool/__init__.py has no hash or no size"),
        (lambda record: record.replace("RECORD,,", "RECORD,sha256=abc,12"),
         "RECORD gives a hash or size for itself"),
    ],
    ids=["member left out", "no hash", "RECORD hashed"],
)  # fmt: skip
def test_a_record_that_does_not_name_every_member_is_refused_before_anything_is_written(
    tmp_path: Path, wheel: Path, change: Callable[[str], str], message: str
) -> None:
    """installer's check, done in one pass over the RECORD the install reads anyway."""
    bad = with_record(wheel, change)
    target = new_target(tmp_path / "env")
    written: list[str] = []
    provenance = Provenance(bad.name, sha256_of(bad), f"https://files.example/{bad.name}")
    with pytest.raises(InstallError, match=message):
        install_wheel(target, WheelToInstall(bad, True, provenance), before_write=written.append)
    assert written == []
