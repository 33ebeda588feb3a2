"""Reading what is installed: fake site directories, and one real venv filled by pip."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import SHA_A, write

from pip_hashsync import PROVENANCE_FILE
from pip_hashsync.environment.installed import Provenance, scan
from pip_hashsync.environment.target import create_venv, find_target

URL = "https://files.example/tiny/Foo_Bar-1.0-py3-none-any.whl"


def _dist_info(site: Path, dirname: str, metadata: str, **files: str) -> Path:
    path = site / dirname
    write(path / "METADATA", metadata)
    for name, text in files.items():
        (path / name).write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site directory with every kind of entry a scan meets."""
    site = tmp_path / "site-packages"
    _dist_info(
        site,
        "Foo_Bar-1.0.dist-info",
        """
        Metadata-Version: 2.1
        Name: Foo-Bar
        Version: 1.0
        Requires-Dist: a>=1
        Requires-Dist: b; extra == "x"
        Summary: a summary
          folded onto a second line

        Requires-Dist: not-a-header (this is the description)
        """,
        RECORD="",
        INSTALLER="pip-hashsync\n",
        REQUESTED="",
        **{
            PROVENANCE_FILE: json.dumps(
                {"archive": "foo_bar-1.0.whl", "sha256": SHA_A, "url": URL}
            ),
            "direct_url.json": json.dumps({"url": URL, "archive_info": {}}),
        },
    )
    _dist_info(site, "norecord-3.0.dist-info", "Name: norecord\nVersion: 3.0\n")
    _dist_info(site, "old-style-name-1.0.dist-info", "Name: old-style-name\nVersion: 1.0\n")
    write(
        site / "legacy_pkg-2.0-py3.11.egg-info" / "PKG-INFO",
        "Metadata-Version: 1.2\nName: legacy-pkg\nVersion: 2.0\n",
    )
    write(
        site / "legacy_pkg-2.0-py3.11.egg-info" / "requires.txt",
        """
        base>=1

        [extra1]
        ext-dep

        [:python_version < "3.10"]
        old-dep

        [Extra_Two:sys_platform == "win32"]
        win-dep
        """,
    )
    write(site / "distutils_pkg-0.5-py3.11.egg-info", "Name: distutils-pkg\nVersion: 0.5\n")
    project = tmp_path / "checkout"
    write(project / "Dev_Proj.egg-info" / "PKG-INFO", "Name: Dev-Proj\nVersion: 0.1.dev0\n")
    write(site / "Dev-Proj.egg-link", f"{project}\n.\n")
    # not distributions
    write(site / "foo_bar" / "__init__.py", "")
    write(site / "six.py", "")
    write(site / "~oo_bar-0.9.dist-info" / "METADATA", "Name: ~oo-bar\nVersion: 0.9\n")
    write(site / "broken.dist-info", "a file, not a folder\n")
    write(site / "stale.egg-link", f"{tmp_path / 'gone'}\n.\n")
    return site


def test_scan_finds_each_kind_by_canonical_name(site: Path) -> None:
    found = scan([str(site)])
    assert sorted(found) == [
        "dev-proj",
        "distutils-pkg",
        "foo-bar",
        "legacy-pkg",
        "norecord",
        "old-style-name",
    ]
    foo = found["foo-bar"]
    assert (foo.name, foo.version, foo.path) == ("Foo_Bar", "1.0", site / "Foo_Bar-1.0.dist-info")
    assert (foo.legacy, foo.has_record, foo.installer, foo.requested) == (
        False,
        True,
        "pip-hashsync",
        True,
    )
    plain = found["norecord"]
    assert (plain.has_record, plain.installer, plain.requested, plain.legacy) == (
        False,
        None,
        False,
        False,
    )
    assert found["old-style-name"].version == "1.0"
    for key, version in (("legacy-pkg", "2.0"), ("distutils-pkg", "0.5"), ("dev-proj", "0.1.dev0")):
        assert found[key].legacy
        assert not found[key].has_record
        assert found[key].version == version
    assert found["dev-proj"].path.name == "Dev_Proj.egg-info"


def test_provenance_and_direct_url(site: Path) -> None:
    found = scan([str(site)])
    foo = found["foo-bar"]
    assert foo.provenance() == Provenance("foo_bar-1.0.whl", SHA_A, URL)
    assert foo.direct_url() == {"url": URL, "archive_info": {}}
    assert found["norecord"].provenance() is None
    assert found["norecord"].direct_url() is None
    assert found["distutils-pkg"].provenance() is None


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        json.dumps({"archive": "x.whl", "sha256": "abc"}),
        json.dumps({"archive": "", "sha256": SHA_A}),
        json.dumps({"sha256": SHA_A}),
        json.dumps({"archive": "x.whl", "sha256": SHA_A, "url": 3}),
    ],
)
def test_invalid_provenance_counts_as_none(tmp_path: Path, content: str) -> None:
    _dist_info(tmp_path, "x-1.dist-info", "Name: x\n", **{PROVENANCE_FILE: content})
    assert scan([str(tmp_path)])["x"].provenance() is None


def test_provenance_url_may_be_absent_and_digest_is_lower_cased(tmp_path: Path) -> None:
    record = {"archive": "x-1.tar.gz", "sha256": SHA_A.upper()}
    _dist_info(tmp_path, "x-1.dist-info", "Name: x\n", **{PROVENANCE_FILE: json.dumps(record)})
    assert scan([str(tmp_path)])["x"].provenance() == Provenance("x-1.tar.gz", SHA_A, None)


def test_requires(site: Path) -> None:
    found = scan([str(site)])
    assert found["foo-bar"].requires() == ["a>=1", 'b; extra == "x"']
    assert found["legacy-pkg"].requires() == [
        "base>=1",
        'ext-dep ; extra == "extra1"',
        'old-dep ; python_version < "3.10"',
        'win-dep ; (sys_platform == "win32") and extra == "extra-two"',
    ]
    assert found["distutils-pkg"].requires() == []


def test_first_site_dir_wins(site: Path, tmp_path: Path) -> None:
    later = tmp_path / "platlib"
    _dist_info(later, "foo_bar-9.0.dist-info", "Name: foo_bar\nVersion: 9.0\n")
    _dist_info(later, "other-1.0.dist-info", "Name: other\nVersion: 1.0\n")
    found = scan([str(site), str(later), str(tmp_path / "missing")])
    assert found["foo-bar"].version == "1.0"
    assert found["other"].version == "1.0"


def _tiny_wheel(folder: Path) -> Path:
    """A wheel written by hand, with fixed timestamps."""
    files = {
        "tiny.py": b"VALUE = 1\n",
        "tiny-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tiny\nVersion: 1.0\n",
        "tiny-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    rows = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{name},sha256={digest},{len(data)}")
    files["tiny-1.0.dist-info/RECORD"] = (
        "\n".join([*rows, "tiny-1.0.dist-info/RECORD,,"]) + "\n"
    ).encode()
    wheel = folder / "tiny-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return wheel


def test_scan_of_a_real_venv_filled_by_pip(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _tiny_wheel(wheels)
    create_venv(tmp_path / "env")
    target = find_target(None, str(tmp_path / "env"), None)
    assert scan(target.site_dirs()) == {}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            target.executable,
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            str(wheels),
            "--disable-pip-version-check",
            "tiny",
        ],
        check=True,
    )
    found = scan(target.site_dirs())
    assert list(found) == ["tiny"]
    tiny = found["tiny"]
    assert (tiny.version, tiny.installer, tiny.has_record, tiny.requested, tiny.legacy) == (
        "1.0",
        "pip",
        True,
        True,
        False,
    )
    assert tiny.direct_url() is None  # installed by name, not from a URL
    assert tiny.provenance() is None
