"""The command line: parse arguments, call the library, render the result and exit.

No work happens here beyond that. Option names are pip's where pip has the option. Every
:class:`~pip_hashsync.errors.HashsyncError` ends as its message and exit code, never as a
traceback. Everything written to stdout and stderr has the credentials of its URLs hidden
(design policy 12), whatever the message quotes: a requirements line, an option, a server.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any, TextIO, cast

from pip_hashsync import __version__
from pip_hashsync.cli.parser import parse_arguments
from pip_hashsync.cli.report import emit, emit_error, wants_json
from pip_hashsync.cli.runs import HANDLERS
from pip_hashsync.errors import ExitCode, HashsyncError, Problem
from pip_hashsync.urls import redact_text

#: The exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
_INTERRUPTED = 130

#: The exit code when stdout's reader went away (128 + SIGPIPE, as shells report it).
_READER_GONE = 141


class _Redacting:
    """A text stream that passes what is written on with URL credentials hidden."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(redact_text(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    with (
        contextlib.redirect_stdout(cast(TextIO, _Redacting(sys.stdout))),
        contextlib.redirect_stderr(cast(TextIO, _Redacting(sys.stderr))),
    ):
        try:
            code = _run(argv)
            sys.stdout.flush()  # a pipe holds the output until here: it may break now
        except BrokenPipeError:  # the reader stopped early (``| head``): its choice, no bug
            _discard_stdout()
            return _READER_GONE
        return code


def _run(argv: Sequence[str] | None) -> int:
    args = parse_arguments(argv)
    args.started = time.monotonic()  # for the summary lines and the JSON report's timings
    try:
        with _telling_retries(getattr(args, "verbose", 0) > 0):
            return int(HANDLERS[args.command](args))
    except HashsyncError as exc:  # said on stderr in JSON mode too, for logs read by people
        print(f"ERROR: {exc}", file=sys.stderr)
        return emit_error(args, exc) if wants_json(args) else int(exc.exit_code)
    except KeyboardInterrupt as exc:  # a transaction's own says what state it left
        message = str(exc) or "interrupted"
        print(f"ERROR: {message}", file=sys.stderr)
        if wants_json(args):
            return emit(args, _INTERRUPTED, problems=[Problem("interrupted", message)])
        return _INTERRUPTED
    except BrokenPipeError:
        raise  # the reader went away: main() says so, not as a bug
    except Exception as exc:  # a bug: said in two lines, not a traceback
        _report_bug(exc)
        if wants_json(args):
            problem = Problem("internal", f"{type(exc).__name__}: {exc}")
            return emit(args, ExitCode.INTERNAL_ERROR, problems=[problem])
        return int(ExitCode.INTERNAL_ERROR)


def _discard_stdout() -> None:
    """Point stdout at the null device, so the interpreter's last flush of what could not
    be written raises no second error at exit."""
    import os

    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno())  # type: ignore[union-attr]


def _report_bug(exc: Exception) -> None:
    """An error no code path expected: what it is, where it was raised, and whom to tell."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (in {frames[-1].filename}:{frames[-1].lineno}, {frames[-1].name})" if frames else ""
    print(f"ERROR: internal error: {type(exc).__name__}: {exc}{where}", file=sys.stderr)
    print(
        f"This is a bug in pip-hashsync {__version__}; please report it with the command "
        "that was run and these two lines.",
        file=sys.stderr,
    )


@contextlib.contextmanager
def _telling_retries(verbose: bool) -> Iterator[None]:
    """With ``-v``, each network retry is printed (to stderr) as it happens."""
    if not verbose:
        yield
        return
    import logging

    from pip_hashsync.index.http import RETRY_LOG

    log = logging.getLogger(RETRY_LOG)
    handler = logging.StreamHandler(sys.stderr)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(logging.NOTSET)
        log.propagate = True
