"""The test archives: stable bytes, and real enough for pip to install them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from distbuilder import build_sdist, build_wheel, sha256_of


def test_same_arguments_same_bytes(tmp_path: Path) -> None:
    first = build_wheel(tmp_path / "a", "Demo.Pkg", "1.0", requires=["other>=1"])
    second = build_wheel(tmp_path / "b", "Demo.Pkg", "1.0", requires=["other>=1"])
    assert first.name == "demo_pkg-1.0-py3-none-any.whl"
    assert sha256_of(first) == sha256_of(second)
    assert sha256_of(build_sdist(tmp_path / "a", "demo", "1.0")) == sha256_of(
        build_sdist(tmp_path / "b", "demo", "1.0")
    )


def test_wheel_metadata_has_extras_and_requires_python(tmp_path: Path) -> None:
    wheel = build_wheel(
        tmp_path,
        "demo",
        "2.0",
        requires_python=">=3.8",
        extras={"fast": ["speedup>=1; os_name == 'posix'"]},
        build="1",
        tag="py2.py3-none-any",
    )
    assert wheel.name == "demo-2.0-1-py2.py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read("demo-2.0.dist-info/METADATA").decode()
        wheel_file = archive.read("demo-2.0.dist-info/WHEEL").decode()
        assert archive.namelist()[-1] == "demo-2.0.dist-info/RECORD"
    assert "Requires-Python: >=3.8\n" in metadata
    assert "Provides-Extra: fast\n" in metadata
    assert "Requires-Dist: speedup>=1; (os_name == 'posix') and extra == \"fast\"\n" in metadata
    assert "Tag: py2-none-any\nTag: py3-none-any\nBuild: 1\n" in wheel_file


def test_pip_installs_a_wheel_and_builds_an_sdist(tmp_path: Path) -> None:
    """One real install: the wheel's module imports, and the in-tree backend builds the sdist."""
    dists = tmp_path / "dists"
    build_wheel(dists, "demo-lib", "1.5")
    build_sdist(dists, "demo-app", "0.3", requires=["demo-lib==1.5"])
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-index", "--find-links", str(dists), "--no-build-isolation", "demo-app"],
        check=True,
    )  # fmt: skip
    code = "import demo_app, demo_lib; print(demo_app.__version__, demo_lib.__version__)"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0.3", "1.5"]
