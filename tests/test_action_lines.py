"""The words of a sync (issue 18 item 3): each change line says what happens, as uv writes
it (`` + idna==3.19``, `` ~ idna 3.20 → 3.19``, `` - tomli==2.2.1``), the same in the real
run, ``--check`` and ``--dry-run``; only the summary line says whether it was done. The file
and the reason come with ``-v``, in a form that does not read like a failure. ``--dry-run``
shows the changes only (every action with ``-v``) and ends with the summary line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from distbuilder import build_wheel, sha256_of
from helpers import write
from indexserver import IndexServer

from pip_hashsync.cli import main


def lock(*wheels: Path) -> None:
    write(Path("requirements.txt"), "".join(
        f"{'=='.join(w.name.split('-')[:2])} --hash=sha256:{sha256_of(w)}\n" for w in wheels
    ))  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out.splitlines()


def split(lines: list[str]) -> tuple[list[str], str]:
    """(the action lines, the summary line without its time)."""
    *body, summary = lines
    assert re.search(r" in \d+\.\d\d s$", summary), lines
    return [line for line in body if not line.startswith("Using Python")], summary.rsplit(
        " in ", 1
    )[0]


@pytest.fixture
def changed(
    capsys: pytest.CaptureFixture[str], workdir: Path, dist_dir: Path, target_args: list[str]
) -> None:
    """alpha 1.0 and beta 2.0 installed; the file now wants alpha 2.0 and gamma 1.0."""
    alpha_1, alpha_2 = (build_wheel(dist_dir, "alpha", v) for v in ("1.0", "2.0"))
    beta, gamma = build_wheel(dist_dir, "beta", "2.0"), build_wheel(dist_dir, "gamma", "1.0")
    lock(alpha_1, beta)
    assert run(capsys, "sync", "requirements.txt", *target_args)[0] == 0
    lock(alpha_2, gamma)


def test_a_fresh_install_says_what_was_installed(
    capsys: pytest.CaptureFixture[str], workdir: Path, dist_dir: Path, target_args: list[str],
    venv: Path,
) -> None:  # fmt: skip
    lock(build_wheel(dist_dir, "alpha", "1.0"), build_wheel(dist_dir, "beta", "2.0"))
    code, lines = run(capsys, "sync", "requirements.txt", *target_args)
    assert code == 0
    assert lines[0].startswith("Using Python ") and lines[0].endswith(f"at: {venv}")
    assert split(lines) == ([" + alpha==1.0", " + beta==2.0"], "installed 2")


def test_the_same_lines_in_the_real_run_check_and_dry_run(
    capsys: pytest.CaptureFixture[str], changed: None, target_args: list[str]
) -> None:
    arrow = "→" if (sys.stdout.encoding or "").lower().startswith("utf") else "->"
    lines = [f" ~ alpha 1.0 {arrow} 2.0", " - beta==2.0", " + gamma==1.0"]
    would = "would install 1, replace 1, remove 1"
    code, check = run(capsys, "sync", "requirements.txt", "--check", *target_args)
    assert (code, split(check)) == (1, (lines, would))
    code, dry = run(capsys, "sync", "requirements.txt", "--dry-run", *target_args)
    assert (code, split(dry)) == (0, (lines, would))
    code, real = run(capsys, "sync", "requirements.txt", *target_args)
    assert (code, split(real)) == (0, (lines, "installed 1, replaced 1, removed 1"))
    assert check[0] == dry[0] == real[0]  # the target, named the same way


def test_verbose_adds_file_and_reason_and_the_kept_ones(
    capsys: pytest.CaptureFixture[str], workdir: Path, dist_dir: Path, target_args: list[str],
    index_server: IndexServer,
) -> None:  # fmt: skip
    alpha, beta = build_wheel(dist_dir, "alpha", "1.0"), build_wheel(dist_dir, "beta", "2.0")
    lock(alpha)
    assert run(capsys, "sync", "requirements.txt", *target_args)[0] == 0
    lock(alpha, beta)
    code, dry = run(capsys, "sync", "requirements.txt", "--dry-run", *target_args)
    assert (code, split(dry)) == (0, ([" + beta==2.0"], "would install 1, keep 1"))
    code, verbose = run(capsys, "sync", "requirements.txt", "--dry-run", "-v", *target_args)
    assert split(verbose)[0] == [
        f" = alpha==1.0 (installed from {alpha.name}, an allowed file)",
        f" + beta==2.0  {beta.name} from {index_server.index_url} (not installed)",
    ]
    code, real = run(capsys, "sync", "requirements.txt", "-v", *target_args)
    assert (code, split(real)) == (0, (split(verbose)[0], "installed 1, kept 1"))


def test_a_reinstall_and_nothing_to_change(
    capsys: pytest.CaptureFixture[str], workdir: Path, dist_dir: Path, target_args: list[str]
) -> None:
    lock(build_wheel(dist_dir, "alpha", "1.0"))
    assert run(capsys, "sync", "requirements.txt", *target_args)[0] == 0
    argv = ["install", "-r", "requirements.txt", "--force-reinstall", *target_args]
    code, lines = run(capsys, *argv)
    assert (code, split(lines)) == (0, ([" ~ alpha==1.0"], "reinstalled 1"))
    code, lines = run(capsys, "sync", "requirements.txt", "--dry-run", *target_args)
    assert (code, split(lines)) == (0, ([], "kept 1"))


def test_without_utf8_the_arrow_is_ascii(changed: None, target_args: list[str]) -> None:
    """A stdout that cannot write ``→`` (a Windows pipe's code page) gets ``->``."""
    done = subprocess.run(
        [sys.executable, "-m", "pip_hashsync", "sync", "requirements.txt", "--check", *target_args],
        capture_output=True, env={**os.environ, "PYTHONIOENCODING": "ascii"},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert b" ~ alpha 1.0 -> 2.0\n" in done.stdout
