"""The command line: parse arguments, call the library, render the result and exit.

No work happens here beyond that. Option names are pip's where pip has the option. Every
:class:`~pip_hashsync.errors.HashsyncError` ends as its message and exit code, never as a
traceback. Everything written to stdout and stderr has the credentials of its URLs hidden
(design policy 12), whatever the message quotes: a requirements line, an option, a server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from pip_hashsync import __version__
from pip_hashsync.errors import ExitCode, HashsyncError, render_problems
from pip_hashsync.settings.request import SyncRequest
from pip_hashsync.urls import redact_text

if TYPE_CHECKING:
    from pip_hashsync.resolve.plan import Action


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
    _add_file_arguments(lint)
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
    _add_file_arguments(sync)
    sync.add_argument(
        "--dry-run", action="store_true",
        help="print the plan (what would be installed, from which file, and why) and change "
        "nothing",
    )  # fmt: skip
    sync.add_argument("--format", choices=("text", "json"), default="text")
    sync.add_argument(
        "--check", action="store_true",
        help="exit 1 and list the changes a sync would make, without making them",
    )  # fmt: skip
    _add_apply_options(sync)
    target = sync.add_argument_group("target")
    _add_target_options(
        target, "sync", "never remove this project (adds to pip, pip-hashsync, setuptools, wheel)"
    )
    target.add_argument(
        "--trust-installed", action="store_true",
        help="accept installed distributions of the right version without a recorded hash",
    )  # fmt: skip
    target.add_argument(
        "--allow-empty", action="store_true",
        help="allow a sync that removes everything when no requirement applies",
    )  # fmt: skip
    _add_hash_mode_options(sync)
    _add_build_options(sync)
    _add_pip_options(sync)
    sync.set_defaults(run=_run_sync)

    install = commands.add_parser(
        "install",
        help="install requirements like pip install, in hash-checking mode; never removes",
        description="Install requirements the way pip install does (resolving dependencies "
        "outside hash-checking mode), with the same hash checking, cache and transaction as "
        "sync. Nothing is ever removed. tox and scripts use it.",
    )
    install.add_argument("requirements", nargs="*", metavar="REQUIREMENT")
    install.add_argument(
        "-e", "--editable", action="append", default=[], metavar="PATH_OR_URL", dest="editables",
        help="install a local project folder (or a git URL) in editable mode (PEP 660)",
    )  # fmt: skip
    install.add_argument(
        "-r", "--requirement", action="append", default=[], metavar="FILE", dest="files",
        help="requirements file (may be repeated)",
    )  # fmt: skip
    install.add_argument(
        "-c", "--constraint", action="append", default=[], metavar="FILE",
        help="constraints file (may be repeated)",
    )  # fmt: skip
    install.add_argument("--no-deps", action="store_true", help="do not install dependencies")
    install.add_argument(
        "-U", "--upgrade", action="store_true", help="upgrade to the best allowed versions"
    )
    install.add_argument(
        "--force-reinstall", action="store_true", help="reinstall even if already satisfied"
    )
    install.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    install.add_argument("--format", choices=("text", "json"), default="text")
    _add_apply_options(install)
    install.add_argument("--python", metavar="PATH", help="interpreter of the target environment")
    install.add_argument("--venv", metavar="DIR", help="virtual environment to install into")
    _add_hash_mode_options(install)
    _add_build_options(install)
    _add_pip_options(install)
    install.set_defaults(run=_run_install, keep=[], trust_installed=False, allow_empty=False)

    hashes = commands.add_parser(
        "hashes",
        help="write the hashes of every file of each pinned version, for every platform",
        description="Replace the --hash options of every pinned line with the hashes of every "
        "file of that version on the configured indexes (all platforms unless filtered), "
        "keeping the file's layout and comments. NAME==VERSION arguments add or update lines.",
    )
    hashes.add_argument("targets", nargs="*", metavar="FILE|NAME==VERSION")
    hashes.add_argument(
        "--algorithm", choices=("sha256", "sha384", "sha512"), default="sha256",
        help="hash algorithm (default sha256); others are computed by download if not advertised",
    )  # fmt: skip
    hashes.add_argument(
        "--check", action="store_true",
        help="exit 1 if any pinned line lacks a hash or lists a stale one",
    )  # fmt: skip
    hashes.add_argument("--dry-run", action="store_true", help="print a diff, change nothing")
    hashes.add_argument("-o", "--output", metavar="FILE", help="write the result to FILE")
    hashes.add_argument(
        "--include-constraints", action="store_true", help="also hash pinned lines of -c files"
    )
    filters = hashes.add_argument_group("filters (default: every file of the version)")
    filters.add_argument("--python-version", action="append", default=[], metavar="X.Y")
    filters.add_argument("--platform", action="append", default=[], metavar="TAG")
    filters.add_argument("--implementation", metavar="cp|pp|py")
    filters.add_argument("--abi", metavar="ABI")
    filters.add_argument("--no-sdist", action="store_true", help="leave the sdist out")
    _add_pip_options(hashes)
    hashes.set_defaults(run=_run_hashes)

    verify = commands.add_parser(
        "verify",
        help="check an installed environment against its RECORD files and requirements",
        description="Check every installed file against the hash in its distribution's RECORD "
        "(changed, missing, and unrecorded files in the distribution's folders), "
        "distributions without RECORD or without pip-hashsync's record of their archive, and "
        "a run left unfinished; with -r, also that each listed distribution came from an "
        "archive the files allow and that nothing unlisted is installed. Reads the "
        "environment only: no network, no change. Exit 0 when clean, 1 with findings, 2 for "
        "bad input.",
    )
    verify.add_argument(
        "-r", "--requirement", action="append", default=[], metavar="FILE", dest="files",
        help="requirements file to check the installed set against (may be repeated)",
    )  # fmt: skip
    _add_target_options(
        verify,
        "verify",
        "a project sync --keep leaves alone: not unlisted, needs no provenance unless listed",
    )
    verify.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default: text)"
    )
    verify.set_defaults(run=_run_verify)
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
    (("--all-releases",), "append"),
    (("--only-final",), "append"),
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


#: pip options defined with each command's own options (their help is the command's).
_PIP_SWITCHES = (
    "--require-hashes",
    "--no-require-hashes",
    "--no-cache-dir",
    "--break-system-packages",
    "--build-constraint",
    "--config-settings",
)


def _pip_options(args: argparse.Namespace) -> dict[str, object]:
    """The pip options the user gave, keyed by pip's long option name."""
    long_names = [next(n for n in names if n.startswith("--")) for names, _ in _PIP_OPTIONS]
    given: dict[str, object] = {}
    for name in [*long_names, *_PIP_SWITCHES]:
        value = getattr(args, name[2:].replace("-", "_"), None)
        if value not in (None, False, []):
            given[name[2:]] = value
    return given


def _add_target_options(parser: argparse._ActionsContainer, verb: str, keep_help: str) -> None:
    """``--python``, ``--venv`` and ``--keep`` of the commands that look at one environment."""
    parser.add_argument("--python", metavar="PATH", help="interpreter of the target environment")
    parser.add_argument("--venv", metavar="DIR", help=f"virtual environment to {verb}")
    parser.add_argument("--keep", action="append", default=[], metavar="NAME", help=keep_help)


def _add_file_arguments(parser: argparse.ArgumentParser) -> None:
    """The requirements files, as arguments or ``-r`` options (as pip-sync and uv take
    them), and the constraints files; see :func:`_given_files`."""
    parser.add_argument("files", nargs="*", metavar="FILE", help="requirements file(s)")
    parser.add_argument(
        "-r", "--requirement", action="append", default=[], metavar="FILE",
        dest="requirement_files", help="requirements file (may be repeated)",
    )  # fmt: skip
    parser.add_argument(
        "-c", "--constraint", action="append", default=[], metavar="FILE",
        help="constraints file (may be repeated)",
    )  # fmt: skip


def _add_apply_options(parser: argparse.ArgumentParser) -> None:
    """Options of every command that changes an environment."""
    parser.add_argument(
        "--offline", action="store_true",
        help="use only archives already in the cache; fail if one is missing",
    )  # fmt: skip
    parser.add_argument(
        "--no-cache", "--no-cache-dir", action="store_true", dest="no_cache_dir",
        help="do not read or write the archive cache (also pip's no-cache-dir setting)",
    )  # fmt: skip
    parser.add_argument(
        "--compile", action="store_true",
        help="compile installed .py files to bytecode, with the target's interpreter",
    )  # fmt: skip
    parser.add_argument(
        "--break-system-packages", action="store_true",
        help="allow changing an externally managed (PEP 668) environment (also pip's setting)",
    )  # fmt: skip
    parser.add_argument("-q", "--quiet", action="store_const", const=-1, dest="verbose", default=0)
    parser.add_argument("-v", "--verbose", action="store_const", const=1, dest="verbose")


def _add_hash_mode_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--require-hashes", action="store_true",
        help="require a hash for every requirement (also switched on by any --hash)",
    )  # fmt: skip
    parser.add_argument(
        "--no-require-hashes", action="store_true",
        help="do not switch hash-checking mode on; verify only the hashes that are given",
    )  # fmt: skip


def _add_build_options(parser: argparse.ArgumentParser) -> None:
    """How sdists are built, and what their build dependencies must be."""
    group = parser.add_argument_group("building sdists")
    group.add_argument(
        "--build-constraint", action="append", default=[], metavar="FILE",
        help="constraints file pinning build dependencies, with --hash in hash-checking mode "
        "(may be repeated; adds to pip's build-constraint setting and PIP_BUILD_CONSTRAINT)",
    )  # fmt: skip
    group.add_argument(
        "--build-hashes", choices=("require", "verify"), default="require",
        help="require: every build dependency must be pinned and hashed by a build "
        "constraint or a line of the requirements files (default); verify: check the hashes "
        "given and build with the other dependencies unchecked, as pip and uv do",
    )  # fmt: skip
    group.add_argument(
        "--no-build", action="store_true",
        help="never build an sdist: fail when only an sdist matches (like --only-binary :all:)",
    )  # fmt: skip
    group.add_argument(
        "-C", "--config-settings", action="append", default=[], metavar="KEY=VALUE",
        type=_config_setting,
        help="setting passed to every build backend (may be repeated; a key given again "
        "passes a list), as in pip",
    )  # fmt: skip


def _config_setting(text: str) -> str:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"{text!r}: must be of the form KEY=VALUE")
    return text


def _given_files(args: argparse.Namespace, default: str | None = None) -> list[str] | None:
    """The requirements files given (arguments, then ``-r`` ones). With none, ``default``
    when it exists, as pip-sync reads ``requirements.txt`` (said on stderr); else None
    once the error is printed."""
    files = [*args.files, *args.requirement_files]
    if files:
        return files
    if default is not None and Path(default).is_file():
        print(f"no file given: reading {default}", file=sys.stderr)
        return [default]
    missing = f" (there is no {default} in the current folder)" if default else ""
    print(f"ERROR: give a requirements file{missing}", file=sys.stderr)
    return None


def _run_lint(args: argparse.Namespace) -> int:
    from pip_hashsync.commands.lint import lint

    files = _given_files(args)
    if files is None:
        return ExitCode.BAD_INPUT
    report = lint(
        files,
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


def _run_verify(args: argparse.Namespace) -> int:
    from pip_hashsync.commands.verify import verify

    report = verify(args.files, python=args.python, venv=args.venv, keep=args.keep)
    for warning in report.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=2))
    else:
        print("\n".join(report.text_lines()))
    return report.exit_code


def _sync_request(args: argparse.Namespace) -> SyncRequest:
    additive = args.command == "install"
    return SyncRequest(
        files=args.files,
        constraints=args.constraint,
        python=args.python,
        venv=args.venv,
        pip_options=_pip_options(args),
        keep=args.keep,
        trust_installed=args.trust_installed,
        allow_empty=args.allow_empty,
        additive=additive,
        arguments=_install_arguments(args) if additive else (),
        no_deps=additive and args.no_deps,
        upgrade=additive and args.upgrade,
        force_reinstall=additive and args.force_reinstall,
        build_hashes=args.build_hashes,
        no_build=args.no_build,
    )


def _install_arguments(args: argparse.Namespace) -> list[str]:
    """``install``'s requirement arguments, ``-e`` ones as the editable lines they are."""
    return [*(f"-e {shlex.quote(e)}" for e in args.editables), *args.requirements]


def _run_install(args: argparse.Namespace) -> int:
    if not args.files and not args.requirements and not args.editables:
        print("ERROR: You must give at least one requirement to install", file=sys.stderr)
        return ExitCode.BAD_INPUT
    args.check = False
    request = _sync_request(args)
    return _print_plan(request, args.format) if args.dry_run else _apply(request, args)


def _run_sync(args: argparse.Namespace) -> int:
    files = _given_files(args, default="requirements.txt")
    if files is None:
        return ExitCode.BAD_INPUT
    args.files = files
    request = _sync_request(args)
    if args.dry_run:
        return _print_plan(request, args.format)
    from pip_hashsync.commands.receipt import receipt_count

    count = receipt_count(request)
    if count is None:
        from pip_hashsync.commands.fastpath import synced_count

        count = synced_count(request)
    if count is not None:
        if args.verbose >= 0:
            print(f"nothing to do: {count} distribution(s) already match")
        return ExitCode.OK
    return _apply(request, args)


def _print_plan(request: SyncRequest, output: str) -> int:
    from pip_hashsync.commands.sync import local_fill
    from pip_hashsync.resolve.planner import plan_sync

    plan = plan_sync(request, fill=local_fill(request, lambda line: print(line, file=sys.stderr)))
    if plan.workspace is not None:
        plan.workspace.cleanup()
    if output == "json":
        print(json.dumps(plan.to_json(), indent=2))
        return plan.exit_code
    for warning in plan.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    for action in plan.actions:
        version = f" {action.version}" if action.version else ""
        source = f" ({action.file.filename} from {action.file.origin})" if action.file else ""
        print(f"would {action.action} {action.name}{version}{source}: {action.reason}")
        build = plan.builds.get(action.key)
        if build is not None:
            needs = ", ".join(line.split(" --hash")[0] for line in build.requires) or "nothing"
            print(f"    built from source with {build.backend}, which needs {needs}")
    if plan.problems:
        print(render_problems(plan.problems), file=sys.stderr)
    return plan.exit_code


def _apply(request: SyncRequest, args: argparse.Namespace) -> int:
    from pip_hashsync.commands.sync import ApplyOptions, run

    quiet = args.verbose < 0
    progress = _Progress() if sys.stderr.isatty() and not quiet else None
    outcome = run(
        request,
        ApplyOptions(
            check=args.check,
            offline=args.offline,
            compile=args.compile,
        ),
        progress=progress,
        say=lambda line: print(line, file=sys.stderr),
    )
    if progress:
        progress.clear()
    plan = outcome.plan
    if not quiet:
        for warning in [*plan.warnings, *outcome.notices]:
            print(f"WARNING: {warning}", file=sys.stderr)
    if plan.problems:
        print(render_problems(plan.problems), file=sys.stderr)
        return outcome.exit_code
    shown = plan.actions if args.verbose > 0 else [a for a in plan.actions if a.changes]
    if plan.target is not None and any(a.changes for a in plan.actions) and not quiet:
        print(f"Using Python {plan.target.version} environment at: {plan.target.prefix}")
    for action in shown if not quiet else ():
        print(_action_line(action, would=outcome.drift))
    print(outcome.summary())
    return outcome.exit_code


_SIGNS = {"install": "+", "remove": "-", "replace": "~", "reinstall": "~", "keep": "="}


def _action_line(action: Action, *, would: bool) -> str:
    """`` + six==1.17.0 (six-1.17.0-py2.py3-none-any.whl): not installed``"""
    version = action.version or action.installed_version
    built = ", built from source" if action.file and not action.file.is_wheel else ""
    source = f" ({action.file.filename}{built})" if action.file else ""
    prefix = "would " + action.action + " " if would else f" {_SIGNS[action.action]} "
    return f"{prefix}{action.name}=={version}{source}: {action.reason}"


class _Progress:
    """One self-rewriting status line on a terminal while archives download."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[int, int | None]] = {}
        self._last = 0.0

    def __call__(self, filename: str, done: int, total: int | None) -> None:
        self._files[filename] = (done, total)
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        received = sum(d for d, _ in self._files.values())
        finished = sum(1 for d, t in self._files.values() if t is not None and d >= t)
        line = f"downloading: {finished}/{len(self._files)} files, {received / 1e6:.1f} MB"
        sys.stderr.write(f"\r{line}\x1b[K")
        sys.stderr.flush()

    def clear(self) -> None:
        if self._files:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _run_hashes(args: argparse.Namespace) -> int:
    from pip_hashsync.commands.hashes import TagFilter, compute

    files = [t for t in args.targets if "==" not in t or Path(t).exists()]
    pins = [t for t in args.targets if t not in files]
    if not files and not pins:
        print("ERROR: give a requirements file or NAME==VERSION", file=sys.stderr)
        return ExitCode.BAD_INPUT
    if args.output and len(files) != 1:
        print("ERROR: -o/--output needs exactly one requirements file", file=sys.stderr)
        return ExitCode.BAD_INPUT
    started = time.monotonic()
    result = compute(
        files,
        pins,
        pip_options=_pip_options(args),
        algorithm=args.algorithm,
        tag_filter=TagFilter(
            tuple(args.python_version), tuple(args.platform), args.implementation, args.abi,
            args.no_sdist,
        ),
        include_constraints=args.include_constraints,
        only_first_file=bool(args.output),
    )  # fmt: skip
    for warning in result.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    if result.problems:
        print(render_problems(result.problems), file=sys.stderr)
        return result.exit_code
    if result.skipped:
        print("WARNING: these lines are not pinned and were left as they are:", file=sys.stderr)
        print("\n".join(f"    {line}" for line in result.skipped), file=sys.stderr)
    if args.check:
        for line in result.drift:
            print(line)
        print("hashes are complete" if not result.drift else f"{len(result.drift)} line(s) differ")
        return result.exit_code
    if args.dry_run:
        print(result.diff(), end="")
        return ExitCode.OK
    changed = _write_hashes(result.texts, files[0] if args.output else None, args.output)
    seconds = time.monotonic() - started
    print(f"{', '.join(changed) or 'nothing changed'} in {seconds:.2f} s")
    return ExitCode.OK


def _write_hashes(
    texts: dict[str, tuple[str, str]], source: str | None, output: str | None
) -> list[str]:
    """Write changed texts atomically; with ``output``, the source file's text goes there."""
    from pip_hashsync.commands.hashes import write_atomically

    written = []
    for path, (old, new) in texts.items():
        if output and path == source:
            write_atomically(Path(output), new)
            written.append(f"wrote {output}")
        elif not output and new != old:
            write_atomically(Path(path), new)
            written.append(f"updated {path}")
    return written


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
        return _run(argv)


def _run(argv: Sequence[str] | None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        with _telling_retries(getattr(args, "verbose", 0) > 0):
            return int(args.run(args))
    except HashsyncError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt as exc:  # a transaction's own says what state it left
        print(f"ERROR: {str(exc) or 'interrupted'}", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: said in two lines, not a traceback
        _report_bug(exc)
        return int(ExitCode.INTERNAL_ERROR)


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
