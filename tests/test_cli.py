"""The command line: --version, --help, exit codes, JSON, and no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import SHA_A, write

from pip_hashsync import __version__
from pip_hashsync.cli import main

EXAMPLE = Path(__file__).parent.parent / "examples" / "requirements.txt"


def test_module_entry_point_prints_the_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pip_hashsync", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert out.stdout.strip() == f"pip-hashsync {__version__}"


@pytest.mark.parametrize("argv", [["--help"], ["lint", "--help"]])
def test_help_on_every_command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "usage: pip-hashsync" in capsys.readouterr().out


def test_lint_passes_on_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(EXAMPLE)]) == 0
    assert "hash-checking mode on" in capsys.readouterr().out


def test_lint_json_has_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--format", "json", str(EXAMPLE)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"hash_mode", "requirements", "constraints", "options", "problems"} <= set(data)
    assert data["hash_mode"] is True and data["problems"] == []
    first = data["requirements"][0]
    keys = {"name", "specifier", "extras", "marker", "url", "editable", "hashes", "source"}
    assert keys <= set(first)
    assert first["source"] == f"{EXAMPLE}:3"
    assert all(h.startswith("sha256:") for h in first["hashes"])


def test_lint_reports_every_problem_with_file_and_line(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        workdir / "r.txt",
        f"""
        six==1.17.0 --hash=sha256:{SHA_A}
        idna==3.10
        attrs>=24
        -e git+https://h.example/r.git#egg=r
        """,
    )
    assert main(["lint", "r.txt"]) == 2
    err = capsys.readouterr().err
    assert "r.txt:2: idna==3.10 has no --hash" in err
    assert "r.txt:3: attrs>=24 is not pinned" in err
    assert "r.txt:4: The editable requirement" in err
    assert "In --require-hashes mode, all requirements must have their versions pinned" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "content", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"\xff\xfe\xfd not text \xc0"]
)
def test_lint_never_shows_a_traceback_for_garbage(
    workdir: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    (workdir / "r.txt").write_bytes(content)
    assert main(["lint", "r.txt", "missing.txt", "."]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "r.txt" in err and "missing.txt" in err and "it is a directory" in err


def test_mutually_exclusive_switches_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--require-hashes", "--no-require-hashes", str(EXAMPLE)]) == 2
    assert "mutually exclusive" in capsys.readouterr().err


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "pip-hashsync"
    if not script.exists():
        pytest.skip("pip-hashsync is not installed as a script in this environment")
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout


def test_build_options_reach_the_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """sync and install (and their --dry-run) carry the build options: pip's go through the
    settings, --build-hashes and --no-build on the request."""
    from pip_hashsync.cli import runs
    from pip_hashsync.settings.request import request_settings

    seen = []
    monkeypatch.setattr(runs, "print_plan", lambda request, output: seen.append(request) or 0)
    argv = ["--dry-run", "--build-constraint", "b1.txt", "--build-constraint", "b2.txt"]
    argv += ["-C", "k=v", "--config-settings", "k=w", "--build-hashes", "verify", "--no-build"]
    assert main(["sync", "r.txt", *argv]) == 0
    assert main(["install", "six", *argv]) == 0
    for request in seen:
        assert request.pip_options["build-constraint"] == ["b1.txt", "b2.txt"]
        assert request.pip_options["config-settings"] == ["k=v", "k=w"]
        assert (request.build_hashes, request.no_build) == ("verify", True)
        settings = request_settings(request, None)[0]
        assert settings.build_constraints == ("b1.txt", "b2.txt")
        assert settings.config_settings == (("k", "v"), ("k", "w"))
    assert main(["sync", "r.txt", "--dry-run"]) == 0
    assert (seen[-1].build_hashes, seen[-1].no_build) == ("require", False)
    assert "build-constraint" not in seen[-1].pip_options


@pytest.mark.parametrize("argv", [["-C", "novalue"], ["--build-hashes", "never"]])
def test_bad_build_options_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["sync", "r.txt", "--dry-run", *argv])
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_every_build_option_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("sync", "install"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        for option in ("--build-constraint FILE", "--build-hashes", "--no-build", "-C KEY=VALUE"):
            assert option in text
        assert "every build dependency must be pinned and hashed" in text


def test_a_reader_that_stops_early_is_no_internal_error(tmp_path: Path) -> None:
    """``lint --format json | head -c 1``: the pipe closes before the report is written;
    that is the reader's choice, not a bug, so no "internal error" and no traceback."""
    read, write_end = os.pipe()
    os.close(read)  # nobody will read: the first write breaks the pipe
    out = subprocess.run(
        [sys.executable, "-m", "pip_hashsync", "lint", "--format", "json", str(EXAMPLE)],
        stdout=write_end,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(write_end)
    assert "internal error" not in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert out.returncode == 141


def test_lint_each_reads_every_file_on_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pre-commit passes every matching file to one run: two locks that are never installed
    together (one per Python) pin different versions, which is no conflict with ``--each``;
    a file's own problem still fails the run, named with its file and line."""
    py310 = write(tmp_path / "requirements-py310.txt", f"six==1.16.0 --hash=sha256:{SHA_A}\n")
    py311 = write(tmp_path / "requirements-py311.txt", f"six==1.17.0 --hash=sha256:{SHA_A}\n")
    assert main(["lint", str(py310), str(py311)]) == 2
    capsys.readouterr()

    assert main(["lint", "--each", str(py310), str(py311)]) == 0
    out = capsys.readouterr().out
    assert f"{py310}: 1 requirement(s)" in out and f"{py311}: 1 requirement(s)" in out

    unpinned = write(tmp_path / "requirements-docs.txt", f"six --hash=sha256:{SHA_A}\n")
    assert main(["lint", "--each", str(py310), str(unpinned)]) == 2
    assert f"{unpinned}:1" in capsys.readouterr().err
    assert main(["lint", "--each", "--format", "json", str(py310), str(unpinned)]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["exit_code"] == 2 and "requirements" not in report
    assert [p["source"] for p in report["problems"]] == [f"{unpinned}:1"]
