"""The command line: parse arguments, call the library, render the result and exit.

No work happens here beyond that. Option names are pip's where pip has the option. Every
:class:`~pip_hashsync.errors.HashsyncError` ends as its message and exit code, never as a
traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from pip_hashsync import __version__
from pip_hashsync.errors import ExitCode, HashsyncError, render_problems


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pip-hashsync",
        description="Make a Python environment match a hashed requirements file, exactly.",
    )
    parser.add_argument("--version", action="version", version=f"pip-hashsync {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    lint = commands.add_parser(
        "lint",
        help="check requirements files offline (syntax and hash-mode rules)",
        description="Check requirements files without touching the network: pip's syntax, "
        "and in hash-checking mode that every line is pinned and hashed. Markers are not "
        "evaluated, so every line is checked. Exit 0 when valid, 2 with the problems.",
    )
    lint.add_argument("files", nargs="+", metavar="FILE", help="requirements file(s)")
    lint.add_argument(
        "-c", "--constraint", action="append", default=[], metavar="FILE",
        help="constraints file (may be repeated)",
    )  # fmt: skip
    _add_hash_mode_options(lint)
    lint.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default: text)"
    )
    lint.set_defaults(run=_run_lint)
    return parser


def _add_hash_mode_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--require-hashes", action="store_true",
        help="require a hash for every requirement (also switched on by any --hash)",
    )  # fmt: skip
    parser.add_argument(
        "--no-require-hashes", action="store_true",
        help="do not switch hash-checking mode on; verify only the hashes that are given",
    )  # fmt: skip


def _run_lint(args: argparse.Namespace) -> int:
    from pip_hashsync.lint import lint

    report = lint(
        args.files,
        args.constraint,
        require_hashes=args.require_hashes,
        no_require_hashes=args.no_require_hashes,
    )
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=2))
    else:
        for warning in report.warnings:
            print(f"WARNING: {warning}", file=sys.stderr)
        if report.problems:
            print(render_problems(report.problems), file=sys.stderr)
        print(report.summary())
    return ExitCode.OK if report.ok else ExitCode.BAD_INPUT


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except HashsyncError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("ERROR: interrupted", file=sys.stderr)
        return 130
