"""What a terminal sees: the status line on stderr and the colour of the change lines.

The CLI runs in a child process whose stdout and stderr are a pseudo-terminal (the ``pty``
module), as a user's shell gives them, against the loopback index; its whole output is read
back, escape codes included. The same run into a pipe must carry none of it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from distbuilder import build_sdist_project, build_wheel, sha256_of
from helpers import write
from indexserver import IndexServer

ESCAPE = "\x1b"


def run_in_pty(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``argv`` with a pseudo-terminal as stdin, stdout and stderr -> (exit code, output)."""
    import pty

    leader, follower = pty.openpty()
    child = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed its side
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return child.wait(), b"".join(chunks).decode()


def sync_argv(tmp_path: Path, index: IndexServer) -> list[str]:
    return [
        sys.executable, "-m", "pip_hashsync", "sync", "requirements.txt",
        "--venv", str(tmp_path / "venv"), "-i", index.index_url,
        "--cache-dir", str(tmp_path / "cache"), "--no-input",
    ]  # fmt: skip


def terminal_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM", "COLUMNS")}
    return {**env, "TERM": "xterm-256color", **extra}


def on_screen(output: str) -> list[str]:
    """The lines a terminal shows once ``output`` is written: what follows each ``\\r``."""
    return [line.split("\r")[-1] for line in output.split("\r\n")]


def status_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if re.match(r"(resolve|download|build|install) ", line)]


def write_lock(*archives: Path) -> None:
    lines = [f"{a.name.split('-')[0]}=={a.name.split('-')[1].removesuffix('.tar.gz')} "
             f"--hash=sha256:{sha256_of(a)}" for a in archives]  # fmt: skip
    write(Path("requirements.txt"), "\n".join(lines) + "\n")


@pytest.fixture
def lock(index_server: IndexServer, workdir: Path) -> list[Path]:
    """``requirements.txt`` pinning three wheels (one with a hundred files) with their hashes."""
    many = {f"gamma/m{i}.py": "x = 1\n" * 50 for i in range(100)}
    wheels = [
        build_wheel(index_server.root, "alpha", "1.0", requires=["beta"]),
        build_wheel(index_server.root, "beta", "2.0"),
        build_wheel(index_server.root, "gamma", "3.0", files=many),
    ]
    write_lock(*wheels)
    return wheels


def test_progress_reaches_every_file_downloaded_and_installed(
    lock: list[Path], tmp_path: Path, index_server: IndexServer
) -> None:
    code, output = run_in_pty(sync_argv(tmp_path, index_server), terminal_env())
    assert code == 0, output
    assert "resolve" in output
    # Every file counted, and the bytes received reach the bytes the index sent.
    downloaded = re.findall(r"download (\d+)/(\d+) files, ([\d.]+ k?B)/([\d.]+ k?B)", output)
    assert ("3", "3") in [(done, total) for done, total, _, _ in downloaded], output
    assert any(received == size for done, _, received, size in downloaded if done == "3")
    assert "install 3/3" in output
    # The status line is gone before the report is printed.
    assert not status_lines(on_screen(output)), output


def test_change_lines_have_their_sign_coloured_on_a_terminal(
    lock: list[Path], tmp_path: Path, index_server: IndexServer
) -> None:
    code, output = run_in_pty(sync_argv(tmp_path, index_server), terminal_env())
    assert code == 0, output
    assert " \x1b[32m+\x1b[39m gamma==3.0" in output, output
    newer = build_wheel(index_server.root, "alpha", "1.1", requires=["beta"])
    write_lock(newer, lock[1])
    code, output = run_in_pty(sync_argv(tmp_path, index_server), terminal_env())
    assert code == 0, output
    assert " \x1b[33m~\x1b[39m alpha==1.1" in output, output
    assert " \x1b[31m-\x1b[39m gamma==3.0" in output, output


def test_sdists_built_are_counted(
    lock: list[Path], tmp_path: Path, index_server: IndexServer
) -> None:
    solo = build_sdist_project(index_server.root, "solo", "1.0")
    delta = build_sdist_project(index_server.root, "delta", "1.0")
    write_lock(*lock, solo, delta)
    code, output = run_in_pty(sync_argv(tmp_path, index_server), terminal_env())
    assert code == 0, output
    assert "download 5/5 files" in output and "build 2/2" in output, output
    assert "install 5/5" in output, output


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"TERM": "dumb"}], ids=["NO_COLOR", "dumb"])
def test_no_escape_codes_with_no_color_or_a_dumb_terminal(
    env: dict[str, str], lock: list[Path], tmp_path: Path, index_server: IndexServer
) -> None:
    code, output = run_in_pty(sync_argv(tmp_path, index_server), terminal_env(**env))
    assert code == 0, output
    assert ESCAPE not in output
    assert "installed 3" in output
    if env.get("TERM") == "dumb":  # a line redrawn in place needs a terminal that can
        assert "download" not in output and "install 3/3" not in output


def test_nothing_but_the_report_in_a_pipe(
    lock: list[Path], tmp_path: Path, index_server: IndexServer
) -> None:
    done = subprocess.run(
        sync_argv(tmp_path, index_server), capture_output=True, text=True, env=terminal_env()
    )
    assert done.returncode == 0, done.stderr
    assert ESCAPE not in done.stdout + done.stderr
    assert "\r" not in done.stdout + done.stderr
    assert done.stderr == ""


def test_quiet_shows_no_progress_on_a_terminal(
    lock: list[Path], tmp_path: Path, index_server: IndexServer
) -> None:
    code, output = run_in_pty([*sync_argv(tmp_path, index_server), "-q"], terminal_env())
    assert code == 0, output
    assert "download" not in output and "install 3/3" not in output


@pytest.mark.parametrize("break_it", ["hash", "bytes"])
def test_a_failure_is_reported_without_the_status_line(
    break_it: str, lock: list[Path], tmp_path: Path, index_server: IndexServer
) -> None:
    if break_it == "hash":  # nothing matches: told after planning
        Path("requirements.txt").write_text(
            Path("requirements.txt").read_text().replace(sha256_of(lock[2]), "0" * 64)
        )
    else:  # bytes that fail their hash: raised during the download phase
        index_server.tampered[lock[2].name] = b"not the wheel"
    code, output = run_in_pty(sync_argv(tmp_path, index_server), terminal_env())
    assert code == 3, output
    shown = on_screen(output)
    assert not status_lines(shown), output
    assert any(line.startswith(("ERROR", "No distribution matched")) for line in shown), output


def test_archives_from_the_cache_are_counted_too(
    lock: list[Path], tmp_path: Path, index_server: IndexServer
) -> None:
    first = subprocess.run(sync_argv(tmp_path, index_server), capture_output=True, check=False)
    assert first.returncode == 0, first.stderr
    argv = sync_argv(tmp_path, index_server)
    argv[argv.index("--venv") + 1] = str(tmp_path / "second")
    code, output = run_in_pty(argv, terminal_env())
    assert code == 0, output
    assert "download 3/3 files, 0 B" in output and "install 3/3" in output, output
