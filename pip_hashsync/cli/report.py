"""``--format json``: the one object every sub-command prints on stdout, whatever the outcome.

Its shape is documented as a JSON Schema shipped with the package
(``pip_hashsync/schema/report.json``); :data:`REPORT_VERSION` is its ``version`` and is
raised when a key changes meaning. Every object carries the same keys (the command, its exit
code, the target, problems, warnings, notices, timings) and the command's own (the actions
of ``sync``, the findings of ``verify``, ...), which are absent only when an error stopped
the run before it had them (then ``problems`` says why).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pip_hashsync.cli.render import counts
from pip_hashsync.errors import HashsyncError, Problem, problems_of

if TYPE_CHECKING:
    from pip_hashsync.environment.target import Target
    from pip_hashsync.resolve.plan import Action
    from pip_hashsync.resolve.planner import SyncPlan

#: The ``version`` of the documented schema.
REPORT_VERSION = 1


def wants_json(args: argparse.Namespace) -> bool:
    return getattr(args, "format", "text") == "json"


def emit(
    args: argparse.Namespace,
    exit_code: int,
    *,
    target: Target | None = None,
    problems: Sequence[Problem] = (),
    warnings: Sequence[str] = (),
    notices: Sequence[str] = (),
    **body: Any,
) -> int:
    """Print the report of the run ``args`` asked for; return ``exit_code``."""
    document = {
        "version": REPORT_VERSION,
        "command": args.command,
        "exit_code": int(exit_code),
        "target": (
            {"python": target.executable, "version": target.version, "prefix": target.prefix}
            if target
            else None
        ),
        **body,
        "problems": [p.to_json() for p in problems],
        "warnings": list(warnings),
        "notices": list(notices),
        "timings": {"total": round(time.monotonic() - args.started, 3)},
    }
    print(json.dumps(document, indent=2))
    return int(exit_code)


def emit_error(args: argparse.Namespace, error: HashsyncError) -> int:
    """The report of a run an error stopped: the error as its problems."""
    return emit(args, error.exit_code, problems=problems_of(error))


def emit_sync(
    args: argparse.Namespace,
    plan: SyncPlan,
    mode: str,
    exit_code: int,
    *,
    done: Sequence[Action] = (),
    notices: Sequence[str] = (),
) -> int:
    """The report of ``sync`` or ``install``: every action, and which ones this run
    carried out (``done``)."""
    carried_out = {a.key for a in done}
    body = plan.to_json()
    actions = [
        {**entry, "done": action.key in carried_out}
        for action, entry in zip(plan.actions, body.pop("actions"), strict=True)
    ]
    return emit(
        args, exit_code, target=plan.target, problems=plan.problems, warnings=plan.warnings,
        notices=notices, mode=mode, **body, actions=actions, counts=counts(plan.actions),
        changed=bool(carried_out),
    )  # fmt: skip
