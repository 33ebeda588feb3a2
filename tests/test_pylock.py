"""pylock.toml (PEP 751): ``sync``, ``install`` and ``lint`` read lock files as they read a
hashed requirements file, with the files coming from the lock's URLs.

The tool-written locks (``tests/fixtures/pylock``, by ``pip lock`` and ``uv pip compile``)
point at ``http://127.0.0.1:PORT``: each test serves the same archives (rebuilt with fixed
timestamps, so their hashes match) and writes the lock with its own index's address.
Hand-made locks cover what the tools' small locks do not: markers, extras, groups, sdists,
a missing hash, an unknown lock-version.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from distbuilder import build_sdist, build_wheel, sha256_of
from fixtures.pylock.regenerate import PLACEHOLDER, build_archives
from helpers import write
from indexserver import IndexServer
from test_sync_apply import imports, make_venv, site_packages, snapshot

from pip_hashsync.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "pylock"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The command in-process, with no index configured: files come from the lock."""
    code = main([*argv, "--no-input"] if argv[0] in ("sync", "install") else list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def sync(capsys: pytest.CaptureFixture[str], venv: Path) -> Run:
    """``sync(lock, *args, target=venv)`` in-process -> (exit code, out, err)."""

    def sync_lock(lock: Path | str, *args: str, target: Path = venv) -> tuple[int, str, str]:
        cache = str(target.parent / "cache")
        return run(capsys, "sync", str(lock), "--venv", str(target), "--cache-dir", cache, *args)

    return sync_lock


@pytest.fixture
def tool_lock(index_server: IndexServer, workdir: Path) -> Callable[[str], Path]:
    """Serves the archives the tool-made locks name; writes the named one as
    ``pylock.toml``, pointing at this index."""
    build_archives(index_server.root)

    def write_lock(name: str) -> Path:
        text = (FIXTURES / name).read_text().replace(PLACEHOLDER, index_server.url)
        return write(workdir / "pylock.toml", text)

    return write_lock


def installed(venv: Path) -> dict[str, str]:
    """Project -> version of every distribution in the venv."""
    found = {}
    for info in site_packages(venv).glob("*.dist-info"):
        name, version = info.name[: -len(".dist-info")].rsplit("-", 1)
        found[name.lower().replace("_", "-")] = version
    return found


def wheel_entry(path: Path, index: IndexServer) -> str:
    return f'{{ url = "{index.file_url(path.name)}", hashes = {{ sha256 = "{sha256_of(path)}" }} }}'


def package(path: Path, index: IndexServer, *, marker: str | None = None) -> str:
    """A ``[[packages]]`` table for one wheel (or sdist) served by ``index``."""
    name, version = path.name.split("-")[:2]
    version = version.removesuffix(".tar.gz")
    key = "sdist" if path.name.endswith(".tar.gz") else "wheels"
    entry = wheel_entry(path, index)
    files = f"sdist = {entry}" if key == "sdist" else f"wheels = [{entry}]"
    where = f"marker = {json.dumps(marker)}\n" if marker else ""
    return f'[[packages]]\nname = "{name}"\nversion = "{version}"\n{where}{files}\n'


def hand_lock(workdir: Path, *packages: str, head: str = "") -> Path:
    text = f'lock-version = "1.0"\ncreated-by = "hand"\n{head}\n' + "\n".join(packages)
    return write(workdir / "pylock.toml", text)


# -- locks written by the tools ------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["pylock.pip.toml", "pylock.uv.toml"])
def test_tool_written_lock_syncs_from_the_locks_urls(
    sync: Run, fixture: str, venv: Path, index_server: IndexServer, tool_lock: Callable[[str], Path]
) -> None:
    lock = tool_lock(fixture)

    code, out, err = sync(lock)

    assert code == 0, out + err
    assert installed(venv) == {"alpha": "1.0", "beta": "1.0", "gamma": "1.0"}
    assert imports(venv, "beta") == "1.0"
    # No index page is read: every file comes from the lock's URL.
    assert all(path.startswith("/files/") for _, path in index_server.requests)
    provenance = json.loads(
        (site_packages(venv) / "beta-1.0.dist-info" / "pip_hashsync.json").read_text()
    )
    assert provenance["url"] == index_server.file_url("beta-1.0-py3-none-any.whl")

    # Synced: the no-op path answers without the network, and --check sees no drift.
    requests = len(index_server.requests)
    assert sync(lock)[0] == 0
    assert sync(lock, "--check")[0] == 0
    assert len(index_server.requests) == requests
    # A warm sync into another venv takes every archive from the cache.
    other = make_venv(venv.parent / "other")
    assert sync(lock, target=other)[0] == 0
    assert installed(other) == installed(venv)
    assert len(index_server.requests) == requests


def test_env_equals_what_uv_pip_sync_installs(
    sync: Run, tmp_path: Path, venv: Path, workdir: Path, tool_lock: Callable[[str], Path]
) -> None:
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None:
        pytest.skip("uv is not installed (it is in the test extra)")
    lock = tool_lock("pylock.uv.toml")
    by_uv = make_venv(tmp_path / "by-uv")
    subprocess.run(
        [uv, "pip", "sync", "--no-config", "--python", str(by_uv / "bin" / "python"), str(lock)],
        check=True,
        capture_output=True,
        cwd=workdir,
    )

    code, out, err = sync(lock)

    assert code == 0, out + err
    assert installed(venv) == installed(by_uv) == {"alpha": "1.0", "beta": "1.0", "gamma": "1.0"}
    for name in ("alpha", "beta", "gamma"):
        ours = sorted(p.name for p in (site_packages(venv) / name).iterdir())
        theirs = sorted(p.name for p in (site_packages(by_uv) / name).iterdir())
        assert ours == theirs


@pytest.mark.parametrize("spoiled", ["hash in the lock", "bytes served"])
def test_gamma_not_as_locked_is_exit_3_and_nothing_changes(
    sync: Run, spoiled: str, venv: Path, index_server: IndexServer, tool_lock: Callable[[str], Path]
) -> None:
    lock = tool_lock("pylock.uv.toml")
    gamma = "gamma-1.0-py3-none-any.whl"
    if spoiled == "hash in the lock":
        lock.write_text(lock.read_text().replace(sha256_of(index_server.root / gamma), "0" * 64))
    else:
        index_server.tampered[gamma] = b"not the locked bytes"
    before = snapshot(venv)

    code, out, err = sync(lock)

    assert code == 3, out + err
    assert gamma in err
    assert snapshot(venv) == before


def test_drift_is_reported_by_check(
    sync: Run, venv: Path, tool_lock: Callable[[str], Path]
) -> None:
    lock = tool_lock("pylock.pip.toml")
    assert sync(lock)[0] == 0
    gamma = lock.read_text().split("[[packages]]")
    lock.write_text("[[packages]]".join(p for p in gamma if 'name = "gamma"' not in p))

    code, out, _ = sync(lock, "--check")

    assert code == 1
    assert "gamma" in out
    assert "gamma" in installed(venv)


# -- hand-made locks: markers, extras, groups, sdists, hashes, versions -----------------------


def test_markers_extras_and_groups_select_packages(
    sync: Run,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    index_server: IndexServer,
    workdir: Path,
) -> None:
    root = index_server.root
    lock = hand_lock(
        workdir,
        package(build_wheel(root, "base", "1.0"), index_server),
        package(
            build_wheel(root, "winonly", "1.0"), index_server, marker="sys_platform == 'win32'"
        ),
        package(build_wheel(root, "fast", "1.0"), index_server, marker="'speed' in extras"),
        package(
            build_wheel(root, "tests", "1.0"), index_server, marker="'dev' in dependency_groups"
        ),
        package(
            build_wheel(root, "docs", "1.0"), index_server, marker="'docs' in dependency_groups"
        ),
        head='extras = ["speed"]\ndependency-groups = ["dev", "docs"]\ndefault-groups = ["dev"]',
    )

    plain = make_venv(tmp_path / "plain")
    assert sync(lock, target=plain)[0] == 0
    assert sorted(installed(plain)) == ["base", "tests"]

    chosen = make_venv(tmp_path / "chosen")
    code, out, err = sync(lock, "--extra", "speed", "--group", "docs", target=chosen)
    assert code == 0, out + err
    assert sorted(installed(chosen)) == ["base", "docs", "fast"]
    verify = ["verify", "-r", str(lock), "--venv", str(chosen)]
    assert run(capsys, *verify, "--extra", "speed", "--group", "docs")[0] == 0
    code, out, _ = run(capsys, *verify)
    assert code == 1 and "fast" in out and "docs" in out

    code, _, err = sync(lock, "--extra", "turbo", target=chosen)
    assert code == 2
    assert "declares no extra 'turbo'" in err


def test_sdist_only_package_is_built_from_the_lock(
    sync: Run, venv: Path, index_server: IndexServer, workdir: Path
) -> None:
    sdist = build_sdist(index_server.root, "delta", "2.0")
    lock = hand_lock(workdir, package(sdist, index_server))

    code, out, err = sync(lock)

    assert code == 0, out + err
    assert imports(venv, "delta") == "2.0"


@pytest.mark.parametrize("hashes", ['md5 = "' + "0" * 32 + '"', 'blake2b = "00"'])
def test_package_without_a_strong_hash_is_refused(
    sync: Run, hashes: str, index_server: IndexServer, workdir: Path
) -> None:
    wheel = build_wheel(index_server.root, "weak", "1.0")
    entry = f'{{ url = "{index_server.file_url(wheel.name)}", hashes = {{ {hashes} }} }}'
    weak = f'[[packages]]\nname = "weak"\nversion = "1.0"\nwheels = [{entry}]\n'
    hashed = package(build_wheel(index_server.root, "base", "1.0"), index_server)
    lock = hand_lock(workdir, weak, hashed)

    code, _, err = sync(lock, "-i", index_server.index_url)  # never read for a lock

    assert code == 2
    assert f"{lock}:5: weak==1.0 has no " in err and "lock it again" in err
    assert err.count("weak==1.0") == 1
    assert index_server.requests == []


def test_unknown_lock_version_is_refused(sync: Run, workdir: Path) -> None:
    lock = write(
        workdir / "pylock.toml", 'lock-version = "2.0"\ncreated-by = "future"\npackages = []\n'
    )

    code, _, err = sync(lock)

    assert code == 2
    assert "pylock version 2.0 is not supported" in err and str(lock) in err


@pytest.mark.parametrize(
    ("requires", "head", "tail", "expected"),
    [
        ((), 'requires-python = "<3"', "", "the lock requires Python <3"),
        (
            (),
            "environments = [\"sys_platform == 'win32'\"]",
            "",
            'the target is none of the lock\'s environments (sys_platform == "win32")',
        ),
        ((), "", 'requires-python = "<3"\n', "no file of a matching version suits the target"),
        ((), "", 'dependencies = [{ name = "beta" }]\n', "base 1.0 depends on beta, which the"),
        (("beta",), "", "", "These dependencies are missing from the requirements file"),
    ],
    ids=["requires-python", "environments", "package-requires-python", "entry", "metadata"],
)
def test_lock_that_cannot_serve_the_target_is_exit_2(
    sync: Run,
    requires: tuple[str, ...],
    head: str,
    tail: str,
    expected: str,
    venv: Path,
    index_server: IndexServer,
    workdir: Path,
) -> None:
    wheel = build_wheel(index_server.root, "base", "1.0", requires=requires)
    lock = hand_lock(workdir, package(wheel, index_server) + tail, head=head)
    before = snapshot(venv)

    code, _, err = sync(lock)

    assert code == 2
    assert expected in err
    assert snapshot(venv) == before


def test_lint_reads_a_lock(capsys: pytest.CaptureFixture[str], workdir: Path) -> None:
    lock = write(workdir / "pylock.toml", (FIXTURES / "pylock.uv.toml").read_text())

    assert run(capsys, "lint", str(lock))[0] == 0
    code, _, err = run(capsys, "lint", str(lock), "--group", "dev")
    assert code == 2 and "declares no group 'dev'" in err


def test_install_and_dry_run_read_a_lock(
    capsys: pytest.CaptureFixture[str],
    venv: Path,
    index_server: IndexServer,
    tool_lock: Callable[[str], Path],
) -> None:
    lock = tool_lock("pylock.uv.toml")
    cache = str(venv.parent / "cache")

    code, out, _ = run(
        capsys, "sync", str(lock), "--venv", str(venv), "--dry-run", "--format", "json"
    )
    assert code == 0
    urls = {a["name"]: a["url"] for a in json.loads(out)["actions"]}
    assert urls["beta"] == index_server.file_url("beta-1.0-py3-none-any.whl")
    assert installed(venv) == {}

    code, out, err = run(
        capsys, "install", "-r", str(lock), "--venv", str(venv), "--cache-dir", cache
    )
    assert code == 0, out + err
    assert installed(venv) == {"alpha": "1.0", "beta": "1.0", "gamma": "1.0"}


def test_file_not_named_as_pep_751_says_is_a_requirements_file(
    capsys: pytest.CaptureFixture[str], workdir: Path
) -> None:
    lock = write(workdir / "lock.toml", (FIXTURES / "pylock.uv.toml").read_text())

    code, _, err = run(capsys, "lint", str(lock))

    assert code == 2 and "lock.toml:1" in err


def test_wheel_is_chosen_by_the_targets_tags_and_paths_are_relative_to_the_lock(
    sync: Run, venv: Path, workdir: Path
) -> None:
    files = workdir / "files"
    universal = build_wheel(files, "multi", "1.0")
    foreign = build_wheel(files, "multi", "1.0", tag="cp27-cp27m-win32", files={})
    entries = ", ".join(
        f'{{ path = "files/{w.name}", hashes = {{ sha256 = "{sha256_of(w)}" }} }}'
        for w in (foreign, universal)
    )
    lock = hand_lock(
        workdir, f'[[packages]]\nname = "multi"\nversion = "1.0"\nwheels = [{entries}]\n'
    )

    code, out, err = sync(lock)

    assert code == 0, out + err
    assert imports(venv, "multi") == "1.0"
    provenance = json.loads(
        (site_packages(venv) / "multi-1.0.dist-info" / "pip_hashsync.json").read_text()
    )
    assert provenance["sha256"] == sha256_of(universal)


def test_archive_package_is_a_hashed_direct_url(
    sync: Run, venv: Path, index_server: IndexServer, workdir: Path
) -> None:
    wheel = build_wheel(index_server.root, "direct", "3.0")
    archive = f"archive = {wheel_entry(wheel, index_server)}\n"
    lock = hand_lock(workdir, f'[[packages]]\nname = "direct"\nversion = "3.0"\n{archive}')

    code, out, err = sync(lock)

    assert code == 0, out + err
    assert imports(venv, "direct") == "3.0"
    direct_url = site_packages(venv) / "direct-3.0.dist-info" / "direct_url.json"
    assert json.loads(direct_url.read_text())["url"] == index_server.file_url(wheel.name)


def test_directory_outside_hash_mode_only(
    sync: Run, tmp_path: Path, venv: Path, index_server: IndexServer, workdir: Path
) -> None:
    sdist = build_sdist(tmp_path / "sdists", "local", "0.5")
    subprocess.run(["tar", "-xzf", str(sdist), "-C", str(workdir)], check=True)
    folder = '[[packages]]\nname = "local"\ndirectory = { path = "local-0.5" }\n'
    lock = hand_lock(workdir, folder)

    code, out, err = sync(lock)
    assert code == 0, out + err
    assert imports(venv, "local") == "0.5"

    hashed = package(build_wheel(index_server.root, "base", "1.0"), index_server)
    lock = hand_lock(workdir, folder, hashed)
    code, _, err = sync(lock, target=make_venv(tmp_path / "other"))
    assert code == 2
    assert "point to directories" in err and f"{lock}:5" in err


def test_hashes_does_not_rewrite_a_lock(capsys: pytest.CaptureFixture[str], workdir: Path) -> None:
    lock = write(workdir / "pylock.toml", (FIXTURES / "pylock.uv.toml").read_text())
    before = lock.read_bytes()

    code, _, err = run(capsys, "hashes", str(lock), "--isolated")

    assert code == 2 and "is a PEP 751 lock" in err
    assert lock.read_bytes() == before


def test_extra_without_a_lock_is_bad_input(
    capsys: pytest.CaptureFixture[str], workdir: Path
) -> None:
    requirements = write(workdir / "requirements.txt", "alpha==1.0\n")

    code, _, err = run(capsys, "lint", str(requirements), "--extra", "speed")

    assert code == 2 and "--extra and --group select from a pylock.toml" in err


def test_newer_minor_lock_version_is_read_with_a_warning(
    capsys: pytest.CaptureFixture[str], workdir: Path
) -> None:
    text = (FIXTURES / "pylock.uv.toml").read_text().replace('"1.0"\ncreated', '"1.1"\ncreated')
    lock = write(workdir / "pylock.toml", text)
    dependency = 'dependencies = [{ name = "beta", version = "not a version" }]\n'
    lock.write_text(text.replace('name = "alpha"\n', f'name = "alpha"\n{dependency}'))

    code, _, err = run(capsys, "lint", str(lock))

    assert code == 2
    assert "WARNING: " in err and "lock-version 1.1 is newer than 1.0" in err
    assert "pylock minor version" not in err
    assert "alpha 1.0 depends on beta not a version, which the lock does not list" in err


def test_lock_given_by_url_reads_relative_paths_against_it(
    sync: Run, venv: Path, index_server: IndexServer, tool_lock: Callable[[str], Path]
) -> None:
    text = (
        tool_lock("pylock.uv.toml")
        .read_text()
        .replace(f'url = "{index_server.url}/', 'path = "../')
    )
    index_server.documents["/locks/pylock.toml"] = text.encode()

    code, out, err = sync(f"{index_server.url}/locks/pylock.toml")

    assert code == 0, out + err
    assert installed(venv) == {"alpha": "1.0", "beta": "1.0", "gamma": "1.0"}
    assert ("GET", "/files/gamma-1.0-py3-none-any.whl") in index_server.requests
