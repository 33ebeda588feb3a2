"""Each sub-command: call the library with what the options say, and render the result."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pip_hashsync.cli.parser import pip_options
from pip_hashsync.cli.progress import StatusLine, coloured
from pip_hashsync.cli.render import action_line
from pip_hashsync.errors import ExitCode, render_problems
from pip_hashsync.settings.request import SyncRequest


def given_files(args: argparse.Namespace, default: str | None = None) -> list[str] | None:
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


def run_lint(args: argparse.Namespace) -> int:
    from pip_hashsync.commands.lint import lint

    files = given_files(args)
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


def run_verify(args: argparse.Namespace) -> int:
    from pip_hashsync.commands.verify import verify

    report = verify(args.files, python=args.python, venv=args.venv, keep=args.keep)
    for warning in report.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=2))
    else:
        print("\n".join(report.text_lines()))
    return report.exit_code


def sync_request(args: argparse.Namespace) -> SyncRequest:
    additive = args.command == "install"
    return SyncRequest(
        files=args.files,
        constraints=args.constraint,
        python=args.python,
        venv=args.venv,
        pip_options=pip_options(args),
        keep=args.keep,
        trust_installed=args.trust_installed,
        allow_empty=args.allow_empty,
        additive=additive,
        arguments=install_arguments(args) if additive else (),
        no_deps=additive and args.no_deps,
        upgrade=additive and args.upgrade,
        force_reinstall=additive and args.force_reinstall,
        build_hashes=args.build_hashes,
        no_build=args.no_build,
    )


def install_arguments(args: argparse.Namespace) -> list[str]:
    """``install``'s requirement arguments, ``-e`` ones as the editable lines they are."""
    return [*(f"-e {shlex.quote(e)}" for e in args.editables), *args.requirements]


def run_install(args: argparse.Namespace) -> int:
    if not args.files and not args.requirements and not args.editables:
        print("ERROR: You must give at least one requirement to install", file=sys.stderr)
        return ExitCode.BAD_INPUT
    args.check = False
    request = sync_request(args)
    return print_plan(request, args.format) if args.dry_run else apply(request, args)


def run_sync(args: argparse.Namespace) -> int:
    files = given_files(args, default="requirements.txt")
    if files is None:
        return ExitCode.BAD_INPUT
    args.files = files
    request = sync_request(args)
    if args.dry_run:
        return print_plan(request, args.format)
    from pip_hashsync.commands.receipt import receipt_count

    count = receipt_count(request)
    if count is None:
        from pip_hashsync.commands.fastpath import synced_count

        count = synced_count(request)
    if count is not None:
        if args.verbose >= 0:
            print(f"nothing to do: {count} distribution(s) already match")
        return ExitCode.OK
    return apply(request, args)


def print_plan(request: SyncRequest, output: str) -> int:
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


def apply(request: SyncRequest, args: argparse.Namespace) -> int:
    from pip_hashsync.commands.sync import ApplyOptions, run

    quiet = args.verbose < 0
    progress = StatusLine.on(sys.stderr, quiet=quiet)
    try:
        outcome = run(
            request,
            ApplyOptions(
                check=args.check,
                offline=args.offline,
                compile=args.compile,
            ),
            progress=progress,
            say=progress.say if progress else lambda line: print(line, file=sys.stderr),
        )
    finally:  # an error is printed on a line of its own
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
        print(coloured(action_line(action, would=outcome.drift), sys.stdout))
    print(outcome.summary())
    return outcome.exit_code


def run_hashes(args: argparse.Namespace) -> int:
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
        pip_options=pip_options(args),
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
    changed = write_hashes(result.texts, files[0] if args.output else None, args.output)
    seconds = time.monotonic() - started
    print(f"{', '.join(changed) or 'nothing changed'} in {seconds:.2f} s")
    return ExitCode.OK


def write_hashes(
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


#: The function that runs each sub-command, by its name on the command line.
HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "lint": run_lint,
    "sync": run_sync,
    "install": run_install,
    "hashes": run_hashes,
    "verify": run_verify,
}
