"""The unpacked-wheel cache: filled by the first install, copied (never linked) by the next,
and never trusted: a member is used only when it hashes to the archive's own RECORD (EC51,
EC52). Installs go into real ``--without-pip`` venvs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from distbuilder import build_wheel, sha256_of

from pip_hashsync.environment.install import InstallError, WheelToInstall, install_wheel
from pip_hashsync.environment.installed import Provenance
from pip_hashsync.environment.target import Target, introspect
from pip_hashsync.environment.unpacked import UnpackedCache, read_member

BIN = "Scripts" if os.name == "nt" else "bin"
FILES = {
    "tool/__init__.py": "VALUE = 'genuine'\n",
    "tool/data/table.txt": "1 2 3\n",
    "tool-2.0.data/scripts/tool-run": "#!python\nprint('run')\n",
}


def ignore(path: str) -> None:
    """A ``before_write`` that journals nothing."""


def new_target(path: Path) -> Target:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return introspect(str(path / BIN / "python"), None)


def to_install(wheel: Path, cache: UnpackedCache | None) -> WheelToInstall:
    provenance = Provenance(wheel.name, sha256_of(wheel), f"https://files.example/{wheel.name}")
    return WheelToInstall(wheel, True, provenance, unpacked=cache)


def installed(target: Target) -> dict[str, bytes]:
    """Every file under site-packages, by relative path; RECORD without the rows of scripts,
    which name their venv's python."""
    root = Path(target.paths["purelib"])
    files = {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    for path, data in files.items():
        if path.endswith("/RECORD"):
            rows = data.splitlines(keepends=True)
            files[path] = b"".join(row for row in rows if not row.startswith(b"../"))
    return files


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    return build_wheel(tmp_path / "wheels", "tool", "2.0", files=FILES)


@pytest.fixture
def cache(tmp_path: Path) -> UnpackedCache:
    return UnpackedCache(tmp_path / "cache")


def test_first_install_fills_the_entry_and_the_next_copies_it(
    tmp_path: Path, wheel: Path, cache: UnpackedCache
) -> None:
    first = new_target(tmp_path / "one")
    install_wheel(first, to_install(wheel, cache), before_write=ignore)
    entry = cache.entry(sha256_of(wheel))
    assert (entry / "tool" / "__init__.py").read_text() == FILES["tool/__init__.py"]
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []

    second = new_target(tmp_path / "two")
    install_wheel(second, to_install(wheel, cache), before_write=ignore)
    assert installed(second) == installed(first)  # RECORD included
    copied = Path(second.paths["purelib"], "tool", "__init__.py")
    assert copied.stat().st_ino != (entry / "tool" / "__init__.py").stat().st_ino  # EC52
    script = Path(second.paths["scripts"], "tool-run").read_text()
    assert script == f"#!{second.executable}\nprint('run')\n"


def test_a_changed_member_is_read_from_the_archive_and_the_entry_dropped(
    tmp_path: Path, wheel: Path, cache: UnpackedCache
) -> None:
    install_wheel(new_target(tmp_path / "one"), to_install(wheel, cache), before_write=ignore)
    entry = cache.entry(sha256_of(wheel))
    (entry / "tool" / "__init__.py").write_text("VALUE = 'tampered'\n")
    (entry / "tool" / "data" / "table.txt").unlink()

    target = new_target(tmp_path / "two")
    install_wheel(target, to_install(wheel, cache), before_write=ignore)
    assert installed(target)["tool/__init__.py"] == FILES["tool/__init__.py"].encode()
    assert installed(target)["tool/data/table.txt"] == FILES["tool/data/table.txt"].encode()
    assert not entry.exists()  # the next install fills it again from the archive
    install_wheel(new_target(tmp_path / "three"), to_install(wheel, cache), before_write=ignore)
    assert (entry / "tool" / "__init__.py").read_text() == FILES["tool/__init__.py"]


def test_without_a_cache_nothing_is_kept(tmp_path: Path, wheel: Path) -> None:
    target = new_target(tmp_path / "env")
    install_wheel(target, to_install(wheel, None), before_write=ignore)
    assert installed(target)["tool/__init__.py"] == FILES["tool/__init__.py"].encode()
    assert not (tmp_path / "cache").exists()


def test_a_failed_install_keeps_no_entry_and_no_member_outside_it(
    tmp_path: Path, cache: UnpackedCache
) -> None:
    files = {"evil/__init__.py": "", "../../outside.txt": "x"}
    wheel = build_wheel(tmp_path / "wheels", "evil", "1.0", files=files)
    with pytest.raises(InstallError, match="outside of"):
        install_wheel(new_target(tmp_path / "env"), to_install(wheel, cache), before_write=ignore)
    assert not cache.root.exists() or list(cache.root.rglob("*")) == []
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []
    assert not any(p.name == "outside.txt" for p in tmp_path.rglob("*"))


def test_an_entry_is_keyed_by_the_archive_checked_now(
    tmp_path: Path, wheel: Path, cache: UnpackedCache
) -> None:
    """An entry under another archive's sha256 holds bytes the RECORD of this archive does not
    name: they are not used."""
    other = build_wheel(tmp_path / "other", "tool", "2.0", files={**FILES, "tool/__init__.py": ""})
    install_wheel(new_target(tmp_path / "one"), to_install(other, cache), before_write=ignore)
    cache.entry(sha256_of(wheel)).parent.mkdir(parents=True, exist_ok=True)
    os.rename(cache.entry(sha256_of(other)), cache.entry(sha256_of(wheel)))

    target = new_target(tmp_path / "two")
    install_wheel(target, to_install(wheel, cache), before_write=ignore)
    assert installed(target)["tool/__init__.py"] == FILES["tool/__init__.py"].encode()


def test_members_read_in_one_call_are_zipfiles_bytes_and_a_bad_crc_is_refused(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "mixed.zip"
    contents = {"stored.txt": b"plain " * 100, "deflated.py": b"x = 1\n" * 5000, "empty": b""}
    with zipfile.ZipFile(archive, "w") as writing:
        writing.writestr("stored.txt", contents["stored.txt"], zipfile.ZIP_STORED)
        writing.writestr("deflated.py", contents["deflated.py"], zipfile.ZIP_DEFLATED)
        writing.writestr("empty", b"", zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(archive) as reading:
        assert {i.filename: read_member(reading, i) for i in reading.infolist()} == contents

    data = bytearray(archive.read_bytes())
    start = data.index(b"plain ")
    data[start] = ord("P")  # a stored member's byte changed, its CRC not
    archive.write_bytes(bytes(data))
    with zipfile.ZipFile(archive) as reading, pytest.raises(zipfile.BadZipFile, match="CRC"):
        read_member(reading, reading.getinfo("stored.txt"))
