"""Bounds on what a hostile server or RECORD can cost (issue 13, found while fixing it).

A server that compresses a page, a ``.metadata`` file or an archive into a bomb must not
make a sync inflate it without limit: pages and metadata files are decoded a chunk at a
time up to a cap, and archives are never decoded at all (their bytes are hashed as served,
as pip hashes them). A RECORD row naming a folder must never make removal take that folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from distbuilder import build_wheel
from helpers import write
from indexserver import IndexServer
from test_sync_apply import Sync, cache, lock_for, site_packages, snapshot, sync, venv

__all__ = ["cache", "sync", "venv"]  # fixtures shared with test_sync_apply

# -- a RECORD row naming a folder --------------------------------------------------------------


@pytest.mark.parametrize(
    "rows",
    [
        ["other", "x/.."],  # another distribution's package folder; site-packages itself
        ["other/", ".", "../site-packages"],
        ["..", "../../../bin"],  # lib/pythonX.Y and the scripts folder: in the data scheme
    ],
)
def test_a_record_row_naming_a_folder_never_removes_it(
    rows: list[str], sync: Sync, venv: Path, index_server: IndexServer
) -> None:
    """Two real installs; the first's RECORD then names a folder. Removing the first
    leaves the folder and every file of the second, and says which rows it left alone."""
    hostile = build_wheel(index_server.root, "hostile", "1.0")
    other = build_wheel(index_server.root, "other", "1.0")
    write(Path("requirements.txt"), lock_for(hostile, other))
    code, _out, err = sync("requirements.txt")
    assert code == 0, err
    record = site_packages(venv) / "hostile-1.0.dist-info" / "RECORD"
    record.write_text(record.read_text() + "".join(f"{row},,\n" for row in rows))
    kept = {path: digest for path, digest in snapshot(venv).items() if "hostile" not in path}

    write(Path("requirements.txt"), lock_for(other))
    code, _out, err = sync("requirements.txt")
    assert code == 0, err
    after = snapshot(venv)
    assert {path: after.get(path) for path in kept} == kept
    assert not (site_packages(venv) / "hostile").exists()
    for row in rows:
        assert f"RECORD names {row}, a folder" in err, err
    assert os.path.isdir(venv / "bin")


def test_a_wheel_file_where_a_folder_is_never_replaces_the_folder(
    sync: Sync, venv: Path, index_server: IndexServer
) -> None:
    """A wheel whose file ``other`` would take the place of the installed folder ``other/``
    of another distribution: the folder is never stashed (the commit would delete it); the
    run is refused and rolled back."""
    other = build_wheel(index_server.root, "other", "1.0")
    write(Path("requirements.txt"), lock_for(other))
    code, _out, err = sync("requirements.txt")
    assert code == 0, err
    before = snapshot(venv)
    squasher = build_wheel(index_server.root, "squasher", "1.0", files={"other": "a file\n"})
    write(Path("requirements.txt"), lock_for(other, squasher))
    code, _out, err = sync("requirements.txt")
    assert code == 5, err
    assert "other is a folder" in err and "rolled back" in err, err
    assert snapshot(venv) == before
