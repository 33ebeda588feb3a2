"""``sync`` and ``install`` end to end: a real loopback index, real venvs, real files.

Each test syncs into a fresh ``--without-pip`` venv and checks the environment itself (files,
imports, ``.dist-info`` contents), and, where a run must fail, that the environment is
exactly as it was (a full listing of the venv with the hash of every file).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from distbuilder import build_wheel, sha256_of
from helpers import write
from indexserver import IndexServer

from pip_hashsync import PROVENANCE_FILE
from pip_hashsync.cli import main
from pip_hashsync.commands.receipt import RECEIPT_FILE

PY_TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"
#: A version 2.0 of ``alpha`` with enough files to stop a run part-way through.
MANY_FILES = {"alpha/__init__.py": '__version__ = "2.0"\n'} | {
    f"alpha/m{i}.py": "" for i in range(9)
}
#: Files a run may leave behind on purpose (the lock file).
IGNORED = (".pip-hashsync.lock", RECEIPT_FILE)


def make_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path


def site_packages(venv: Path) -> Path:
    (site,) = venv.glob("lib/python*/site-packages")
    return site


def snapshot(venv: Path) -> dict[str, str]:
    """Every file of the venv (relative path -> sha256), to prove "untouched"."""
    listing = {}
    for path in sorted(venv.rglob("*")):
        relative = str(path.relative_to(venv))
        if path.is_file() and not path.is_symlink() and not relative.endswith(IGNORED):
            listing[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return listing


def imports(venv: Path, module: str) -> str:
    """``module.__version__`` as the venv's own interpreter sees it."""
    code = f"import {module}; print({module}.__version__)"
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


Sync = Callable[..., tuple[int, str, str]]


@pytest.fixture
def sync(
    venv: Path, cache: Path, index_server: IndexServer, workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> Sync:  # fmt: skip
    """``sync(*args, command="sync", target=venv)`` in-process -> (exit code, out, err)."""

    def run(*args: str, command: str = "sync", target: Path = venv) -> tuple[int, str, str]:
        argv = [command, *args, "--venv", str(target), "-i", index_server.index_url]
        code = main([*argv, "--cache-dir", str(cache), "--no-input"])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    return run


def subprocess_sync(
    venv: Path, cache: Path, index: IndexServer, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "pip_hashsync", "sync", "requirements.txt", *args]
    argv += ["--venv", str(venv), "-i", index.index_url, "--cache-dir", str(cache)]
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {})}, preexec_fn=_ctrl_c_as_from_a_terminal,
    )  # fmt: skip


def _ctrl_c_as_from_a_terminal() -> None:
    """The child takes SIGINT as Ctrl-C (Python's KeyboardInterrupt) even when this run
    ignores it, as a run started in the background by a script does (CI may)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def lock_for(*wheels: Path, extra: str = "") -> str:
    lines = [f"{_pin(w)} --hash=sha256:{sha256_of(w)}" for w in wheels]
    return "\n".join([*lines, extra]).strip() + "\n"


def _pin(wheel: Path) -> str:
    name, version = wheel.name.split("-")[:2]
    return f"{name}=={version}"


# -- install, no-op, drift, removal, version change ----------------------------------------


def test_fresh_install_then_resync_is_a_no_op(
    sync: Sync, venv: Path, index_server: IndexServer
) -> None:
    alpha = build_wheel(index_server.root, "alpha", "1.0", requires=["beta"])
    beta = build_wheel(index_server.root, "beta", "2.0")
    write(Path("requirements.txt"), lock_for(alpha, beta))

    code, out, _ = sync("requirements.txt")
    assert code == 0, out
    assert "installed 2" in out
    assert imports(venv, "alpha") == "1.0" and imports(venv, "beta") == "2.0"
    info = site_packages(venv) / "alpha-1.0.dist-info"
    assert (info / "INSTALLER").read_text() == "pip-hashsync\n"
    provenance = json.loads((info / PROVENANCE_FILE).read_text())
    assert provenance["sha256"] == sha256_of(alpha)
    assert PROVENANCE_FILE in (info / "RECORD").read_text()
    assert (info / "REQUESTED").exists()

    index_server.requests.clear()
    before = snapshot(venv)
    code, out, _ = sync("requirements.txt")
    assert (code, out.split(":")[0]) == (0, "nothing to do")
    assert index_server.requests == []
    assert snapshot(venv) == before


def test_check_reports_drift_and_changes_nothing(
    sync: Sync, venv: Path, index_server: IndexServer
) -> None:
    alpha = build_wheel(index_server.root, "alpha", "1.0")
    write(Path("requirements.txt"), lock_for(alpha))
    before = snapshot(venv)
    code, out, _ = sync("requirements.txt", "--check")
    assert code == 1
    _, change, summary = out.splitlines()  # the target, the change, the summary
    assert (change, summary.split(" in ")[0]) == (" + alpha==1.0", "would install 1")
    assert snapshot(venv) == before
    assert sync("requirements.txt")[0] == 0
    assert sync("requirements.txt", "--check")[0] == 0


def test_removed_line_is_uninstalled_and_version_change_replaces(
    sync: Sync, venv: Path, index_server: IndexServer
) -> None:
    alpha1 = build_wheel(index_server.root, "alpha", "1.0")
    alpha2 = build_wheel(index_server.root, "alpha", "2.0")
    extra = build_wheel(index_server.root, "extra-thing", "1.0")
    write(Path("requirements.txt"), lock_for(alpha1, extra))
    assert sync("requirements.txt")[0] == 0
    assert imports(venv, "extra_thing") == "1.0"

    write(Path("requirements.txt"), lock_for(alpha2))
    code, out, _ = sync("requirements.txt")
    assert code == 0, out
    assert "replaced 1" in out and "removed 1" in out
    assert imports(venv, "alpha") == "2.0"
    names = sorted(p.name for p in site_packages(venv).iterdir())
    assert not any(n.startswith(("extra_thing", "alpha-1.0")) for n in names), names


# -- integrity: the environment is untouched, or gets only allowed bytes ------------------


def test_tampered_file_on_the_index_is_refused_and_the_env_untouched(
    sync: Sync, venv: Path, index_server: IndexServer
) -> None:
    alpha = build_wheel(index_server.root, "alpha", "1.0")
    beta = build_wheel(index_server.root, "beta", "1.0")
    write(Path("requirements.txt"), lock_for(alpha, beta))
    index_server.tampered[alpha.name] = b"not the wheel"
    index_server.metadata = False
    before = snapshot(venv)
    code, _, err = sync("requirements.txt")
    assert code == 3
    assert alpha.name in err
    assert snapshot(venv) == before


def test_lying_index_falls_back_to_the_genuine_allowed_file(
    sync: Sync, venv: Path, index_server: IndexServer
) -> None:
    """EC44: the best wheel's bytes are tampered (its advertised hash is genuine); the other
    allowed wheel of the same version is downloaded, verified and installed."""
    best = build_wheel(index_server.root, "alpha", "1.0", tag=f"{PY_TAG}-none-any")
    other = build_wheel(index_server.root, "alpha", "1.0", tag="py3-none-any")
    write(
        Path("requirements.txt"),
        f"alpha==1.0 --hash=sha256:{sha256_of(best)} --hash=sha256:{sha256_of(other)}\n",
    )
    index_server.tampered[best.name] = other.read_bytes()[:-10] + b"0123456789"
    code, _out, err = sync("requirements.txt")
    assert code == 0, err
    assert best.name in err  # the user is told
    provenance = site_packages(venv) / "alpha-1.0.dist-info" / PROVENANCE_FILE
    assert json.loads(provenance.read_text())["archive"] == other.name


def test_tampered_cache_entry_is_never_installed(
    sync: Sync, venv: Path, cache: Path, index_server: IndexServer, tmp_path: Path
) -> None:
    alpha = build_wheel(index_server.root, "alpha", "1.0")
    write(Path("requirements.txt"), lock_for(alpha))
    assert sync("requirements.txt")[0] == 0
    (cached,) = cache.rglob(alpha.name)
    cached.write_bytes(b"evil bytes")
    second = make_venv(tmp_path / "second")
    code, _, err = sync("requirements.txt", target=second)
    assert code == 0, err
    assert imports(second, "alpha") == "1.0"
    assert cached.read_bytes() == alpha.read_bytes()  # fetched again and cached whole


def test_warm_sync_reads_no_index_page(
    sync: Sync, cache: Path, index_server: IndexServer, tmp_path: Path
) -> None:
    alpha = build_wheel(index_server.root, "alpha", "1.0")
    write(Path("requirements.txt"), lock_for(alpha))
    assert sync("requirements.txt")[0] == 0
    index_server.requests.clear()
    second = make_venv(tmp_path / "second")
    assert sync("requirements.txt", target=second)[0] == 0
    assert index_server.requests == []
    third = make_venv(tmp_path / "third")
    assert sync("requirements.txt", "--offline", target=third)[0] == 0


def test_offline_without_the_archive_cached_fails_clearly(
    sync: Sync, venv: Path, index_server: IndexServer
) -> None:
    alpha = build_wheel(index_server.root, "alpha", "1.0")
    write(Path("requirements.txt"), lock_for(alpha))
    before = snapshot(venv)
    code, _, err = sync("requirements.txt", "--offline")
    assert code == 4
    assert "alpha" in err and "--offline" in err
    assert snapshot(venv) == before


# -- uninstall safety -----------------------------------------------------------------------


def test_record_pointing_outside_the_env_never_deletes_outside(
    sync: Sync, venv: Path, index_server: IndexServer, tmp_path: Path
) -> None:
    """EC87: a RECORD row that leaves the environment is skipped with a warning."""
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    info = site_packages(venv) / "hostile-1.0.dist-info"
    write(info / "METADATA", "Metadata-Version: 2.1\nName: hostile\nVersion: 1.0\n")
    rows = [f"{info.name}/METADATA,,", f"{os.path.relpath(outside, info.parent)},,", f"{outside},,"]
    write(info / "RECORD", "\n".join(rows) + "\n")
    alpha = build_wheel(index_server.root, "alpha", "1.0")
    write(Path("requirements.txt"), lock_for(alpha))
    code, _out, err = sync("requirements.txt")
    assert code == 0, err
    assert outside.read_text() == "precious"
    assert not info.exists()
    assert "outside" in err


# -- transaction: failures roll back, killed runs are recovered, runs take turns -----------


def test_failure_mid_install_rolls_back(
    venv: Path, cache: Path, index_server: IndexServer, workdir: Path
) -> None:
    old = build_wheel(index_server.root, "alpha", "1.0")
    new = build_wheel(index_server.root, "alpha", "2.0", files=MANY_FILES)
    write(Path("requirements.txt"), lock_for(old))
    assert subprocess_sync(venv, cache, index_server).wait() == 0
    before = snapshot(venv)
    write(Path("requirements.txt"), lock_for(new))
    run = subprocess_sync(
        venv, cache, index_server, env={"PIP_HASHSYNC_FAULT": "fail-after-writes:3"}
    )
    _, err = run.communicate()
    assert run.returncode == 5, err
    assert "rolled back" in err
    assert snapshot(venv) == before


def test_a_killed_run_is_recovered_by_the_next_run(
    venv: Path, cache: Path, index_server: IndexServer, workdir: Path
) -> None:
    old = build_wheel(index_server.root, "alpha", "1.0")
    new = build_wheel(index_server.root, "alpha", "2.0", files=MANY_FILES)
    write(Path("requirements.txt"), lock_for(old))
    assert subprocess_sync(venv, cache, index_server).wait() == 0
    write(Path("requirements.txt"), lock_for(new))
    run = subprocess_sync(
        venv, cache, index_server, env={"PIP_HASHSYNC_FAULT": "pause-after-writes:3"}
    )
    _wait_for_writes(venv, run)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()

    again = subprocess_sync(venv, cache, index_server)
    _out, err = again.communicate()
    assert again.returncode == 0, err
    assert "interrupted" in err
    assert imports(venv, "alpha") == "2.0"
    assert not (site_packages(venv) / "alpha-1.0.dist-info").exists()


def _wait_for_writes(venv: Path, run: subprocess.Popen[str]) -> None:
    """Until the paused run has journaled its writes (it then sleeps, to be killed)."""
    journal = venv / ".pip-hashsync-txn" / "journal.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and run.poll() is None:
        if journal.exists() and journal.read_text().count('"op": "write"') >= 3:
            time.sleep(0.2)
            return
        time.sleep(0.02)
    pytest.fail(f"the run did not pause (exit {run.poll()})")


def test_two_syncs_at_once_take_turns(
    venv: Path, cache: Path, index_server: IndexServer, workdir: Path
) -> None:
    wheels = [build_wheel(index_server.root, f"pkg{i}", "1.0") for i in range(6)]
    write(Path("requirements.txt"), lock_for(*wheels))
    runs = [subprocess_sync(venv, cache, index_server) for _ in range(2)]
    results = [r.communicate() for r in runs]
    assert [r.returncode for r in runs] == [0, 0], results
    for i in range(6):
        assert imports(venv, f"pkg{i}") == "1.0"


# -- install ----------------------------------------------------------------------------


def test_install_resolves_dependencies_and_never_removes(
    sync: Sync, venv: Path, index_server: IndexServer
) -> None:
    build_wheel(index_server.root, "alpha", "1.0", requires=["beta>=1"])
    build_wheel(index_server.root, "beta", "1.0")
    build_wheel(index_server.root, "beta", "2.0")
    build_wheel(index_server.root, "gamma", "1.0")
    assert sync("gamma", command="install")[0] == 0
    code, out, err = sync("alpha", command="install")
    assert code == 0, err
    assert imports(venv, "beta") == "2.0" and imports(venv, "gamma") == "1.0"
    code, out, err = sync("alpha", "--no-deps", "--force-reinstall", command="install")
    assert code == 0, err
    assert "reinstalled 1" in out


def test_no_op_check_still_sees_an_extra_whose_dependency_is_missing(
    sync: Sync, index_server: IndexServer
) -> None:
    """The fast path reads installed Requires-Dist: a newly requested extra needing an
    unlisted project is not "already synced" but a gap, reported by the full path."""
    alpha = build_wheel(index_server.root, "alpha", "1.0", extras={"x": ["gamma"]})
    build_wheel(index_server.root, "gamma", "1.0")
    write(Path("requirements.txt"), lock_for(alpha))
    assert sync("requirements.txt")[0] == 0
    write(Path("requirements.txt"), lock_for(alpha).replace("alpha==", "alpha[x]=="))
    code, out, err = sync("requirements.txt")
    assert code == 2, out + err
    assert "gamma" in err and "nothing to do" not in out


def test_no_op_check_judges_each_dependency_marker_on_the_target(
    sync: Sync, index_server: IndexServer
) -> None:
    """Markers recur across projects and the fast path judges each once: a false one keeps
    its unlisted project out, a true one on an unlisted project is a gap."""
    never = 'gamma; python_version < "3"'
    alpha = build_wheel(index_server.root, "alpha", "1.0", requires=[never])
    beta = build_wheel(
        index_server.root, "beta", "1.0", requires=[never, 'delta; python_version >= "3"']
    )
    delta = build_wheel(index_server.root, "delta", "1.0")
    write(Path("requirements.txt"), lock_for(alpha, beta, delta))
    assert sync("requirements.txt")[0] == 0
    assert sync("requirements.txt")[1].startswith("nothing to do: 3")
    write(Path("requirements.txt"), lock_for(alpha, beta))
    code, out, err = sync("requirements.txt")
    assert code == 2 and "delta" in err and "nothing to do" not in out


def test_changing_one_pin_reads_no_other_archive(
    sync: Sync, venv: Path, cache: Path, index_server: IndexServer
) -> None:
    """Distributions installed from an allowed archive stand for themselves: a sync that
    changes one pin re-reads neither the index nor the cached archives of the others."""
    alpha = build_wheel(index_server.root, "alpha", "1.0")
    beta1 = build_wheel(index_server.root, "beta", "1.0")
    beta2 = build_wheel(index_server.root, "beta", "2.0")
    write(Path("requirements.txt"), lock_for(alpha, beta1))
    assert sync("requirements.txt")[0] == 0
    (cached_alpha,) = cache.rglob(alpha.name)
    cached_alpha.write_bytes(b"would fail any check")  # proves it is not read
    index_server.requests.clear()
    write(Path("requirements.txt"), lock_for(alpha, beta2))
    code, out, err = sync("requirements.txt")
    assert code == 0, err
    assert "replaced 1, kept 1" in out
    assert all("alpha" not in path for _, path in index_server.requests)
    assert imports(venv, "beta") == "2.0"


def test_a_repeated_no_op_answers_from_the_receipt_until_something_changes(
    sync: Sync, venv: Path, index_server: IndexServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    alpha = build_wheel(index_server.root, "alpha", "1.0", requires=["beta"])
    beta = build_wheel(index_server.root, "beta", "2.0")
    write(Path("requirements.txt"), lock_for(alpha, beta))
    assert sync("requirements.txt")[0] == 0
    time.sleep(0.1)  # older than a file-time tick: a receipt may be written
    assert sync("requirements.txt")[1].startswith("nothing to do")
    assert (venv / RECEIPT_FILE).is_file()

    def full_check(*args: object) -> None:
        raise AssertionError("the receipt should have answered")

    with monkeypatch.context() as patched:
        patched.setattr("pip_hashsync.commands.fastpath.synced_count", full_check)
        assert sync("requirements.txt")[1].startswith("nothing to do: 2 distribution(s)")

    shutil.rmtree(site_packages(venv) / "beta-2.0.dist-info")  # as another tool would
    code, out, _ = sync("requirements.txt")
    assert code == 0 and "installed 1" in out

    time.sleep(0.1)
    assert sync("requirements.txt")[1].startswith("nothing to do")
    write(Path("requirements.txt"), lock_for(alpha, beta, extra="# a comment changes the bytes"))
    with monkeypatch.context() as patched:
        patched.setattr("pip_hashsync.commands.fastpath.synced_count", lambda *args: None)
        code, out, _ = sync("requirements.txt")
    assert not out.startswith("nothing to do")  # the full path ran: it has nothing to change
    assert code == 0 and "kept 2" in out


# -- pip's configuration decides the run as the command line does ---------------------------


def test_require_hashes_from_pip_configuration_is_never_bypassed(
    sync: Sync, venv: Path, index_server: IndexServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A synced venv, then ``require-hashes`` switched on in the venv's own ``pip.conf``:
    neither the receipt nor the no-op check may answer "synced" for unhashed lines.

    Configuration files are read here (``PIP_CONFIG_FILE`` names one), so that one unsets
    what a machine's global file could add."""
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(venv.parent / "xdg-dirs"))
    neutral = "extra-index-url =\nfind-links =\ncert =\n"
    named = write(venv.parent / "named.conf", f"[global]\n{neutral}[install]\n{neutral}")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(named))
    build_wheel(index_server.root, "alpha", "1.0")
    write(Path("requirements.txt"), "alpha==1.0\n")
    assert sync("requirements.txt")[0] == 0
    time.sleep(0.1)  # older than a file-time tick: a receipt may be written
    assert sync("requirements.txt")[1].startswith("nothing to do")
    assert (venv / RECEIPT_FILE).is_file()

    (venv / "pip.conf").write_text("[install]\nrequire-hashes = true\n")
    before = snapshot(venv)
    code, out, err = sync("requirements.txt")
    assert code == 2 and not out.startswith("nothing to do")
    assert "alpha==1.0" in err and f"{venv / 'pip.conf'} [install]" in err
    assert snapshot(venv) == before

    (venv / "pip.conf").unlink()
    monkeypatch.setenv("PIP_REQUIRE_HASHES", "1")
    code, _, err = sync("requirements.txt")
    assert code == 2 and "PIP_REQUIRE_HASHES" in err
    assert sync("requirements.txt", "--isolated")[0] == 0  # pip's --isolated: no PIP_*


def test_configured_constraint_files_apply_and_the_command_line_adds_to_them(
    sync: Sync, venv: Path, index_server: IndexServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for version in ("1.0", "2.0"):
        build_wheel(index_server.root, "alpha", version)
        build_wheel(index_server.root, "beta", version)
    write(Path("requirements.txt"), "alpha\nbeta\n")
    write(Path("alpha-pin.txt"), "alpha==1.0\n")
    write(Path("beta-pin.txt"), "beta==1.0\n")
    monkeypatch.setenv("PIP_CONSTRAINT", "alpha-pin.txt")
    code, _, err = sync("requirements.txt", "-c", "beta-pin.txt")
    assert code == 0, err
    assert imports(venv, "alpha") == "1.0" and imports(venv, "beta") == "1.0"


def test_cache_settings_from_pip_configuration(
    venv: Path, index_server: IndexServer, workdir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, isolated_env: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """pip's ``cache-dir`` holds our cache in a folder of its own; ``no-cache-dir`` keeps
    the run from writing any cache, as with ``--no-cache``."""
    build_wheel(index_server.root, "alpha", "1.0")
    write(Path("requirements.txt"), "alpha==1.0\n")
    argv = ["sync", "requirements.txt", "--venv", str(venv), "-i", index_server.index_url]
    default_cache = isolated_env / "xdg_cache_home" / "pip-hashsync"

    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    assert main(argv) == 0 and main([*argv, "--check"]) == 0
    assert not default_cache.exists()

    monkeypatch.delenv("PIP_NO_CACHE_DIR")
    monkeypatch.setenv("PIP_CACHE_DIR", str(tmp_path / "pip-cache"))
    other = make_venv(tmp_path / "other")
    argv[argv.index(str(venv))] = str(other)
    assert main(argv) == 0
    archives = tmp_path / "pip-cache" / "pip-hashsync" / "archives"
    assert [path.name for path in archives.rglob("*") if path.is_file()]
    assert not default_cache.exists()
    assert "Traceback" not in "".join(capsys.readouterr())


def standalone_python(root: Path) -> Path:
    """An interpreter outside any venv, in a prefix of our own: a copy of the base binary
    and a standard library of links to the real one, so a test may mark it as externally
    managed (PEP 668) without touching the machine's Python."""
    if os.name == "nt" or sys.platform == "darwin":
        pytest.skip("the prefix layout built here is the Linux one")
    stdlib = Path(sysconfig.get_path("stdlib"))
    own_stdlib = root / "lib" / stdlib.name
    (own_stdlib / "site-packages").mkdir(parents=True)
    for entry in stdlib.iterdir():
        if entry.name != "site-packages":
            (own_stdlib / entry.name).symlink_to(entry)
    python = root / "bin" / "python3"
    python.parent.mkdir()
    shutil.copy2(os.path.realpath(getattr(sys, "_base_executable", sys.executable)), python)
    probe = subprocess.run(
        [str(python), "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True
    )
    if probe.returncode or probe.stdout.strip() != str(root):
        pytest.skip(f"a copied interpreter does not run from its own prefix here: {probe}")
    return python


def test_an_externally_managed_python_is_refused_unless_configured_otherwise(
    tmp_path: Path, index_server: IndexServer, workdir: Path, cache: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """PEP 668 (EC83): refused with the marker's own text and nothing written, until
    ``break-system-packages`` is set, here from pip's configuration."""
    python = standalone_python(tmp_path / "system")
    stdlib = next((tmp_path / "system" / "lib").iterdir())
    (stdlib / "EXTERNALLY-MANAGED").write_text(
        "[externally-managed]\nError=Use the distribution's packages instead.\n"
    )
    build_wheel(index_server.root, "alpha", "1.0")
    build_wheel(index_server.root, "beta", "2.0")
    write(Path("requirements.txt"), lock_for(*sorted(index_server.root.glob("*.whl"))))
    argv = ["sync", "requirements.txt", "--python", str(python), "-i", index_server.index_url]
    argv += ["--cache-dir", str(cache)]

    assert main(argv) == 2
    assert "Use the distribution's packages instead." in capsys.readouterr().err
    assert list((stdlib / "site-packages").iterdir()) == []

    monkeypatch.setenv("PIP_BREAK_SYSTEM_PACKAGES", "1")
    assert main(argv) == 0, capsys.readouterr().err
    installed = sorted(path.name for path in (stdlib / "site-packages").iterdir())
    assert installed == ["alpha", "alpha-1.0.dist-info", "beta", "beta-2.0.dist-info"]
