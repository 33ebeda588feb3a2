"""Installing wheels into real venvs, and planning their removal (EC52, EC82, EC84, EC86, EC87).

One ``--without-pip`` venv of the running Python serves the module; each test installs a
distribution of its own name into it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from distbuilder import build_wheel, sha256_of

from pip_hashsync import PROVENANCE_FILE
from pip_hashsync.environment.install import (
    InstallError,
    WheelToInstall,
    compile_bytecode,
    install_wheel,
)
from pip_hashsync.environment.installed import Provenance, scan
from pip_hashsync.environment.target import Target, introspect
from pip_hashsync.environment.transaction import Transaction
from pip_hashsync.environment.uninstall import UninstallRefused, plan_removal
from pip_hashsync.errors import ExitCode

PY312 = Path("/root/.pyenv/versions/3.12.1/bin/python3.12")
BIN = "Scripts" if os.name == "nt" else "bin"


def make_venv(python: str, path: Path) -> Target:
    subprocess.run([python, "-m", "venv", "--without-pip", str(path)], check=True)
    return introspect(str(path / BIN / "python"), None)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Target:
    return make_venv(sys.executable, tmp_path_factory.mktemp("install") / "env")


def to_install(wheel: Path, *, requested: bool = True, **direct_url: object) -> WheelToInstall:
    provenance = Provenance(wheel.name, sha256_of(wheel), f"https://files.example/{wheel.name}")
    return WheelToInstall(wheel, requested, provenance, direct_url or None)


def install(target: Target, wheel: WheelToInstall) -> list[Path]:
    return [Path(p) for p in install_wheel(target, wheel, before_write=lambda path: None)]


def purelib(target: Target) -> Path:
    return Path(target.paths["purelib"])


def test_files_scripts_and_metadata(target: Target, tmp_path: Path) -> None:
    wheel = build_wheel(
        tmp_path,
        "alpha",
        "1.0",
        files={
            "alpha/__init__.py": '__version__ = "1.0"\n',
            "alpha/cli.py": "def main():\n    print('alpha says hi')\n",
            "alpha-1.0.dist-info/entry_points.txt": "[console_scripts]\nalpha = alpha.cli:main\n",
        },
    )
    announced: list[tuple[str, bool]] = []
    written = install_wheel(
        target, to_install(wheel), before_write=lambda p: announced.append((p, os.path.exists(p)))
    )

    dist_info = purelib(target) / "alpha-1.0.dist-info"
    assert [path for path, _ in announced] == written
    assert not any(existed for _, existed in announced), "announced after it was written"
    assert str(dist_info / "RECORD") in written
    assert all(os.path.isfile(path) for path in written)
    assert (purelib(target) / "alpha" / "cli.py").is_file()
    assert (dist_info / "INSTALLER").read_text() == "pip-hashsync\n"
    assert (dist_info / "REQUESTED").is_file()
    assert not (dist_info / "direct_url.json").exists()
    assert json.loads((dist_info / PROVENANCE_FILE).read_text()) == {
        "archive": wheel.name,
        "sha256": sha256_of(wheel),
        "url": f"https://files.example/{wheel.name}",
    }
    record = (dist_info / "RECORD").read_text()
    assert f"alpha-1.0.dist-info/{PROVENANCE_FILE},sha256=" in record
    assert scan(target.site_dirs())["alpha"].provenance() == to_install(wheel).provenance

    script = Path(target.paths["scripts"]) / "alpha"
    assert script.read_text().splitlines()[0] == f"#!{target.executable}"
    assert subprocess.run([script], capture_output=True, text=True).stdout == "alpha says hi\n"
    found = subprocess.run(
        [target.executable, "-c", "import alpha; print(alpha.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(found.stdout.strip()) == purelib(target) / "alpha" / "__init__.py"


def test_direct_url_and_not_requested(target: Target, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "beta", "1.0")
    record = {"url": f"https://files.example/{wheel.name}", "archive_info": {"hashes": {}}}
    install(target, to_install(wheel, requested=False, **record))

    dist_info = purelib(target) / "beta-1.0.dist-info"
    assert not (dist_info / "REQUESTED").exists()
    assert json.loads((dist_info / "direct_url.json").read_text()) == record
    assert "beta-1.0.dist-info/direct_url.json," in (dist_info / "RECORD").read_text()


def test_data_schemes_go_to_the_targets_folders(target: Target, tmp_path: Path) -> None:
    wheel = build_wheel(
        tmp_path,
        "gadget",
        "1.0",
        files={
            "gadget/__init__.py": "",
            "gadget-1.0.data/headers/gadget.h": "#define GADGET 1\n",
            "gadget-1.0.data/data/share/gadget/readme.txt": "hello\n",
            "gadget-1.0.data/scripts/gadget-tool": "#!python\nprint('tool')\n",
        },
    )
    install(target, to_install(wheel))

    prefix = Path(target.prefix)
    headers = prefix / "include" / "site" / f"python{target.python_version}" / "gadget"
    assert (headers / "gadget.h").is_file()
    assert (prefix / "share" / "gadget" / "readme.txt").is_file()
    tool = Path(target.paths["scripts"]) / "gadget-tool"
    assert tool.read_text() == f"#!{target.executable}\nprint('tool')\n"


def test_a_path_escaping_its_scheme_is_refused_before_it_is_announced(
    target: Target, tmp_path: Path
) -> None:
    wheel = build_wheel(
        tmp_path, "escape", "1.0", files={"escape/__init__.py": "", "../../escaped.txt": "x"}
    )
    announced: list[str] = []
    with pytest.raises(
        InstallError, match=r"would write \.\./\.\./escaped\.txt outside of"
    ) as info:
        install_wheel(target, to_install(wheel), before_write=announced.append)
    assert info.value.exit_code == ExitCode.ENVIRONMENT
    assert all(purelib(target) in path.parents for path in announced)
    assert not (purelib(target).parent.parent / "escaped.txt").exists()


def test_compile_warns_about_a_module_that_does_not_compile(target: Target, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "broken", "1.0", files={"broken/__init__.py": "def (:\n"})
    warning = compile_bytecode(target, install(target, to_install(wheel)))
    assert warning is not None and "broken/__init__.py" in warning


@pytest.mark.skipif(not PY312.exists(), reason="needs a Python 3.12 at " + str(PY312))
@pytest.mark.skipif(sys.version_info[:2] == (3, 12), reason="the target must be another Python")
def test_bytecode_is_compiled_by_the_target(tmp_path: Path) -> None:
    target = make_venv(str(PY312), tmp_path / "env312")
    wheel = build_wheel(tmp_path, "compiled", "1.0")
    written = install(target, to_install(wheel))

    assert compile_bytecode(target, written) is None
    cache = purelib(target) / "compiled" / "__pycache__"
    assert sorted(p.name for p in cache.iterdir()) == ["__init__.cpython-312.pyc"]
    assert not list((purelib(target) / "compiled-1.0.dist-info").rglob("*.pyc"))


# Removal


def test_removal_takes_files_bytecode_and_emptied_folders(target: Target, tmp_path: Path) -> None:
    wheel = build_wheel(
        tmp_path,
        "gamma",
        "1.0",
        files={
            "gamma/__init__.py": "",
            "gamma/sub/mod.py": "X = 1\n",
            "gamma-1.0.dist-info/entry_points.txt": "[console_scripts]\ngamma = gamma:main\n",
        },
    )
    install(target, to_install(wheel))
    package = purelib(target) / "gamma"
    for level in ("0", "1", "2"):
        subprocess.run(
            [target.executable, "-m", "compileall", "-q", "-o", level, str(package)], check=True
        )
    other_python = package / "__pycache__" / "__init__.cpython-39.pyc"
    other_python.write_bytes(b"")
    unrelated = purelib(target) / "unrelated.txt"
    unrelated.write_text("keep me\n")

    removal = plan_removal(target, scan(target.site_dirs())["gamma"])
    files = set(removal.files)
    tag = target.cache_tag
    for name in (f"__init__.{tag}.pyc", f"__init__.{tag}.opt-1.pyc", f"__init__.{tag}.opt-2.pyc"):
        assert package / "__pycache__" / name in files
    assert package / "sub" / "__pycache__" / f"mod.{tag}.opt-2.pyc" in files
    assert other_python in files, "left alone in an emptied package, it goes too"
    assert removal.skipped == ()

    with Transaction(target) as txn:
        txn.remove(removal)
    assert not package.exists()
    assert not (purelib(target) / "gamma-1.0.dist-info").exists()
    assert not (Path(target.paths["scripts"]) / "gamma").exists()
    assert unrelated.read_text() == "keep me\n"
    assert purelib(target).is_dir() and Path(target.paths["scripts"]).is_dir()


def test_record_rows_outside_the_environment_are_skipped(target: Target, tmp_path: Path) -> None:
    install(target, to_install(build_wheel(tmp_path, "delta", "1.0")))
    site = purelib(target)
    climbing = "../../../../outside.txt"
    outside = Path(os.path.normpath(site / climbing))
    assert Path(target.prefix) not in outside.parents
    outside.write_text("not yours\n")
    absolute = tmp_path / "absolute.txt"
    absolute.write_text("not yours either\n")
    with (site / "delta-1.0.dist-info" / "RECORD").open("a") as record:
        record.write(f"{climbing},,\n{absolute},,\n")

    removal = plan_removal(target, scan(target.site_dirs())["delta"])
    assert removal.skipped == (climbing, str(absolute))
    assert outside not in removal.files and absolute not in removal.files
    with Transaction(target) as txn:
        txn.remove(removal)
    assert not (site / "delta").exists()
    assert outside.read_text() == "not yours\n"
    assert absolute.read_text() == "not yours either\n"


def test_no_record_is_refused_naming_the_installer(target: Target) -> None:
    dist_info = purelib(target) / "epsilon-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: epsilon\nVersion: 1.0\n")
    (dist_info / "INSTALLER").write_text("conda\n")

    with pytest.raises(UninstallRefused) as info:
        plan_removal(target, scan(target.site_dirs())["epsilon"])
    assert "epsilon 1.0 has no RECORD" in str(info.value)
    assert "installed by conda" in str(info.value)
    assert info.value.exit_code == ExitCode.ENVIRONMENT


def test_egg_info_is_refused(target: Target) -> None:
    egg_info = purelib(target) / "zeta-1.0-py3.11.egg-info"
    egg_info.mkdir()
    (egg_info / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: zeta\nVersion: 1.0\n")

    with pytest.raises(UninstallRefused, match=r"zeta 1\.0 is a legacy install \(setuptools"):
        plan_removal(target, scan(target.site_dirs())["zeta"])
