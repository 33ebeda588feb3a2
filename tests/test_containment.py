"""Nothing outside the environment is touched, whatever the environment or the cache holds.

Symbolic links in site-packages that lead out of the venv (policy 12), an edited interpreter
record in the cache, a ``--python`` that answers badly, a site-packages that cannot be
written, a wheel with an invalid entry point: each is built here for real, and the files
outside the venv are listed before and after to prove them untouched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from distbuilder import build_wheel
from helpers import write
from indexserver import IndexServer
from test_sync_apply import Sync, cache, imports, lock_for, site_packages, snapshot, sync, venv

__all__ = ["cache", "sync", "venv"]  # fixtures shared with test_sync_apply


def tree(root: Path) -> dict[str, str]:
    """Every file and link under ``root`` (relative path -> content hash or link target)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            relative = str(path.relative_to(root))
            if path.is_symlink():
                found[relative] = f"link {os.readlink(path)}"
            elif path.is_file():
                found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


# -- removal and writes never go through a link that leads out of the environment ---------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the venv, holding a file named like alpha's module (the victim)."""
    folder = tmp_path / "outside"
    write(folder / "__init__.py", "precious\n")
    write(folder / "victim.txt", "precious\n")
    return folder


def link_alpha_outside(venv: Path, outside: Path) -> None:
    """Replace the installed ``alpha`` package folder by a link to ``outside``."""
    package = site_packages(venv) / "alpha"
    shutil.rmtree(package)
    package.symlink_to(outside, target_is_directory=True)


def test_removing_a_package_whose_folder_links_outside_deletes_nothing_there(
    sync: Sync, venv: Path, index_server: IndexServer, outside: Path
) -> None:
    alpha = build_wheel(index_server.root, "alpha", "1.0")
    beta = build_wheel(index_server.root, "beta", "1.0")
    write(Path("requirements.txt"), lock_for(alpha, beta))
    assert sync("requirements.txt")[0] == 0
    link_alpha_outside(venv, outside)
    before = tree(outside)

    write(Path("requirements.txt"), lock_for(beta))
    code, out, err = sync("requirements.txt")
    assert code == 0, err
    assert "removed 1" in out
    assert tree(outside) == before
    assert "alpha/__init__.py, outside the environment; left alone" in err
    assert not (site_packages(venv) / "alpha-1.0.dist-info").exists()


def test_replacing_a_package_whose_folder_links_outside_writes_nothing_there(
    sync: Sync, venv: Path, index_server: IndexServer, outside: Path
) -> None:
    alpha1 = build_wheel(index_server.root, "alpha", "1.0")
    alpha2 = build_wheel(index_server.root, "alpha", "2.0")
    write(Path("requirements.txt"), lock_for(alpha1))
    assert sync("requirements.txt")[0] == 0
    link_alpha_outside(venv, outside)
    before, env_before = tree(outside), snapshot(venv)

    write(Path("requirements.txt"), lock_for(alpha2))
    code, _out, err = sync("requirements.txt")
    assert tree(outside) == before
    assert code == 5, err
    package = site_packages(venv) / "alpha"
    assert f"{package} is a symbolic link to {outside}, outside the environment" in err
    assert "rolled back" in err
    assert snapshot(venv) == env_before

    package.unlink()  # as the message says: remove the link, then run again
    assert sync("requirements.txt")[0] == 0
    assert imports(venv, "alpha") == "2.0"
    assert tree(outside) == before


def test_a_record_row_through_a_linked_folder_deletes_nothing_outside(
    sync: Sync, venv: Path, index_server: IndexServer, outside: Path
) -> None:
    site = site_packages(venv)
    (site / "shared_link").symlink_to(outside, target_is_directory=True)
    info = site / "hostile-1.0.dist-info"
    write(info / "METADATA", "Metadata-Version: 2.1\nName: hostile\nVersion: 1.0\n")
    rows = [f"{info.name}/METADATA,,", "shared_link/victim.txt,,", "shared_link/__init__.py,,"]
    write(info / "RECORD", "\n".join(rows) + "\n")
    before = tree(outside)
    alpha = build_wheel(index_server.root, "alpha", "1.0")
    write(Path("requirements.txt"), lock_for(alpha))

    code, _out, err = sync("requirements.txt")
    assert code == 0, err
    assert tree(outside) == before
    assert "shared_link/victim.txt, outside the environment; left alone" in err
    assert not info.exists()
    assert (site / "shared_link").is_symlink()


def test_a_dist_info_folder_linked_outside_is_not_emptied(
    sync: Sync, venv: Path, index_server: IndexServer, tmp_path: Path
) -> None:
    site = site_packages(venv)
    real_info = tmp_path / "elsewhere" / "hostile-1.0.dist-info"
    write(real_info / "METADATA", "Metadata-Version: 2.1\nName: hostile\nVersion: 1.0\n")
    write(real_info / "RECORD", "hostile-1.0.dist-info/METADATA,,\n")
    write(real_info / "victim.txt", "precious\n")
    (site / real_info.name).symlink_to(real_info, target_is_directory=True)
    before = tree(real_info)
    alpha = build_wheel(index_server.root, "alpha", "1.0")
    write(Path("requirements.txt"), lock_for(alpha))

    code, _out, err = sync("requirements.txt")
    assert code == 0, err
    assert tree(real_info) == before
