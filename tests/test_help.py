"""The command line's help: a line for every option, and the nearest name for a typo."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from pip_hashsync.cli import main
from pip_hashsync.cli.parser import build_parser


def _parsers() -> dict[str, argparse.ArgumentParser]:
    """The top-level parser and each sub-command's, by the words that reach them."""
    top = build_parser()
    found = {"pip-hashsync": top}
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def test_every_option_of_every_command_has_help() -> None:
    missing = [
        f"{command} {'/'.join(action.option_strings) or action.metavar or action.dest}"
        for command, parser in _parsers().items()
        for action in parser._actions
        if not action.help or action.help == argparse.SUPPRESS
    ]
    assert missing == []


def test_help_promises_no_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    """``install`` says who uses it (tox, scripts) and promises nothing not yet there."""
    with pytest.raises(SystemExit):
        main(["install", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "tox and scripts use it" in text
    assert "plugin" not in text


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The stderr of a command line refused by the parser, which exits 2 (bad input)."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (["sync", "r.txt", "--vnev", "env"], "--vnev (did you mean --venv?)"),
        (["sync", "--pyhton=py3", "r.txt"], "--pyhton=py3 (did you mean --python?)"),
        (["hashes", "r.txt", "--chek"], "--chek (did you mean --check?)"),
        (["install", "six", "--extra-idnex-url", "http://127.0.0.1:9/"], "--extra-idnex-url (did you mean --extra-index-url?)"),  # noqa: E501
    ],
)  # fmt: skip
def test_a_mistyped_option_names_the_nearest(
    argv: list[str], suggestion: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _usage_error(argv, capsys)
    assert f"unrecognized arguments: {suggestion}" in err
    assert f"usage: pip-hashsync {argv[0]} " in err  # the sub-command's usage, not the top one


def test_an_option_like_none_is_refused_as_before(capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(["verify", "--zzzzzz", "stray"], capsys)
    assert err.rstrip().endswith("error: unrecognized arguments: --zzzzzz stray")


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (["snyc", "r.txt"], "did you mean 'sync'?"),
        (["veirfy"], "did you mean 'verify'?"),
        (["lint", "--format", "jsn", "r.txt"], "did you mean 'json'?"),
        (["sync", "--build-hashes=verfy", "r.txt"], "did you mean 'verify'?"),
    ],
)
def test_a_mistyped_command_or_choice_names_the_nearest(
    argv: list[str], suggestion: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _usage_error(argv, capsys)
    assert "invalid choice" in err
    assert err.rstrip().endswith(suggestion)


def test_the_suggestion_reaches_the_shell() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip_hashsync", "verify", "--vnev", "env"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "did you mean --venv?" in done.stderr
    assert "Traceback" not in done.stderr
