"""Credentials are never printed (design policy 12): whatever a run prints — lint's text and
JSON, the plan of ``sync --dry-run``, syntax errors quoting a line, a line whose ``${VAR}``
was expanded, error messages — shows a URL's password as ``****``, as pip shows it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from distbuilder import build_wheel, sha256_of
from helpers import write
from indexserver import IndexServer

from pip_hashsync.cli import main
from pip_hashsync.urls import redact, redact_text

SECRET = "s3cr3t-token"

Run = Callable[..., tuple[int, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], workdir: Path) -> Run:
    """``run(*argv)`` in-process -> (exit code, stdout + stderr), checked for a traceback."""

    def run(*argv: str) -> tuple[int, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out + err

    return run


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    """``${TOKEN}`` in a line expands to the secret."""
    monkeypatch.setenv("TOKEN", SECRET)
    return "${TOKEN}"


def test_redact_text_hides_every_url_password_in_a_message() -> None:
    text = (
        f"Invalid requirement: beta @ https://u:{SECRET}@host/b.whl --x "
        f"('git+https://{SECRET}@host/repo.git', http://h/a@b)"
    )
    assert redact_text(text) == (
        "Invalid requirement: beta @ https://u:****@host/b.whl --x "
        "('git+https://****@host/repo.git', http://h/a@b)"
    )


def test_a_valid_private_index_file_prints_no_password(
    run: Run,
    token: str,
    index_server: IndexServer,
    second_index_server: IndexServer,
    tmp_path: Path,
) -> None:
    for server in (index_server, second_index_server):
        server.auth = ("user", SECRET)
    alpha = build_wheel(index_server.root, "alpha", "1.0")
    private = index_server.url.replace("://", f"://user:{SECRET}@")
    second = second_index_server.url.replace("://", f"://user:{token}@")
    write(
        Path("requirements.txt"),
        f"""
        --index-url {private}/simple
        --extra-index-url {second}/simple
        -f {private}/simple/alpha/
        alpha==1.0 --hash=sha256:{sha256_of(alpha)}
        """,
    )
    venv = str(tmp_path / "venv")
    outputs = [
        run("lint", "requirements.txt"),
        run("lint", "--format", "json", "requirements.txt"),
        run("sync", "--dry-run", "requirements.txt", "--venv", venv, "--no-input"),
        run("sync", "--dry-run", "--format", "json", "requirements.txt", "--venv", venv),
    ]
    for code, output in outputs:
        assert code == 0
        assert SECRET not in output
    options = json.loads(outputs[1][1])["options"]
    assert options["index_url"] == redact(f"{private}/simple")
    assert options["extra_index_urls"] == [redact(f"{second}/simple")]
    assert options["find_links"] == [redact(f"{private}/simple/alpha/")]
    assert "user:****@" in options["index_url"]
    assert json.loads(outputs[3][1])["actions"][0]["action"] == "install"


def test_lines_quoted_in_errors_print_no_password(run: Run, token: str, tmp_path: Path) -> None:
    write(
        Path("requirements.txt"),
        f"""
        beta @ https://u:{SECRET}@files.example/beta-1.0-py3-none-any.whl --bogus
        gamma @ https://u:{token}@files.example/gamma-1.0-py3-none-any.whl --nope
        https://u:{SECRET}@files.example/delta-1.0.tar.gz#egg=de!lta
        -e git+https://u:{SECRET}@files.example/repo.git
        -r https://u:{SECRET}@files.example/more.txt
        """,
    )
    venv = str(tmp_path / "venv")
    outputs = [
        run("lint", "requirements.txt"),
        run("lint", "--format", "json", "requirements.txt"),
        run("sync", "--dry-run", "requirements.txt", "--venv", venv),
        run("sync", "--dry-run", "--format", "json", "requirements.txt", "--venv", venv),
        run("sync", "requirements.txt", "--venv", venv),
    ]
    for code, output in outputs:
        assert code == 2
        assert SECRET not in output
        assert "u:****@files.example" in output  # the line is still shown, as pip shows URLs
