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

    sync = commands.add_parser(
        "sync",
        help="make an environment match requirements files exactly",
        description="Make the target environment match the requirements files exactly: "
        "install what is missing, change what differs, remove what is not listed. In "
        "hash-checking mode every byte installed must match a --hash of the files.",
    )
    sync.add_argument("files", nargs="+", metavar="FILE", help="requirements file(s)")
    sync.add_argument(
        "-c", "--constraint", action="append", default=[], metavar="FILE",
        help="constraints file (may be repeated)",
    )  # fmt: skip
    sync.add_argument(
        "--dry-run", action="store_true",
        help="print the plan (what would be installed, from which file, and why) and change "
        "nothing",
    )  # fmt: skip
    sync.add_argument("--format", choices=("text", "json"), default="text")
    target = sync.add_argument_group("target")
    target.add_argument("--python", metavar="PATH", help="interpreter of the target environment")
    target.add_argument("--venv", metavar="DIR", help="virtual environment to sync")
    target.add_argument(
        "--keep", action="append", default=[], metavar="NAME",
        help="never remove this project (adds to pip, pip-hashsync, setuptools, wheel)",
    )  # fmt: skip
    target.add_argument(
        "--trust-installed", action="store_true",
        help="accept installed distributions of the right version without a recorded hash",
    )  # fmt: skip
    target.add_argument(
        "--allow-empty", action="store_true",
        help="allow a sync that removes everything when no requirement applies",
    )  # fmt: skip
    _add_hash_mode_options(sync)
    _add_pip_options(sync)
    sync.set_defaults(run=_run_sync)
    return parser


#: pip's options (names and meaning as in pip) that the index, the network and file choice use.
_PIP_OPTIONS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("-i", "--index-url"), "store"),
    (("--extra-index-url",), "append"),
    (("--no-index",), "store_true"),
    (("-f", "--find-links"), "append"),
    (("--trusted-host",), "append"),
    (("--only-binary",), "append"),
    (("--no-binary",), "append"),
    (("--prefer-binary",), "store_true"),
    (("--pre",), "store_true"),
    (("--cert",), "store"),
    (("--client-cert",), "store"),
    (("--timeout", "--default-timeout"), "store"),
    (("--retries",), "store"),
    (("--proxy",), "store"),
    (("--keyring-provider",), "store"),
    (("--no-input",), "store_true"),
    (("--cache-dir",), "store"),
    (("--isolated",), "store_true"),
)


def _add_pip_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("pip options (as in pip and its configuration)")
    for names, action in _PIP_OPTIONS:
        group.add_argument(*names, action=action, default=None)


def _pip_options(args: argparse.Namespace) -> dict[str, object]:
    """The pip options the user gave, keyed by pip's long option name."""
    long_names = [next(n for n in names if n.startswith("--")) for names, _ in _PIP_OPTIONS]
    given: dict[str, object] = {}
    for name in [*long_names, "--require-hashes", "--no-require-hashes"]:
        value = getattr(args, name[2:].replace("-", "_"), None)
        if value not in (None, False, []):
            given[name[2:]] = value
    return given


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


def _run_sync(args: argparse.Namespace) -> int:
    from pip_hashsync.sync import SyncRequest, plan_sync

    if not args.dry_run:
        print(
            "ERROR: this version of pip-hashsync can only plan a sync: add --dry-run",
            file=sys.stderr,
        )
        return ExitCode.BAD_INPUT
    plan = plan_sync(
        SyncRequest(
            files=args.files,
            constraints=args.constraint,
            python=args.python,
            venv=args.venv,
            pip_options=_pip_options(args),
            keep=args.keep,
            trust_installed=args.trust_installed,
            allow_empty=args.allow_empty,
        )
    )
    if args.format == "json":
        print(json.dumps(plan.to_json(), indent=2))
        return plan.exit_code
    for warning in plan.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    for action in plan.actions:
        version = f" {action.version}" if action.version else ""
        source = f" ({action.file.filename} from {action.file.origin})" if action.file else ""
        print(f"would {action.action} {action.name}{version}{source}: {action.reason}")
    if plan.problems:
        print(render_problems(plan.problems), file=sys.stderr)
    return plan.exit_code


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
