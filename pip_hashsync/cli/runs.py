"""Each sub-command: call the library with what the options say, and render the result."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pip_hashsync.cli.parser import pip_options
from pip_hashsync.cli.progress import StatusLine, coloured
from pip_hashsync.cli.render import action_line, summary_line
from pip_hashsync.cli.report import emit, emit_sync, wants_json
from pip_hashsync.errors import ExitCode, InputError, render_problems
from pip_hashsync.settings.request import SyncRequest

if TYPE_CHECKING:
    from pip_hashsync.commands.hashes import HashesResult
    from pip_hashsync.resolve.planner import SyncPlan


def given_files(args: argparse.Namespace, default: str | None = None) -> list[str]:
    """The requirements files given (arguments, then ``-r`` ones). With none, ``default``
    when it exists, as pip-sync reads ``requirements.txt`` (said on stderr); else an
    :class:`InputError`."""
    files = [*args.files, *args.requirement_files]
    if files:
        return files
    if default is not None and Path(default).is_file():
        print(f"no file given: reading {default}", file=sys.stderr)
        return [default]
    missing = f" (there is no {default} in the current folder)" if default else ""
    raise InputError(f"give a requirements file{missing}")


def run_lint(args: argparse.Namespace) -> int:
    from pip_hashsync.commands.lint import lint

    files = given_files(args)
    reports = [
        lint(
            group,
            args.constraint,
            require_hashes=args.require_hashes,
            no_require_hashes=args.no_require_hashes,
            extras=args.extras,
            groups=args.groups,
        )
        for group in ([[file] for file in files] if args.each else [files])
    ]
    code = ExitCode.OK if all(r.ok for r in reports) else ExitCode.BAD_INPUT
    if wants_json(args):
        problems = [p for r in reports for p in r.problems]
        warnings = [w for r in reports for w in r.warnings]
        # lint's own keys describe one set of files: left out when --each read several
        body = reports[0].to_json() if len(reports) == 1 else {}
        return emit(args, code, problems=problems, warnings=warnings, **body)
    for file, report in zip(files, reports, strict=True) if args.each else [("", reports[0])]:
        for warning in report.warnings:
            print(f"WARNING: {warning}", file=sys.stderr)
        if report.problems:
            print(render_problems(report.problems), file=sys.stderr)
        print(f"{file}: {report.summary()}" if file else report.summary())
    return code


def run_verify(args: argparse.Namespace) -> int:
    from pip_hashsync.commands.verify import verify

    report = verify(
        args.files,
        python=args.python,
        venv=args.venv,
        keep=args.keep,
        extras=args.extras,
        groups=args.groups,
    )
    if wants_json(args):
        body = report.to_json()
        return emit(args, report.exit_code, target=report.target, warnings=report.warnings, **body)
    for warning in report.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
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
        extras=args.extras,
        groups=args.groups,
    )


def install_arguments(args: argparse.Namespace) -> list[str]:
    """``install``'s requirement arguments, ``-e`` ones as the editable lines they are."""
    return [*(f"-e {shlex.quote(e)}" for e in args.editables), *args.requirements]


def run_install(args: argparse.Namespace) -> int:
    if not args.files and not args.requirements and not args.editables:
        raise InputError("You must give at least one requirement to install")
    args.check = False
    request = sync_request(args)
    return print_plan(request, args) if args.dry_run else apply(request, args)


def run_sync(args: argparse.Namespace) -> int:
    args.files = given_files(args, default="requirements.txt")
    request = sync_request(args)
    if args.dry_run:
        return print_plan(request, args)
    if wants_json(args):  # the report lists every action, so the run plans them all
        return apply(request, args)
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


def print_plan(request: SyncRequest, args: argparse.Namespace) -> int:
    """Print the plan, change nothing: the lines a real run would print, and its summary
    in the conditional."""
    from pip_hashsync.commands.sync import local_fill
    from pip_hashsync.resolve.planner import plan_sync

    plan = plan_sync(request, fill=local_fill(request, lambda line: print(line, file=sys.stderr)))
    if plan.workspace is not None:
        plan.workspace.cleanup()
    if wants_json(args):
        return emit_sync(args, plan, "dry-run", plan.exit_code)
    print_warnings(plan.warnings, args.verbose)
    if plan.problems:
        print(render_problems(plan.problems), file=sys.stderr)
        return plan.exit_code
    print_actions(plan, args.verbose)
    print(summary_line(plan.actions, applied=False, seconds=time.monotonic() - args.started))
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
                link_mode=args.link_mode,
            ),
            progress=progress,
            say=progress.say if progress else lambda line: print(line, file=sys.stderr),
        )
    finally:  # an error is printed on a line of its own
        if progress:
            progress.clear()
    plan = outcome.plan
    if wants_json(args):
        mode = "check" if args.check else "apply"
        code = outcome.exit_code
        return emit_sync(args, plan, mode, code, done=outcome.done, notices=outcome.notices)
    print_warnings([*plan.warnings, *outcome.notices], args.verbose)
    if plan.problems:
        print(render_problems(plan.problems), file=sys.stderr)
        return outcome.exit_code
    print_actions(plan, args.verbose)
    print(summary_line(plan.actions, applied=not outcome.drift, seconds=outcome.seconds))
    return outcome.exit_code


def print_warnings(warnings: list[str], verbose: int) -> None:
    """Warnings on stderr, unless ``-q``."""
    for warning in warnings if verbose >= 0 else ():
        print(f"WARNING: {warning}", file=sys.stderr)


def print_actions(plan: SyncPlan, verbose: int) -> None:
    """The target and one line per change (per action with ``-v``; none with ``-q``), as
    uv prints them; with ``-v``, what each planned build needs."""
    shown = plan.actions if verbose > 0 else [a for a in plan.actions if a.changes]
    if verbose < 0 or not shown:
        return
    if plan.target is not None and any(a.changes for a in shown):
        print(f"Using Python {plan.target.version} environment at: {plan.target.prefix}")
    for action in shown:
        print(coloured(action_line(action, verbose=verbose > 0), sys.stdout))
        build = plan.builds.get(action.key)
        if build is not None and verbose > 0:
            needs = ", ".join(line.split(" --hash")[0] for line in build.requires) or "nothing"
            print(f"    built with {build.backend}, which needs {needs}")


def run_hashes(args: argparse.Namespace) -> int:
    from pip_hashsync.commands.hashes import TagFilter, compute

    files = [t for t in args.targets if "==" not in t or Path(t).exists()]
    pins = [t for t in args.targets if t not in files]
    if not files and not pins:
        raise InputError("give a requirements file or NAME==VERSION")
    if args.output and len(files) != 1:
        raise InputError("-o/--output needs exactly one requirements file")
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
    mode = "check" if args.check else "dry-run" if args.dry_run else "write"
    written: dict[str, str | None] = {}
    if mode == "write" and not result.problems:
        written = write_hashes(result.texts, files[0] if args.output else None, args.output)
    code = result.exit_code if result.problems or args.check else ExitCode.OK
    if wants_json(args):
        return emit(args, code, problems=result.problems, warnings=result.warnings,
                    **hashes_body(result, mode, written))  # fmt: skip
    print_hashes(result, mode, written, time.monotonic() - args.started)
    return code


def hashes_body(result: HashesResult, mode: str, written: dict[str, str | None]) -> dict[str, Any]:
    """``hashes``' own keys of the JSON report."""
    body: dict[str, Any] = {
        "mode": mode,
        "files": [
            {"path": path, "changed": old != new, "written": written.get(path)}
            for path, (old, new) in result.texts.items()
        ],
        "drift": result.drift,
        "skipped": [p.to_json() for p in result.skipped],
    }
    if mode == "dry-run":
        body["diff"] = result.diff()
    return body


def print_hashes(
    result: HashesResult, mode: str, written: dict[str, str | None], seconds: float
) -> None:
    """What ``hashes`` found, as text: problems and warnings on stderr; the drift, the
    diff or the files written on stdout."""
    for warning in result.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    if result.problems:
        print(render_problems(result.problems), file=sys.stderr)
        return
    if result.skipped:
        print("WARNING: these lines are not pinned and were left as they are:", file=sys.stderr)
        print("\n".join(f"    {line}" for line in result.skipped), file=sys.stderr)
    if mode == "check":
        for line in result.drift:
            print(line)
        print("hashes are complete" if not result.drift else f"{len(result.drift)} line(s) differ")
    elif mode == "dry-run":
        print(result.diff(), end="")
    else:
        changed = [
            f"{'updated' if target == path else 'wrote'} {target}"
            for path, target in written.items()
            if target
        ]
        print(f"{', '.join(changed) or 'nothing changed'} in {seconds:.2f} s")


def write_hashes(
    texts: dict[str, tuple[str, str]], source: str | None, output: str | None
) -> dict[str, str | None]:
    """Write changed texts atomically; with ``output``, the source file's text goes there.
    The file written for each file read (None: unchanged, or not the ``source``)."""
    from pip_hashsync.commands.hashes import write_atomically

    written: dict[str, str | None] = {}
    for path, (old, new) in texts.items():
        written[path] = None
        if output and path == source:
            write_atomically(Path(output), new)
            written[path] = output
        elif not output and new != old:
            write_atomically(Path(path), new)
            written[path] = path
    return written


#: The function that runs each sub-command, by its name on the command line.
HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "lint": run_lint,
    "sync": run_sync,
    "install": run_install,
    "hashes": run_hashes,
    "verify": run_verify,
}
